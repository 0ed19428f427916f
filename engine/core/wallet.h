/* wallet.h - a member's balance and the expiry lots behind it.
 *
 * How lots are kept follows the rulebook's expiry mode, fixed for the
 * life of a state (wallet_layout):
 *  - months (WALLET_RING): a lot is the points that expire at the start
 *    of one calendar month: the points earned in month M under
 *    expiry.months = k expire at the start of month M + k + 1 (UTC), and
 *    join that month's lot. A lot keeps its month whatever rulebook comes
 *    later: a version that changes expiry.months changes when points
 *    earned from then on expire, never the date of points already earned.
 *    Lots live in a ring of `ring_per` slots per member (members.h), as
 *    many as the versions in force since the state was made or loaded
 *    need, at most lots_per = expiry_months_max + 1 (the daemon's, fixed
 *    when the state is made): the lots expiring in months
 *    (lots_month, lots_month + ring_per], lot E in slot E % ring_per,
 *    where lots_month is the month the ring was last brought up to
 *    (wallet_expire). So any expiry.months up to expiry_months_max fits,
 *    and a rulebook version may change it. While expiry.months is 0 (off)
 *    the ring holds no lots (switchover.h moves the balance into a lot
 *    when a version turns expiry on, and drops the lots when one turns it
 *    off).
 *  - days: points earned on UTC day d (the engine clock's) expire at
 *    00:00 UTC of day d + expiry_days + 1; end_of_year: points earned in
 *    year Y expire at 00:00 UTC on 1 January of Y + expiry_years + 1.
 *    These are keyed lots (lots.h): at most min(days + 1, LOTS_CAP_MAX)
 *    or years + 1 of them per member.
 *  - never: expiry.months 0: the ring, empty, which a later version may
 *    fill by setting expiry.months (the ring's `off` above).
 * Spending takes the lots that expire first. Invariant: while expiry is
 * on, the lots add up to max(balance, 0); a negative balance (a refund of
 * points already spent) has no lots, and earning repays it before filling
 * a lot. All functions take the member's position; callers check overflow
 * of the balance before calling.
 */
#ifndef LOYALTY_WALLET_H
#define LOYALTY_WALLET_H

#include <stdbool.h>
#include <stdint.h>

#include "lots.h"
#include "members.h"
#include "rulebook.h"

/* How a store keeps its lots: none, the ring of expiry months, keyed
 * lots by day or by year of earning. */
enum wallet_kind { WALLET_NONE, WALLET_RING, WALLET_DAYS, WALLET_YEARS };

/* What wallet_take writes at most: one piece per lot, and one for points
 * without a lot. */
#define WALLET_PIECES_MAX (RULEBOOK_EXPIRY_MONTHS_MAX + 2)
_Static_assert(WALLET_PIECES_MAX >= LOTS_CAP_MAX, "a piece per keyed lot");
/* int64 values of one member's lots at most (wallet_lots_per). */
#define WALLET_LOTS_PER_MAX (RULEBOOK_EXPIRY_MONTHS_MAX + 1)
_Static_assert(WALLET_LOTS_PER_MAX >= 2 * LOTS_CAP_MAX, "keyed lots are pairs");

/* The int64 values per member the lots of `rb` take (0: none) in a state
 * whose ring may hold expiry.months up to `expiry_months_max` (<=
 * RULEBOOK_EXPIRY_MONTHS_MAX): what members_init reserves and snapshots
 * record. */
uint32_t wallet_lots_per(const struct rulebook *rb, uint32_t expiry_months_max);

/* Whether expiry mode `mode` keeps its lots in the ring (months, and
 * never: expiry.months 0, which a later version may turn on). */
bool wallet_ring_mode(enum rulebook_expiry_mode mode);

/* Sets how the empty store `ms` (members_init'ed with wallet_lots_per)
 * keeps its lots, for rb's expiry mode: a ring as wide as `rb` needs. */
void wallet_layout(struct members *ms, const struct rulebook *rb);

/* Widens the ring (members_ring_resize) when `rb`, about to be in force,
 * dates lots further ahead than it reaches (rb->expiry_months below the
 * store's lots_per, asserted). Never narrows it. */
void wallet_fit(struct members *ms, const struct rulebook *rb);

/* Expires every lot due at `now_ms` (the engine clock; never before the
 * member's last call) and brings the lots up to it. Returns the points
 * expired (>= 0), already taken off the balance. */
