/* snaprec.c - see snaprec.h. Each record is written and read by a pair of
 * functions listing its fields in the same order. */
#include "snaprec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "lyassert.h"
#include "rules.h"
#include "snapliab.h"
#include "wallet.h"

/* Tripwires: a field added to one of these structs must be added to its
 * codec below (and SNAPSHOT_VERSION raised), or it would be lost on the
 * way through a snapshot. */
_Static_assert(sizeof(struct member) == 400, "struct member changed: update snaprec.c");
_Static_assert(sizeof(struct member_extra) == 96, "struct member_extra changed: update snaprec.c");
_Static_assert(sizeof(struct txn_rec) == 128, "struct txn_rec changed: update snaprec.c");
_Static_assert(sizeof(struct state_globals) == 10136,
               "struct state_globals changed: update snaprec.c");
_Static_assert(sizeof(struct rulebook_version) == 152,
               "struct rulebook_version changed: update snaprec.c");

/* The longest rulebook text a snapshot may hold (as RULEPUSH_TEXT_MAX). */
#define SNAPREC_TEXT_MAX (1u << 20)

enum snapshot_status snaprec_fail(struct snapshot_error *err, enum snapshot_status status,
                                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return status;
}

/* ---- versions ---------------------------------------------------------- */

static void put_id(struct lebuf_out *o, struct proto_id id)
{
    lebuf_put_u64(o, id.ms);
    lebuf_put_u64(o, id.seq);
}

static struct proto_id get_id(struct lebuf_in *in)
{
    struct proto_id id;
    id.ms = lebuf_get_u64(in);
    id.seq = lebuf_get_u64(in);
    return id;
}

static void put_version(struct lebuf_out *o, const struct rulebook_version *v)
{
    lebuf_put_str8(o, v->hash);
    lebuf_put_str8(o, v->label);
    put_id(o, v->entry_id);
    lebuf_put_i64(o, v->effective_ts);
    put_id(o, v->since_id);
    lebuf_put_i64(o, v->since_ts);
}

static int get_version(struct lebuf_in *in, struct rulebook_version *v)
{
    memset(v, 0, sizeof(*v));
    int rc = lebuf_get_str8(in, v->hash, sizeof(v->hash)) < 0 ||
             lebuf_get_str8(in, v->label, sizeof(v->label)) < 0;
    v->entry_id = get_id(in);
    v->effective_ts = lebuf_get_i64(in);
    v->since_id = get_id(in);
    v->since_ts = lebuf_get_i64(in);
    return rc || in->overrun ? -1 : 0;
}

static int put_text(struct lebuf_out *o, const struct rulebook *rb,
                    const struct rulebook_codec *codec)
{
    char *text = codec->text(rb);
    if (text == NULL)
        return -1;
    size_t n = strlen(text);
    lebuf_put_u32(o, (uint32_t)n);
    lebuf_put_bytes(o, text, n);
    free(text);
    return 0;
}

/* Parses the next text into `rb`. A text this build cannot parse was
 * written by another build (a setting it does not know). */
static enum snapshot_status get_text(struct lebuf_in *in, const struct rulebook_codec *codec,
                                     struct rulebook *rb, struct snapshot_error *err)
{
    char why[SNAPSHOT_ERROR_MAX - 64];
    uint32_t n = lebuf_get_u32(in);
    const char *p = n <= SNAPREC_TEXT_MAX ? lebuf_get_bytes(in, n) : NULL;
    if (p == NULL)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "a rulebook text is cut short");
    char *text = malloc((size_t)n + 1);
    LY_ALLOC_CHECK(text != NULL);
    memcpy(text, p, n);
    text[n] = '\0';
    int rc = strlen(text) == n ? codec->parse(text, rb, why, sizeof(why)) : -1;
    free(text);
    if (rc != 0)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "its rulebook text does not parse here "
                            "(another build?): %s", why);
    return SNAPSHOT_OK;
}

static int write_versions(struct lebuf_out *o, const struct versions *v,
                          const struct rulebook_codec *codec)
{
    lebuf_put_u32(o, v->count);
    for (uint32_t i = 0; i < v->count; i++)
        put_version(o, &v->history[i]);
    if (put_text(o, &v->now, codec) != 0)
        return -1;
    lebuf_put_u8(o, v->has_next);
    if (!v->has_next)
        return 0;
    put_version(o, &v->next_info);
    return put_text(o, &v->next, codec);
}

