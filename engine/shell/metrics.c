/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "budgets.h"
#include "lyassert.h"
#include "progview.h"
#include "rulecanon.h"
#include "segments.h"
#include "versions.h"

static const uint64_t lat_bounds_us[METRICS_LAT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

void metrics_batch(struct metrics *m, uint64_t us)
{
    size_t i = 0;
    while (i < METRICS_LAT_BUCKETS && us > lat_bounds_us[i])
        i++;
    m->lat_counts[i]++;
    m->lat_sum_us += us;
    m->batches++;
}

static int counter(struct evbuffer *out, const char *name, const char *help, uint64_t v)
{
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n",
                               name, help, name, name, v) < 0 ? -1 : 0;
}

static int gauge(struct evbuffer *out, const char *name, const char *help, int64_t v)
{
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 "\n", name,
                               help, name, name, v) < 0 ? -1 : 0;
}

/* Copies `in` into esc[0..cap) as a label value: configured names are
 * printable ASCII, and quote and backslash are the two a label value must
 * escape. Anything longer than fits is cut (names are bounded far below). */
static void label_escape(const char *in, char *esc, size_t cap)
{
    size_t k = 0;
    for (const char *p = in; *p && k + 2 < cap; p++) {
        if (*p == '"' || *p == '\\')
            esc[k++] = '\\';
        esc[k++] = *p;
    }
    esc[k] = '\0';
}

/* A gauge holding `v` in units of 10^-digits (ms: 3, us: 6), written as
 * an exact decimal in the base unit: Prometheus wants seconds, and the
 * integer never passes through a double. */
static int gauge_fixed(struct evbuffer *out, const char *name, const char *help, int64_t v,
                       int digits)
{
    LY_ASSERT(digits == 3 || digits == 6);
    int64_t scale = digits == 3 ? 1000 : 1000000;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %s%" PRIu64 ".%0*" PRIu64
                                    "\n", name, help, name, name, v < 0 ? "-" : "",
                               mag / (uint64_t)scale, digits, mag % (uint64_t)scale) < 0 ? -1 : 0;
}

/* name{label="value",...} 1: facts that are not numbers, as labels (the
 * Prometheus idiom): loyalty_build_info (what this binary is) and
 * loyalty_rulebook_info (the rulebook version in force). */
static int info_sample(struct evbuffer *out, const char *name,
                       const struct metrics_label *labels, size_t n)
{
    int rc = evbuffer_add_printf(out, "%s{", name);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        char esc[METRICS_LABEL_MAX];
        label_escape(labels[i].value, esc, sizeof(esc));
        rc = evbuffer_add_printf(out, "%s%s=\"%s\"", i ? "," : "", labels[i].name, esc);
    }
    if (rc >= 0)
        rc = evbuffer_add_printf(out, "} 1\n");
    return rc < 0 ? -1 : 0;
}

static int info(struct evbuffer *out, const char *name, const char *help,
                const struct metrics_label *labels, size_t n)
{
    if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name) < 0)
        return -1;
    return info_sample(out, name, labels, n);
}

/* The version in force in each served partition: its hash's short form
 * ("" for the start-up version) and label, and with several partitions
 * the partition (each switches when it applies the rules entry of its own
 * input, so they may differ for a while). */
static int rulebook_info(struct evbuffer *out, const struct metrics_view *mv)
{
    const char *name = "loyalty_rulebook_info";
    int rc = evbuffer_add_printf(out, "# HELP %s The rulebook version in force: hash (short "
                                 "form), label and partition (value always 1).\n"
                                 "# TYPE %s gauge\n", name, name) < 0 ? -1 : 0;
    for (uint32_t k = 0; k < mv->count && rc == 0; k++) {
        const struct state *st = mv->states[k];
        const struct rulebook_version *v = versions_current(st->ver);
        char short_hash[RULECANON_SHORT_LEN + 1], part[12];
        snprintf(short_hash, sizeof(short_hash), "%.*s", RULECANON_SHORT_LEN, v->hash);
        snprintf(part, sizeof(part), "%u", st->place.partition);
        const struct metrics_label labels[] = {
            {"hash", short_hash}, {"label", v->label}, {"partition", part}};
        rc = info_sample(out, name, labels, st->place.partitions > 1 ? 3 : 2);
    }
    return rc;
}

