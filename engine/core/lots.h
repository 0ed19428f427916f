/* lots.h - keyed expiry lots: a member's points grouped by the instant
 * they expire, for the expiry modes whose lots are not calendar months
 * (wallet.h: `days` after earning, `end_of_year`).
 *
 * A member's lots are `cap` pairs (expire_ms, points) in its slice of the
 * store's lots array (2 * cap int64 values), used pairs first, ascending
 * by expire_ms, every used pair holding points > 0 and unused pairs all
 * zero. Spending and expiry take from the front (oldest first); points
 * earned later expire later, so earning appends, and only a transfer in
 * (points keeping their sender's expiry) inserts in the middle.
 *
 * Bound: `cap` lots. When a new expiry instant does not fit, the two lots
 * closest in time are merged first (the earlier one then expires with the
 * later one: points never expire before their due time, at most the gap
 * between those two later). Pure functions of the array: no state.
 */
#ifndef LOYALTY_LOTS_H
#define LOYALTY_LOTS_H

#include <stdbool.h>
#include <stdint.h>

#define LOTS_CAP_MAX 16 /* lots of one member: ~260 bytes with the keys */

/* Points that expire at one instant; what a transfer carries. */
struct lots_piece {
    int64_t expire_ms; /* INT64_MAX: never */
    int64_t points;
};

/* Removes every lot that expires at or before `now_ms`; returns their
 * points. */
int64_t lots_expire(int64_t *l, uint32_t cap, int64_t now_ms);

/* Adds `points` (> 0) expiring at `expire_ms` (> 0), merging with the lot
 * of the same instant, or with its nearest neighbour when full. */
void lots_add(int64_t *l, uint32_t cap, int64_t expire_ms, int64_t points);

/* Takes `points` (> 0, at most what the lots hold: asserted) from the
 * front and writes what it took, oldest first, to out[0..n) (room for cap
 * pieces); returns n. */
uint32_t lots_take(int64_t *l, uint32_t cap, int64_t points, struct lots_piece *out);

/* When the first lot expires, or INT64_MAX when there is none. */
int64_t lots_next(const int64_t *l, uint32_t cap);

/* Points that expire before `until_ms`. */
int64_t lots_before(const int64_t *l, uint32_t cap, int64_t until_ms);

/* Whether `l` keeps the invariants above (a snapshot being loaded); the
 * points they hold go to *sum. */
bool lots_valid(const int64_t *l, uint32_t cap, int64_t *sum);

#endif