int64_t wallet_expire(struct members *ms, uint32_t pos, int64_t now_ms);

/* Adds `points` (> 0) earned at `now_ms` (wallet_expire'd to it); in the
 * ring, under `expiry_months` (0: they never expire, no lot; else at most
 * lots_per - 1, asserted). */
void wallet_earn(struct members *ms, uint32_t pos, int64_t now_ms, int64_t points,
                 uint32_t expiry_months);

/* Puts `points` (> 0) into the ring's lot of month `month`, which must lie
 * in the member's ring (asserted): how a migration dates a balance. */
void wallet_put(struct members *ms, uint32_t pos, int32_t month, int64_t points);

/* Takes `points` (> 0) off, soonest-expiring lots first; the balance may go
 * below zero (the caller decides whether that is allowed). `expiry_months`:
 * the rulebook's (with expiry on, the lots must cover the positive
 * balance: asserted). */
void wallet_spend(struct members *ms, uint32_t pos, int64_t points, uint32_t expiry_months);

/* Drops every lot of the member (a version turned expiry off). */
void wallet_clear(struct members *ms, uint32_t pos);

/* Takes `points` (> 0, at most the balance: asserted) off, soonest lots
 * first, and writes what it took to out[0..n) (WALLET_PIECES_MAX room),
 * soonest first, each with the instant it expires (INT64_MAX: never, the
 * points no lot holds). Returns n. */
uint32_t wallet_take(struct members *ms, uint32_t pos, int64_t points, struct lots_piece *out);

/* Adds pieces in[0..n) (from wallet_take of a member of the same store,
 * none expired at the clock this member was wallet_expire'd to), each
 * keeping its expiry; a negative balance is repaid first, from the
 * soonest pieces. */
void wallet_give(struct members *ms, uint32_t pos, const struct lots_piece *in, uint32_t n);

/* When the soonest lot expires (ms since the epoch), or INT64_MAX when no
 * points will expire. */
int64_t wallet_next_expiry(const struct members *ms, uint32_t pos);

/* Whether points expire at or before `now_ms` (wallet_next_expiry <=
 * now_ms), without a look at the ring once it was brought up to now_ms's
 * month `now_month` (caltime_month(now_ms), which the caller has; by
 * wallet_expire): its lots all expire in later months then. What every
 * purchase asks before anything else. */
bool wallet_due(const struct members *ms, uint32_t pos, int64_t now_ms, int32_t now_month);

/* Points that expire before `until_ms`. */
int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms);

/* Writes the member's points by expiry to out[0..n) (WALLET_PIECES_MAX
 * room), soonest first: each non-empty lot with when it expires (in the
 * ring the month index, caltime_month's, saving calendar arithmetic; in the
 * keyed modes the instant), then (INT64_MAX) the points of a positive
 * balance no lot holds (expiry off). Returns n. What the liability
 * compares before and after a move (liability.h). */
uint32_t wallet_pieces(const struct members *ms, uint32_t pos, struct lots_piece *out);

/* Calls fn(arg, month, points) for each non-empty lot of the ring,
 * soonest first (for snapshots). */
void wallet_each(const struct members *ms, uint32_t pos,
                 void (*fn)(void *arg, int32_t month, int64_t points), void *arg);

/* Whether lots[0..lots_per) of member `m` (a snapshot being loaded into
 * `ms`) keep the invariants: well formed, adding up to max(balance, 0)
 * (or, in the ring, to 0: expiry off). */
bool wallet_lots_valid(const struct members *ms, const struct member *m, const int64_t *lots);

/* The soonest lot after the one keyed `after_month` that will expire: its
 * key, points and expiry time. The key is the lot's expiry month in the
 * ring and its expiry's UTC day in the keyed modes (`days`,
 * `end_of_year`): either grows with the expiry, which is what "after"
 * relies on. Returns false when there is none. */
bool wallet_lot_after(const struct members *ms, uint32_t pos, int32_t after_month,
                      int32_t *month, int64_t *points, int64_t *expire_ts);

/* wallet_lot_after, and wallet_next_expiry into `*next`: one scan of the
 * ring for both when its soonest lot is after `after_month` (the expiry
 * notice then asks what the schedule asks next). */
bool wallet_lot_after_next(const struct members *ms, uint32_t pos, int32_t after_month,
                           int32_t *month, int64_t *points, int64_t *expire_ts, int64_t *next);

#endif
