/* report.c - see report.h. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cohort.h"
#include "lyassert.h"
#include "lbatch.h"

struct cohort_sum {
    int32_t cohort;
    int64_t issued, opening, debt_repaid, redeemed, expired, other_debits, outstanding;
};

struct redeemed_at {
    int32_t cohort, month;
    int64_t points;
};

struct report {
    struct cohort_sum *cohorts;
    uint32_t ncohorts, cohorts_cap;
    struct redeemed_at *redeems;
    uint32_t nredeems, redeems_cap;
    int64_t debt;
    int32_t last_month; /* the newest month any flow happened in */
    struct db_stream streams[LBATCH_STREAMS_MAX];
    uint32_t nstreams;
};

/* Grows `*arr` (of `size`-byte elements) to hold one more. */
static void grow(void **arr, uint32_t n, uint32_t *cap, size_t size)
{
    if (n < *cap)
        return;
    *cap = *cap ? 2 * *cap : 32;
    void *p = realloc(*arr, *cap * size);
    LY_ALLOC_CHECK(p != NULL);
    *arr = p;
}

static struct cohort_sum *cohort_row(struct report *r, int32_t cohort)
{
    if (r->ncohorts > 0 && r->cohorts[r->ncohorts - 1].cohort == cohort)
        return &r->cohorts[r->ncohorts - 1];
    grow((void **)&r->cohorts, r->ncohorts, &r->cohorts_cap, sizeof *r->cohorts);
    struct cohort_sum *c = &r->cohorts[r->ncohorts++];
    memset(c, 0, sizeof *c);
    c->cohort = cohort;
    return c;
}

/* Books one flow row (rows come ordered by cohort, month, cause). */
static void book(struct report *r, int32_t cohort, int32_t month, const char *cause,
                 int64_t in, int64_t out)
{
    if (month > r->last_month)
        r->last_month = month;
    if (cohort == COHORT_DEBT) {
        r->debt += in - out;
        return;
    }
    struct cohort_sum *c = cohort_row(r, cohort);
    bool carried = strcmp(cause, COHORT_CAUSE_OPENING) == 0 || strcmp(cause, COHORT_CAUSE_MERGED) == 0;
    *(carried ? &c->opening : &c->issued) += in;
    c->outstanding += in - out;
    if (strcmp(cause, COHORT_CAUSE_REDEEM) == 0)
        c->redeemed += out;
    else if (strcmp(cause, COHORT_CAUSE_EXPIRY) == 0)
        c->expired += out;
    else if (strcmp(cause, COHORT_CAUSE_DEBT_REPAID) == 0)
        c->debt_repaid += out;
    else
        c->other_debits += out;
    if (out > 0 && strcmp(cause, COHORT_CAUSE_REDEEM) == 0 && cohort != COHORT_OPENING) {
        grow((void **)&r->redeems, r->nredeems, &r->redeems_cap, sizeof *r->redeems);
        r->redeems[r->nredeems++] = (struct redeemed_at){cohort, month, out};
    }
}

static int flow_row(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    LY_ASSERT(n == 5);
    if (c[0].type != DB_INT || c[1].type != DB_INT || c[2].type != DB_TEXT ||
        c[3].type != DB_INT || c[4].type != DB_INT || c[0].i < COHORT_DEBT ||
        c[0].i > INT32_MAX || c[1].i < 0 || c[1].i > INT32_MAX) {
        db_fail(err, "table cohort_flows holds a row this ledger did not write");
        return -1;
    }
    book(ctx, (int32_t)c[0].i, (int32_t)c[1].i, c[2].s, c[3].i, c[4].i);
    return 0;
}

struct report *report_load(struct db *db, struct db_error *err)
{
    struct report *r = calloc(1, sizeof *r);
    LY_ALLOC_CHECK(r != NULL);
    if (db_list_streams(db, r->streams, LBATCH_STREAMS_MAX, &r->nstreams, err) != 0 ||
        db_flows(db, flow_row, r, err) != 0) {
        report_free(r);
        return NULL;
    }
    return r;
}

void report_free(struct report *r)
{
    if (r == NULL)
        return;
    free(r->cohorts);
    free(r->redeems);
    free(r);
}

/* a * 10000 / b, floored; -1 when b is 0. */
static int64_t bp(int64_t a, int64_t b)
{
    return b > 0 ? (int64_t)((__int128)a * 10000 / b) : -1;
}

static struct cohort_sum totals(const struct report *r)
{
    struct cohort_sum t = {0};
    for (uint32_t i = 0; i < r->ncohorts; i++) {
        const struct cohort_sum *c = &r->cohorts[i];
        t.issued += c->issued;
        t.opening += c->opening;
        t.debt_repaid += c->debt_repaid;
        t.redeemed += c->redeemed;
        t.expired += c->expired;
        t.other_debits += c->other_debits;
        t.outstanding += c->outstanding;
    }
    return t;
}

static json_t *bp_json(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *cohort_json(const struct cohort_sum *c, const char *name)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "cohort", name, "issued",
                     (json_int_t)c->issued, "opening", (json_int_t)c->opening, "debt_repaid",
                     (json_int_t)c->debt_repaid, "redeemed", (json_int_t)c->redeemed,
                     "expired", (json_int_t)c->expired, "other_debits",
                     (json_int_t)c->other_debits, "outstanding", (json_int_t)c->outstanding,
                     "breakage_bp", bp_json(bp(c->expired, c->redeemed + c->expired)));
}

