/* status.c - see status.h. */
#include "status.h"

#include <string.h>

#include "reasons.h"
#include "retry.h"
#include "segments.h"
#include "tiers.h"

static void move(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                 struct member *m, uint8_t to, const char *reason)
{
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_TIER_CHANGED, ts, m);
    o->from = rb->tiers[m->tier].name;
    o->to = rb->tiers[to].name;
    o->reason = reason;
    segments_tier_moved(st, m->tier, to);
    m->tier = to;
    m->grace_until_ts = 0; /* a downgrade waiting for its grace is decided anew */
}

void status_set_tier(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                     struct outbox *ob)
{
    uint32_t pos = members_find(&st->members, e->member);
    uint32_t t = 0;
    while (t < rb->tier_count && strcmp(rb->tiers[t].name, e->tier) != 0)
        t++;
    if (pos == HINDEX_NONE) {
        outbox_reject(ob, RULES_R_UNKNOWN_MEMBER, "member '%s' is not enrolled", e->member);
        return;
    }
    if (t == rb->tier_count) {
        outbox_reject(ob, RULES_R_UNKNOWN_TIER, "the rulebook has no tier '%s'", e->tier);
        return;
    }
    struct member *m = members_at(&st->members, pos);
    retry_remember(st, e, pos);
    if (t != m->tier)
        move(st, rb, ob, e->ts, m, (uint8_t)t, "manual");
    m->manual_tier = e->until_ts != 0 ? (uint8_t)t : 0;
    m->manual_until_ts = e->until_ts;
    state_reschedule(st, rb, pos);
}

void status_due(struct state *st, const struct rulebook *rb, struct outbox *ob, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    if (m->manual_until_ts == 0 || st->clock_ms < m->manual_until_ts)
        return;
    m->manual_until_ts = 0;
    m->manual_tier = 0;
    uint8_t to = tiers_for(rb, members_qual_total(m, st->clock_month, rb->window_months));
    if (rb->downgrade == RULEBOOK_DOWNGRADE_NEVER && m->earned_tier > to)
        to = m->earned_tier;
    if (to < m->tier)
        move(st, rb, ob, st->clock_ms, m, to, "manual_end");
}
