/* notices.c - see notices.h. */
#include "notices.h"

#include "caltime.h"
#include "pending.h"
#include "wallet.h"

#define DAY CALTIME_DAY_MS

/* The review (or grace end) that can next take the member's tier. */
static int64_t next_judgement(const struct member *m)
{
    return m->grace_until_ts != 0 ? m->grace_until_ts : m->next_review_ts;
}

bool notices_at_risk(const struct state *st, const struct rulebook *rb, uint32_t pos,
                     int64_t *review_ts, int64_t *needed)
{
    const struct member *m = members_at(&st->members, pos);
    int64_t when = next_judgement(m);
    if (m->tier == 0 || when == 0)
        return false;
    /* The window the review will sum: months that will have left it by
     * then no longer count; of what is to come, only qualification pending
     * release (qualify_on "release") that will be released in it. */
    int64_t at = when > st->clock_ms ? when : st->clock_ms;
    int32_t last = caltime_month(at), first = last - (int32_t)rb->window_months + 1;
    int64_t q = members_qual_total(m, last, rb->window_months) +
                pending_qual_between(&st->members, m,
                                     (int32_t)caltime_day(caltime_month_start(first)),
                                     (int32_t)caltime_day(at));
    int64_t need = rb->tiers[m->tier].threshold - q;
    *review_ts = when;
    *needed = need;
    return need > 0;
}

static void earliest(int64_t *due, int64_t t)
{
    if (t < *due)
        *due = t;
}

static void tier_notice(struct state *st, const struct rulebook *rb, struct outbox *ob,
                        int64_t ts, uint32_t pos, int64_t *due)
{
    struct member *m = members_at(&st->members, pos);
    int64_t when = next_judgement(m), review, need;
    if (rb->notice_tier_days == 0 || m->tier == 0 || when <= st->clock_ms)
        return; /* off, nothing to lose, or the review is due now (the tick's) */
    int32_t day = (int32_t)caltime_day(when);
    if (day != m->risk_review_day) { /* a new review: tell afresh */
        m->risk_review_day = day;
        m->risk_need = 0;
    }
    int64_t opens = when - (int64_t)rb->notice_tier_days * DAY;
    if (st->clock_ms < opens) {
        earliest(due, opens);
        return;
    }
    if (m->risk_need < 0)
        return; /* qualified inside the window: nothing more for this review */
    if (!notices_at_risk(st, rb, pos, &review, &need)) {
        m->risk_need = -1;
        return;
    }
    int64_t moved = need > m->risk_need ? need - m->risk_need : m->risk_need - need;
    if (m->risk_need > 0 && (rb->notice_need_step == 0 || moved < rb->notice_need_step))
        return;
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_TIER_AT_RISK, ts, m);
    o->tier = rb->tiers[m->tier].name;
    o->review_ts = review;
    o->needed = need;
    m->risk_need = need;
}

/* `*next`: wallet_next_expiry, asked on the way when the notice is on
 * (left as it is when off). */
static void expiry_notice(struct state *st, const struct rulebook *rb, struct outbox *ob,
                          int64_t ts, uint32_t pos, int64_t *due, int64_t *next)
{
    struct member *m = members_at(&st->members, pos);
    int32_t month;
    int64_t points, expire_ts;
    int64_t ahead = (int64_t)rb->notice_expiry_days * DAY;
    if (rb->notice_expiry_days == 0)
        return;
    if (!wallet_lot_after_next(&st->members, pos, m->expiring_month, &month, &points,
                               &expire_ts, next))
        return;
    if (st->clock_ms < expire_ts - ahead) {
        earliest(due, expire_ts - ahead);
        return;
    }
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_POINTS_EXPIRING, ts, m);
    o->points = points;
    o->expire_ts = expire_ts;
    o->balance = m->balance;
    m->expiring_month = month;
    /* One lot per visit: a later one already due is told at the next. */
    if (wallet_lot_after(&st->members, pos, month, &month, &points, &expire_ts))
        earliest(due, expire_ts - ahead > st->clock_ms ? expire_ts - ahead : st->clock_ms);
}

int64_t notices_check(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                      uint32_t pos)
{
    int64_t due = INT64_MAX, next = STATE_EXPIRY_UNASKED;
    tier_notice(st, rb, ob, ts, pos, &due);
    expiry_notice(st, rb, ob, ts, pos, &due, &next);
    members_at(&st->members, pos)->notice_due_ts = due == INT64_MAX ? 0 : due;
    return next;
}
