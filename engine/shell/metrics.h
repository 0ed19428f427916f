/* metrics.h - the daemon's counters, rendered in Prometheus text format.
 *
 * The shell increments these; state-derived figures (members, entries
 * applied) are read from the state at render time so that they cannot
 * drift from it.
 */
#ifndef LOYALTY_METRICS_H
#define LOYALTY_METRICS_H

#include <stdint.h>

#include "proto.h"
#include "state.h"

struct evbuffer;

/* Batch latency buckets, in microseconds (from the batch arriving from
 * Redis to its commit confirmed). */
#define METRICS_LAT_BUCKETS 12

/* Room for an escaped label value: a configured name (RULEBOOK_NAME_MAX)
 * with every byte escaped, or a version or hash string. */
#define METRICS_LABEL_MAX (2 * RULEBOOK_NAME_MAX + 1)

/* One label of loyalty_build_info: a name and its (unescaped) value. */
struct metrics_label {
    const char *name, *value;
};

struct metrics {
    uint64_t outputs[PROTO_OUT_KIND_COUNT]; /* published, by kind */
    uint64_t batches;            /* batches committed */
    uint64_t commit_failures;    /* commits that failed or were refused */
    uint64_t commits_unreplicated; /* WAIT answered with fewer replicas than asked */
    uint64_t transfers_relayed;  /* credits and returns the relay carried (xrelay.h) */
    uint64_t relay_failures;     /* relay rounds dropped, to be retried */
    uint64_t reconnects;         /* connections to Redis made */
    uint64_t redis_timeouts;     /* connections dropped for not answering */
    uint64_t ticks_appended;     /* tick entries this daemon added */
    uint64_t replayed;           /* entries re-applied during recovery */
    uint64_t snapshots;          /* snapshots written */
    uint64_t snapshot_failures;  /* snapshots that failed (old ones stay) */
    uint64_t snapshot_escalations; /* low-priority writers stopped at their deadline */
    uint64_t snapshot_last_us;   /* duration of the last snapshot write */
    uint64_t snapshot_fork_us_max; /* longest ingestion stall (fork) */
    uint64_t trims;              /* XTRIMs of the input stream sent (atomic: the
                                  * archiver's thread sends them when archiving) */
    /* The input archive (archiver.h), written by its thread (atomic). */
    uint64_t archive_entries;    /* entries archived since start */
    uint64_t archive_bytes;      /* segment bytes on disk */
    uint64_t archive_segments;   /* segment files */
    uint64_t archive_failures;   /* archive or trim runs that failed */
    uint64_t lat_counts[METRICS_LAT_BUCKETS + 1]; /* last: +Inf */
    uint64_t lat_sum_us;
};

/* What /metrics shows besides the counters, read at render time: the
 * served partitions' states (their figures are summed: a daemon's members
 * are those of all its partitions) and the consumers' condition. */
struct metrics_view {
    const struct state *const *states;
    uint32_t count;    /* >= 1 */
    int redis_up;      /* 1 while every served partition is consuming */
    int redis_behind;  /* 1 when Redis lost writes a partition applied */
};

/* Members per tier, segment, stage and value class (names in the
 * rulebook's order), summed over the view's states; value classes are
 * ranked within each partition, then summed. */
struct metrics_population {
    int64_t tiers[RULEBOOK_TIERS_MAX];
    int64_t segments[RULEBOOK_SEGMENTS_MAX];
    int64_t stages[RULEBOOK_STAGE_COUNT];
    int64_t classes[RULEBOOK_VALUE_CLASSES_MAX];
};

/* Fills `p` from `v` (named by `rb`). */
void metrics_population(const struct metrics_view *v, const struct rulebook *rb,
                        struct metrics_population *p);

/* Records one committed batch that took `us` microseconds. */
void metrics_batch(struct metrics *m, uint64_t us);

/* Appends the Prometheus text exposition of `m` and `v` (named by `rb`)
 * to `out`. Returns 0, or -1 when the buffer cannot grow. */
int metrics_render(const struct metrics *m, const struct metrics_view *v,
                   const struct rulebook *rb, struct evbuffer *out);

#endif
