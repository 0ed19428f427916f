/* snapshot.c - see snapshot.h. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "caltime.h"
#include "lyassert.h"
#include "rules.h"
#include "wallet.h"

static const char SNAPSHOT_MAGIC[8] = {'L', 'Y', 'S', 'N', 'A', 'P', 0, 1};

/* Fixed layout, host byte order (the byte_order field rejects a snapshot
 * from a machine of the other endianness). */
struct snap_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint32_t byte_order; /* 0x01020304 as written */
    uint32_t member_size;
    uint32_t txn_size;
    uint32_t member_count;
    uint32_t txn_count;
    uint32_t lots_per; /* int64 values of expiry lots per member (wallet_lots_per) */
    uint64_t body_len;
    uint64_t body_hash;
    uint64_t last_ms, last_seq;
    int64_t clock_ms;
    uint64_t applied, rejected, duplicate, txn_evicted_early;
    uint64_t rules_hash;
    uint64_t header_hash; /* XXH3 of every byte above */
};
_Static_assert(sizeof(struct snap_header) == 128, "header layout is part of the format");

#define SNAPSHOT_BYTE_ORDER 0x01020304u

static int fail(struct snapshot_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Body layout: globals, members, their lots, txns (oldest first). */
static uint64_t body_size(uint64_t members, uint64_t lots_per, uint64_t txns)
{
    return sizeof(struct state_globals) + members * sizeof(struct member) +
           members * lots_per * sizeof(int64_t) + txns * sizeof(struct txn_rec);
}

static int fail(struct snapshot_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return -1;
}

uint64_t snapshot_rules_hash(const struct rulebook *rb)
{
    /* The rulebook struct is zeroed before it is filled (config_defaults),
     * so hashing its bytes is well defined. */
    return XXH3_64bits(rb, sizeof(*rb));
}

/* The txn at age `i` (0 = oldest). */
static const struct txn_rec *txn_at(const struct txns *t, uint32_t i)
{
    return &t->ring[((uint64_t)t->head + i) % t->max];
}

static void fill_header(struct snap_header *h, const struct state *st,
                        const struct rulebook *rb, uint64_t body_hash)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic));
    h->version = SNAPSHOT_VERSION;
    h->header_size = sizeof(*h);
    h->byte_order = SNAPSHOT_BYTE_ORDER;
    h->member_size = sizeof(struct member);
    h->txn_size = sizeof(struct txn_rec);
    h->member_count = st->members.count;
    h->txn_count = st->txns.count;
    h->lots_per = st->members.lots_per;
    h->body_len = body_size(st->members.count, st->members.lots_per, st->txns.count);
    h->body_hash = body_hash;
    h->last_ms = st->last_id.ms;
    h->last_seq = st->last_id.seq;
    h->clock_ms = st->clock_ms;
    h->applied = st->entries_applied;
    h->rejected = st->entries_rejected;
    h->duplicate = st->entries_duplicate;
    h->txn_evicted_early = st->txns.evicted_early;
    h->rules_hash = snapshot_rules_hash(rb);
    h->header_hash = XXH3_64bits(h, offsetof(struct snap_header, header_hash));
}

/* Calls `emit(ctx, bytes, len)` for the body in order; returns its hash. */
static uint64_t walk_body(const struct state *st,
                          int (*emit)(void *ctx, const void *p, size_t len), void *ctx,
                          int *rc)
{
    XXH3_state_t hs;
    XXH3_64bits_reset(&hs);
    size_t mlen = (size_t)st->members.count * sizeof(struct member);
    size_t llen = (size_t)st->members.count * st->members.lots_per * sizeof(int64_t);
    XXH3_64bits_update(&hs, &st->g, sizeof(st->g));
    XXH3_64bits_update(&hs, st->members.v, mlen);
    XXH3_64bits_update(&hs, st->members.lots, llen);
    *rc = emit(ctx, &st->g, sizeof(st->g));
    if (*rc == 0 && mlen)
        *rc = emit(ctx, st->members.v, mlen);
    if (*rc == 0 && llen)
        *rc = emit(ctx, st->members.lots, llen);
    for (uint32_t i = 0; i < st->txns.count && *rc == 0; i++) {
        const struct txn_rec *r = txn_at(&st->txns, i);
        XXH3_64bits_update(&hs, r, sizeof(*r));
        *rc = emit(ctx, r, sizeof(*r));
    }
    return XXH3_64bits_digest(&hs);
}

