/* wallet.h - a member's balance and the expiry lots behind it.
 *
 * Points earned in a month form one lot (the month is the engine clock's
 * when they were applied). A lot earned in month M expires at the start of
 * month M + expiry_months + 1. Spending takes the oldest lots first.
 * Invariant: the lots add up to max(balance, 0); a negative balance (a
 * refund of points already spent) has no lots, and earning repays it
 * before filling a lot. Lots live in a ring of expiry_months + 1 slots per
 * member (members.h). With expiry off there are no lots, only the balance.
 * All functions take the member's position; callers check overflow of the
 * balance before calling.
 */
#ifndef LOYALTY_WALLET_H
#define LOYALTY_WALLET_H

#include <stdbool.h>
#include <stdint.h>

#include "members.h"
#include "rulebook.h"

/* Expires every lot due by month `now_month` (>= the member's lots_month)
 * and makes the ring current. Returns the points expired (>= 0), already
 * taken off the balance. */
int64_t wallet_expire(struct members *ms, uint32_t pos, int32_t now_month);

/* Adds `points` (> 0) earned in `now_month` (wallet_expire'd to it). */
void wallet_earn(struct members *ms, uint32_t pos, int32_t now_month, int64_t points);

/* Takes `points` (> 0) off, oldest lots first; the balance may go below
 * zero (the caller decides whether that is allowed). */
void wallet_spend(struct members *ms, uint32_t pos, int64_t points);

/* When the oldest lot expires (ms since the epoch), or INT64_MAX when no
 * points will expire. */
int64_t wallet_next_expiry(const struct members *ms, uint32_t pos);

/* Points that expire before `until_ms`. */
int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms);

/* The oldest lot holding points earned in a month after `after_month`:
 * its month, points and expiry time. Returns false when there is none. */
bool wallet_lot_after(const struct members *ms, uint32_t pos, int32_t after_month,
                      int32_t *month, int64_t *points, int64_t *expire_ts);

#endif
