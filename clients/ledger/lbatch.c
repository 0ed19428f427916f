/* lbatch.c - see lbatch.h. */
#include "lbatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cohort.h"
#include "lyassert.h"
#include "msgjson.h"
#include "proto_out.h"
#include "wcache.h"

#define PROBLEM_MAX (PROTO_DETAIL_MAX + 40) /* "<code>: <detail>" */
#define UNDECODABLE_KIND "undecodable"      /* kind of a row that is no output event */

struct row {
    struct proto_out_event out;
    char rules[PROTO_OUT_TEXT_MAX + 1];
    char problem[PROBLEM_MAX];
    char *body; /* JSON, malloc'd */
};

struct wallet_slot {
    const char *member;         /* points into a row */
    struct cohort_wallet w;      /* as the batch leaves it */
    struct cohort_wallet before; /* as committed: what to write is the difference */
    int64_t debt;                /* while loading: the debt row's points */
    bool cached;                 /* w came from the cache, balance included */
    bool touched;
};

struct lbatch {
    uint32_t cap;
    uint32_t count;
    struct row *rows;
    struct db_event *events; /* events[i] points into rows[i] */
    bool *inserted;
    struct db_stream streams[LBATCH_STREAMS_MAX];
    uint32_t nstreams;
    uint64_t skipped; /* entries at or below their stream's watermark */
    /* Filled while writing. */
    struct wallet_slot *wallets;
    uint32_t nwallets;
    struct db_flow *flows;
    uint32_t nflows;
    uint32_t flows_cap;
    uint64_t reconciled;
};

struct lbatch *lbatch_new(uint32_t entries_max)
{
    LY_ASSERT(entries_max > 0);
    struct lbatch *b = calloc(1, sizeof *b);
    LY_ALLOC_CHECK(b != NULL);
    b->cap = entries_max;
    b->rows = calloc(entries_max, sizeof *b->rows);
    b->events = calloc(entries_max, sizeof *b->events);
    b->inserted = calloc(entries_max, sizeof *b->inserted);
    b->wallets = calloc(entries_max, sizeof *b->wallets);
    LY_ALLOC_CHECK(b->rows && b->events && b->inserted && b->wallets);
    return b;
}

static void clear_rows(struct lbatch *b)
{
    for (uint32_t i = 0; i < b->count; i++)
        free(b->rows[i].body);
    b->count = 0;
    b->skipped = 0;
}

void lbatch_free(struct lbatch *b)
{
    if (b == NULL)
        return;
    clear_rows(b);
    free(b->flows);
    free(b->wallets);
    free(b->inserted);
    free(b->events);
    free(b->rows);
    free(b);
}

/* Decodes an entry's bytes into r->out and its JSON body; on a problem,
 * r->problem says what and the body holds what could be kept. */
static void decode(struct row *r, const struct lb_entry *e)
{
    struct proto_reject rej;
    msgpack_zone zone;
    msgpack_object top;
    if (e->m == NULL) {
        snprintf(r->problem, sizeof r->problem, "%s: the entry has no m field",
                 PROTO_R_NO_M_FIELD);
        r->body = strdup("{}");
        LY_ALLOC_CHECK(r->body != NULL);
        return;
    }
    if (proto_unpack(e->m, e->m_len, &zone, &top, &rej) != 0) {
        snprintf(r->problem, sizeof r->problem, "%s: %s", rej.code, rej.detail);
        json_t *o = json_pack("{s:I}", "bytes", (json_int_t)e->m_len);
        r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        LY_ALLOC_CHECK(r->body != NULL);
        return;
    }
    if (proto_out_read(&top, &r->out, &rej) != 0)
        snprintf(r->problem, sizeof r->problem, "%s: %s", rej.code, rej.detail);
    r->body = msgjson_text(&top);
    msgpack_zone_destroy(&zone);
}

