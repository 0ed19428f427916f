/* segments.c - see segments.h. */
#include "segments.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"
#include "outbox.h"

#define DAY CALTIME_DAY_MS
#define RING MEMBERS_QUAL_MONTHS

static const char *const stage_names[RULEBOOK_STAGE_COUNT] = {
    "new", "active", "at_risk", "lapsed", "reactivated",
};

const char *segments_stage_name(enum rulebook_stage s)
{
    LY_ASSERT(s < RULEBOOK_STAGE_COUNT);
    return stage_names[s];
}

static uint32_t slot(int32_t month) { return (uint32_t)month % RING; }

/* The slot after `i`, around the ring: loops step slots, not months, to
 * keep a division out of every step. */
static uint32_t next_slot(uint32_t i) { return i + 1 == RING ? 0 : i + 1; }

/* Makes the rfm ring current at `now_month`: months between the newest
 * bucket and now start empty. */
static void rfm_roll(struct member *m, int32_t now_month)
{
    if (now_month <= m->rfm_month)
        return;
    int32_t from = m->rfm_month + 1;
    if (from < now_month - RING + 1)
        from = now_month - RING + 1;
    for (int32_t k = from; k <= now_month; k++) {
        m->rfm_spend[slot(k)] = 0;
        m->rfm_count[slot(k)] = 0;
    }
    m->rfm_month = now_month;
}

/* No month: window_sum found no purchase. */
#define NO_MONTH INT32_MIN

/* Sums member `m`'s window at clock month `now` into *spend and
 * *purchases, and returns the first month of it with a purchase (NO_MONTH:
 * none up to min(rfm_month, now)): one pass for classify's scores and due. */
static int32_t window_sum(const struct member *m, uint32_t window_months, int32_t now,
                          int64_t *spend, int64_t *purchases)
{
    int32_t first = now - (int32_t)window_months + 1, bought = NO_MONTH;
    if (first < m->rfm_month - RING + 1)
        first = m->rfm_month - RING + 1;
    int64_t sp = 0, n = 0;
    uint32_t i = slot(first);
    for (int32_t k = first; k <= m->rfm_month && k <= now; k++, i = next_slot(i)) {
        sp += m->rfm_spend[i];
        n += m->rfm_count[i];
        if (bought == NO_MONTH && m->rfm_count[i] != 0)
            bought = k;
    }
    *spend = sp;
    *purchases = n;
    return bought;
}

void segments_window(const struct state *st, const struct rulebook *rb, uint32_t pos,
                     int64_t *spend, int64_t *purchases)
{
    window_sum(members_at(&st->members, pos), rb->seg.window_months, st->clock_month, spend,
               purchases);
}

static uint8_t score_up(int64_t v, const int64_t cuts[RULEBOOK_RFM_CUTS])
{
    uint8_t s = 1;
    for (int i = 0; i < RULEBOOK_RFM_CUTS; i++)
        s += v >= cuts[i];
    return s;
}

static uint8_t score_recency(const struct rulebook_segments *sg, const struct member *m,
                             int64_t now)
{
    if (m->last_purchase_ts == 0)
        return 1;
    int64_t days = now > m->last_purchase_ts ? (now - m->last_purchase_ts) / DAY : 0;
    uint8_t s = 5;
    for (int i = 0; i < RULEBOOK_RFM_CUTS; i++)
        s -= days > sg->recency_days[i];
    return s;
}

static uint8_t segment_of(const struct rulebook_segments *sg, const uint8_t rfm[3])
{
    for (uint32_t i = 0; i < sg->segment_count; i++) {
        const struct rulebook_segment *s = &sg->segments[i];
        if (rfm[0] >= s->lo[0] && rfm[0] <= s->hi[0] && rfm[1] >= s->lo[1] &&
            rfm[1] <= s->hi[1] && rfm[2] >= s->lo[2] && rfm[2] <= s->hi[2])
            return (uint8_t)i;
    }
    return (uint8_t)(sg->segment_count - 1); /* config makes the last one catch all */
}

