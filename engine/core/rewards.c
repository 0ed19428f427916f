/* rewards.c - see rewards.h. */
#include "rewards.h"

void rewards_after_earning(struct state *st, const struct rulebook *rb,
                           struct outbox *ob, int64_t ts, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    for (uint32_t i = 0; i < rb->auto_reward_count; i++) {
        const struct rulebook_auto_reward *a = &rb->auto_rewards[i];
        int64_t due = m->reward_points > 0 ? m->reward_points / a->every_points : 0;
        if (due > UINT32_MAX)
            due = UINT32_MAX; /* the counter's limit: nothing past it is issued */
        if (due <= m->auto_issued[i])
            continue;
        struct proto_output *o = outbox_emit(ob, PROTO_OUT_REWARD_ISSUED, ts, m);
        o->reward = a->reward;
        o->cost = 0; /* a gift: it costs the member no points */
        o->count = due - m->auto_issued[i];
        m->auto_issued[i] = (uint32_t)due;
    }
}

void rewards_milestone(struct state *st, const struct rulebook *rb, struct outbox *ob,
                       int64_t ts, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    for (uint32_t i = 0; i < rb->milestone_count; i++) {
        if (rb->milestones[i].purchase != m->purchases)
            continue;
        struct proto_output *o = outbox_emit(ob, PROTO_OUT_REWARD_ISSUED, ts, m);
        o->reward = rb->milestones[i].reward;
        o->cost = 0;
        o->count = 1;
    }
}