/* Advances stream `s` past the row's entry and stamps the row. */
static void stamp(struct db_stream *s, struct row *r, struct db_event *ev)
{
    bool ok = r->problem[0] == '\0';
    if (ok && strcmp(r->out.kind, proto_out_kind_name(PROTO_OUT_PERK_TRIGGERED)) != 0 &&
        r->out.ts > s->clock_ms)
        s->clock_ms = r->out.ts;
    if (ok && strcmp(r->out.kind, PROTO_OUT_RULES_CHANGED_NAME) == 0)
        snprintf(s->rules, sizeof s->rules, "%s", r->out.to);
    snprintf(r->rules, sizeof r->rules, "%s", s->rules);
    ev->part = s->part;
    ev->event_id = r->out.id[0] ? r->out.id : NULL;
    ev->src = r->out.src[0] ? r->out.src : NULL;
    ev->kind = r->out.kind[0] ? r->out.kind : UNDECODABLE_KIND;
    ev->member = r->out.member[0] ? r->out.member : NULL;
    ev->cause = r->out.cause[0] ? r->out.cause : NULL;
    ev->rules = r->rules[0] ? r->rules : NULL;
    ev->problem = ok ? NULL : r->problem;
    ev->body = r->body;
    ev->ts = r->out.ts;
    ev->has_points = ok && r->out.has_points;
    ev->has_balance = ok && r->out.has_balance;
    ev->delta = r->out.delta;
    ev->balance = r->out.balance;
    ev->month = cohort_month_of(s->clock_ms > 0 ? s->clock_ms : 0);
}

void lbatch_build(struct lbatch *b, const struct lb_entry *entries, uint32_t n,
                  const struct db_stream *streams, uint32_t ns)
{
    LY_ASSERT(n <= b->cap && ns <= LBATCH_STREAMS_MAX);
    clear_rows(b);
    memcpy(b->streams, streams, ns * sizeof *streams);
    b->nstreams = ns;
    for (uint32_t i = 0; i < n; i++) {
        const struct lb_entry *e = &entries[i];
        LY_ASSERT(e->stream < ns);
        LY_ASSERT(e->id.ms <= INT64_MAX && e->id.seq <= INT64_MAX); /* the reader checks */
        struct db_stream *s = &b->streams[e->stream];
        if (proto_id_cmp(e->id, s->last) <= 0) {
            b->skipped++;
            continue;
        }
        struct row *r = &b->rows[b->count];
        struct db_event *ev = &b->events[b->count];
        memset(r, 0, sizeof *r);
        memset(ev, 0, sizeof *ev);
        decode(r, e);
        stamp(s, r, ev);
        ev->entry = e->id;
        s->last = e->id;
        b->count++;
    }
}

const struct db_stream *lbatch_streams(const struct lbatch *b)
{
    return b->streams;
}

uint32_t lbatch_rows(const struct lbatch *b)
{
    return b->count;
}

const struct db_event *lbatch_events(const struct lbatch *b)
{
    return b->events;
}

/* ---- writing ------------------------------------------------------------ */

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct wallet_slot *)a)->member,
                  ((const struct wallet_slot *)b)->member);
}

static struct wallet_slot *find_wallet(struct lbatch *b, const char *member)
{
    struct wallet_slot key = {.member = member};
    return bsearch(&key, b->wallets, b->nwallets, sizeof key, member_cmp);
}

static void release_wallets(struct lbatch *b)
{
    for (uint32_t i = 0; i < b->nwallets; i++) {
        cohort_free(&b->wallets[i].w);
        cohort_free(&b->wallets[i].before);
    }
    b->nwallets = 0;
    b->nflows = 0;
    b->reconciled = 0;
}