static enum snapshot_status read_versions(struct lebuf_in *in, const struct rulebook_codec *codec,
                                          struct versions *v, struct snapshot_error *err)
{
    uint32_t n = lebuf_get_u32(in);
    if (n < 1 || n > RULEBOOK_VERSIONS_MAX)
        return snaprec_fail(err, n > RULEBOOK_VERSIONS_MAX ? SNAPSHOT_FOREIGN : SNAPSHOT_DAMAGED,
                            "%u rulebook versions (this build keeps 1..%d)", n,
                            RULEBOOK_VERSIONS_MAX);
    v->count = n;
    for (uint32_t i = 0; i < n; i++)
        if (get_version(in, &v->history[i]) != 0)
            return snaprec_fail(err, SNAPSHOT_DAMAGED, "rulebook version %u is malformed", i);
    enum snapshot_status s = get_text(in, codec, &v->now, err);
    if (s != SNAPSHOT_OK)
        return s;
    memcpy(&v->prev, &v->now, sizeof(v->prev));
    uint8_t has_next = lebuf_get_u8(in);
    v->has_next = has_next == 1;
    if (has_next > 1)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "the scheduled version's flag is %u",
                            has_next);
    if (!v->has_next)
        return SNAPSHOT_OK;
    if (get_version(in, &v->next_info) != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "the scheduled version is malformed");
    return get_text(in, codec, &v->next, err);
}

/* ---- globals ----------------------------------------------------------- */

static void put_i64s(struct lebuf_out *o, const int64_t *v, uint32_t n)
{
    lebuf_put_u32(o, n);
    for (uint32_t i = 0; i < n; i++)
        lebuf_put_i64(o, v[i]);
}

/* Reads a counted array into v[0..cap); more than cap: another build. */
static int get_i64s(struct lebuf_in *in, int64_t *v, uint32_t cap)
{
    uint32_t n = lebuf_get_u32(in);
    if (n > cap)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        v[i] = lebuf_get_i64(in);
    return 0;
}

static void write_globals(struct lebuf_out *o, const struct state_globals *g)
{
    lebuf_put_u32(o, RULEBOOK_CATALOG_MAX);
    for (uint32_t i = 0; i < RULEBOOK_CATALOG_MAX; i++) {
        lebuf_put_str8(o, g->catalog_names[i]);
        lebuf_put_i64(o, g->catalog_issued[i]);
    }
    lebuf_put_u32(o, RULEBOOK_AUTO_REWARDS_MAX);
    for (uint32_t i = 0; i < RULEBOOK_AUTO_REWARDS_MAX; i++)
        lebuf_put_str8(o, g->auto_names[i]);
    put_i64s(o, g->tier_members, RULEBOOK_TIERS_MAX);
    put_i64s(o, g->segment_members, RULEBOOK_SEGMENTS_MAX);
    put_i64s(o, g->stage_members, RULEBOOK_STAGE_COUNT);
    put_i64s(o, g->hist_count, STATE_HIST_BUCKETS);
    put_i64s(o, g->hist_sum, STATE_HIST_BUCKETS);
    lebuf_put_u32(o, (uint32_t)g->lapse_month);
    lebuf_put_u32(o, RULEBOOK_SEGMENTS_MAX);
    for (uint32_t s = 0; s < RULEBOOK_SEGMENTS_MAX; s++)
        put_i64s(o, g->lapses[s], 12);
    lebuf_put_u32(o, RULEBOOK_CAMPAIGNS_MAX);
    for (uint32_t i = 0; i < RULEBOOK_CAMPAIGNS_MAX; i++) {
        lebuf_put_str8(o, g->camp.names[i]);
        lebuf_put_i64(o, g->camp.given[i]);
        lebuf_put_u8(o, g->camp.exhausted[i]);
    }
    lebuf_put_u32(o, RULEBOOK_LIMITED_CAMPAIGNS_MAX);
    for (uint32_t i = 0; i < RULEBOOK_LIMITED_CAMPAIGNS_MAX; i++)
        lebuf_put_str8(o, g->camp.slot_names[i]);
    lebuf_put_u32(o, g->lots_kind);
    lebuf_put_u32(o, g->lots_span);
}

/* The campaign budgets (budgets.h) of the globals; -1 when a count is over
 * this build's (another build). */
static int read_budgets(struct lebuf_in *in, struct budgets *b)
{
    uint32_t n = lebuf_get_u32(in);
    if (n > RULEBOOK_CAMPAIGNS_MAX)
        return -1;
    int rc = 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        rc |= lebuf_get_str8(in, b->names[i], sizeof(b->names[i])) < 0;
        b->given[i] = lebuf_get_i64(in);
        b->exhausted[i] = lebuf_get_u8(in);
    }
    n = rc ? 0 : lebuf_get_u32(in);
    rc |= n > RULEBOOK_LIMITED_CAMPAIGNS_MAX;
    for (uint32_t i = 0; !rc && i < n; i++)
        rc |= lebuf_get_str8(in, b->slot_names[i], sizeof(b->slot_names[i])) < 0;
    return rc ? -1 : 0;
}

