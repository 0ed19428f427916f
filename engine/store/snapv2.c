/* snapv2.c - see snapv2.h. The offsets below are those of commit eb30512
 * on x86-64 (tests/data/snapshot-v2.txt lists them). */
#include "snapv2.h"

#include <string.h>

#include <xxhash.h>

#include "lebuf.h"
#include "wallet.h"

/* The header. */
enum {
    H_VERSION = 8, H_SIZE = 12, H_ORDER = 16, H_MEMBER_SIZE = 20, H_TXN_SIZE = 24,
    H_MEMBERS = 28, H_TXNS = 32, H_LOTS = 36, H_BODY_LEN = 40, H_BODY_HASH = 48,
    H_LAST_MS = 56, H_LAST_SEQ = 64, H_CLOCK = 72, H_APPLIED = 80, H_REJECTED = 88,
    H_DUPLICATE = 96, H_EVICTED = 104, H_HASH = 120
};
#define V2_BYTE_ORDER 0x01020304u
_Static_assert(H_CLOCK == H_LAST_MS + 16 && H_EVICTED == H_LAST_MS + 48,
               "the run snaprec_read_head reads");

/* The records: sizes and the offsets of their fields. */
enum { G_SIZE = 8648, M_SIZE = 360, T_SIZE = 144 };
enum {
    G_CAT_ISSUED = 0, G_CAT_NAMES = 512, G_AUTO_NAMES = 2624, G_TIERS = 2760,
    G_SEGMENTS = 2824, G_STAGES = 2952, G_HIST_COUNT = 2992, G_HIST_SUM = 5048,
    G_LAPSE_MONTH = 7104, G_LAPSES = 7112, V2_NAME = 33, V2_CATALOG = 64, V2_AUTO = 4,
    V2_TIERS = 8, V2_SEGMENTS = 16, V2_STAGES = 5, V2_HIST = 257
};
enum {
    M_ID = 0, M_ID_LEN = 33, M_TIER = 34, M_BMONTH = 35, M_BDAY = 36, M_FLAGS = 37,
    M_BYEAR = 38, M_PURCHASES = 40, M_REFERRER = 44, M_QUAL_MONTH = 48, M_LOTS_MONTH = 52,
    M_CAP_DAY = 56, M_AUTO = 60, M_BALANCE = 80, M_LIFETIME = 88, M_REWARD = 96,
    M_CAP_POINTS = 104, M_ENROLLED = 112, M_LAST_PURCHASE = 120, M_REVIEW = 128,
    M_GRACE = 136, M_SCHED = 144, M_QUAL = 152, M_RFM = 248, M_SEGMENT = 251, M_STAGE = 252,
    M_HIST_BUCKET = 254, M_RFM_MONTH = 256, M_HIST_SPEND = 264, M_REACTIVATED = 272,
    M_SEG_DUE = 280, M_RFM_SPEND = 288, M_RFM_COUNT = 336, V2_MONTHS = 12
};
enum {
    T_TXN = 0, T_TXN_LEN = 65, T_KIND = 66, T_OK = 67, T_ERROR = 68, T_MEMBER = 72,
    T_APPLIED = 80, T_TS = 88, T_AMOUNT = 96, T_POINTS = 104, T_REF_AMOUNT = 112,
    T_REF_POINTS = 120, T_BALANCE = 128, T_QUAL = 136
};

#define U8(p, off) (((const unsigned char *)(p))[off])
#define I64(p, off) ((int64_t)lebuf_u64_at(p, off))
#define I32(p, off) ((int32_t)lebuf_u32_at(p, off))

/* Copies a NUL-padded name field of `n` bytes (the format's char[n]). */
static void name_at(const char *p, size_t off, size_t n, char *dst, size_t cap)
{
    size_t len = strnlen(p + off, n);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, p + off, len);
    dst[len] = '\0';
}

static void read_globals(const char *g, struct state_globals *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < V2_CATALOG && i < RULEBOOK_CATALOG_MAX; i++) {
        out->catalog_issued[i] = I64(g, G_CAT_ISSUED + 8 * i);
        name_at(g, G_CAT_NAMES + V2_NAME * i, V2_NAME, out->catalog_names[i],
                sizeof(out->catalog_names[i]));
    }
    for (size_t i = 0; i < V2_AUTO && i < RULEBOOK_AUTO_REWARDS_MAX; i++)
        name_at(g, G_AUTO_NAMES + V2_NAME * i, V2_NAME, out->auto_names[i],
                sizeof(out->auto_names[i]));
    for (size_t i = 0; i < V2_TIERS && i < RULEBOOK_TIERS_MAX; i++)
        out->tier_members[i] = I64(g, G_TIERS + 8 * i);
    for (size_t i = 0; i < V2_SEGMENTS && i < RULEBOOK_SEGMENTS_MAX; i++)
        out->segment_members[i] = I64(g, G_SEGMENTS + 8 * i);
    for (size_t i = 0; i < V2_STAGES && i < RULEBOOK_STAGE_COUNT; i++)
        out->stage_members[i] = I64(g, G_STAGES + 8 * i);
    for (size_t i = 0; i < V2_HIST && i < STATE_HIST_BUCKETS; i++) {
        out->hist_count[i] = I64(g, G_HIST_COUNT + 8 * i);
        out->hist_sum[i] = I64(g, G_HIST_SUM + 8 * i);
    }
    out->lapse_month = I32(g, G_LAPSE_MONTH);
    for (size_t s = 0; s < V2_SEGMENTS && s < RULEBOOK_SEGMENTS_MAX; s++)
        for (size_t k = 0; k < 12; k++)
            out->lapses[s][k] = I64(g, G_LAPSES + 8 * (12 * s + k));
}