static int64_t last_activity(const struct member *m)
{
    return m->last_purchase_ts > m->enrolled_ts ? m->last_purchase_ts : m->enrolled_ts;
}

static uint8_t stage_of(const struct rulebook_segments *sg, const struct member *m, int64_t now)
{
    if (m->reactivated_until_ts > now)
        return RULEBOOK_STAGE_REACTIVATED;
    if (now < m->enrolled_ts + sg->new_days * DAY)
        return RULEBOOK_STAGE_NEW;
    int64_t age = now - last_activity(m);
    if (age <= sg->active_days * DAY)
        return RULEBOOK_STAGE_ACTIVE;
    return age <= sg->lapsed_days * DAY ? RULEBOOK_STAGE_AT_RISK : RULEBOOK_STAGE_LAPSED;
}

static void earliest(int64_t *due, int64_t t, int64_t now)
{
    if (t > now && t < *due)
        *due = t;
}

/* The first month from `from` to rfm_month with a purchase, or NO_MONTH. */
static int32_t first_bought(const struct member *m, int32_t from)
{
    uint32_t i = slot(from);
    for (int32_t k = from; k <= m->rfm_month; k++, i = next_slot(i))
        if (m->rfm_count[i] != 0)
            return k;
    return NO_MONTH;
}

/* The next instant after `now` (in month `now_month`) at which a score or
 * the stage can change; `bought` is window_sum's first month with a
 * purchase at `now_month`. */
static int64_t next_due(const struct rulebook_segments *sg, const struct member *m, int64_t now,
                        int32_t now_month, int32_t bought)
{
    int64_t due = INT64_MAX;
    for (int i = 0; m->last_purchase_ts != 0 && i < RULEBOOK_RFM_CUTS; i++)
        earliest(&due, m->last_purchase_ts + (sg->recency_days[i] + 1) * DAY, now);
    if (bought == NO_MONTH && m->rfm_month > now_month) { /* months past the clock's: not summed */
        int32_t first = now_month - (int32_t)sg->window_months + 1;
        if (first < m->rfm_month - RING + 1)
            first = m->rfm_month - RING + 1;
        bought = first_bought(m, first > now_month + 1 ? first : now_month + 1);
    }
    if (bought != NO_MONTH) /* the start of the month it leaves the window */
        earliest(&due, caltime_month_start(bought + (int32_t)sg->window_months), now);
    earliest(&due, m->reactivated_until_ts, now);
    earliest(&due, m->enrolled_ts + sg->new_days * DAY, now);
    earliest(&due, last_activity(m) + sg->active_days * DAY + 1, now);
    earliest(&due, last_activity(m) + sg->lapsed_days * DAY + 1, now);
    return due;
}

static uint16_t hist_bucket(int64_t spend)
{
    if (spend <= 0)
        return 0;
    int b = 63 - __builtin_clzll((unsigned long long)spend); /* floor(log2) */
    int frac = b >= 2 ? (int)((spend >> (b - 2)) & 3) : (int)((spend << (2 - b)) & 3);
    return (uint16_t)(1 + 4 * b + frac);
}

static void hist_move(struct state_globals *g, struct member *m, int64_t spend)
{
    g->hist_count[m->hist_bucket]--;
    g->hist_sum[m->hist_bucket] -= m->hist_spend;
    m->hist_bucket = hist_bucket(spend);
    m->hist_spend = spend;
    g->hist_count[m->hist_bucket]++;
    g->hist_sum[m->hist_bucket] += spend;
}