static enum snapshot_status read_globals(struct lebuf_in *in, struct state_globals *g,
                                         struct snapshot_error *err)
{
    memset(g, 0, sizeof(*g));
    uint32_t n = lebuf_get_u32(in);
    int rc = n > RULEBOOK_CATALOG_MAX;
    for (uint32_t i = 0; !rc && i < n; i++) {
        rc |= lebuf_get_str8(in, g->catalog_names[i], sizeof(g->catalog_names[i])) < 0;
        g->catalog_issued[i] = lebuf_get_i64(in);
    }
    n = rc ? 0 : lebuf_get_u32(in);
    rc |= n > RULEBOOK_AUTO_REWARDS_MAX;
    for (uint32_t i = 0; !rc && i < n; i++)
        rc |= lebuf_get_str8(in, g->auto_names[i], sizeof(g->auto_names[i])) < 0;
    rc = rc || get_i64s(in, g->tier_members, RULEBOOK_TIERS_MAX) ||
         get_i64s(in, g->segment_members, RULEBOOK_SEGMENTS_MAX) ||
         get_i64s(in, g->stage_members, RULEBOOK_STAGE_COUNT) ||
         get_i64s(in, g->hist_count, STATE_HIST_BUCKETS) ||
         get_i64s(in, g->hist_sum, STATE_HIST_BUCKETS);
    g->lapse_month = (int32_t)lebuf_get_u32(in);
    n = rc ? 0 : lebuf_get_u32(in);
    rc |= n > RULEBOOK_SEGMENTS_MAX;
    for (uint32_t s = 0; !rc && s < n; s++)
        rc |= get_i64s(in, g->lapses[s], 12);
    rc = rc || read_budgets(in, &g->camp);
    g->lots_kind = lebuf_get_u32(in);
    g->lots_span = lebuf_get_u32(in);
    if (in->overrun)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "the globals are cut short");
    return rc ? snaprec_fail(err, SNAPSHOT_FOREIGN, "the globals hold more names or counters "
                             "than this build has room for (another build?)")
              : SNAPSHOT_OK;
}

/* ---- members ----------------------------------------------------------- */

struct lots_out {
    struct lebuf_out *o;
    uint32_t n;
};

static void count_lot(void *arg, int32_t month, int64_t points)
{
    (void)month;
    (void)points;
    ((struct lots_out *)arg)->n++;
}

static void put_lot(void *arg, int32_t month, int64_t points)
{
    struct lots_out *l = arg;
    lebuf_put_i64(l->o, month);
    lebuf_put_i64(l->o, points);
}

/* The member's lots: a count, then (key, points) pairs, soonest first
 * (struct snaprec_lot). */
static void write_lots(struct lebuf_out *o, const struct members *ms, uint32_t pos)
{
    struct lots_out l = {o, 0};
    if (ms->lots_kind == WALLET_RING) {
        wallet_each(ms, pos, count_lot, &l);
        lebuf_put_u32(o, l.n);
        wallet_each(ms, pos, put_lot, &l);
        return;
    }
    const int64_t *k = members_lots(ms, pos);
    uint32_t cap = ms->lots_kind == WALLET_NONE ? 0 : ms->lots_per / 2;
    while (l.n < cap && k[2 * l.n + 1] > 0)
        l.n++;
    lebuf_put_u32(o, l.n);
    for (uint32_t i = 0; i < l.n; i++) {
        lebuf_put_i64(o, k[2 * i]);
        lebuf_put_i64(o, k[2 * i + 1]);
    }
}

/* Members' fields added with issue 13 and 14: status, campaign limits,
 * transfers, churn, pending points, notices. */
static void write_member_more(struct lebuf_out *o, const struct member *m,
                              const struct member_extra *x)
{
    lebuf_put_u8(o, x->manual_tier);
    lebuf_put_u8(o, m->earned_tier);
    lebuf_put_u32(o, RULEBOOK_LIMITED_CAMPAIGNS_MAX);
    for (uint32_t i = 0; i < RULEBOOK_LIMITED_CAMPAIGNS_MAX; i++) {
        lebuf_put_u16(o, x->camp_times[i]);
        lebuf_put_u32(o, (uint32_t)x->camp_points[i]);
    }
    lebuf_put_u32(o, (uint32_t)x->transfer_day);
    lebuf_put_i64(o, x->transfer_points);
    lebuf_put_i64(o, x->manual_until_ts);
    lebuf_put_i64(o, m->first_purchase_ts);
    lebuf_put_u32(o, MEMBERS_PENDING_SLOTS);
    for (uint32_t i = 0; i < MEMBERS_PENDING_SLOTS; i++) {
        lebuf_put_u32(o, (uint32_t)m->pend_day[i]);
        lebuf_put_i64(o, m->pend_points[i]);
        lebuf_put_i64(o, x->pend_qual[i]);
    }
    lebuf_put_i64(o, m->notice_due_ts);
    lebuf_put_i64(o, m->risk_need);
    lebuf_put_u32(o, (uint32_t)m->risk_review_day);
    lebuf_put_u32(o, (uint32_t)m->expiring_month);
}