static void read_member(const char *p, struct member *m)
{
    memset(m, 0, sizeof(*m));
    name_at(p, M_ID, sizeof(m->id), m->id, sizeof(m->id));
    m->id_len = U8(p, M_ID_LEN);
    m->tier = U8(p, M_TIER);
    m->birthday_month = U8(p, M_BMONTH);
    m->birthday_day = U8(p, M_BDAY);
    m->flags = U8(p, M_FLAGS);
    m->birthday_bonus_year = (int16_t)lebuf_u16_at(p, M_BYEAR);
    m->purchases = lebuf_u32_at(p, M_PURCHASES);
    m->referrer = lebuf_u32_at(p, M_REFERRER);
    m->qual_month = I32(p, M_QUAL_MONTH);
    m->lots_month = I32(p, M_LOTS_MONTH);
    m->cap_day = I32(p, M_CAP_DAY);
    for (size_t i = 0; i < 4 && i < RULEBOOK_AUTO_REWARDS_MAX; i++)
        m->auto_issued[i] = lebuf_u32_at(p, M_AUTO + 4 * i);
    m->balance = I64(p, M_BALANCE);
    m->lifetime_points = I64(p, M_LIFETIME);
    m->reward_points = I64(p, M_REWARD);
    m->cap_points = I64(p, M_CAP_POINTS);
    m->enrolled_ts = I64(p, M_ENROLLED);
    m->last_purchase_ts = I64(p, M_LAST_PURCHASE);
    m->next_review_ts = I64(p, M_REVIEW);
    m->grace_until_ts = I64(p, M_GRACE);
    m->sched_ts = I64(p, M_SCHED);
    for (size_t i = 0; i < V2_MONTHS && i < MEMBERS_QUAL_MONTHS; i++) {
        m->qual[i] = members_qual_clamp(I64(p, M_QUAL + 8 * i));
        m->rfm_spend[i] = I32(p, M_RFM_SPEND + 4 * i);
        m->rfm_count[i] = lebuf_u16_at(p, M_RFM_COUNT + 2 * i);
    }
    memcpy(m->rfm, p + M_RFM, 3);
    m->segment = U8(p, M_SEGMENT);
    m->stage = U8(p, M_STAGE);
    m->hist_bucket = lebuf_u16_at(p, M_HIST_BUCKET);
    m->rfm_month = I32(p, M_RFM_MONTH);
    m->hist_spend = I64(p, M_HIST_SPEND);
    m->reactivated_until_ts = I64(p, M_REACTIVATED);
    m->seg_due_ts = I64(p, M_SEG_DUE);
}

/* Format 2 keyed a lot by the month its points were earned in (k, in slot
 * k % per of the `per` = expiry_months + 1 ending at lots_month); it
 * expires in month k + per, the key format 4 uses. */
static uint32_t read_lots(const char *p, uint32_t per, const struct member *m,
                          struct snaprec_lot *lots)
{
    uint32_t n = 0;
    for (int64_t k = (int64_t)m->lots_month - per + 1; k <= m->lots_month; k++) {
        int64_t points = k < 0 ? 0 : I64(p, 8 * ((uint64_t)k % per));
        if (points != 0)
            lots[n++] = (struct snaprec_lot){k + per, points};
    }
    return n;
}

/* Reads txn record `p` into `r` and its id into id[PROTO_TXN_MAX + 1]
 * (empty when its length byte disagrees: refused as malformed). */
static void read_txn(const char *p, struct txn_rec *r, char *id)
{
    memset(r, 0, sizeof(*r));
    name_at(p, T_TXN, PROTO_TXN_MAX + 1, id, PROTO_TXN_MAX + 1);
    if (strlen(id) != U8(p, T_TXN_LEN))
        id[0] = '\0';
    r->kind = U8(p, T_KIND);
    r->ok = U8(p, T_OK);
    r->error = U8(p, T_ERROR);
    r->member = lebuf_u32_at(p, T_MEMBER);
    r->applied_ms = I64(p, T_APPLIED);
    r->ts = I64(p, T_TS);
    r->amount = I64(p, T_AMOUNT);
    r->points = I64(p, T_POINTS);
    r->refunded_amount = I64(p, T_REF_AMOUNT);
    r->refunded_points = I64(p, T_REF_POINTS);
    r->balance = I64(p, T_BALANCE);
    r->qual = I64(p, T_QUAL);
}

