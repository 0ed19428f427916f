/* liabview.c - see liabview.h. */
#include "liabview.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lyassert.h"

#define MONTH_STR_MAX 16 /* "YYYY-MM", "earlier", "overdue" */

static void month_str(int32_t month, char *out)
{
    snprintf(out, MONTH_STR_MAX, "%04d-%02d", (int)(month / 12), (int)(month % 12 + 1));
}

int64_t liabview_value_of(const struct liabview_value *v, int64_t points)
{
    LY_ASSERT(v->points >= 1);
    return (int64_t)((__int128)points * (__int128)v->minor / v->points);
}

void liabview_report(const struct state *const *states, uint32_t n, struct liability_report *r)
{
    int32_t month = 0; /* the newest engine clock's: a month with no moves yet shows */
    for (uint32_t i = 0; i < n; i++)
        if (states[i]->clock_month > month)
            month = states[i]->clock_month;
    liability_report_init(r, month);
    for (uint32_t i = 0; i < n; i++)
        liability_report_add(r, &states[i]->liab);
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *bp_or_null(int64_t bp)
{
    return bp < 0 ? json_null() : json_integer((json_int_t)bp);
}

static json_t *cohort_json(const char *month, int64_t outstanding,
                           const struct liability_cohort *c)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "month", month, "outstanding",
                     (json_int_t)outstanding, "in", (json_int_t)c->in, "redeemed",
                     (json_int_t)c->redeemed, "expired", (json_int_t)c->expired, "other",
                     (json_int_t)c->other);
}

static json_t *cohorts_json(const struct liability_report *r)
{
    json_t *a = json_array();
    char m[MONTH_STR_MAX];
    if (a != NULL && (r->earlier.in != 0 || r->earlier_outstanding != 0))
        json_array_append_new(a, cohort_json("earlier", r->earlier_outstanding, &r->earlier));
    for (uint32_t i = 0; a != NULL && i < LIABILITY_MONTHS; i++) {
        if (r->cohort[i].in == 0 && r->by_cohort[i] == 0)
            continue;
        month_str(r->month - LIABILITY_MONTHS + 1 + (int32_t)i, m);
        json_array_append_new(a, cohort_json(m, r->by_cohort[i], &r->cohort[i]));
    }
    return a;
}

static json_t *expiry_json(const struct liability_report *r)
{
    json_t *a = json_array();
    char m[MONTH_STR_MAX];
    if (a != NULL && r->overdue != 0)
        json_array_append_new(a, json_pack("{s:s, s:I}", "month", "overdue",
                                           (json_int_t)r->overdue));
    for (uint32_t i = 0; a != NULL && i < LIABILITY_EXPIRY_MONTHS; i++) {
        if (r->by_expiry[i] == 0)
            continue;
        month_str(r->month - LIABILITY_EXPIRY_BEHIND + (int32_t)i, m);
        json_array_append_new(a, json_pack("{s:s, s:I}", "month", m, "points",
                                           (json_int_t)r->by_expiry[i]));
    }
    if (a != NULL && r->never != 0)
        json_array_append_new(a, json_pack("{s:s, s:I}", "month", "never",
                                           (json_int_t)r->never));
    return a;
}

/* Credits of earning: every cause but adjustments and transfers. */
static int64_t issued(const struct liability_flow *f)
{
    int64_t sum = 0;
    for (uint32_t c = 0; c < PROTO_CAUSE_COUNT; c++)
        if (c != PROTO_CAUSE_ADJUST && c != PROTO_CAUSE_TRANSFER_IN)
            sum = liability_add(sum, f->credit[c]);
    return sum;
}

/* Debits other than those named in flow_json (none today: kept so that
 * the month's figures always add up). */
static int64_t other_debits(const struct liability_flow *f)
{
    int64_t sum = 0;
    for (uint32_t c = 0; c < PROTO_CAUSE_COUNT; c++)
        if (c != PROTO_CAUSE_ADJUST && c != PROTO_CAUSE_REDEEM && c != PROTO_CAUSE_EXPIRY &&
            c != PROTO_CAUSE_REFUND && c != PROTO_CAUSE_TRANSFER_OUT)
            sum = liability_add(sum, f->debit[c]);
    return sum;
}