/* Reads what write_member_more wrote; -1 when an array is longer than
 * this build's (another build). */
static int read_member_more(struct lebuf_in *in, struct member *m, struct member_extra *x)
{
    x->manual_tier = lebuf_get_u8(in);
    m->earned_tier = lebuf_get_u8(in);
    uint32_t n = lebuf_get_u32(in);
    if (n > RULEBOOK_LIMITED_CAMPAIGNS_MAX)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        x->camp_times[i] = lebuf_get_u16(in);
        x->camp_points[i] = (int32_t)lebuf_get_u32(in);
    }
    x->transfer_day = (int32_t)lebuf_get_u32(in);
    x->transfer_points = lebuf_get_i64(in);
    x->manual_until_ts = lebuf_get_i64(in);
    m->first_purchase_ts = lebuf_get_i64(in);
    n = lebuf_get_u32(in);
    if (n > MEMBERS_PENDING_SLOTS)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        m->pend_day[i] = (int32_t)lebuf_get_u32(in);
        m->pend_points[i] = lebuf_get_i64(in);
        x->pend_qual[i] = lebuf_get_i64(in);
    }
    m->notice_due_ts = lebuf_get_i64(in);
    m->risk_need = lebuf_get_i64(in);
    m->risk_review_day = (int32_t)lebuf_get_u32(in);
    m->expiring_month = (int32_t)lebuf_get_u32(in);
    return 0;
}

static void write_member(struct lebuf_out *o, const struct members *ms, uint32_t pos)
{
    const struct member *m = members_at(ms, pos);
    lebuf_put_str8(o, m->id);
    lebuf_put_u8(o, m->tier);
    lebuf_put_u8(o, m->birthday_month);
    lebuf_put_u8(o, m->birthday_day);
    lebuf_put_u8(o, m->flags);
    lebuf_put_u16(o, (uint16_t)m->birthday_bonus_year);
    lebuf_put_u32(o, m->purchases);
    lebuf_put_u32(o, m->referrer);
    lebuf_put_u32(o, (uint32_t)m->qual_month);
    lebuf_put_u32(o, (uint32_t)m->lots_month);
    lebuf_put_u32(o, (uint32_t)m->cap_day);
    lebuf_put_u32(o, RULEBOOK_AUTO_REWARDS_MAX);
    for (uint32_t i = 0; i < RULEBOOK_AUTO_REWARDS_MAX; i++)
        lebuf_put_u32(o, m->auto_issued[i]);
    const int64_t scalars[] = {m->balance,          m->lifetime_points, m->reward_points,
                               m->cap_points,       m->enrolled_ts,     m->last_purchase_ts,
                               m->next_review_ts,   m->grace_until_ts,  m->sched_ts};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
        lebuf_put_i64(o, scalars[i]);
    lebuf_put_u32(o, MEMBERS_QUAL_MONTHS); /* as i64s: the format keeps 64-bit buckets */
    for (uint32_t i = 0; i < MEMBERS_QUAL_MONTHS; i++)
        lebuf_put_i64(o, m->qual[i]);
    lebuf_put_bytes(o, m->rfm, 3);
    lebuf_put_u8(o, m->segment);
    lebuf_put_u8(o, m->stage);
    lebuf_put_u16(o, m->hist_bucket);
    lebuf_put_u32(o, (uint32_t)m->rfm_month);
    lebuf_put_i64(o, m->hist_spend);
    lebuf_put_i64(o, m->reactivated_until_ts);
    lebuf_put_i64(o, m->seg_due_ts);
    lebuf_put_u32(o, MEMBERS_QUAL_MONTHS);
    for (uint32_t i = 0; i < MEMBERS_QUAL_MONTHS; i++) {
        lebuf_put_u32(o, (uint32_t)m->rfm_spend[i]);
        lebuf_put_u16(o, m->rfm_count[i]);
    }
    write_member_more(o, m, members_extra(ms, m));
    write_lots(o, ms, pos);
}

/* Reads one member's fields (not its lots) into the zeroed `m` and `x`.
 * Returns -1 when an array is longer than this build's (another build). */
