/* rewards.h - automatic rewards: every N points earned, the Nth purchase.
 *
 * Every-N rewards count net points earned (refunds subtract; adjustments
 * only with earning.adjust_earns; pending points when released) and keep a
 * high-water mark of rewards issued, so a reward is issued once even when
 * a refund takes points back and they are earned again. Every reward one
 * entry earns is issued by that entry: one reward.issued per reward name
 * with `count` (how many at once), never spilled onto later entries. The
 * count a member holds of one reward saturates at UINT32_MAX.
 */
#ifndef LOYALTY_REWARDS_H
#define LOYALTY_REWARDS_H

#include <stdint.h>

#include "outbox.h"
#include "rulebook.h"
#include "state.h"

/* Outputs rewards_after_earning appends at most: one per every-N reward. */
#define REWARDS_AUTO_OUTPUTS RULEBOOK_AUTO_REWARDS_MAX

/* Issues the every-N rewards member `pos` has earned: one reward.issued
 * (cost 0, count >= 1) per reward due. */
void rewards_after_earning(struct state *st, const struct rulebook *rb, struct outbox *ob,
                           int64_t ts, uint32_t pos);

/* Issues the milestone rewards of the member's current purchase count. */
void rewards_milestone(struct state *st, const struct rulebook *rb, struct outbox *ob,
                       int64_t ts, uint32_t pos);

#endif