/* One slot per distinct member of the inserted points rows, sorted. */
static void gather_wallets(struct lbatch *b)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->count; i++)
        if (b->inserted[i] && b->events[i].has_points && b->events[i].member != NULL)
            b->wallets[n++] = (struct wallet_slot){.member = b->events[i].member};
    qsort(b->wallets, n, sizeof *b->wallets, member_cmp);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++)
        if (kept == 0 || strcmp(b->wallets[kept - 1].member, b->wallets[i].member) != 0)
            b->wallets[kept++] = b->wallets[i];
    b->nwallets = kept;
    for (uint32_t i = 0; i < kept; i++) {
        cohort_init(&b->wallets[i].w);
        cohort_init(&b->wallets[i].before);
    }
}

static int on_lot(void *ctx, const char *member, int32_t month, int64_t points)
{
    struct wallet_slot *s = find_wallet(ctx, member);
    if (s == NULL)
        return 0;
    if (month != COHORT_DEBT)
        return cohort_load_lot(&s->w, month, points);
    if (points <= 0 || s->debt != 0)
        return -1;
    s->debt = points;
    return 0;
}

/* Fills the slots with the committed wallets: from the cache where it has
 * them, else from the database (one query for all the others). */
static int load_wallets(struct lbatch *b, struct db *db, const struct wcache *cache,
                        struct db_error *err)
{
    const char **misses = malloc((b->nwallets ? b->nwallets : 1) * sizeof *misses);
    LY_ALLOC_CHECK(misses != NULL);
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->nwallets; i++) {
        struct wallet_slot *s = &b->wallets[i];
        const struct cohort_wallet *hit = cache ? wcache_get(cache, s->member) : NULL;
        s->cached = hit != NULL;
        if (hit != NULL)
            cohort_copy(&s->w, hit);
        else
            misses[n++] = s->member;
    }
    struct db_wallet_sink sink = {b, on_lot};
    int rc = db_load_wallets(db, misses, n, &sink, err);
    free(misses);
    for (uint32_t i = 0; rc == 0 && i < b->nwallets; i++) {
        struct wallet_slot *s = &b->wallets[i];
        if (!s->cached) /* a balance is its lots less its debt (db.h) */
            s->w.balance = cohort_outstanding(&s->w) - s->debt;
        cohort_copy(&s->before, &s->w);
    }
    return rc;
}

/* Adds one flow to the batch's sums (cohort.h's callback). */
static void add_flow(void *ctx, int32_t cohort, int32_t month, const char *cause, int64_t points)
{
    struct lbatch *b = ctx;
    for (uint32_t i = 0; i < b->nflows; i++) {
        struct db_flow *f = &b->flows[i];
        if (f->cohort == cohort && f->month == month && strcmp(f->cause, cause) == 0) {
            *(points > 0 ? &f->points_in : &f->points_out) += points > 0 ? points : -points;
            return;
        }
    }
    if (b->nflows == b->flows_cap) {
        uint32_t cap = b->flows_cap ? 2 * b->flows_cap : 64;
        struct db_flow *f = realloc(b->flows, cap * sizeof *f);
        LY_ALLOC_CHECK(f != NULL);
        b->flows = f;
        b->flows_cap = cap;
    }
    b->flows[b->nflows++] = (struct db_flow){cohort, month, cause, points > 0 ? points : 0,
                                             points < 0 ? -points : 0};
}

/* Applies the inserted points rows to the loaded wallets, in stream order. */
static void apply_points(struct lbatch *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        const struct db_event *ev = &b->events[i];
        if (!b->inserted[i] || !ev->has_points || ev->member == NULL)
            continue;
        struct wallet_slot *s = find_wallet(b, ev->member);
        LY_ASSERT(s != NULL);
        struct cohort_change c = {ev->month, ev->delta, ev->balance, ev->cause};
        b->reconciled += cohort_apply(&s->w, &c, add_flow, b);
        s->touched = true;
    }
}

static int64_t debt_of(const struct cohort_wallet *w)
{
    return w->balance < 0 ? -w->balance : 0;
}

/* The lots that differ between `before` and `after` (both oldest first),
 * the debt row included: new or changed ones into ups, gone ones into
 * dels. */