static json_t *breakage_json(const struct report *r)
{
    int64_t closed = 0, redeemed = 0, expired = 0;
    for (uint32_t i = 0; i < r->ncohorts; i++) {
        const struct cohort_sum *c = &r->cohorts[i];
        if (c->outstanding != 0 || c->issued + c->opening == 0)
            continue;
        closed++;
        redeemed += c->redeemed;
        expired += c->expired;
    }
    return json_pack("{s:I, s:I, s:I, s:o}", "closed_cohorts", (json_int_t)closed, "redeemed",
                     (json_int_t)redeemed, "expired", (json_int_t)expired, "rate_bp",
                     bp_json(bp(expired, redeemed + expired)));
}

/* Calls fn for every (cohort, age) of the curves, ages 0 up to the newest
 * month, with the points redeemed at that age and cumulated so far. */
static void each_curve_point(const struct report *r,
                             void (*fn)(void *ctx, const struct cohort_sum *c, int32_t age,
                                        int64_t at, int64_t cumulative),
                             void *ctx)
{
    uint32_t k = 0; /* redeems are ordered by cohort, then month */
    for (uint32_t i = 0; i < r->ncohorts; i++) {
        const struct cohort_sum *c = &r->cohorts[i];
        if (c->cohort == COHORT_OPENING)
            continue;
        int64_t cumulative = 0;
        for (int32_t m = c->cohort; m <= r->last_month; m++) {
            int64_t at = 0;
            while (k < r->nredeems && r->redeems[k].cohort == c->cohort &&
                   r->redeems[k].month == m)
                at += r->redeems[k++].points;
            cumulative += at;
            fn(ctx, c, m - c->cohort, at, cumulative);
        }
        while (k < r->nredeems && r->redeems[k].cohort == c->cohort)
            k++; /* months before the cohort's own cannot occur; skip defensively */
    }
}

static void curve_point_json(void *ctx, const struct cohort_sum *c, int32_t age, int64_t at,
                             int64_t cumulative)
{
    char name[COHORT_MONTH_STR_MAX];
    json_array_append_new(
        ctx, json_pack("{s:s, s:i, s:I, s:I, s:o}", "cohort",
                       cohort_month_str(c->cohort, name, sizeof name), "age", (int)age,
                       "redeemed", (json_int_t)at, "cumulative", (json_int_t)cumulative,
                       "share_bp", bp_json(bp(cumulative, c->issued))));
}

static json_t *as_of_json(const struct report *r)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < r->nstreams; i++) {
        char id[PROTO_ID_STR_MAX];
        proto_id_format(r->streams[i].last, id, sizeof id);
        json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "stream", r->streams[i].key,
                                           "last_entry", id, "clock_ms",
                                           (json_int_t)r->streams[i].clock_ms));
    }
    return a;
}

json_t *report_json(const struct report *r)
{
    json_t *cohorts = json_array();
    json_t *curves = json_array();
    LY_ALLOC_CHECK(cohorts != NULL && curves != NULL);
    for (uint32_t i = 0; i < r->ncohorts; i++) {
        char name[COHORT_MONTH_STR_MAX];
        json_array_append_new(cohorts, cohort_json(&r->cohorts[i],
                                                   cohort_month_str(r->cohorts[i].cohort, name,
                                                                    sizeof name)));
    }
    each_curve_point(r, curve_point_json, curves);
    struct cohort_sum t = totals(r);
    json_t *j = json_pack("{s:o, s:o, s:o, s:I, s:o, s:o}", "as_of", as_of_json(r), "cohorts",
                          cohorts, "totals", cohort_json(&t, "total"), "debt",
                          (json_int_t)r->debt, "breakage", breakage_json(r), "curves", curves);
    LY_ALLOC_CHECK(j != NULL);
    return j;
}

static void csv_bp(FILE *f, int64_t v)
{
    if (v >= 0)
        fprintf(f, "%lld", (long long)v);
}

static void csv_cohort(FILE *f, const struct cohort_sum *c, const char *name)
{
    fprintf(f, "%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,", name, (long long)c->issued,
            (long long)c->opening, (long long)c->debt_repaid, (long long)c->redeemed,
            (long long)c->expired, (long long)c->other_debits, (long long)c->outstanding);
    csv_bp(f, bp(c->expired, c->redeemed + c->expired));
    fputc('\n', f);
}

static void curve_point_csv(void *ctx, const struct cohort_sum *c, int32_t age, int64_t at,
                            int64_t cumulative)
{
    char name[COHORT_MONTH_STR_MAX];
    fprintf(ctx, "%s,%d,%lld,%lld,", cohort_month_str(c->cohort, name, sizeof name), (int)age,
            (long long)at, (long long)cumulative);
    csv_bp(ctx, bp(cumulative, c->issued));
    fputc('\n', ctx);
}

char *report_csv(const struct report *r, enum report_table table)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    LY_ALLOC_CHECK(f != NULL);
    if (table == REPORT_CURVES) {
        fputs("cohort,age,redeemed,cumulative,share_bp\n", f);
        each_curve_point(r, curve_point_csv, f);
    } else {
        fputs("cohort,issued,opening,debt_repaid,redeemed,expired,other_debits,outstanding,"
              "breakage_bp\n", f);
        for (uint32_t i = 0; i < r->ncohorts; i++) {
            char name[COHORT_MONTH_STR_MAX];
            csv_cohort(f, &r->cohorts[i], cohort_month_str(r->cohorts[i].cohort, name,
                                                             sizeof name));
        }
        struct cohort_sum t = totals(r);
        csv_cohort(f, &t, "total");
    }
    int rc = fclose(f);
    LY_ALLOC_CHECK(rc == 0 && text != NULL);
    return text;
}
