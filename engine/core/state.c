/* state.c - see state.h. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "lyassert.h"
#include "names.h"
#include "pending.h"
#include "wallet.h"

int state_init(struct state *st, const struct rulebook *rb, uint32_t members_max)
{
    struct state_limits lim = {members_max, STATE_EXPIRY_MONTHS_MAX_DEFAULT, 0, 1};
    if (rb->expiry_months > lim.expiry_months_max)
        lim.expiry_months_max = rb->expiry_months;
    return state_init_limits(st, rb, &lim);
}

int state_init_limits(struct state *st, const struct rulebook *rb,
                      const struct state_limits *lim)
{
    uint32_t members_max = lim->members_max;
    memset(st, 0, sizeof(*st));
    st->clock_month = caltime_month(0);
    LY_ASSERT(lim->expiry_months_max <= RULEBOOK_EXPIRY_MONTHS_MAX &&
              rb->expiry_months <= lim->expiry_months_max);
    uint32_t lots = wallet_lots_per(rb, lim->expiry_months_max);
    /* Every store is reserved here for its limit, so applying entries
     * allocates nothing: members_max members with their lots and index,
     * the txn window's txns_max records, a schedule of twice members_max
     * entries (one live entry per member, the rest stale until
     * state_reschedule rebuilds it) and the table of rulebook versions. */
    LY_ASSERT(members_max >= 1 && members_max <= STATE_MEMBERS_MAX);
    st->ver = malloc(sizeof(*st->ver));
    if (st->ver == NULL)
        return -1;
    versions_init(st->ver, rb);
    st->place.partitions = lim->partitions > 1 ? lim->partitions : 1;
    st->place.partition = lim->partition;
    LY_ASSERT(st->place.partition < st->place.partitions);
    if (members_init(&st->members, members_max, lots) != 0 ||
        txns_init(&st->txns, rb->txns_max) != 0 ||
        schedule_init(&st->schedule, 2 * members_max) != 0) {
        state_free(st);
        return -1;
    }
    wallet_layout(&st->members, rb);
    st->g.lots_kind = st->members.lots_kind;
    st->g.lots_span = st->members.lots_span;
    state_reindex(st, rb); /* an empty state: just records the names */
    return 0;
}

_Static_assert(RULEBOOK_CATALOG_MAX <= NAMES_MAX && RULEBOOK_AUTO_REWARDS_MAX <= NAMES_MAX,
               "one names_take covers every reward");

void state_reindex(struct state *st, const struct rulebook *rb)
{
    struct state_globals *g = &st->g;
    int64_t issued[RULEBOOK_CATALOG_MAX] = {0};
    uint64_t taken = 0;
    for (uint32_t i = 0; i < rb->catalog_count; i++) {
        int was = names_take(g->catalog_names, RULEBOOK_CATALOG_MAX, rb->catalog[i].reward,
                          &taken);
        issued[i] = was >= 0 ? g->catalog_issued[was] : 0;
    }
    int from[RULEBOOK_AUTO_REWARDS_MAX];
    taken = 0;
    for (uint32_t i = 0; i < RULEBOOK_AUTO_REWARDS_MAX; i++) {
        const char *name = i < rb->auto_reward_count ? rb->auto_rewards[i].reward : NULL;
        from[i] = name ? names_take(g->auto_names, RULEBOOK_AUTO_REWARDS_MAX, name, &taken) : -1;
    }
    for (uint32_t p = 0; p < st->members.count; p++) {
        struct member *m = members_at(&st->members, p);
        uint32_t was[RULEBOOK_AUTO_REWARDS_MAX];
        memcpy(was, m->auto_issued, sizeof(was));
        for (uint32_t i = 0; i < RULEBOOK_AUTO_REWARDS_MAX; i++)
            m->auto_issued[i] = from[i] >= 0 ? was[from[i]] : 0;
    }
    budgets_reindex(&g->camp, &st->members, rb, &st->place);
    memcpy(g->catalog_issued, issued, sizeof(issued));
    memset(g->catalog_names, 0, sizeof(g->catalog_names));
    memset(g->auto_names, 0, sizeof(g->auto_names));
    for (uint32_t i = 0; i < rb->catalog_count; i++)
        memcpy(g->catalog_names[i], rb->catalog[i].reward, sizeof(g->catalog_names[i]));
    for (uint32_t i = 0; i < rb->auto_reward_count; i++)
        memcpy(g->auto_names[i], rb->auto_rewards[i].reward, sizeof(g->auto_names[i]));
}

/* Drops the stale entries of a full schedule: one entry per member that
 * has a due time, in position order. At most members_max entries remain,
 * half the reservation, so this runs at most once per members_max pushes.
 * Due members are popped in (due, position) order either way, so outputs
 * do not depend on when it runs. */
static void rebuild_schedule(struct state *st)
{
    schedule_clear(&st->schedule);
    for (uint32_t p = 0; p < st->members.count; p++) {
        const struct member *m = members_at(&st->members, p);
        if (m->sched_ts != 0)
            schedule_push(&st->schedule, m->sched_ts, p);
    }
}

void state_reschedule(struct state *st, const struct rulebook *rb, uint32_t pos)
{
    state_reschedule_next(st, rb, pos, STATE_EXPIRY_UNASKED);
}

void state_reschedule_next(struct state *st, const struct rulebook *rb, uint32_t pos,
                           int64_t next_expiry)
{
    if (st->preview_rec != NULL)
        return; /* a preview changes nothing (preview.h) */
    struct member *m = members_at(&st->members, pos);
    int64_t due = next_expiry != STATE_EXPIRY_UNASKED ? next_expiry
                                                      : wallet_next_expiry(&st->members, pos);
    if (m->next_review_ts != 0 && m->next_review_ts < due)
        due = m->next_review_ts;
    if (m->grace_until_ts != 0 && m->grace_until_ts < due)
        due = m->grace_until_ts;
    if (rb->seg.enabled && m->seg_due_ts != 0 && m->seg_due_ts < due)
        due = m->seg_due_ts;
    int64_t floor_until = members_extra(&st->members, m)->manual_until_ts;
    if (floor_until != 0 && floor_until < due)
        due = floor_until; /* a status floor ends (status.h) */
    if (pending_next_ts(m) < due) /* a release of pending points */
        due = pending_next_ts(m);
    if (m->notice_due_ts != 0 && m->notice_due_ts < due) /* notices.h */
        due = m->notice_due_ts;
    if (due == INT64_MAX || (m->sched_ts != 0 && m->sched_ts <= due))
        return; /* its live entry comes first; it is rescheduled then */
    m->sched_ts = due;
    if (schedule_full(&st->schedule))
        rebuild_schedule(st); /* pushes this member's entry too */
    else
        schedule_push(&st->schedule, due, pos);
}

void state_free(struct state *st)
{
    members_free(&st->members);
    txns_free(&st->txns);
    schedule_free(&st->schedule);
    free(st->ver);
    st->ver = NULL;
}