static void diff_lots(const char *member, const struct cohort_wallet *before,
                      const struct cohort_wallet *after, struct db_lot *ups, uint32_t *nups,
                      struct db_lot *dels, uint32_t *ndels)
{
    if (debt_of(after) > 0 && debt_of(after) != debt_of(before))
        ups[(*nups)++] = (struct db_lot){member, COHORT_DEBT, debt_of(after)};
    else if (debt_of(after) == 0 && debt_of(before) > 0)
        dels[(*ndels)++] = (struct db_lot){member, COHORT_DEBT, 0};
    uint32_t i = 0, j = 0;
    while (i < before->count || j < after->count) {
        const struct cohort_lot *x = i < before->count ? &before->lots[i] : NULL;
        const struct cohort_lot *y = j < after->count ? &after->lots[j] : NULL;
        if (y != NULL && (x == NULL || y->month < x->month)) {
            ups[(*nups)++] = (struct db_lot){member, y->month, y->points};
            j++;
        } else if (y == NULL || x->month < y->month) {
            dels[(*ndels)++] = (struct db_lot){member, x->month, 0};
            i++;
        } else {
            if (x->points != y->points)
                ups[(*nups)++] = (struct db_lot){member, y->month, y->points};
            i++;
            j++;
        }
    }
}

/* Writes what the batch changed: balances, lots, flows and progress. */
static int save(struct lbatch *b, struct db *db, struct db_error *err)
{
    size_t lots = 0; /* room for every lot before and after, debt rows included */
    for (uint32_t i = 0; i < b->nwallets; i++)
        lots += b->wallets[i].w.count + b->wallets[i].before.count + 1;
    struct db_lot *ups = malloc((lots ? lots : 1) * sizeof *ups);
    struct db_lot *dels = malloc((lots ? lots : 1) * sizeof *dels);
    LY_ALLOC_CHECK(ups != NULL && dels != NULL);
    uint32_t nups = 0, ndels = 0;
    for (uint32_t i = 0; i < b->nwallets; i++) {
        const struct wallet_slot *s = &b->wallets[i];
        if (s->touched)
            diff_lots(s->member, &s->before, &s->w, ups, &nups, dels, &ndels);
    }
    int rc = db_delete_lots(db, dels, ndels, err) != 0 ||
                     db_upsert_lots(db, ups, nups, err) != 0 ||
                     db_add_flows(db, b->flows, b->nflows, err) != 0 ||
                     db_save_streams(db, b->streams, b->nstreams, err) != 0
                 ? -1
                 : 0;
    free(dels);
    free(ups);
    return rc;
}

static void count(const struct lbatch *b, struct lbatch_counts *counts)
{
    uint64_t written = 0, problems = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        written += b->inserted[i];
        problems += b->inserted[i] && b->events[i].problem != NULL;
    }
    counts->written += written;
    counts->problems += problems;
    counts->duplicates += b->skipped + (b->count - written);
    counts->reconciled += b->reconciled;
}

int lbatch_write(struct lbatch *b, struct db *db, struct wcache *cache,
                 struct lbatch_counts *counts, struct db_error *err)
{
    release_wallets(b);
    if (db_begin(db, err) != 0)
        goto fail;
    if (db_insert_events(db, b->events, b->count, b->inserted, err) != 0)
        goto rollback;
    gather_wallets(b);
    if (load_wallets(b, db, cache, err) != 0)
        goto rollback;
    apply_points(b);
    if (save(b, db, err) != 0 || db_commit(db, err) != 0)
        goto rollback;
    for (uint32_t i = 0; cache != NULL && i < b->nwallets; i++)
        wcache_put(cache, b->wallets[i].member, &b->wallets[i].w);
    count(b, counts);
    release_wallets(b);
    return 0;
rollback:
    db_rollback(db);
fail:
    if (cache != NULL)
        wcache_clear(cache); /* the COMMIT may have happened: trust the database only */
    release_wallets(b);
    return -1;
}