int snapv2_peek_id(const char *buf, struct proto_id *id)
{
    if (lebuf_u64_at(buf, H_HASH) != XXH3_64bits(buf, H_HASH))
        return -1;
    id->ms = lebuf_u64_at(buf, H_LAST_MS);
    id->seq = lebuf_u64_at(buf, H_LAST_SEQ);
    return 0;
}

/* The header: DAMAGED (checksum, length), FOREIGN (another machine, build
 * or rulebook, or beyond this daemon's limits), or OK. */
static enum snapshot_status check_header(const char *h, size_t len, const struct rulebook *rb,
                                         const struct state *st, struct snapshot_error *err)
{
    if (lebuf_u64_at(h, H_HASH) != XXH3_64bits(h, H_HASH))
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "header checksum mismatch");
    if (lebuf_u32_at(h, H_ORDER) != V2_BYTE_ORDER || lebuf_u32_at(h, H_SIZE) != 128 ||
        lebuf_u32_at(h, H_MEMBER_SIZE) != M_SIZE || lebuf_u32_at(h, H_TXN_SIZE) != T_SIZE)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "format 2 of another machine or build (byte "
                            "order or record sizes differ)");
    uint32_t members = lebuf_u32_at(h, H_MEMBERS), txns = lebuf_u32_at(h, H_TXNS);
    uint32_t per = lebuf_u32_at(h, H_LOTS);
    if (per != (rb->expiry_months ? rb->expiry_months + 1 : 0))
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "format 2 written under another rulebook "
                            "(expiry over %u months, configured %u)", per ? per - 1 : 0,
                            rb->expiry_months);
    if (members > st->members.max || txns > st->txns.max)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "%u members / %u txns exceed members_max / "
                            "max_txns", members, txns);
    uint64_t body = G_SIZE + (uint64_t)members * (M_SIZE + 8ull * per) +
                    (uint64_t)txns * T_SIZE;
    if (lebuf_u64_at(h, H_BODY_LEN) != body || len - SNAPV2_HEADER_SIZE != body)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "truncated or oversized: body is %zu bytes, "
                            "the header says %llu", len - SNAPV2_HEADER_SIZE,
                            (unsigned long long)lebuf_u64_at(h, H_BODY_LEN));
    if (XXH3_64bits(h + SNAPV2_HEADER_SIZE, body) != lebuf_u64_at(h, H_BODY_HASH))
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "body checksum mismatch (corrupt)");
    return SNAPSHOT_OK;
}

enum snapshot_status snapv2_decode(const char *buf, size_t len, const struct rulebook *rb,
                                   struct state *st, struct snapshot_error *err)
{
    enum snapshot_status s = check_header(buf, len, rb, st, err);
    if (s == SNAPSHOT_OK)
        s = snaprec_read_head(st, buf + H_LAST_MS, err);
    if (s != SNAPSHOT_OK)
        return s;
    uint32_t n = lebuf_u32_at(buf, H_MEMBERS), t = lebuf_u32_at(buf, H_TXNS);
    uint32_t per = lebuf_u32_at(buf, H_LOTS);
    if (per > st->members.lots_per)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "expiry over %u months, more than this "
                            "daemon's expiry_months_max", per - 1);
    const char *body = buf + SNAPV2_HEADER_SIZE;
    const char *members = body + G_SIZE;
    const char *lots = members + (size_t)n * M_SIZE;
    const char *txns = lots + (size_t)n * per * 8;
    if (st->members.lots_kind != WALLET_RING && st->members.lots_kind != WALLET_NONE)
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "format 2 dates lots by month; this daemon's "
                            "expiry mode keys them otherwise: points cannot be re-dated");
    read_globals(body, &st->g);
    st->g.lots_kind = st->members.lots_kind; /* format 2 knew only the ring */
    st->g.lots_span = st->members.lots_span;
    for (uint32_t i = 0; s == SNAPSHOT_OK && i < n; i++) {
        struct member m;
        struct snaprec_lot l[RULEBOOK_EXPIRY_MONTHS_MAX + 1];
        read_member(members + (size_t)i * M_SIZE, &m);
        uint32_t nl = per ? read_lots(lots + (size_t)i * per * 8, per, &m, l) : 0;
        static const struct member_extra none; /* format 2 predates the extras' fields */
        s = snaprec_restore_member(st, &m, &none, l, nl, i, n, err);
    }
    schedule_heapify(&st->schedule);
    int64_t prev_ms = INT64_MIN;
    for (uint32_t i = 0; s == SNAPSHOT_OK && i < t; i++) {
        struct txn_rec r;
        char id[PROTO_TXN_MAX + 1];
        read_txn(txns + (size_t)i * T_SIZE, &r, id);
        s = snaprec_restore_txn(st, &r, id, i, &prev_ms, err);
    }
    return s;
}
