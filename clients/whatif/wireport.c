/* wireport.c - see wireport.h. */
#include "wireport.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define PATH_MAX_ 4096

void wireport_month_label(int32_t month, char *buf)
{
    unsigned m = month < 0 ? 0u : (unsigned)month;
    snprintf(buf, 8, "%04u-%02u", (m / 12) % 10000, m % 12 + 1);
}

static void utc(int64_t ts_ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *month_json(const struct wistats_month *m)
{
    json_t *causes = json_object();
    for (int c = 0; c < PROTO_CAUSE_COUNT; c++)
        json_object_set_new(causes, proto_cause_name((enum proto_cause)c),
                            json_integer(m->by_cause[c]));
    return json_pack("{s:o s:I s:I s:I s:I s:I s:I s:I}", "points_by_cause", causes, "issued",
                     (json_int_t)m->issued, "redeemed", (json_int_t)m->redeemed, "expired",
                     (json_int_t)m->expired, "liability", (json_int_t)m->liability, "rewards",
                     (json_int_t)m->rewards, "tier_changes", (json_int_t)m->tier_changes,
                     "campaign_cost", (json_int_t)m->campaign_cost);
}

static json_t *pairs_json(const struct wicompare_pair *p, uint32_t n, bool with_points)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s s:I s:I}", "name", p[i].name, "logged", (json_int_t)p[i].a,
                              "candidate", (json_int_t)p[i].b);
        if (with_points) {
            json_object_set_new(o, "points_logged", json_integer(p[i].points_a));
            json_object_set_new(o, "points_candidate", json_integer(p[i].points_b));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *tiers_json(const struct wicompare *c)
{
    json_t *na = json_array(), *nb = json_array(), *matrix = json_array();
    for (uint32_t i = 0; i < c->tiers_a; i++)
        json_array_append_new(na, json_string(c->tier_names_a[i]));
    for (uint32_t j = 0; j < c->tiers_b; j++)
        json_array_append_new(nb, json_string(c->tier_names_b[j]));
    for (uint32_t i = 0; i < c->tiers_a; i++) {
        json_t *row = json_array();
        for (uint32_t j = 0; j < c->tiers_b; j++)
            json_array_append_new(row, json_integer(c->matrix[i][j]));
        json_array_append_new(matrix, row);
    }
    return json_pack("{s:o s:o s:o s:I s:I}", "logged", na, "candidate", nb, "matrix", matrix,
                     "only_logged", (json_int_t)c->only_a, "only_candidate",
                     (json_int_t)c->only_b);
}

static json_t *members_json(const struct wicompare *c)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < c->top_count; i++) {
        const struct wicompare_member *m = &c->top[i];
        json_array_append_new(arr, json_pack(
            "{s:s s:I s:I s:I s:I s:I s:s s:s}", "member", m->id, "lifetime_logged",
            (json_int_t)m->lifetime_a, "lifetime_candidate", (json_int_t)m->lifetime_b,
            "lifetime_diff", (json_int_t)(m->lifetime_b - m->lifetime_a), "balance_logged",
            (json_int_t)m->balance_a, "balance_candidate", (json_int_t)m->balance_b,
            "tier_logged", m->tier_a, "tier_candidate", m->tier_b));
    }
    return arr;
}

static json_t *head_json(const struct wicompare *c, const struct wireport_meta *mt)
{
    char from[32], last[PROTO_ID_STR_MAX], after[PROTO_ID_STR_MAX];
    const struct history_info *h = mt->hist;
    utc(mt->from_ts, from, sizeof(from));
    proto_id_format(h->last, last, sizeof(last));
    proto_id_format(mt->switch_after, after, sizeof(after));
    json_t *totals_a = json_object(), *totals_b = json_object();
    for (int k = 0; k < PROTO_CAUSE_COUNT; k++) {
        json_object_set_new(totals_a, proto_cause_name((enum proto_cause)k),
                            json_integer(c->totals_a[k]));
        json_object_set_new(totals_b, proto_cause_name((enum proto_cause)k),
                            json_integer(c->totals_b[k]));
    }
    double rate = mt->seconds > 0 ? (double)h->entries / mt->seconds : 0;
    return json_pack(
        "{s:{s:I s:I s:I s:s s:s} s:{s:s s:s s:s s:s s:I s:b s:I s:s}"
        " s:{s:f s:f} s:{s:b s:b s:I} s:{s:o s:o}}",
        "history", "entries", (json_int_t)h->entries, "archived", (json_int_t)h->archive_entries,
        "from_stream", (json_int_t)h->stream_entries, "last", last, "startup_rulebook",
        h->startup_hash, "candidate", "file", mt->candidate_path, "hash", mt->candidate_hash,
        "label", mt->label ? mt->label : "", "from", from, "from_ts", (json_int_t)mt->from_ts,
        "switched", mt->switched, "switch_ts", (json_int_t)mt->switch_ts, "after_entry", after,
        "replay", "seconds", mt->seconds, "entries_per_s", rate, "diff", "empty", c->empty,
        "state_identical", c->state_identical, "members_changed",
        (json_int_t)c->members_changed, "totals", "logged", totals_a, "candidate", totals_b);
}