/* Counts a lapse out of segment `s` in the current month's bucket. */
static void count_lapse(struct state_globals *g, uint8_t s, int32_t now_month)
{
    if (now_month > g->lapse_month) {
        int32_t from = g->lapse_month + 1 > now_month - 11 ? g->lapse_month + 1 : now_month - 11;
        for (int32_t k = from; k <= now_month; k++)
            for (int i = 0; i < RULEBOOK_SEGMENTS_MAX; i++)
                g->lapses[i][(uint32_t)k % 12] = 0;
        g->lapse_month = now_month;
    }
    g->lapses[s][(uint32_t)now_month % 12]++;
}

void segments_tier_moved(struct state *st, uint8_t from, uint8_t to)
{
    st->g.tier_members[from]--;
    st->g.tier_members[to]++;
}

static void moved(struct outbox *ob, int64_t ts, const struct member *m,
                  const char *dimension, const char *from, const char *to,
                  const uint8_t rfm[3])
{
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_SEGMENT_CHANGED, ts, m);
    o->dimension = dimension;
    o->from = from;
    o->to = to;
    memcpy(o->rfm, rfm, 3);
}

/* Classifies member `pos` at the clock; `ob` NULL: no events (enrolment). */
static void classify(struct state *st, const struct rulebook *rb, struct outbox *ob,
                     int64_t ts, uint32_t pos)
{
    const struct rulebook_segments *sg = &rb->seg;
    struct member *m = members_at(&st->members, pos);
    int64_t now = st->clock_ms, spend, count;
    rfm_roll(m, st->clock_month);
    int32_t bought = window_sum(m, sg->window_months, st->clock_month, &spend, &count);
    hist_move(&st->g, m, spend);
    uint8_t rfm[3] = {score_recency(sg, m, now), score_up(count, sg->frequency),
                      score_up(spend, sg->monetary)};
    uint8_t seg = segment_of(sg, rfm), stage = stage_of(sg, m, now);
    if (ob != NULL && seg != m->segment)
        moved(ob, ts, m, "segment", sg->segments[m->segment].name, sg->segments[seg].name, rfm);
    if (ob != NULL && stage != m->stage) {
        moved(ob, ts, m, "stage", stage_names[m->stage], stage_names[stage], rfm);
        if (stage == RULEBOOK_STAGE_LAPSED)
            count_lapse(&st->g, m->segment, st->clock_month);
    }
    st->g.segment_members[seg]++;
    st->g.stage_members[stage]++;
    memcpy(m->rfm, rfm, 3);
    m->segment = seg;
    m->stage = stage;
    m->seg_due_ts = next_due(sg, m, now, st->clock_month, bought);
}

void segments_enrolled(struct state *st, const struct rulebook *rb, uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    st->g.tier_members[0]++;
    st->g.hist_count[0]++; /* every member is in the histogram, at spend 0 */
    m->rfm_month = st->clock_month;
    if (rb->seg.enabled)
        classify(st, rb, NULL, m->enrolled_ts, pos);
}

void segments_refresh(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      int64_t ts, uint32_t pos)
{
    if (!rb->seg.enabled)
        return;
    struct member *m = members_at(&st->members, pos);
    st->g.segment_members[m->segment]--;
    st->g.stage_members[m->stage]--;
    classify(st, rb, ob, ts, pos);
}

void segments_note_purchase(struct state *st, const struct rulebook *rb, uint32_t pos,
                            int64_t ts, int64_t amount)
{
    if (!rb->seg.enabled)
        return;
    struct member *m = members_at(&st->members, pos);
    int64_t now = st->clock_ms;
    int32_t now_month = st->clock_month, month = state_month_of(st, ts);
    if (stage_of(&rb->seg, m, now) == RULEBOOK_STAGE_LAPSED)
        m->reactivated_until_ts = now + rb->seg.reactivated_days * DAY;
    rfm_roll(m, now_month);
    if (month <= now_month - RING)
        return; /* older than any window */
    int64_t s = (int64_t)m->rfm_spend[slot(month)] + amount;
    m->rfm_spend[slot(month)] = s > INT32_MAX ? INT32_MAX : (int32_t)s;
    if (m->rfm_count[slot(month)] < UINT16_MAX)
        m->rfm_count[slot(month)]++;
}

