/* switchover.c - see switchover.h. */
#include "switchover.h"

#include <stdio.h>
#include <string.h>

#include "liability.h"
#include "reasons.h"
#include "tiers.h"
#include "wallet.h"

static int tier_named(const struct rulebook *rb, const char *name)
{
    for (uint32_t i = 0; i < rb->tier_count; i++)
        if (strcmp(rb->tiers[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Where a member of old tier `t` goes: the tier of the same name, else
 * the highest whose threshold is at or below the removed one's. */
static uint8_t tier_map(const struct rulebook *old, const struct rulebook *new, uint8_t t)
{
    int same = tier_named(new, old->tiers[t].name);
    if (same >= 0)
        return (uint8_t)same;
    uint8_t to = 0; /* tiers[0] has threshold 0 */
    for (uint32_t i = 1; i < new->tier_count; i++)
        if (new->tiers[i].threshold <= old->tiers[t].threshold)
            to = (uint8_t)i;
    return to;
}

static void migrate_tiers(struct state *st, const struct rulebook *old,
                          const struct rulebook *new, int64_t ts, struct outbox *ob)
{
    uint8_t map[RULEBOOK_TIERS_MAX];
    for (uint32_t t = 0; t < old->tier_count; t++)
        map[t] = tier_map(old, new, (uint8_t)t);
    memset(st->g.tier_members, 0, sizeof(st->g.tier_members));
    for (uint32_t p = 0; p < st->members.count; p++) {
        struct member *m = members_at(&st->members, p);
        uint8_t to = map[m->tier];
        /* An upgrade needs its event: without room it waits for the
         * member's next purchase (tiers_upgrade). */
        int64_t q = members_qual_total(m, st->clock_month, new->window_months);
        uint8_t up = tiers_for(new, q);
        if (up > to && outbox_room(ob) > 0)
            to = up;
        if (strcmp(old->tiers[m->tier].name, new->tiers[to].name) != 0 && outbox_room(ob) > 0) {
            struct proto_output *o = outbox_emit(ob, PROTO_OUT_TIER_CHANGED, ts, m);
            o->from = old->tiers[m->tier].name;
            o->to = new->tiers[to].name;
            o->reason = "rules";
        }
        if (to > map[m->tier])
            m->grace_until_ts = 0; /* moved up: a pending downgrade is moot */
        m->tier = to;
        if (members_extra(&st->members, m)->manual_until_ts != 0) { /* a status floor */
            struct member_extra *x = members_extra_edit(&st->members, m);
            x->manual_tier = map[x->manual_tier]; /* without one it stays 0 (status.c) */
        }
        m->earned_tier = map[m->earned_tier];
        st->g.tier_members[to]++;
    }
}

/* Index of segment `name` in `sg`, or the last (the catch-all). */
static uint8_t segment_map(const struct rulebook_segments *sg, const char *name)
{
    for (uint32_t i = 0; i < sg->segment_count; i++)
        if (strcmp(sg->segments[i].name, name) == 0)
            return (uint8_t)i;
    return (uint8_t)(sg->segment_count - 1);
}

/* Segments by name; every member is due for reclassification now, so the
 * next tick(s) publish what moved. */
static void migrate_segments(struct state *st, const struct rulebook *old,
                             const struct rulebook *new)
{
    const struct rulebook_segments *sg = &new->seg;
    if (!sg->enabled)
        return;
    int64_t lapses[RULEBOOK_SEGMENTS_MAX][12];
    memset(lapses, 0, sizeof(lapses));
    for (uint32_t s = 0; old->seg.enabled && s < old->seg.segment_count; s++) {
        uint8_t to = segment_map(sg, old->seg.segments[s].name);
        for (int k = 0; k < 12; k++)
            lapses[to][k] += st->g.lapses[s][k];
    }
    memcpy(st->g.lapses, lapses, sizeof(lapses));
    memset(st->g.segment_members, 0, sizeof(st->g.segment_members));
    memset(st->g.stage_members, 0, sizeof(st->g.stage_members));
    for (uint32_t p = 0; p < st->members.count; p++) {
        struct member *m = members_at(&st->members, p);
        m->segment = old->seg.enabled ? segment_map(sg, old->seg.segments[m->segment].name)
                                      : (uint8_t)(sg->segment_count - 1);
        st->g.segment_members[m->segment]++;
        st->g.stage_members[m->stage]++;
        m->seg_due_ts = st->clock_ms;
        state_reschedule(st, new, p);
    }
}

/* Expiry lots keep their months: a changed expiry.months dates only what
 * is earned from now on. Turned on, a positive balance becomes one lot
 * dated as if earned now; turned off, the lots go (nothing expires). */
static void migrate_expiry(struct state *st, const struct rulebook *old,
                           const struct rulebook *new)
{
    bool was = old->expiry_months > 0, is = new->expiry_months > 0;
    wallet_fit(&st->members, new); /* a longer expiry: a wider ring first */
    if (was == is || st->members.lots_kind != WALLET_RING)
        return; /* the keyed modes do not change within a state */
    for (uint32_t p = 0; p < st->members.count; p++) {
        struct member *m = members_at(&st->members, p);
        if (!is) {
            wallet_clear(&st->members, p);
            continue;
        }
        wallet_expire(&st->members, p, st->clock_ms); /* no lots: moves the ring */
        if (m->balance > 0)
            wallet_put(&st->members, p, st->clock_month + (int32_t)new->expiry_months + 1,
                       m->balance);
        state_reschedule(st, new, p);
    }
    liability_redate(&st->liab, st->clock_month,
                     is ? st->clock_month + (int32_t)new->expiry_months + 1 : -1);
}

void switchover_migrate(struct state *st, const struct rulebook *old, const struct rulebook *new,
                      int64_t ts, struct outbox *ob)
{
    migrate_tiers(st, old, new, ts, ob);
    migrate_segments(st, old, new);
    migrate_expiry(st, old, new);
    state_reindex(st, new);
}

/* Makes `rb` (described by `info`) the version in force at entry `id`. */
static void switch_to(struct state *st, const struct rulebook *rb,
                      const struct rulebook_version *info, struct proto_id id,
                      struct outbox *ob)
{
    struct versions *v = st->ver;
    if (v->count == RULEBOOK_VERSIONS_MAX) {
        memmove(&v->history[0], &v->history[1], sizeof(v->history[0]) * (v->count - 1));
        v->count--;
    }
    struct rulebook_version *h = &v->history[v->count++];
    *h = *info;
    h->since_id = id;
    h->since_ts = st->clock_ms;
    memcpy(&v->prev, &v->now, sizeof(v->prev));
    if (rb != &v->now)
        memcpy(&v->now, rb, sizeof(v->now));
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_RULES_CHANGED, st->clock_ms,
                                         &(struct member){.id = "", .id_len = 0});
    o->from = v->history[v->count - 2].hash; /* "" for the start-up version */
    o->to = h->hash;
    o->label = h->label;
    switchover_migrate(st, &v->prev, &v->now, st->clock_ms, ob);
}

/* Sizes fixed when the state was made: the expiry lots per member (the
 * daemon's expiry_months_max) and the txn window's capacity. Writes the
 * problem into buf and returns it, or NULL when `rb` fits. */
static const char *unsupported(const struct state *st, const struct rulebook *rb, char *buf,
                               size_t cap)
{
    const struct rulebook *now = &st->ver->now;
    if (rb->expiry_months > 0 && rb->expiry_months >= st->members.lots_per)
        snprintf(buf, cap, "expiry.months %u is more than this daemon's expiry_months_max "
                 "(%u)", rb->expiry_months, st->members.lots_per ? st->members.lots_per - 1 : 0);
    else if (wallet_ring_mode(rb->expiry_mode) != wallet_ring_mode(now->expiry_mode) ||
             (!wallet_ring_mode(rb->expiry_mode) && rb->expiry_mode != now->expiry_mode) ||
             rb->expiry_days != now->expiry_days || rb->expiry_years != now->expiry_years)
        snprintf(buf, cap, "changing expiry.mode, days or years needs a new state (not "
                 "supported by this build)");
    else if (rb->txns_max != now->txns_max)
        snprintf(buf, cap, "changing idempotency.max_txns needs a new state (not supported by "
                 "this build)");
    else
        return NULL;
    return buf;
}

void switchover_apply(struct state *st, struct proto_id id, const struct proto_entry *e,
                    const struct rules_text *rt, struct outbox *ob)
{
    struct versions *v = st->ver;
    if (rt == NULL || rt->rb == NULL) {
        outbox_reject(ob, RULES_R_BAD_RULEBOOK, "rulebook %s: %s", e->hash,
                      rt && rt->problem ? rt->problem : "its text was not found");
        return;
    }
    char buf[PROTO_DETAIL_MAX];
    const char *why = unsupported(st, rt->rb, buf, sizeof(buf));
    if (why != NULL) {
        outbox_reject(ob, RULES_R_BAD_RULEBOOK, "rulebook %s: %s", e->hash, why);
        return;
    }
    struct rulebook_version info = {.entry_id = id, .effective_ts = e->effective_ts};
    memcpy(info.hash, e->hash, sizeof(info.hash));
    memcpy(info.label, e->label, sizeof(info.label));
    v->has_next = false; /* the operator's latest word replaces a scheduled one */
    if (e->effective_ts > st->clock_ms) {
        memcpy(&v->next, rt->rb, sizeof(v->next));
        v->next_info = info;
        v->has_next = true;
        return;
    }
    if (strcmp(e->hash, versions_current(v)->hash) == 0)
        return; /* already in force */
    switch_to(st, rt->rb, &info, id, ob);
}

void switchover_due(struct state *st, struct proto_id id, struct outbox *ob)
{
    struct versions *v = st->ver;
    if (!v->has_next || v->next_info.effective_ts > st->clock_ms)
        return;
    v->has_next = false;
    if (strcmp(v->next_info.hash, versions_current(v)->hash) != 0)
        switch_to(st, &v->next, &v->next_info, id, ob);
    ob->kept = ob->count;
}