static json_t *flow_json(const char *month, const struct liability_flow *f)
{
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "month", month,
        "issued", (json_int_t)issued(f), "adjusted_in",
        (json_int_t)f->credit[PROTO_CAUSE_ADJUST], "adjusted_out",
        (json_int_t)f->debit[PROTO_CAUSE_ADJUST], "redeemed",
        (json_int_t)f->debit[PROTO_CAUSE_REDEEM], "expired",
        (json_int_t)f->debit[PROTO_CAUSE_EXPIRY], "refunded",
        (json_int_t)f->debit[PROTO_CAUSE_REFUND], "transferred_in",
        (json_int_t)f->credit[PROTO_CAUSE_TRANSFER_IN], "transferred_out",
        (json_int_t)f->debit[PROTO_CAUSE_TRANSFER_OUT], "pending_held", (json_int_t)f->held,
        "pending_released", (json_int_t)f->released, "pending_cancelled",
        (json_int_t)f->cancelled);
    if (o != NULL && other_debits(f) != 0)
        json_object_set_new(o, "other_out", json_integer((json_int_t)other_debits(f)));
    return o;
}

static bool flow_empty(const struct liability_flow *f)
{
    static const struct liability_flow zero;
    return memcmp(f, &zero, sizeof(zero)) == 0;
}

static json_t *flows_json(const struct liability_report *r)
{
    json_t *a = json_array();
    char m[MONTH_STR_MAX];
    if (a != NULL && !flow_empty(&r->flow_earlier))
        json_array_append_new(a, flow_json("earlier", &r->flow_earlier));
    for (uint32_t i = 0; a != NULL && i < LIABILITY_MONTHS; i++) {
        if (flow_empty(&r->flow[i]))
            continue;
        month_str(r->month - LIABILITY_MONTHS + 1 + (int32_t)i, m);
        json_array_append_new(a, flow_json(m, &r->flow[i]));
    }
    return a;
}

static json_t *report_json(const struct liability_report *r, const struct liabview_value *v)
{
    json_t *value = v->minor > 0 ? json_integer((json_int_t)liabview_value_of(v, r->outstanding))
                                 : json_null();
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "outstanding_points",
                     (json_int_t)r->outstanding, "pending_points", (json_int_t)r->pending,
                     "debt_points", (json_int_t)r->debt, "opening_points",
                     (json_int_t)r->opening, "outstanding_value_minor", value,
                     "redemption_rate_bp", bp_or_null(liability_redemption_bp(r)),
                     "breakage_bp", bp_or_null(liability_breakage_bp(r)), "by_cohort",
                     cohorts_json(r), "by_expiry", expiry_json(r), "by_month", flows_json(r));
}

json_t *liabview_json(const struct state *const *states, const uint32_t *parts, uint32_t n,
                      const struct liabview_value *v)
{
    static struct liability_report r; /* large; the loop is single-threaded */
    char m[MONTH_STR_MAX];
    int64_t clock = 0;
    for (uint32_t i = 0; i < n; i++)
        clock = states[i]->clock_ms > clock ? states[i]->clock_ms : clock;
    liabview_report(states, n, &r);
    month_str(r.month, m);
    json_t *j = json_pack("{s:o, s:I, s:s, s:I, s:I, s:o}", "as_of",
                          clock > 0 ? json_string(m) : json_null(), "clock_ts",
                          (json_int_t)clock, "currency", v->currency, "value_minor",
                          (json_int_t)v->minor, "value_points", (json_int_t)v->points,
                          "totals", report_json(&r, v));
    if (j == NULL || n < 2)
        return j;
    json_t *per = json_object();
    for (uint32_t i = 0; per != NULL && i < n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%u", parts[i]);
        liabview_report(&states[i], 1, &r);
        json_object_set_new(per, key, report_json(&r, v));
    }
    json_object_set_new(j, "partitions", per);
    return j;
}