static int write_json(const struct wicompare *c, const struct wireport_meta *mt,
                      struct client_error *err)
{
    char path[PATH_MAX_], label[8];
    json_t *doc = head_json(c, mt), *months = json_array(), *plots = json_array();
    for (uint32_t i = 0; i < c->month_count; i++) {
        wireport_month_label(c->months[i].month, label);
        json_array_append_new(months, json_pack("{s:s s:o s:o}", "month", label, "logged",
                                                month_json(&c->months[i].a), "candidate",
                                                month_json(&c->months[i].b)));
    }
    for (uint32_t i = 0; i < mt->plot_count; i++)
        json_array_append_new(plots, json_string(mt->plots[i]));
    json_object_set_new(doc, "months", months);
    json_object_set_new(doc, "tiers", tiers_json(c));
    json_object_set_new(doc, "segments", pairs_json(c->segments, c->segment_count, false));
    json_object_set_new(doc, "rewards", pairs_json(c->rewards, c->reward_count, true));
    json_object_set_new(doc, "campaigns", pairs_json(c->campaigns, c->campaign_count, true));
    json_object_set_new(doc, "members", members_json(c));
    json_object_set_new(doc, "plots", plots);
    snprintf(path, sizeof(path), "%s/report.json", mt->out_dir);
    int rc = json_dump_file(doc, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    if (rc != 0)
        snprintf(err->text, sizeof(err->text), "cannot write %.400s", path);
    return rc == 0 ? 0 : -1;
}

/* "+12.5%" or "" when the base is 0. */
static void percent(int64_t a, int64_t b, char *buf, size_t cap)
{
    if (a == 0)
        snprintf(buf, cap, "%s", b == 0 ? "0%" : "new");
    else
        snprintf(buf, cap, "%+.1f%%", 100.0 * (double)(b - a) / (double)(a < 0 ? -a : a));
}

static void md_totals(FILE *f, const struct wicompare *c)
{
    char pct[32];
    fprintf(f, "\n## Points by cause, whole history\n\n| cause | logged | candidate | "
               "difference | change |\n| --- | ---: | ---: | ---: | ---: |\n");
    for (int k = 0; k < PROTO_CAUSE_COUNT; k++) {
        percent(c->totals_a[k], c->totals_b[k], pct, sizeof(pct));
        fprintf(f, "| %s | %" PRId64 " | %" PRId64 " | %+" PRId64 " | %s |\n",
                proto_cause_name((enum proto_cause)k), c->totals_a[k], c->totals_b[k],
                c->totals_b[k] - c->totals_a[k], pct);
    }
}

static void md_months(FILE *f, const struct wicompare *c)
{
    char label[8];
    fprintf(f, "\n## Month by month (logged / candidate)\n\n| month | purchase points | "
               "issued | redeemed | expired | liability at month end | rewards | "
               "campaign cost |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (uint32_t i = 0; i < c->month_count; i++) {
        const struct wistats_month *a = &c->months[i].a, *b = &c->months[i].b;
        wireport_month_label(c->months[i].month, label);
        fprintf(f, "| %s | %" PRId64 " / %" PRId64 " | %" PRId64 " / %" PRId64 " | %" PRId64
                   " / %" PRId64 " | %" PRId64 " / %" PRId64 " | %" PRId64 " / %" PRId64
                   " | %" PRId64 " / %" PRId64 " | %" PRId64 " / %" PRId64 " |\n", label,
                a->by_cause[PROTO_CAUSE_PURCHASE], b->by_cause[PROTO_CAUSE_PURCHASE], a->issued,
                b->issued, a->redeemed, b->redeemed, a->expired, b->expired, a->liability,
                b->liability, a->rewards, b->rewards, a->campaign_cost, b->campaign_cost);
    }
}

static void md_tiers(FILE *f, const struct wicompare *c)
{
    fprintf(f, "\n## Tier migration (rows: final tier as logged; columns: under the "
               "candidate)\n\n| logged \\ candidate |");
    for (uint32_t j = 0; j < c->tiers_b; j++)
        fprintf(f, " %s |", c->tier_names_b[j]);
    fprintf(f, "\n| --- |");
    for (uint32_t j = 0; j < c->tiers_b; j++)
        fprintf(f, " ---: |");
    for (uint32_t i = 0; i < c->tiers_a; i++) {
        fprintf(f, "\n| %s |", c->tier_names_a[i]);
        for (uint32_t j = 0; j < c->tiers_b; j++)
            fprintf(f, " %" PRId64 " |", c->matrix[i][j]);
    }
    fprintf(f, "\n\nMembers in one run only: %" PRId64 " logged, %" PRId64 " candidate.\n",
            c->only_a, c->only_b);
}

static void md_pairs(FILE *f, const char *title, const struct wicompare_pair *p, uint32_t n,
                     bool with_points)
{
    fprintf(f, "\n## %s\n\n| name | logged | candidate |%s\n| --- | ---: | ---: |%s\n", title,
            with_points ? " points logged | points candidate |" : "",
            with_points ? " ---: | ---: |" : "");
    for (uint32_t i = 0; i < n; i++) {
        fprintf(f, "| %s | %" PRId64 " | %" PRId64 " |", p[i].name, p[i].a, p[i].b);
        if (with_points)
            fprintf(f, " %" PRId64 " | %" PRId64 " |", p[i].points_a, p[i].points_b);
        fputc('\n', f);
    }
    if (n == 0)
        fprintf(f, "| (none) | | |%s\n", with_points ? " | |" : "");
}

static void md_members(FILE *f, const struct wicompare *c)
{
    fprintf(f, "\n## Members most affected (%" PRIu64 " differ; top %u by points earned)\n\n"
               "| member | lifetime points logged | candidate | difference | balance logged "
               "| candidate | tier logged | candidate |\n| --- | ---: | ---: | ---: | ---: | "
               "---: | --- | --- |\n", c->members_changed, c->top_count);
    for (uint32_t i = 0; i < c->top_count; i++) {
        const struct wicompare_member *m = &c->top[i];
        fprintf(f, "| %s | %" PRId64 " | %" PRId64 " | %+" PRId64 " | %" PRId64 " | %" PRId64
                   " | %s | %s |\n", m->id, m->lifetime_a, m->lifetime_b,
                m->lifetime_b - m->lifetime_a, m->balance_a, m->balance_b, m->tier_a, m->tier_b);
    }
}

static void md_head(FILE *f, const struct wicompare *c, const struct wireport_meta *mt)
{
    char from[32], last[PROTO_ID_STR_MAX], sw[32];
    const struct history_info *h = mt->hist;
    utc(mt->from_ts, from, sizeof(from));
    utc(mt->switch_ts, sw, sizeof(sw));
    proto_id_format(h->last, last, sizeof(last));
    fprintf(f, "# What-if: %s from %s\n\n", mt->label && mt->label[0] ? mt->label
                                                                     : mt->candidate_path, from);
    fprintf(f, "- History: %" PRIu64 " entries (%" PRIu64 " from the archive, %" PRIu64
               " from the stream) up to %s, replayed twice in %.2f s.\n", h->entries,
            h->archive_entries, h->stream_entries, last, mt->seconds);
    fprintf(f, "- Candidate: `%s`, rulebook %s, %s.\n", mt->candidate_path, mt->candidate_hash,
            mt->switched ? "in force from the first entry at or after the date" :
                           "already the version in force at the date: nothing switched");
    if (mt->switched)
        fprintf(f, "- Switched before the entry after %" PRIu64 "-%" PRIu64 " (event time %s).\n",
                mt->switch_after.ms, mt->switch_after.seq, sw);
    fprintf(f, "- Difference: %s; final states %s; %" PRIu64 " members differ.\n",
            c->empty ? "**none**" : "see below",
            c->state_identical ? "byte-identical" : "differ", c->members_changed);
    if (h->warning[0])
        fprintf(f, "- Warning: %s\n", h->warning);
    for (uint32_t i = 0; i < mt->plot_count; i++)
        fprintf(f, "\n![%s](%s)\n", mt->plots[i], mt->plots[i]);
    if (mt->plot_problem[0])
        fprintf(f, "\nNo plots: %s\n", mt->plot_problem);
}

static int write_md(const struct wicompare *c, const struct wireport_meta *mt,
                    struct client_error *err)
{
    char path[PATH_MAX_];
    snprintf(path, sizeof(path), "%s/report.md", mt->out_dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err->text, sizeof(err->text), "cannot write %.400s", path);
        return -1;
    }
    md_head(f, c, mt);
    md_totals(f, c);
    md_months(f, c);
    md_tiers(f, c);
    md_pairs(f, "Segment sizes at the end (members)", c->segments, c->segment_count, false);
    md_pairs(f, "Rewards issued", c->rewards, c->reward_count, true);
    md_pairs(f, "Campaign costs (sales paid on; marginal points before caps)", c->campaigns,
             c->campaign_count, true);
    md_members(f, c);
    if (fclose(f) != 0) {
        snprintf(err->text, sizeof(err->text), "cannot write %.400s", path);
        return -1;
    }
    return 0;
}

int wireport_write(const struct wicompare *c, const struct wireport_meta *meta,
                   struct client_error *err)
{
    return write_json(c, meta, err) == 0 && write_md(c, meta, err) == 0 ? 0 : -1;
}
