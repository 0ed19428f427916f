/* progview.h - what the HTTP API shows of the programme features, as JSON
 * (jansson): a member's manual status and churn risk, the campaigns with
 * their budgets, and the observed churn per segment. Read-only views of
 * the state, under the rulebook in force.
 */
#ifndef LOYALTY_PROGVIEW_H
#define LOYALTY_PROGVIEW_H

#include <stdint.h>

#include <jansson.h>

#include "rulebook.h"
#include "state.h"

/* Adds to member object `j` of member `pos`: "churn_risk" (0..100) and
 * "status" ({"tier", "until_ts"} while a set_tier floor holds, else
 * null). */
void progview_member(json_t *j, const struct state *st, const struct rulebook *rb,
                     uint32_t pos);

/* GET /v1/campaigns: {"campaigns": [{"name", "start_ts", "end_ts", "kind"
 * ("multiplier" | "bonus"), "given_points", "budget_points",
 * "remaining_points", "exhausted", "member_limit_points",
 * "member_limit_times"}, ...]} in rulebook order; budget and limits null
 * when not set; summed over the `n` served partitions' states. NULL when
 * out of memory. */
json_t *progview_campaigns(const struct state *const *states, uint32_t n,
                           const struct rulebook *rb);

/* {"segment": observed yearly churn in basis points, ...} over the `n`
 * states (progview_churn_bp), NULL when out of memory. */
json_t *progview_churn(const struct state *const *states, uint32_t n, const struct rulebook *rb);

/* Points campaign `c` gave in all `n` states. */
int64_t progview_given(const struct state *const *states, uint32_t n, uint32_t c);

/* What campaign `c`'s budget can still give in the `n` states: the sum of
 * their shares left (-1: no budget). Each partition spends only its own
 * share of the budget (budgets.h). */
int64_t progview_remaining(const struct state *const *states, uint32_t n,
                           const struct rulebook *rb, uint32_t c);

/* Segment `s`'s observed yearly churn (basis points): one state's
 * segments_churn_bp, or with several partitions their average weighted by
 * the segment's members (+1 each). */
int64_t progview_churn_bp(const struct state *const *states, uint32_t n,
                          const struct rulebook *rb, uint32_t s);

#endif
