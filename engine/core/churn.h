/* churn.h - how likely a member is to have stopped buying: a churn risk
 * score 0..100, from the days since their last purchase relative to their
 * own average interval between purchases.
 *
 *   interval = (last purchase - first purchase) / (purchases - 1),
 *              at least a day, for a member with two purchases or more;
 *              segments.active_days for one with fewer (the programme's
 *              idea of a usual gap), the last activity then being the
 *              last purchase or else the enrolment
 *   risk     = clamp(100 * (since last activity - interval)
 *                    / (3 * interval), 0, 100)
 * So risk is 0 while the member is within their usual interval, 33 at
 * twice it, 67 at three times and 100 from four times on. Integers only,
 * floored, at the engine clock.
 *
 * Worked example: purchases on 2027-01-01, 2027-01-31 and 2027-03-02
 * (60 days, two intervals: 30 days). On 2027-04-01 (30 days since): 0.
 * On 2027-05-16 (75 days): 100 * 45 / 90 = 50. From 2027-06-30 (120
 * days) on: 100.
 */
#ifndef LOYALTY_CHURN_H
#define LOYALTY_CHURN_H

#include <stdint.h>

#include "members.h"
#include "rulebook.h"
#include "state.h"

/* Records a purchase at `ts` (any order: late sales included) for the
 * average interval. */
void churn_note_purchase(struct member *m, int64_t ts);

/* The churn risk of member `pos` at the engine clock, 0..100. */
int64_t churn_risk(const struct state *st, const struct rulebook *rb, uint32_t pos);

#endif