static int histogram(const struct metrics *m, struct evbuffer *out)
{
    const char *n = "loyalty_batch_latency_seconds";
    int rc = evbuffer_add_printf(out, "# HELP %s Time from a batch read to its commit.\n"
                                      "# TYPE %s histogram\n", n, n);
    uint64_t cum = 0;
    for (size_t i = 0; i < METRICS_LAT_BUCKETS && rc >= 0; i++) {
        cum += m->lat_counts[i];
        rc = evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", n,
                                 (double)lat_bounds_us[i] / 1e6, cum);
    }
    cum += m->lat_counts[METRICS_LAT_BUCKETS];
    if (rc >= 0)
        rc = evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n"
                                      "%s_count %" PRIu64 "\n", n, cum, n,
                                 (double)m->lat_sum_us / 1e6, n, cum);
    return rc < 0 ? -1 : 0;
}

static int outputs(const struct metrics *m, struct evbuffer *out)
{
    const char *n = "loyalty_outputs_total";
    int rc = evbuffer_add_printf(out, "# HELP %s Events published, by kind.\n"
                                      "# TYPE %s counter\n", n, n);
    for (int k = 0; k < PROTO_OUT_KIND_COUNT && rc >= 0; k++)
        rc = evbuffer_add_printf(out, "%s{kind=\"%s\"} %" PRIu64 "\n", n,
                                 proto_out_kind_name((enum proto_out_kind)k), m->outputs[k]);
    return rc < 0 ? -1 : 0;
}

/* One gauge family with a label: name{label="names[i]"} values[i]. */
static int labelled(struct evbuffer *out, const char *name, const char *help, const char *label,
                    const char *names, size_t stride, const int64_t *values, uint32_t n)
{
    int rc = evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (uint32_t i = 0; i < n && rc >= 0; i++) {
        char esc[METRICS_LABEL_MAX];
        label_escape(names + i * stride, esc, sizeof(esc));
        rc = evbuffer_add_printf(out, "%s{%s=\"%s\"} %" PRId64 "\n", name, label, esc,
                                 values[i]);
    }
    return rc < 0 ? -1 : 0;
}

void metrics_population(const struct metrics_view *v, const struct rulebook *rb,
                        struct metrics_population *p)
{
    memset(p, 0, sizeof(*p));
    for (uint32_t k = 0; k < v->count; k++) {
        const struct state *st = v->states[k];
        int64_t classes[RULEBOOK_VALUE_CLASSES_MAX];
        for (uint32_t i = 0; i < rb->tier_count; i++)
            p->tiers[i] += st->g.tier_members[i];
        for (uint32_t i = 0; i < rb->seg.segment_count; i++)
            p->segments[i] += st->g.segment_members[i];
        for (uint32_t i = 0; i < RULEBOOK_STAGE_COUNT; i++)
            p->stages[i] += st->g.stage_members[i];
        if (!rb->seg.enabled)
            continue;
        segments_value_counts(st, rb, classes);
        for (uint32_t i = 0; i < rb->seg.value_class_count; i++)
            p->classes[i] += classes[i];
    }
}

/* Each segment's observed yearly churn as a ratio: basis points written as
 * an exact decimal (1234 bp: 0.1234), never through a double. */
static int churn(const struct metrics_view *v, const struct rulebook *rb, struct evbuffer *out)
{
    const char *name = "loyalty_segment_churn_ratio";
    int rc = evbuffer_add_printf(out, "# HELP %s Observed yearly churn of each RFM segment "
                                      "(lifetime value divides by it).\n# TYPE %s gauge\n",
                                 name, name);
    for (uint32_t s = 0; s < rb->seg.segment_count && rc >= 0; s++) {
        char esc[METRICS_LABEL_MAX];
        int64_t bp = progview_churn_bp(v->states, v->count, rb, s);
        label_escape(rb->seg.segments[s].name, esc, sizeof(esc));
        rc = evbuffer_add_printf(out, "%s{segment=\"%s\"} %" PRId64 ".%04" PRId64 "\n", name,
                                 esc, bp / 10000, bp % 10000);
    }
    return rc < 0 ? -1 : 0;
}

/* Points each campaign of the rulebook in force gave, and what is left of
 * the budgets (campaigns with one only). */