static int emit_file(void *ctx, const void *p, size_t len)
{
    return fwrite(p, 1, len, ctx) == len ? 0 : -1;
}

static int fsync_dir_of(const char *path)
{
    char copy[SNAPSHOT_PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int snapshot_tmp_path(const char *path, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s" SNAPSHOT_TMP_SUFFIX, path);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int snapshot_write(const struct state *st, const struct rulebook *rb, const char *path,
                   struct snapshot_error *err)
{
    char tmp[SNAPSHOT_PATH_MAX + sizeof(SNAPSHOT_TMP_SUFFIX)];
    struct snap_header h;
    int rc = -1;
    if (snapshot_tmp_path(path, tmp, sizeof(tmp)) != 0)
        return fail(err, "path too long: %.200s", path);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL)
        return fail(err, "cannot create %s: %s", tmp, strerror(errno));
    memset(&h, 0, sizeof(h)); /* placeholder until the body hash is known */
    if (fwrite(&h, sizeof(h), 1, f) != 1)
        goto fail;
    uint64_t body_hash = walk_body(st, emit_file, f, &rc);
    if (rc != 0)
        goto fail;
    fill_header(&h, st, rb, body_hash);
    rc = -1;
    if (fseek(f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof(h), 1, f) != 1 || fflush(f) != 0 ||
        fsync(fileno(f)) != 0)
        goto fail;
    FILE *done = f;
    f = NULL;
    if (fclose(done) != 0 || rename(tmp, path) != 0 || fsync_dir_of(path) != 0)
        goto fail;
    return 0;
fail:
    fail(err, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
    if (f != NULL)
        fclose(f);
    unlink(tmp);
    return -1;
}

struct membuf {
    char *p;
    size_t off;
};

static int emit_mem(void *ctx, const void *p, size_t len)
{
    struct membuf *m = ctx;
    memcpy(m->p + m->off, p, len);
    m->off += len;
    return 0;
}

int snapshot_encode(const struct state *st, const struct rulebook *rb, char **out,
                    size_t *len)
{
    size_t body = body_size(st->members.count, st->members.lots_per, st->txns.count);
    struct membuf m = {malloc(sizeof(struct snap_header) + body), sizeof(struct snap_header)};
    if (m.p == NULL)
        return -1;
    int rc;
    uint64_t body_hash = walk_body(st, emit_mem, &m, &rc);
    struct snap_header h;
    fill_header(&h, st, rb, body_hash);
    memcpy(m.p, &h, sizeof(h));
    *out = m.p;
    *len = m.off;
    return 0;
}

static int check_header(const struct snap_header *h, size_t len, const struct rulebook *rb,
                        uint32_t members_max, struct snapshot_error *err)
{
    if (memcmp(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic)) != 0)
        return fail(err, "not a loyaltyd snapshot (bad magic)");
    if (h->header_hash != XXH3_64bits(h, offsetof(struct snap_header, header_hash)))
        return fail(err, "header checksum mismatch");
    if (h->version != SNAPSHOT_VERSION || h->header_size != sizeof(*h) ||
        h->byte_order != SNAPSHOT_BYTE_ORDER)
        return fail(err, "format version %u (this build reads %d) or byte order differs",
                    h->version, SNAPSHOT_VERSION);
    if (h->member_size != sizeof(struct member) || h->txn_size != sizeof(struct txn_rec))
        return fail(err, "record sizes differ from this build's");
    if (h->member_count > members_max || h->txn_count > rb->txns_max)
        return fail(err, "%u members / %u txns exceed members_max / max_txns",
                    h->member_count, h->txn_count);
    if (h->lots_per != wallet_lots_per(rb))
        return fail(err, "written with %u values of expiry lots per member, the configured "
                         "expiry needs %u; points cannot be re-dated", h->lots_per,
                    wallet_lots_per(rb));
    uint64_t body = body_size(h->member_count, h->lots_per, h->txn_count);
    if (h->body_len != body || len - sizeof(*h) != body)
        return fail(err, "truncated or oversized: body is %zu bytes, header says %llu",
                    len - sizeof(*h), (unsigned long long)h->body_len);
    return 0;
}

/* The invariants the rules rely on (wallet.h, members.h): no month index
 * after the engine clock's, lots adding up to max(balance, 0). */
static int check_member(const struct members *ms, const struct member *m, const int64_t *lots,
                        int32_t clock_month)
{
    if (m->qual_month > clock_month || m->lots_month > clock_month ||
        m->rfm_month > clock_month || m->qual_month < 0 || m->lots_month < 0 ||
        m->rfm_month < 0 || m->sched_ts < 0 || m->enrolled_ts < 0 || m->last_purchase_ts < 0 ||
        m->next_review_ts < 0 || m->grace_until_ts < 0 || m->reactivated_until_ts < 0 ||
        m->seg_due_ts < 0 || m->manual_until_ts < 0 || m->first_purchase_ts < 0 ||
        m->notice_due_ts < 0 || m->risk_review_day < 0 || m->expiring_month < 0 ||
        m->risk_need < -1 || m->pend_zero != 0)
        return -1; /* the calendar functions take only times since the epoch */
    for (uint32_t k = 0; k < MEMBERS_PENDING_SLOTS; k++) /* pending.h: used slots first */
        if (m->pend_day[k] < 0 || m->pend_points[k] < 0 || m->pend_qual[k] < 0 ||
            (k > 0 && m->pend_day[k] != 0 && m->pend_day[k] <= m->pend_day[k - 1]) ||
            (m->pend_day[k] == 0 && (m->pend_points[k] != 0 || m->pend_qual[k] != 0 ||
                                     (k + 1 < MEMBERS_PENDING_SLOTS && m->pend_day[k + 1] != 0))))
            return -1;
    return wallet_lots_valid(ms, m, lots) ? 0 : -1;
}

static int load_members(const char *p, uint32_t n, const struct rulebook *rb,
                        struct state *st, int32_t clock_month, struct snapshot_error *err)
{
    size_t lots_len = (size_t)st->members.lots_per * sizeof(int64_t);
    const char *lots = p + (size_t)n * sizeof(struct member);
    int64_t lot[WALLET_LOTS_PER_MAX];
    for (uint32_t i = 0; i < n; i++) {
        struct member m;
        memcpy(&m, p + (size_t)i * sizeof(m), sizeof(m));
        memcpy(lot, lots + (size_t)i * lots_len, lots_len);
        if (m.id_len < 1 || m.id_len > PROTO_MEMBER_MAX || m.id[m.id_len] != '\0' ||
            strlen(m.id) != m.id_len)
            return fail(err, "member %u has a malformed id", i);
        if (m.tier >= rb->tier_count || m.manual_tier >= rb->tier_count ||
            m.earned_tier >= rb->tier_count)
            return fail(err, "member '%s' is in tier %u (floor %u, earned %u); the rulebook "
                             "has %u tiers", m.id, m.tier, m.manual_tier, m.earned_tier,
                        rb->tier_count);
        /* Indexes the segments code uses unchecked; bounded by its arrays, not
         * the rulebook: a restart under fewer segments must still load. */
        if (m.segment >= RULEBOOK_SEGMENTS_MAX || m.stage >= RULEBOOK_STAGE_COUNT ||
            m.hist_bucket >= STATE_HIST_BUCKETS)
            return fail(err, "member '%s' has a segment, stage or spend bucket out of range",
                        m.id);
        if (m.referrer > n || m.referrer == i + 1)
            return fail(err, "member '%s' has a bad referrer", m.id);
        if (check_member(&st->members, &m, lot, clock_month) != 0)
            return fail(err, "member '%s' has months after the engine clock or lots that do "
                             "not add up to its balance", m.id);
        if (members_restore(&st->members, &m, lot) == HINDEX_NONE)
            return fail(err, "member '%s' appears twice", m.id);
        if (m.sched_ts != 0) /* the schedule is derived: rebuild it */
            schedule_push(&st->schedule, m.sched_ts, i);
    }
    return 0;
}

static int load_txns(const char *p, uint32_t n, struct state *st, struct snapshot_error *err)
{
    int64_t prev_ms = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        struct txn_rec r;
        memcpy(&r, p + (size_t)i * sizeof(r), sizeof(r));
        if (r.txn_len < 1 || r.txn_len > PROTO_TXN_MAX || r.txn[r.txn_len] != '\0' ||
            strlen(r.txn) != r.txn_len || r.kind >= PROTO_KIND_COUNT || r.ts < 0 ||
            r.amount < 0 || (r.kind == PROTO_PURCHASE && r.amount == 0) ||
            r.member >= st->members.count || r.applied_ms < prev_ms ||
            r.error >= (r.kind == PROTO_TRANSFER ? RULES_TRANSFER_ERRORS : RULES_REDEEM_ERRORS) ||
            r.release_day < 0 || r.qual_released > 1 || r.bonus < 0 || r.referral < 0)
            return fail(err, "txn record %u is malformed", i);
        prev_ms = r.applied_ms;
        if (txns_restore(&st->txns, &r) != 0)
            return fail(err, "txn '%s' appears twice", r.txn);
    }
    return 0;
}

