/* rewards.h - automatic rewards: every N points earned, the Nth purchase.
 *
 * Every-N rewards count net points earned (refunds subtract) and keep a
 * high-water mark of rewards issued, so a reward is issued once even when
 * a refund takes points back and they are earned again. One entry issues
 * at most what fits its output budget; any further reward due is issued by
 * the member's next entry (deterministic, and nothing is lost).
 */
#ifndef LOYALTY_REWARDS_H
#define LOYALTY_REWARDS_H

#include <stdint.h>

#include "outbox.h"
#include "rulebook.h"
#include "state.h"

/* Issues the every-N rewards member `pos` has earned (reward.issued, cost
 * 0), leaving room in the outbox for two more outputs. */
void rewards_after_earning(struct state *st, const struct rulebook *rb, struct outbox *ob,
                           int64_t ts, uint32_t pos);

/* Issues the milestone rewards of the member's current purchase count. */
void rewards_milestone(struct state *st, const struct rulebook *rb, struct outbox *ob,
                       int64_t ts, uint32_t pos);

#endif