static int read_member_fields(struct lebuf_in *in, struct member *m, struct member_extra *x)
{
    int len = lebuf_get_str8(in, m->id, sizeof(m->id));
    m->id_len = len > 0 ? (uint8_t)len : 0;
    m->tier = lebuf_get_u8(in);
    m->birthday_month = lebuf_get_u8(in);
    m->birthday_day = lebuf_get_u8(in);
    m->flags = lebuf_get_u8(in);
    m->birthday_bonus_year = (int16_t)lebuf_get_u16(in);
    m->purchases = lebuf_get_u32(in);
    m->referrer = lebuf_get_u32(in);
    m->qual_month = (int32_t)lebuf_get_u32(in);
    m->lots_month = (int32_t)lebuf_get_u32(in);
    m->cap_day = (int32_t)lebuf_get_u32(in);
    uint32_t n = lebuf_get_u32(in);
    if (n > RULEBOOK_AUTO_REWARDS_MAX)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        m->auto_issued[i] = lebuf_get_u32(in);
    int64_t *scalars[] = {&m->balance,        &m->lifetime_points, &m->reward_points,
                          &m->cap_points,     &m->enrolled_ts,     &m->last_purchase_ts,
                          &m->next_review_ts, &m->grace_until_ts,  &m->sched_ts};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
        *scalars[i] = lebuf_get_i64(in);
    int64_t qual[MEMBERS_QUAL_MONTHS] = {0};
    if (get_i64s(in, qual, MEMBERS_QUAL_MONTHS) != 0)
        return -1;
    for (uint32_t i = 0; i < MEMBERS_QUAL_MONTHS; i++) /* a format-4 bucket past the bound */
        m->qual[i] = members_qual_clamp(qual[i]);
    const uint8_t *rfm = lebuf_get_bytes(in, 3);
    if (rfm != NULL)
        memcpy(m->rfm, rfm, 3);
    m->segment = lebuf_get_u8(in);
    m->stage = lebuf_get_u8(in);
    m->hist_bucket = lebuf_get_u16(in);
    m->rfm_month = (int32_t)lebuf_get_u32(in);
    m->hist_spend = lebuf_get_i64(in);
    m->reactivated_until_ts = lebuf_get_i64(in);
    m->seg_due_ts = lebuf_get_i64(in);
    n = lebuf_get_u32(in);
    if (n > MEMBERS_QUAL_MONTHS)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        m->rfm_spend[i] = (int32_t)lebuf_get_u32(in);
        m->rfm_count[i] = lebuf_get_u16(in);
    }
    return read_member_more(in, m, x);
}

static enum snapshot_status read_member(struct lebuf_in *in, struct state *st, uint32_t i,
                                        uint32_t n, struct snapshot_error *err)
{
    struct member m;
    struct member_extra x;
    struct snaprec_lot lots[RULEBOOK_EXPIRY_MONTHS_MAX + 1];
    memset(&m, 0, sizeof(m));
    memset(&x, 0, sizeof(x));
    if (read_member_fields(in, &m, &x) != 0)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "member %u holds longer arrays than this "
                            "build's (another build?)", i);
    uint32_t nlots = lebuf_get_u32(in);
    if (!in->overrun && nlots > st->members.lots_per)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "member %u has %u expiry lots, more than "
                            "this daemon keeps (%u)", i, nlots, st->members.lots_per);
    for (uint32_t k = 0; k < nlots && !in->overrun; k++) {
        lots[k].key = lebuf_get_i64(in);
        lots[k].points = lebuf_get_i64(in);
    }
    if (in->overrun)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member %u is cut short", i);
    return snaprec_restore_member(st, &m, &x, lots, nlots, i, n, err);
}

/* ---- the checks every loaded record passes ----------------------------- */

/* No month index after the engine clock's, no negative time: the calendar
 * functions take only times since the epoch. */
static int check_times(const struct member *m, const struct member_extra *x,
                       int32_t clock_month)
{
    if (m->qual_month > clock_month || m->lots_month > clock_month ||
        m->rfm_month > clock_month || m->qual_month < 0 || m->lots_month < 0 ||
        m->rfm_month < 0 || m->sched_ts < 0 || m->enrolled_ts < 0 || m->last_purchase_ts < 0 ||
        m->next_review_ts < 0 || m->grace_until_ts < 0 || m->reactivated_until_ts < 0 ||
        m->seg_due_ts < 0 || x->manual_until_ts < 0 || m->first_purchase_ts < 0 ||
        m->notice_due_ts < 0 || m->risk_review_day < 0 || m->expiring_month < 0 ||
        m->risk_need < -1)
        return -1;
    for (uint32_t k = 0; k < MEMBERS_PENDING_SLOTS; k++) /* pending.h: used slots first */
        if (m->pend_day[k] < 0 || m->pend_points[k] < 0 || x->pend_qual[k] < 0 ||
            (k > 0 && m->pend_day[k] != 0 && m->pend_day[k] <= m->pend_day[k - 1]) ||
            (m->pend_day[k] == 0 && (m->pend_points[k] != 0 || x->pend_qual[k] != 0 ||
                                     (k + 1 < MEMBERS_PENDING_SLOTS && m->pend_day[k + 1] != 0))))
            return -1;
    return 0;
}