int snapshot_decode(const char *buf, size_t len, const struct rulebook *rb,
                    uint32_t members_max, struct state *st, struct snapshot_error *err)
{
    struct snap_header h;
    if (len < sizeof(h))
        return fail(err, "truncated: %zu bytes, shorter than the header", len);
    memcpy(&h, buf, sizeof(h));
    if (check_header(&h, len, rb, members_max, err) != 0)
        return -1;
    const char *body = buf + sizeof(h);
    if (XXH3_64bits(body, (size_t)h.body_len) != h.body_hash)
        return fail(err, "body checksum mismatch (corrupt)");
    LY_ASSERT(st->members.count == 0 && st->txns.count == 0);
    memcpy(&st->g, body, sizeof(st->g));
    if (st->g.lots_kind != st->members.lots_kind || st->g.lots_span != st->members.lots_span)
        return fail(err, "written under another expiry mode (kind %u, span %u; configured "
                         "%u, %u); points cannot be re-dated", st->g.lots_kind, st->g.lots_span,
                    st->members.lots_kind, st->members.lots_span);
    const char *members = body + sizeof(st->g);
    const char *txns = members + (size_t)h.member_count * sizeof(struct member) +
                       (size_t)h.member_count * h.lots_per * sizeof(int64_t);
    if (h.clock_ms < 0 || h.clock_ms > PROTO_TS_MAX)
        return fail(err, "engine clock %lld is out of range", (long long)h.clock_ms);
    if (load_members(members, h.member_count, rb, st, caltime_month(h.clock_ms),
                     err) != 0 ||
        load_txns(txns, h.txn_count, st, err) != 0)
        return -1;
    st->last_id.ms = h.last_ms;
    st->last_id.seq = h.last_seq;
    if (h.clock_ms < 0 || h.clock_ms > PROTO_TS_MAX)
        return fail(err, "engine clock %lld is out of range", (long long)h.clock_ms);
    st->clock_ms = h.clock_ms;
    st->clock_month = caltime_month(h.clock_ms);
    st->entries_applied = h.applied;
    st->entries_rejected = h.rejected;
    st->entries_duplicate = h.duplicate;
    st->txns.evicted_early = h.txn_evicted_early;
    state_reindex(st, rb);
    return 0;
}

