/* rewards.c - automatic rewards: every N points earned, the Nth purchase.
 *
 * Every-N rewards count net points earned (refunds subtract) and keep a
 * high-water mark of rewards issued, so a reward is issued once even when
 * a refund takes points back and they are earned again. One entry issues
 * at most what fits its output budget; any further reward due is issued by
 * the member's next entry (deterministic, and nothing is lost).
 */
#include <string.h>

#include "rules_int.h"

void rewards_after_earning(struct state *st, const struct rulebook *rb,
                           struct rules_result *res, int64_t ts, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    for (uint32_t i = 0; i < rb->auto_reward_count; i++) {
        const struct rulebook_auto_reward *a = &rb->auto_rewards[i];
        int64_t due = m->reward_points > 0 ? m->reward_points / a->every_points : 0;
        while (due > m->auto_issued[i] && res->count + 2 < RULES_OUTPUTS_MAX &&
               m->auto_issued[i] < UINT32_MAX) {
            struct proto_output *o = rk_emit(res, PROTO_OUT_REWARD_ISSUED, ts, m);
            o->reward = a->reward;
            o->cost = 0; /* a gift: it costs the member no points */
            m->auto_issued[i]++;
        }
    }
}

void rewards_milestone(struct state *st, const struct rulebook *rb, struct rules_result *res,
                       int64_t ts, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    for (uint32_t i = 0; i < rb->milestone_count; i++) {
        if (rb->milestones[i].purchase != m->purchases)
            continue;
        struct proto_output *o = rk_emit(res, PROTO_OUT_REWARD_ISSUED, ts, m);
        o->reward = rb->milestones[i].reward;
        o->cost = 0;
    }
}