static int campaigns(const struct metrics_view *v, struct evbuffer *out)
{
    const struct rulebook *rb = &v->states[0]->ver->now;
    const char *given = "loyalty_campaign_given_points", *left =
        "loyalty_campaign_budget_remaining_points";
    int rc = evbuffer_add_printf(out, "# HELP %s Points each campaign gave.\n# TYPE %s gauge\n",
                                 given, given);
    for (uint32_t c = 0; c < rb->campaign_count && rc >= 0; c++) {
        char esc[METRICS_LABEL_MAX];
        label_escape(rb->campaigns[c].name, esc, sizeof(esc));
        rc = evbuffer_add_printf(out, "%s{campaign=\"%s\"} %" PRId64 "\n", given, esc,
                                 progview_given(v->states, v->count, c));
    }
    if (rc >= 0)
        rc = evbuffer_add_printf(out, "# HELP %s Points a campaign's budget can still give.\n"
                                      "# TYPE %s gauge\n", left, left);
    for (uint32_t c = 0; c < rb->campaign_count && rc >= 0; c++) {
        char esc[METRICS_LABEL_MAX];
        int64_t n = progview_remaining(v->states, v->count, rb, c);
        label_escape(rb->campaigns[c].name, esc, sizeof(esc));
        if (n >= 0)
            rc = evbuffer_add_printf(out, "%s{campaign=\"%s\"} %" PRId64 "\n", left, esc, n);
    }
    return rc < 0 ? -1 : 0;
}

static int populations(const struct metrics_view *v, const struct rulebook *rb,
                       struct evbuffer *out)
{
    char stages[RULEBOOK_STAGE_COUNT][RULEBOOK_NAME_MAX + 1]; /* the core's names */
    struct metrics_population p;
    metrics_population(v, rb, &p);
    for (int i = 0; i < RULEBOOK_STAGE_COUNT; i++)
        snprintf(stages[i], sizeof(stages[i]), "%s",
                 segments_stage_name((enum rulebook_stage)i));
    int rc = labelled(out, "loyalty_members_by_tier", "Members per tier.", "tier",
                      rb->tiers[0].name, sizeof(rb->tiers[0]), p.tiers, rb->tier_count);
    if (!rb->seg.enabled)
        return rc;
    rc |= labelled(out, "loyalty_members_by_segment", "Members per RFM segment.", "segment",
                   rb->seg.segments[0].name, sizeof(rb->seg.segments[0]), p.segments,
                   rb->seg.segment_count);
    rc |= labelled(out, "loyalty_members_by_stage", "Members per lifecycle stage.", "stage",
                   stages[0], sizeof(stages[0]), p.stages, RULEBOOK_STAGE_COUNT);
    rc |= labelled(out, "loyalty_members_by_value_class", "Members per value class.",
                   "value_class", rb->seg.value_classes[0].name,
                   sizeof(rb->seg.value_classes[0]), p.classes, rb->seg.value_class_count);
    rc |= churn(v, rb, out);
    return rc;
}

/* The input archive's figures, written by the archivers' threads. */
static int archive_metrics(const struct metrics *m, struct evbuffer *out)
{
    int rc = counter(out, "loyalty_archive_entries_total",
                     "Input entries archived before trimming (since start).",
                     __atomic_load_n(&m->archive_entries, __ATOMIC_RELAXED));
    rc |= counter(out, "loyalty_archive_failures_total",
                  "Archive-then-trim runs that failed (nothing trimmed).",
                  __atomic_load_n(&m->archive_failures, __ATOMIC_RELAXED));
    rc |= gauge(out, "loyalty_archive_bytes", "Bytes of archive segments on disk.",
                (int64_t)__atomic_load_n(&m->archive_bytes, __ATOMIC_RELAXED));
    rc |= gauge(out, "loyalty_archive_segments", "Archive segment files.",
                (int64_t)__atomic_load_n(&m->archive_segments, __ATOMIC_RELAXED));
    return rc;
}

/* The figures the states hold, summed (the clock: the latest). */
struct state_sums {
    uint64_t applied, rejected, duplicate, evicted;
    int64_t members, txns, clock_ms;
};

static void sums_of(const struct metrics_view *v, struct state_sums *s)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t k = 0; k < v->count; k++) {
        const struct state *st = v->states[k];
        s->applied += st->entries_applied;
        s->rejected += st->entries_rejected;
        s->duplicate += st->entries_duplicate;
        s->evicted += st->txns.evicted_early;
        s->members += st->members.count;
        s->txns += st->txns.count;
        if (st->clock_ms > s->clock_ms)
            s->clock_ms = st->clock_ms;
    }
}

