/* status.c - see status.h. */
#include "status.h"

#include <string.h>

#include "reasons.h"
#include "retry.h"
#include "tiers.h"

/* A manual move (tiers_move publishes it); a downgrade waiting for its
 * grace is decided anew. */
static void move(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                 struct member *m, uint8_t to, const char *reason)
{
    tiers_move(st, rb, ob, ts, m, to, reason);
    m->grace_until_ts = 0;
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
    struct member_extra *x = members_extra_edit(&st->members, m);
    x->manual_tier = e->until_ts != 0 ? (uint8_t)t : 0;
    x->manual_until_ts = e->until_ts;
    members_extra_settle(&st->members, m);
    state_reschedule(st, rb, pos);
}

void status_due(struct state *st, const struct rulebook *rb, struct outbox *ob, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    int64_t until = members_extra(&st->members, m)->manual_until_ts;
    if (until == 0 || st->clock_ms < until)
        return;
    struct member_extra *x = members_extra_edit(&st->members, m);
    x->manual_until_ts = 0;
    x->manual_tier = 0;
    members_extra_settle(&st->members, m);
    uint8_t to = tiers_for(rb, members_qual_total(m, st->clock_month, rb->window_months));
    if (rb->downgrade == RULEBOOK_DOWNGRADE_NEVER && m->earned_tier > to)
        to = m->earned_tier;
    if (to < m->tier)
        move(st, rb, ob, st->clock_ms, m, to, "manual_end");
}