/* ---- /metrics ------------------------------------------------------------- */

static int gauge(struct evbuffer *out, const char *name, const char *help, int64_t v)
{
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 "\n", name,
                               help, name, name, v);
}

/* A ratio from basis points (omitted while there is none: -1). */
static int ratio(struct evbuffer *out, const char *name, const char *help, int64_t bp)
{
    if (bp < 0)
        return 0;
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 ".%04" PRId64
                               "\n", name, help, name, name, bp / 10000, bp % 10000);
}

/* One gauge family labelled by month: `before` (label `before_name`), the
 * months v[0..n) from `first`, then `after` (`after_name`; NULL: none),
 * leaving out zeros. */
struct month_series {
    const char *name, *help, *label;
    const char *before_name;
    int64_t before;
    int32_t first;
    const int64_t *v;
    uint32_t n;
    const char *after_name;
    int64_t after;
};

static int sample(struct evbuffer *out, const struct month_series *s, const char *month,
                  int64_t v)
{
    if (v == 0)
        return 0;
    return evbuffer_add_printf(out, "%s{%s=\"%s\"} %" PRId64 "\n", s->name, s->label, month, v);
}

static int month_series(struct evbuffer *out, const struct month_series *s)
{
    char m[MONTH_STR_MAX];
    int rc = evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", s->name, s->help,
                                 s->name);
    if (rc >= 0)
        rc = sample(out, s, s->before_name, s->before);
    for (uint32_t i = 0; rc >= 0 && i < s->n; i++) {
        month_str(s->first + (int32_t)i, m);
        rc = sample(out, s, m, s->v[i]);
    }
    if (rc >= 0 && s->after_name != NULL)
        rc = sample(out, s, s->after_name, s->after);
    return rc;
}

static int by_cohort(struct evbuffer *out, const struct liability_report *r)
{
    const struct month_series s = {
        "loyalty_liability_points", "Points outstanding by the month they were earned in "
        "(cohort).", "cohort", "earlier", r->earlier_outstanding,
        r->month - LIABILITY_MONTHS + 1, r->by_cohort, LIABILITY_MONTHS, NULL, 0};
    return month_series(out, &s);
}

static int by_expiry(struct evbuffer *out, const struct liability_report *r)
{
    const struct month_series s = {
        "loyalty_liability_expiring_points", "Points outstanding by the month they expire in.",
        "month", "overdue", r->overdue, r->month - LIABILITY_EXPIRY_BEHIND, r->by_expiry,
        LIABILITY_EXPIRY_MONTHS, "never", r->never};
    return month_series(out, &s);
}

int liabview_metrics(const struct state *const *states, uint32_t n,
                     const struct liabview_value *v, struct evbuffer *out)
{
    static struct liability_report r; /* large; the loop is single-threaded */
    liabview_report(states, n, &r);
    int rc = gauge(out, "loyalty_liability_outstanding_points",
                   "Points members hold (positive balances): the contract liability.",
                   r.outstanding) < 0 ||
             gauge(out, "loyalty_liability_pending_points",
                   "Points waiting out the return window, not in any balance.", r.pending) < 0 ||
             gauge(out, "loyalty_liability_debt_points",
                   "Points members owe (negative balances after refunds).", r.debt) < 0 ||
             by_cohort(out, &r) < 0 || by_expiry(out, &r) < 0 ||
             ratio(out, "loyalty_liability_redemption_ratio",
                   "Points redeemed per point issued, over every cohort.",
                   liability_redemption_bp(&r)) < 0 ||
             ratio(out, "loyalty_liability_breakage_ratio",
                   "Expired / (redeemed + expired) over the closed cohorts.",
                   liability_breakage_bp(&r)) < 0;
    if (rc == 0 && v->minor > 0)
        rc = gauge(out, "loyalty_liability_value_minor_units",
                   "Money value of the outstanding points, in minor units of the currency.",
                   liabview_value_of(v, r.outstanding)) < 0;
    return rc ? -1 : 0;
}