static int read_file(const char *path, char **out, size_t *len, size_t max,
                     struct snapshot_error *err)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return fail(err, "cannot open: %s", strerror(errno));
    }
    size_t want = (size_t)sb.st_size < max ? (size_t)sb.st_size : max;
    char *p = malloc(want ? want : 1);
    size_t got = 0;
    while (p != NULL && got < want) {
        ssize_t n = read(fd, p + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (p == NULL || got != want) {
        free(p);
        return fail(err, "cannot read: %s", p ? "short read" : "out of memory");
    }
    *out = p;
    *len = got;
    return 0;
}

int snapshot_read(const char *path, const struct rulebook *rb, uint32_t members_max,
                  struct state *st, struct snapshot_error *err)
{
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, SIZE_MAX, err) != 0)
        return -1;
    int rc = snapshot_decode(buf, len, rb, members_max, st, err);
    free(buf);
    return rc;
}

int snapshot_peek_id(const char *path, struct proto_id *id, struct snapshot_error *err)
{
    char *buf;
    size_t len;
    struct snap_header h;
    if (read_file(path, &buf, &len, sizeof(h), err) != 0)
        return -1;
    int ok = len == sizeof(h);
    if (ok)
        memcpy(&h, buf, sizeof(h));
    free(buf);
    if (!ok || memcmp(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic)) != 0 ||
        h.header_hash != XXH3_64bits(&h, offsetof(struct snap_header, header_hash)))
        return fail(err, "bad or truncated header");
    id->ms = h.last_ms;
    id->seq = h.last_seq;
    return 0;
}
