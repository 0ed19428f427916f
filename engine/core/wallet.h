/* wallet.h - a member's balance and the expiry lots behind it.
 *
 * How lots are kept follows the rulebook's expiry mode, fixed for the
 * life of a state (wallet_layout):
 *  - months: points earned in a month form one lot (the month is the
 *    engine clock's when they were applied). A lot earned in month M
 *    expires at the start of month M + expiry_months + 1. Lots live in a
 *    ring of expiry_months + 1 slots per member (members.h).
 *  - days: points earned on UTC day d (the engine clock's) expire at
 *    00:00 UTC of day d + expiry_days + 1; end_of_year: points earned in
 *    year Y expire at 00:00 UTC on 1 January of Y + expiry_years + 1.
 *    These are keyed lots (lots.h): at most min(days + 1, LOTS_CAP_MAX)
 *    or years + 1 of them per member.
 *  - never: no lots, only the balance.
 * Spending takes the oldest lots first. Invariant: the lots add up to
 * max(balance, 0); a negative balance (a refund of points already spent)
 * has no lots, and earning repays it before filling a lot. All functions
 * take the member's position; callers check overflow of the balance
 * before calling.
 */
#ifndef LOYALTY_WALLET_H
#define LOYALTY_WALLET_H

#include <stdbool.h>
#include <stdint.h>

#include "lots.h"
#include "members.h"
#include "rulebook.h"

/* How a store keeps its lots: none, the ring of months, keyed lots by
 * day or by year of earning. */
enum wallet_kind { WALLET_NONE, WALLET_RING, WALLET_DAYS, WALLET_YEARS };

/* What wallet_take writes at most: one piece per lot. */
#define WALLET_PIECES_MAX (RULEBOOK_EXPIRY_MONTHS_MAX + 1)
_Static_assert(WALLET_PIECES_MAX >= LOTS_CAP_MAX, "a piece per keyed lot");
/* int64 values of one member's lots at most (wallet_lots_per). */
#define WALLET_LOTS_PER_MAX (RULEBOOK_EXPIRY_MONTHS_MAX + 1)
_Static_assert(WALLET_LOTS_PER_MAX >= 2 * LOTS_CAP_MAX, "keyed lots are pairs");

/* The int64 values per member the lots of `rb` take (0: none): what
 * members_init reserves and snapshots record. */
uint32_t wallet_lots_per(const struct rulebook *rb);

/* Sets how store `ms` (members_init'ed with wallet_lots_per(rb)) keeps
 * its lots, for rb's expiry mode. */
void wallet_layout(struct members *ms, const struct rulebook *rb);

/* Expires every lot due at `now_ms` (the engine clock; never before the
 * member's last call) and makes the lots current. Returns the points
 * expired (>= 0), already taken off the balance. */
int64_t wallet_expire(struct members *ms, uint32_t pos, int64_t now_ms);

/* Adds `points` (> 0) earned at `now_ms` (wallet_expire'd to it). */
void wallet_earn(struct members *ms, uint32_t pos, int64_t now_ms, int64_t points);

/* Takes `points` (> 0) off, oldest lots first; the balance may go below
 * zero (the caller decides whether that is allowed). */
void wallet_spend(struct members *ms, uint32_t pos, int64_t points);

/* Takes `points` (> 0, at most the balance: asserted) off, oldest lots
 * first, and writes what it took to out[0..n) (WALLET_PIECES_MAX room),
 * oldest first, each with the instant it expires (INT64_MAX: never).
 * Returns n. */
uint32_t wallet_take(struct members *ms, uint32_t pos, int64_t points, struct lots_piece *out);

/* Adds pieces in[0..n) (from wallet_take of a member of the same store,
 * none expired at the clock this member was wallet_expire'd to), each
 * keeping its expiry; a negative balance is repaid first, from the
 * oldest pieces. */
void wallet_give(struct members *ms, uint32_t pos, const struct lots_piece *in, uint32_t n);

/* When the oldest lot expires (ms since the epoch), or INT64_MAX when no
 * points will expire. */
int64_t wallet_next_expiry(const struct members *ms, uint32_t pos);

/* Points that expire before `until_ms`. */
int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms);

/* Whether lots[0..lots_per) of member `m` (a snapshot being loaded into
 * `ms`) keep the invariants: well formed, adding up to max(balance, 0). */
bool wallet_lots_valid(const struct members *ms, const struct member *m, const int64_t *lots);
/* The oldest lot after the one keyed `after_month` that will expire: its
 * key, points and expiry time. The key is the lot's month index in the
 * `months` mode and its expiry's UTC day in the keyed modes (`days`,
 * `end_of_year`): either grows with the expiry, which is what "after"
 * relies on. Returns false when there is none. */
bool wallet_lot_after(const struct members *ms, uint32_t pos, int32_t after_month,
                      int32_t *month, int64_t *points, int64_t *expire_ts);

#endif