void segments_note_refund(struct state *st, const struct rulebook *rb, uint32_t pos,
                          int64_t sale_ts, int64_t amount)
{
    if (!rb->seg.enabled)
        return;
    struct member *m = members_at(&st->members, pos);
    int32_t month = caltime_month(sale_ts);
    rfm_roll(m, st->clock_month);
    if (month <= st->clock_month - RING)
        return; /* the sale left every window already */
    int32_t *spend = &m->rfm_spend[slot(month)];
    *spend = amount >= *spend ? 0 : (int32_t)(*spend - amount);
}

/* Class of histogram bucket `b`: buckets from the top, in order, fill the
 * classes' cumulative shares of all spend. */
static int class_of_bucket(const struct state *st, const struct rulebook *rb, int b)
{
    const struct rulebook_segments *sg = &rb->seg;
    if (sg->value_class_count == 0)
        return -1;
    __int128 total = 0, above = 0;
    for (int i = 0; i < STATE_HIST_BUCKETS; i++)
        total += st->g.hist_sum[i];
    for (int i = STATE_HIST_BUCKETS - 1; i > b; i--)
        above += st->g.hist_sum[i];
    int c = 0; /* the spend above this bucket decides where it starts */
    while (c + 1 < (int)sg->value_class_count &&
           above * 10000 >= total * sg->value_classes[c].share_bp)
        c++;
    return b == 0 && total > 0 ? (int)sg->value_class_count - 1 : c;
}

int segments_value_class(const struct state *st, const struct rulebook *rb, uint32_t pos)
{
    return class_of_bucket(st, rb, members_at(&st->members, pos)->hist_bucket);
}

void segments_value_counts(const struct state *st, const struct rulebook *rb, int64_t *counts)
{
    memset(counts, 0, rb->seg.value_class_count * sizeof(*counts));
    for (int b = 0; b < STATE_HIST_BUCKETS; b++) {
        int c = class_of_bucket(st, rb, b);
        if (c >= 0)
            counts[c] += st->g.hist_count[b];
    }
}

int64_t segments_churn_bp(const struct state *st, const struct rulebook *rb, uint32_t s)
{
    const struct rulebook_segments *sg = &rb->seg;
    int64_t lapses = 0;
    int32_t now_month = st->clock_month;
    for (int32_t k = now_month - 11; k <= now_month && k <= st->g.lapse_month; k++)
        lapses += st->g.lapses[s][(uint32_t)k % 12];
    int64_t base = st->g.segment_members[s] + lapses;
    /* Nobody observed (possible with min_sample 0): nothing to divide. */
    int64_t churn = base == 0 || base < sg->min_sample ? sg->default_churn_bp
                                                       : lapses * 10000 / base;
    int64_t floor_bp = 10000 / sg->max_years; /* at most max_years expected */
    return churn < floor_bp ? floor_bp : churn;
}

int64_t segments_clv(const struct state *st, const struct rulebook *rb, uint32_t pos)
{
    int64_t spend, count;
    segments_window(st, rb, pos, &spend, &count);
    __int128 yearly = (__int128)spend * 12 / rb->seg.window_months;
    const struct rulebook_segments *sg = &rb->seg;
    uint32_t s = members_at(&st->members, pos)->segment;
    /* A retention programme leaves retention_churn_bp of the churn (no
     * fewer than max_years of life) and costs retention_cost a year. */
    int64_t churn = segments_churn_bp(st, rb, s) * sg->retention_churn_bp / 10000;
    if (churn < 10000 / sg->max_years)
        churn = 10000 / sg->max_years;
    __int128 clv = (yearly * sg->margin_bp - (__int128)sg->retention_cost * 10000) / churn -
                   sg->acquisition_cost;
    return clv > INT64_MAX ? INT64_MAX : clv < INT64_MIN ? INT64_MIN : (int64_t)clv;
}