int metrics_render(const struct metrics *m, const struct metrics_view *v,
                   const struct rulebook *rb, struct evbuffer *out)
{
    const struct metrics_label build[] = {{"version", LOYALTY_VERSION}};
    struct state_sums s;
    sums_of(v, &s);
    int rc = info(out, "loyalty_build_info", "The daemon's version (value always 1).", build,
                  sizeof(build) / sizeof(build[0]));
    rc |= rulebook_info(out, v);
    rc |= counter(out, "loyalty_entries_applied_total", "Input entries applied.", s.applied);
    rc |= counter(out, "loyalty_entries_rejected_total", "Input entries sent to the DLQ.",
                  s.rejected);
    rc |= counter(out, "loyalty_entries_duplicate_total", "POS retries recognised.",
                  s.duplicate);
    rc |= outputs(m, out);
    rc |= counter(out, "loyalty_batches_total", "Batches committed.", m->batches);
    rc |= counter(out, "loyalty_commit_failures_total", "Commits that failed.",
                  m->commit_failures);
    rc |= counter(out, "loyalty_commits_unreplicated_total",
                  "Commits WAIT found on fewer replicas than daemon.wait_replicas.",
                  m->commits_unreplicated);
    rc |= counter(out, "loyalty_transfers_relayed_total",
                  "Transfers' credits and returns carried to other partitions' inputs (a "
                  "repeat after a failure counts again).", m->transfers_relayed);
    rc |= counter(out, "loyalty_transfer_relay_failures_total",
                  "Transfer relay rounds dropped and retried from their marker.",
                  m->relay_failures);
    rc |= counter(out, "loyalty_redis_connects_total", "Connections made to Redis.",
                  m->reconnects);
    rc |= counter(out, "loyalty_redis_timeouts_total",
                  "Connections dropped because Redis stopped answering.", m->redis_timeouts);
    rc |= counter(out, "loyalty_ticks_appended_total", "Tick entries appended.",
                  m->ticks_appended);
    rc |= counter(out, "loyalty_entries_replayed_total", "Entries re-applied in recovery.",
                  m->replayed);
    rc |= counter(out, "loyalty_txns_evicted_early_total",
                  "Txns forgotten before the window ended (raise max_txns).", s.evicted);
    rc |= counter(out, "loyalty_snapshots_total", "Snapshots written.", m->snapshots);
    rc |= counter(out, "loyalty_snapshot_failures_total",
                  "Snapshots that failed (older ones stay valid).", m->snapshot_failures);
    rc |= counter(out, "loyalty_snapshot_escalations_total",
                  "Low-priority snapshot writers stopped at snapshot_deadline_ms and "
                  "replaced by one at normal priority.", m->snapshot_escalations);
    rc |= gauge_fixed(out, "loyalty_snapshot_last_duration_seconds",
                      "Duration of the last snapshot write.", (int64_t)m->snapshot_last_us, 6);
    rc |= gauge_fixed(out, "loyalty_snapshot_fork_stall_max_seconds",
                      "Longest ingestion stall caused by starting a snapshot (fork).",
                      (int64_t)m->snapshot_fork_us_max, 6);
    rc |= counter(out, "loyalty_input_trims_total", "XTRIMs of the input stream.",
                  __atomic_load_n(&m->trims, __ATOMIC_RELAXED));
    rc |= archive_metrics(m, out);
    rc |= histogram(m, out);
    rc |= gauge(out, "loyalty_members", "Members held in memory.", s.members);
    rc |= gauge(out, "loyalty_txns_remembered", "Txns in the idempotency window.", s.txns);
    rc |= gauge_fixed(out, "loyalty_engine_clock_timestamp_seconds",
                      "The engine clock: the largest event time applied, Unix time.",
                      s.clock_ms, 3);
    rc |= gauge(out, "loyalty_redis_up", "1 while connected to Redis and consuming.",
                v->redis_up);
    rc |= gauge(out, "loyalty_redis_behind", "1 when Redis lost writes already applied.",
                v->redis_behind);
    rc |= populations(v, rb, out);
    rc |= campaigns(v, out);
    return rc;
}