/* Lays keyed `lots` (ascending expiry) out as the member's pairs
 * (lots.h) and checks them (wallet_lots_valid). */
static enum snapshot_status keyed_of(const struct state *st, const struct member *m,
                                     const struct snaprec_lot *lots, uint32_t nlots,
                                     int64_t *pairs, struct snapshot_error *err)
{
    uint32_t per = st->members.lots_per;
    if (nlots > per / 2)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "member '%s' has more expiry lots than "
                            "this daemon keeps", m->id);
    memset(pairs, 0, per * sizeof(*pairs));
    for (uint32_t k = 0; k < nlots; k++) {
        pairs[2 * k] = lots[k].key;
        pairs[2 * k + 1] = lots[k].points;
    }
    if (!wallet_lots_valid(&st->members, m, pairs))
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' has expiry lots that are "
                            "malformed or do not add up to its balance", m->id);
    return SNAPSHOT_OK;
}

/* Lays `lots` out by month, as members_lots_write takes a ring
 * (ring[lots_per]: value d - 1 the lot of month lots_month + d). Returns 0, or
 * FOREIGN when a lot lies beyond this daemon's ring, DAMAGED when the lots
 * break the wallet's invariant (wallet.h). */
static enum snapshot_status ring_of(const struct state *st, const struct member *m,
                                    const struct snaprec_lot *lots, uint32_t nlots,
                                    int64_t *ring, struct snapshot_error *err)
{
    uint32_t per = st->members.lots_per;
    int64_t sum = 0;
    if (st->members.lots_kind == WALLET_DAYS || st->members.lots_kind == WALLET_YEARS)
        return keyed_of(st, m, lots, nlots, ring, err);
    if (per == 0)
        return nlots == 0 ? SNAPSHOT_OK
                          : snaprec_fail(err, SNAPSHOT_FOREIGN, "member '%s' has expiry lots; "
                                         "this daemon keeps none", m->id);
    memset(ring, 0, per * sizeof(*ring));
    for (uint32_t k = 0; k < nlots; k++) {
        if (lots[k].key < 0 || lots[k].key > INT32_MAX)
            return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' has a malformed expiry "
                                "lot", m->id);
        int64_t ahead = lots[k].key - m->lots_month;
        if (ahead > (int64_t)per)
            return snaprec_fail(err, SNAPSHOT_FOREIGN, "member '%s' has points expiring "
                                "after this daemon's expiry_months_max allows", m->id);
        if (ahead < 1 || lots[k].points <= 0 || ring[ahead - 1] != 0 ||
            __builtin_add_overflow(sum, lots[k].points, &sum))
            return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' has a malformed expiry "
                                "lot", m->id);
        ring[ahead - 1] = lots[k].points;
    }
    bool expiring = st->ver->now.expiry_months > 0;
    if (expiring ? sum != (m->balance > 0 ? m->balance : 0) : nlots != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' has lots that do not add up "
                            "to its balance", m->id);
    return SNAPSHOT_OK;
}

enum snapshot_status snaprec_restore_member(struct state *st, const struct member *m,
                                            const struct member_extra *x,
                                            const struct snaprec_lot *lots, uint32_t nlots,
                                            uint32_t i, uint32_t n,
                                            struct snapshot_error *err)
{
    int64_t ring[WALLET_LOTS_PER_MAX];
    const struct rulebook *rb = &st->ver->now;
    if (m->id_len < 1 || m->id_len > PROTO_MEMBER_MAX || m->id[m->id_len] != '\0' ||
        strlen(m->id) != m->id_len)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member %u has a malformed id", i);
    if (m->tier >= rb->tier_count || x->manual_tier >= rb->tier_count ||
        m->earned_tier >= rb->tier_count)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' is in tier %u (floor %u, "
                            "earned %u); its rulebook has %u tiers", m->id, m->tier,
                            x->manual_tier, m->earned_tier, rb->tier_count);
    /* Indexes the segments code uses unchecked; bounded by its arrays. */
    if (m->segment >= RULEBOOK_SEGMENTS_MAX || m->stage >= RULEBOOK_STAGE_COUNT ||
        m->hist_bucket >= STATE_HIST_BUCKETS || m->referrer > n || m->referrer == i + 1 ||
        check_times(m, x, st->clock_month) != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' has a field out of range (a "
                            "segment, stage, bucket, referrer or a time)", m->id);
    enum snapshot_status s = ring_of(st, m, lots, nlots, ring, err);
    if (s != SNAPSHOT_OK)
        return s;
    if (st->members.count == st->members.max)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "it holds more members than members_max "
                            "(%u)", st->members.max);
    if (members_restore(&st->members, m, x, ring) == HINDEX_NONE)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "member '%s' appears twice", m->id);
    if (m->sched_ts != 0) /* the schedule is derived: the loader heapifies it */
        schedule_append(&st->schedule, m->sched_ts, st->members.count - 1);
    return SNAPSHOT_OK;
}

