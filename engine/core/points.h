/* points.h - moving points into and out of a member's wallet, each move
 * published as it happens (points.changed, points.expired), so no kind of
 * entry can change a balance silently. The wallet (wallet.h) keeps the
 * lots; this module adds the events and the lifetime counters.
 */
#ifndef LOYALTY_POINTS_H
#define LOYALTY_POINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "lots.h"
#include "outbox.h"
#include "state.h"

/* Outputs the calls below append at most: points_expire two, the others
 * one. Callers check outbox_room() against these. */
#define POINTS_EXPIRE_OUTPUTS 2
#define POINTS_MOVE_OUTPUTS 1

/* True when adding `delta` to m's balance, reward counter or (delta > 0)
 * lifetime points would overflow int64; a credit counts with the points
 * pending (they reach the same counters when released). */
bool points_would_overflow(const struct member *m, int64_t delta);

/* Rejects the entry (points_overflow) and returns true when
 * points_would_overflow(m, delta). */
bool points_overflows(struct outbox *ob, const struct member *m, int64_t delta);

/* Expires what is due for member `pos` at the engine clock's month and
 * publishes points.expired and points.changed (cause expiry) if any. */
void points_expire(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos);

/* Credits `points` (> 0, checked with points_overflows) into the lot of
 * the month they expire in under the rulebook in force and publishes points.changed with `cause`. Counts toward
 * lifetime points and every-N rewards. */
void points_credit(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                   int64_t points, enum proto_cause cause);

/* Credits `points` (> 0, checked with points_overflows) like points_credit,
 * but as points not earned (an adjustment): they count toward neither
 * lifetime points nor every-N rewards. */
void points_grant(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                  int64_t points, enum proto_cause cause);

/* Debits `points` (> 0), soonest-expiring lots first, and publishes points.changed
 * with `cause`. */
void points_debit(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                  int64_t points, enum proto_cause cause);

/* The sender's half of a transfer: takes `points` (> 0, at most the
 * balance) off member `pos`, oldest lots first, into pieces[0..n)
 * (WALLET_PIECES_MAX room) that keep their expiry, and publishes
 * points.changed cause transfer_out. Not spending as far as rewards and
 * tiers are concerned: lifetime and reward counters stay. Returns n. */
uint32_t points_transfer_out(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                             int64_t points, struct lots_piece *pieces);

/* The receiver's half: adds pieces[0..n) to member `pos` (expired to the
 * engine clock first), each keeping its expiry, and publishes
 * points.changed with `cause` (transfer_in; transfer_return for points
 * sent back to their sender). Not earning: no lifetime points, no tier
 * qualification, no every-N rewards. */
void points_transfer_in(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                        const struct lots_piece *pieces, uint32_t n, enum proto_cause cause);

#endif
