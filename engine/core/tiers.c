/* tiers.c - see tiers.h. */
#include "tiers.h"

#include "caltime.h"
#include "lyassert.h"
#include "segments.h"

/* `d` moved by `months` (>= 0), the day clamped to the month's length. */
static int64_t add_months(struct caltime_date d, int32_t months)
{
    int32_t m = d.year * 12 + (d.month - 1) + months;
    struct caltime_date out = {m / 12, (uint8_t)(m % 12 + 1), d.day};
    int32_t len = caltime_month_days(out.year, out.month);
    if (out.day > len)
        out.day = (uint8_t)len;
    return caltime_ts(out);
}

uint8_t tiers_for(const struct rulebook *rb, int64_t qualifying)
{
    uint8_t t = 0;
    for (uint32_t i = 1; i < rb->tier_count; i++)
        if (qualifying >= rb->tiers[i].threshold)
            t = (uint8_t)i;
    return t;
}

int64_t tiers_first_review(const struct rulebook *rb, int64_t enrolled_ts)
{
    struct caltime_date e = caltime_date(enrolled_ts);
    int64_t year_after = add_months(e, 12);
    if (rb->review == RULEBOOK_REVIEW_ANNIVERSARY)
        return year_after;
    struct caltime_date fixed = {e.year + 1, rb->review_month, rb->review_day};
    int64_t ts = add_months(fixed, 0);
    return ts >= year_after ? ts : add_months(fixed, 12);
}

void tiers_upgrade(struct state *st, const struct rulebook *rb, struct outbox *ob,
                   int64_t ts, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    int64_t q = members_qual_total(m, st->clock_month, rb->window_months);
    uint8_t t = tiers_for(rb, q);
    if (t > m->earned_tier)
        m->earned_tier = t; /* lifetime tiers fall back to it (status.h) */
    if (t <= m->tier)
        return;
    tiers_move(st, rb, ob, ts, m, t, "upgrade");
    m->grace_until_ts = 0; /* a pending downgrade is moot */
}

void tiers_move(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                struct member *m, uint8_t to, const char *reason)
{
    LY_ASSERT(to != m->tier && to < rb->tier_count);
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_TIER_CHANGED, ts, m);
    o->from = rb->tiers[m->tier].name;
    o->to = rb->tiers[to].name;
    o->reason = reason;
    segments_tier_moved(st, m->tier, to);
    m->tier = to;
}

static void downgrade(struct state *st, struct outbox *ob, const struct rulebook *rb,
                      int64_t ts, struct member *m)
{
    LY_ASSERT(m->tier > 0);
    tiers_move(st, rb, ob, ts, m, (uint8_t)(m->tier - 1), "review");
}

/* Handles the grace end and every review due by the engine clock. */
void tiers_review_due(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    int64_t now = st->clock_ms;
    int32_t now_month = st->clock_month;
    uint8_t target = tiers_for(rb, members_qual_total(m, now_month, rb->window_months));
    if (rb->downgrade == RULEBOOK_DOWNGRADE_NEVER)
        target = m->tier; /* lifetime tiers: reviews never move anyone down */
    const struct member_extra *x = members_extra(&st->members, m);
    if (x->manual_until_ts > now && target < x->manual_tier)
        target = x->manual_tier; /* a status floor holds (status.h) */
    if (m->grace_until_ts != 0 && now >= m->grace_until_ts) {
        m->grace_until_ts = 0;
        if (target < m->tier)
            downgrade(st, ob, rb, now, m);
    }
    while (m->next_review_ts != 0 && now >= m->next_review_ts) {
        int64_t review = m->next_review_ts;
        m->next_review_ts = add_months(caltime_date(review), 12);
        if (target >= m->tier || m->grace_until_ts != 0)
            continue;
        int64_t grace_end = add_months(caltime_date(review), (int32_t)rb->grace_months);
        if (rb->grace_months > 0 && grace_end > now)
            m->grace_until_ts = grace_end;
        else
            downgrade(st, ob, rb, now, m);
    }
}