enum snapshot_status snaprec_restore_txn(struct state *st, struct txn_rec *r, const char *txn,
                                         uint32_t i, int64_t *prev_ms,
                                         struct snapshot_error *err)
{
    size_t len = txn != NULL ? strlen(txn) : 0;
    if ((txn != NULL && (len < 1 || len > PROTO_TXN_MAX)) || r->kind >= PROTO_KIND_COUNT ||
        r->ts < 0 || r->amount < 0 || (r->kind == PROTO_PURCHASE && r->amount == 0) ||
        r->member >= st->members.count || r->applied_ms < *prev_ms ||
        r->error >= (r->kind == PROTO_TRANSFER ? RULES_TRANSFER_ERRORS : RULES_REDEEM_ERRORS) ||
        r->release_day < 0 || r->qual_released > 1 || r->bonus < 0 || r->referral < 0 ||
        r->zero[0] != 0 || r->zero[1] != 0 || r->zero[2] != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "txn record %u is malformed", i);
    if (txn != NULL) /* formats before 5 hold the id: the window keeps its digest */
        txns_key(txn, len, r->key);
    *prev_ms = r->applied_ms;
    if (st->txns.count == st->txns.max)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "it holds more txns than max_txns (%u)",
                            st->txns.max);
    if (txns_restore(&st->txns, r) != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "txn record %u repeats an earlier txn", i);
    return SNAPSHOT_OK;
}

/* ---- txns -------------------------------------------------------------- */

static void write_txn(struct lebuf_out *o, const struct txn_rec *r)
{
    lebuf_put_u64(o, r->key[0]);
    lebuf_put_u64(o, r->key[1]);
    lebuf_put_u8(o, r->kind);
    lebuf_put_u8(o, r->ok);
    lebuf_put_u8(o, r->error);
    lebuf_put_u32(o, r->member);
    const int64_t v[] = {r->applied_ms, r->ts,      r->amount,  r->points,
                         r->refunded_amount, r->refunded_points, r->balance, r->qual};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        lebuf_put_i64(o, v[i]);
    lebuf_put_u64(o, r->digest);
    lebuf_put_i64(o, r->given);
    lebuf_put_i64(o, r->bonus);
    lebuf_put_i64(o, r->referral);
    lebuf_put_u32(o, (uint32_t)r->release_day);
    lebuf_put_u8(o, r->tier_before);
    lebuf_put_u8(o, r->qual_released);
}

/* Reads txn record `i`: its key (format 5) or its id (format 4). */
static enum snapshot_status read_txn(struct lebuf_in *in, uint32_t format, struct state *st,
                                     uint32_t i, int64_t *prev_ms, struct snapshot_error *err)
{
    struct txn_rec r;
    char id[PROTO_TXN_MAX + 1] = "";
    memset(&r, 0, sizeof(r)); /* padding too: records are compared as bytes */
    if (format >= 5) {
        r.key[0] = lebuf_get_u64(in);
        r.key[1] = lebuf_get_u64(in);
    } else if (lebuf_get_str8(in, id, sizeof(id)) < 0) {
        id[0] = '\0'; /* too long: refused below */
    }
    r.kind = lebuf_get_u8(in);
    r.ok = lebuf_get_u8(in);
    r.error = lebuf_get_u8(in);
    r.member = lebuf_get_u32(in);
    int64_t *v[] = {&r.applied_ms, &r.ts,      &r.amount,  &r.points,
                    &r.refunded_amount, &r.refunded_points, &r.balance, &r.qual};
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
        *v[k] = lebuf_get_i64(in);
    r.digest = lebuf_get_u64(in);
    r.given = lebuf_get_i64(in);
    r.bonus = lebuf_get_i64(in);
    r.referral = lebuf_get_i64(in);
    r.release_day = (int32_t)lebuf_get_u32(in);
    r.tier_before = lebuf_get_u8(in);
    r.qual_released = lebuf_get_u8(in);
    if (in->overrun)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "txn record %u is cut short", i);
    return snaprec_restore_txn(st, &r, format >= 5 ? NULL : id, i, prev_ms, err);
}

/* ---- the body ---------------------------------------------------------- */

