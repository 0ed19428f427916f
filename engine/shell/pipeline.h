/* pipeline.h - the consumer's data path: read a batch, ingest it, commit it.
 *
 * Reads up to batch_entries_max entries with XREAD from the last id read
 * (after recovery: the progress marker). No consumer group: where the
 * daemon stands is the marker its commits move, so nothing else needs
 * acknowledging, and a former owner that was fenced cannot take entries
 * from anyone. In phase CATCHUP reads do not wait; the first read that
 * finds nothing turns the phase LIVE, where reads wait for new entries
 * (BLOCK) when the connection is this partition's alone, or are repeated
 * after a short pause otherwise (a blocking read would hold up the other
 * partitions sharing the connection).
 *
 * Each batch is ingested (ingest.h: decode and apply, or the apply
 * function a benchmark sets) into one `struct batch` and committed as one
 * fenced call (commit.h) that expects the marker the batch before left.
 * Up to daemon.batches_in_flight commits are in flight, and the read of the
 * next batch is sent before the commit of the one in hand (read ahead):
 * Redis answers it first, so the daemon applies the next batch while Redis
 * runs the commit before it; the marker check keeps the commits' order
 * safe (a commit that does not find its expected marker changes nothing).
 * A batch stays in hand until its commit is confirmed: after a lost
 * connection the cursor (cursor.h) drops those the marker shows landed and
 * sends the others again, in order.
 *
 * While idle (reads find nothing, nothing in flight) the pipeline looks
 * at the marker every block_ms: one that moved under it means Redis lost
 * or rewrote its data, and the connection is dropped so that recovery
 * finds out (cursor.h), rather than waiting for the next commit to be
 * refused.
 *
 * With daemon.wait_replicas, a commit is confirmed only once WAIT says
 * that many replicas have it (or wait_timeout_ms passed: then it is
 * counted, loyalty_commits_unreplicated_total, and logged).
 *
 * After each confirmed commit the owner is told, and may hold reading
 * until no batch is in flight (the state then equals what Redis holds: a
 * snapshot may start).
 *
 * Also the consumer's other writes to <prefix>in: a tick entry stamped with
 * the wall clock every tick_interval_ms (the one place that clock enters
 * the log), and the fenced trim below the oldest snapshot kept.
 */
#ifndef LOYALTY_PIPELINE_H
#define LOYALTY_PIPELINE_H

#include <stdbool.h>

#include "batch.h"
#include "commit.h"
#include "config.h"
#include "ingest.h"
#include "router.h"
#include "metrics.h"
#include "phase.h"
#include "rulesync.h"
#include "state.h"

struct event;
struct event_base;

/* Batches in flight at most (daemon.batches_in_flight). */
#define PIPELINE_DEPTH_MAX CONFIG_BATCHES_IN_FLIGHT_MAX
/* Commits between two trims of <prefix>out and <prefix>dlq (out_maxlen
 * is approximate anyway; a trim per commit costs for nothing). */
#define PIPELINE_TRIM_EVERY 16
/* Pause before reading again after a read found nothing, when reads do
 * not block (several partitions on a connection): doubling from the first
 * to the second, so an idle partition costs a few reads a second and a
 * busy one is read again at once. */
#define PIPELINE_POLL_MIN_MS 1u
#define PIPELINE_POLL_MAX_MS 50u

/* Told after each confirmed commit; `idle`: no batch is in flight (the
 * state equals what Redis holds). Returns true to hold reading until it
 * is idle (a snapshot is due). */
typedef bool pipeline_committed_fn(void *arg, bool idle);

struct batch;

/* Told of each batch Redis confirmed (commit answered, or found landed on
 * reconnection), before the batch is reset: its outputs and DLQ entries
 * are in Redis. */
typedef void pipeline_landed_fn(void *arg, const struct batch *b);

