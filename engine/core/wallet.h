/* wallet.h - a member's balance and the expiry lots behind it.
 *
 * A lot is the points that expire at the start of one calendar month: the
 * points earned in month M under expiry.months = k expire at the start of
 * month M + k + 1 (UTC), and join that month's lot. A lot keeps its month
 * whatever rulebook comes later: a version that changes expiry.months
 * changes when points earned from then on expire, never the date of points
 * already earned. Spending takes the lots that expire first (with one
 * expiry for all, the oldest points first).
 *
 * Lots live in a ring of `lots_per` slots per member (members.h), fixed
 * when the state is made from the daemon's expiry_months_max (lots_per =
 * expiry_months_max + 1): the lots expiring in months (lots_month,
 * lots_month + lots_per], lot E in slot E % lots_per, where lots_month is
 * the month the ring was last brought up to (wallet_expire). So any
 * expiry.months up to expiry_months_max fits, and a rulebook version may
 * change it.
 *
 * Invariant: while expiry is on, the lots add up to max(balance, 0); a
 * negative balance (a refund of points already spent) has no lots, and
 * earning repays it before filling a lot. While it is off, there are no
 * lots (switchover.h moves the balance into a lot when a version turns
 * expiry on, and drops the lots when one turns it off). All functions
 * take the member's position; callers check overflow of the balance.
 */
#ifndef LOYALTY_WALLET_H
#define LOYALTY_WALLET_H

#include <stdint.h>

#include "members.h"
#include "rulebook.h"

/* Expires every lot due by month `now_month` (lots whose month is at or
 * before it) and brings the ring up to it. Returns the points expired
 * (>= 0), already taken off the balance. */
int64_t wallet_expire(struct members *ms, uint32_t pos, int32_t now_month);

/* Adds `points` (> 0) earned in `now_month` (wallet_expire'd to it) under
 * `expiry_months` (0: they never expire, no lot; else at most lots_per - 1,
 * asserted). */
void wallet_earn(struct members *ms, uint32_t pos, int32_t now_month, int64_t points,
                 uint32_t expiry_months);

/* Puts `points` (> 0) into the lot of month `month`, which must lie in the
 * member's ring (asserted): how a migration dates a balance. */
void wallet_put(struct members *ms, uint32_t pos, int32_t month, int64_t points);

/* Takes `points` (> 0) off, soonest-expiring lots first; the balance may go
 * below zero (the caller decides whether that is allowed). `expiry_months`:
 * the rulebook's (with expiry on, the lots must cover the positive
 * balance: asserted). */
void wallet_spend(struct members *ms, uint32_t pos, int64_t points, uint32_t expiry_months);

/* Drops every lot of the member (a version turned expiry off). */
void wallet_clear(struct members *ms, uint32_t pos);

/* When the soonest lot expires (ms since the epoch), or INT64_MAX when no
 * points will expire. */
int64_t wallet_next_expiry(const struct members *ms, uint32_t pos);

/* Points that expire before `until_ms`. */
int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms);

/* Calls fn(arg, month, points) for each non-empty lot, soonest first (for
 * snapshots). */
void wallet_each(const struct members *ms, uint32_t pos,
                 void (*fn)(void *arg, int32_t month, int64_t points), void *arg);

#endif