enum snapshot_status snaprec_read_head(struct state *st, const char *head,
                                       struct snapshot_error *err)
{
    int64_t clock = (int64_t)lebuf_u64_at(head, 16);
    if (clock < 0 || clock > PROTO_TS_MAX)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "engine clock %lld is out of range",
                            (long long)clock);
    st->last_id.ms = lebuf_u64_at(head, 0);
    st->last_id.seq = lebuf_u64_at(head, 8);
    st->clock_ms = clock;
    st->clock_month = caltime_month(clock);
    st->entries_applied = lebuf_u64_at(head, 24);
    st->entries_rejected = lebuf_u64_at(head, 32);
    st->entries_duplicate = lebuf_u64_at(head, 40);
    st->txns.evicted_early = lebuf_u64_at(head, 48);
    return SNAPSHOT_OK;
}

int snaprec_write_body(struct lebuf_out *o, const struct state *st,
                       const struct rulebook_codec *codec)
{
    if (write_versions(o, st->ver, codec) != 0)
        return -1;
    write_globals(o, &st->g);
    for (uint32_t p = 0; p < st->members.count; p++)
        write_member(o, &st->members, p);
    for (uint32_t i = 0; i < st->txns.count; i++)
        write_txn(o, txns_at(&st->txns, i));
    snapliab_write(o, st);
    return lebuf_flush(o);
}

static enum snapshot_status read_liability(struct lebuf_in *in, struct state *st,
                                           struct snapshot_error *err)
{
    bool foreign;
    const char *why = snapliab_read(in, st, &foreign);
    if (why == NULL)
        return SNAPSHOT_OK;
    return snaprec_fail(err, foreign ? SNAPSHOT_FOREIGN : SNAPSHOT_DAMAGED, "liability: %s",
                        why);
}

/* The txn window follows the version in force's max_txns. */
static void size_txns(struct state *st)
{
    uint32_t want = st->ver->now.txns_max;
    if (want == st->txns.max)
        return;
    txns_free(&st->txns);
    LY_ALLOC_CHECK(txns_init(&st->txns, want) == 0);
}

enum snapshot_status snaprec_read_body(struct lebuf_in *in, uint32_t format, uint32_t members,
                                       uint32_t txns, const struct rulebook_codec *codec,
                                       struct state *st, struct snapshot_error *err)
{
    LY_ASSERT(st->members.count == 0 && st->txns.count == 0);
    enum snapshot_status s = read_versions(in, codec, st->ver, err);
    const struct versions *v = st->ver;
    uint32_t months = v->now.expiry_months;
    if (v->has_next && v->next.expiry_months > months)
        months = v->next.expiry_months;
    if (s == SNAPSHOT_OK && months > 0 && months >= st->members.lots_per)
        s = snaprec_fail(err, SNAPSHOT_FOREIGN, "its rulebook sets expiry.months %u, more "
                         "than this daemon's expiry_months_max", months);
    if (s == SNAPSHOT_OK)
        wallet_fit(&st->members, &v->now); /* the ring as wide as the version in force needs */
    if (s == SNAPSHOT_OK) {
        size_txns(st);
        s = read_globals(in, &st->g, err);
    }
    if (s == SNAPSHOT_OK &&
        (st->g.lots_kind != st->members.lots_kind || st->g.lots_span != st->members.lots_span))
        s = snaprec_fail(err, SNAPSHOT_FOREIGN, "written under another expiry mode (kind %u, "
                         "span %u; configured %u, %u); points cannot be re-dated",
                         st->g.lots_kind, st->g.lots_span, st->members.lots_kind,
                         st->members.lots_span);
    if (s == SNAPSHOT_OK && members <= st->members.max)
        members_reserve(&st->members, members); /* sized from the header: no rehash */
    for (uint32_t i = 0; s == SNAPSHOT_OK && i < members; i++)
        s = read_member(in, st, i, members, err);
    schedule_heapify(&st->schedule); /* O(n), not n pushes */
    int64_t prev_ms = INT64_MIN;
    if (s == SNAPSHOT_OK && txns <= st->txns.max)
        txns_reserve(&st->txns, txns); /* sized from the header: the ring grows once */
    for (uint32_t i = 0; s == SNAPSHOT_OK && i < txns; i++)
        s = read_txn(in, format, st, i, &prev_ms, err);
    if (s == SNAPSHOT_OK && snapliab_present(in))
        s = read_liability(in, st, err);
    else if (s == SNAPSHOT_OK)
        snapliab_derive(st); /* written before the section existed (snapliab.h) */
    if (s == SNAPSHOT_OK && in->off != in->len)
        s = snaprec_fail(err, SNAPSHOT_DAMAGED, "%zu bytes after the last record",
                         in->len - in->off);
    return s;
}