struct pipeline {
    const struct config *cfg;
    struct state *st;
    struct metrics *m;
    struct route *route;
    const struct commit_keys *keys;
    enum consumer_phase *phase;  /* the consumer's; moved by phase_set only */
    struct batch ring[PIPELINE_DEPTH_MAX + 1];
    uint32_t depth;              /* commits that may be in flight */
    uint32_t slots;              /* depth + 1: and the batch read ahead */
    uint32_t head;               /* ring index of the oldest batch in flight */
    uint32_t in_flight;          /* batches applied, commits not yet confirmed */
    uint32_t written;            /* of them, the oldest whose WAIT is awaited */
    bool reading;                /* an XREAD is queued */
    bool hold;                   /* reading paused until nothing is in flight */
    bool blocking;               /* LIVE reads wait for new entries (BLOCK) */
    unsigned poll_ms;            /* the next pause of a non-blocking LIVE read */
    uint64_t checked_us;         /* when the marker was last looked at, idle */
    struct proto_id read_from;   /* the last id read: reads start after it */
    struct proto_id committed;   /* last marker Redis confirmed to us */
    char epoch[24];              /* the owner epoch our commits carry */
    uint64_t commits;            /* commits formatted, for PIPELINE_TRIM_EVERY */
    struct outbox scratch;       /* outputs of the entry being applied */
    ingest_apply_fn *apply;
    const void *apply_arg;
    struct rulesync *rs;         /* rulebook texts (set before the first read) */
    bool paused;                 /* reading waits for a rulebook text (rulesync.h) */
    char count_arg[16];
    char block_arg[16];
    struct event *tick_timer;
    struct event *poll_timer;
    pipeline_committed_fn *on_committed;
    void *hook_arg;
    pipeline_landed_fn *landed; /* sees each batch Redis confirmed, before its reset */
    void *landed_arg;
    char wait_args[2][16];       /* WAIT numreplicas timeout */
    struct link_cmd read, commit, wait, tick, trim, check;
};

/* Prepares `pl` for a partition (its keys `keys`, its route `route`;
 * decoding and the rules: pipeline_set_rulesync before the first read); everything given must
 * outlive it. The state's last id counts as committed. Returns 0, or -1
 * when out of memory (pipeline_free cleans up). */
int pipeline_init(struct pipeline *pl, struct event_base *base, const struct config *cfg,
                  struct state *st, struct metrics *m, struct route *route,
                  const struct commit_keys *keys, enum consumer_phase *phase);

/* Frees the batches and the timers. */
void pipeline_free(struct pipeline *pl);

/* Resolves rules entries' texts through `rs` (which must outlive `pl`). */
void pipeline_set_rulesync(struct pipeline *pl, struct rulesync *rs);

/* Replaces decoding and the rules by `apply(arg, ...)` (benchmarks). */
void pipeline_set_apply(struct pipeline *pl, ingest_apply_fn *apply, const void *arg);

/* Sets the observer of landed batches (NULL: none). */
void pipeline_set_landed(struct pipeline *pl, pipeline_landed_fn *fn, void *arg);

/* Sets the hook told after each confirmed commit (NULL: none). */
void pipeline_set_committed_hook(struct pipeline *pl, pipeline_committed_fn *fn, void *arg);

/* Whether LIVE reads block (the connection is this partition's alone). */
void pipeline_set_blocking(struct pipeline *pl, bool blocking);

/* Starts and stops the tick timer (no timer when tick_interval_ms is 0). */
void pipeline_start_ticks(struct pipeline *pl);
void pipeline_stop_ticks(struct pipeline *pl);

/* The owner epoch (decimal) the commits carry, from the claim. */
void pipeline_set_epoch(struct pipeline *pl, const char *epoch);

/* Recovery is over and nothing is in flight: the marker is `marker` (the
 * state's last id); reads start after it (phase CATCHUP). */
void pipeline_start(struct pipeline *pl, struct proto_id marker);

/* Sends the commits of every batch in flight again, in order (phase
 * RESEND); reading resumes once all are confirmed. */
void pipeline_resend(struct pipeline *pl);

/* The marker Redis holds is `marker`: the batches in flight it covers
 * have landed and are settled. Returns how many are still in flight. */
uint32_t pipeline_reconcile(struct pipeline *pl, struct proto_id marker);

/* Applies `entries` (an XRANGE reply) from index `from` on with outputs
 * discarded: a recovery replay of entries whose outputs were published.
 * Returns 0 (all applied), -1 (malformed reply, or a fetch that cannot be
 * queued), or INGEST_NEED_TEXT: a rules entry's text is being fetched and
 * resume(arg, entries, pos) goes on from it (rulesync.h). */
int pipeline_replay(struct pipeline *pl, const redisReply *entries, size_t from,
                    struct ingest_stats *stats, rulesync_resume_fn *resume, void *arg);

/* Batches whose commits are unconfirmed (0: the state equals Redis's). */
uint32_t pipeline_in_flight(const struct pipeline *pl);

/* Forgets the batches in hand (the state is being rebuilt: their entries,
 * if Redis still has them, are read again). */
void pipeline_discard(struct pipeline *pl);

/* The last marker Redis confirmed, and setting it after recovery decided
 * what Redis holds. */
struct proto_id pipeline_committed(const struct pipeline *pl);
void pipeline_set_committed(struct pipeline *pl, struct proto_id id);

/* Trims <prefix>in below `min_id` (the fenced trim) when connected,
 * consuming, not stopping and daemon.trim_input is set; entries at or
 * after it stay. */
void pipeline_trim(struct pipeline *pl, struct proto_id min_id);

#endif
