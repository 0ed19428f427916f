/* rules_int.h - steps shared by the rules modules (rules.c, tiers.c,
 * rewards.c). Not a public interface: only the rules core includes it.
 * Every step that changes a member also publishes what changed, so no
 * kind of entry can change state silently.
 */
#ifndef LOYALTY_RULES_INT_H
#define LOYALTY_RULES_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "rulebook.h"
#include "rules.h"
#include "state.h"

/* Appends an output of `kind` about member `m` at time `ts`. */
struct proto_output *rk_emit(struct rules_result *res, enum proto_out_kind kind, int64_t ts,
                             const struct member *m);

/* Marks the entry rejected with a stable `code` and printf-style detail. */
void rk_reject(struct rules_result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rejects and returns true when adding `delta` to m's balance (or to its
 * lifetime statistics) would overflow. */
bool rk_overflows(struct rules_result *res, const struct member *m, int64_t delta);

/* Expires what is due for member `pos` at the engine clock's month and
 * publishes points.expired and points.changed (cause expiry) if any. */
void rk_expire(struct state *st, struct rules_result *res, int64_t ts, uint32_t pos);

/* Credits `points` (> 0, checked with rk_overflows) and publishes
 * points.changed with `cause`. Counts toward lifetime points and every-N
 * rewards. */
void rk_credit(struct state *st, struct rules_result *res, int64_t ts, uint32_t pos,
               int64_t points, enum proto_cause cause);

/* Debits `points` (> 0), oldest lots first, and publishes points.changed
 * with `cause`. */
void rk_debit(struct state *st, struct rules_result *res, int64_t ts, uint32_t pos,
              int64_t points, enum proto_cause cause);

/* Makes sure member `pos` is in the schedule no later than its next due
 * time (expiry, review, grace end). */
void rk_reschedule(struct state *st, const struct rulebook *rb, uint32_t pos);

/* Tiers (tiers.c). */
void tiers_upgrade(struct state *st, const struct rulebook *rb, struct rules_result *res,
                   int64_t ts, uint32_t pos);
int64_t tiers_first_review(const struct rulebook *rb, int64_t enrolled_ts);
void tiers_review_due(struct state *st, const struct rulebook *rb, struct rules_result *res,
                      uint32_t pos);

/* Rewards (rewards.c). */
void rewards_after_earning(struct state *st, const struct rulebook *rb,
                           struct rules_result *res, int64_t ts, uint32_t pos);
void rewards_milestone(struct state *st, const struct rulebook *rb, struct rules_result *res,
                       int64_t ts, uint32_t pos);

#endif
