/* pipeline.h - the consumer's data path: read a batch, ingest it, commit it.
 *
 * Reads up to batch_entries_max entries with XREADGROUP: the entries
 * delivered before but not acknowledged (id 0) in phase PENDING, until a
 * read finds none and the phase turns LIVE; then new ones (id > with
 * BLOCK). Each batch is ingested (ingest.h: decode and apply, or the apply
 * function a benchmark sets) into one `struct batch`, committed as one
 * MULTI/EXEC (commit.h), and once live the next read is pipelined behind
 * the commit (Redis runs it after EXEC). A batch stays in hand until its
 * commit is confirmed: after a lost connection the cursor (cursor.h) drops
 * it if the marker shows it landed, or sends it again. After each
 * confirmed commit the owner is told (the state equals what Redis holds: a
 * snapshot may start).
 *
 * Also the consumer's other writes to <prefix>in: a tick entry stamped with
 * the wall clock every tick_interval_ms (the one place that clock enters
 * the log), and XTRIM below the oldest snapshot kept.
 */
#ifndef LOYALTY_PIPELINE_H
#define LOYALTY_PIPELINE_H

#include <stdbool.h>

#include "batch.h"
#include "commit.h"
#include "config.h"
#include "ingest.h"
#include "link.h"
#include "metrics.h"
#include "phase.h"
#include "state.h"

struct event;
struct event_base;

/* Told after each confirmed commit. */
typedef void pipeline_committed_fn(void *arg);

struct batch;

/* Told of each batch Redis confirmed (commit answered, or found landed on
 * reconnection), before the batch is reset: its outputs and DLQ entries
 * are in Redis. */
typedef void pipeline_landed_fn(void *arg, const struct batch *b);

struct pipeline {
    const struct config *cfg;
    struct state *st;
    struct metrics *m;
    struct link *link;
    const struct commit_keys *keys;
    enum consumer_phase *phase;  /* the consumer's; moved by phase_set only */
    struct batch batch;
    struct outbox scratch; /* outputs of the entry being applied */
    bool in_flight;              /* batch applied, commit not yet confirmed */
    struct proto_id committed;   /* last marker Redis confirmed to us */
    ingest_apply_fn *apply;
    const void *apply_arg;
    struct ingest_rules rules; /* the daemon's apply_arg */
    char count_arg[16];
    char block_arg[16];
    struct event *tick_timer;
    pipeline_committed_fn *on_committed;
    void *hook_arg;
    pipeline_landed_fn *landed; /* sees each batch Redis confirmed, before its reset */
    void *landed_arg;
    struct link_cmd read, commit, tick, trim;
};

/* Prepares `pl` for partition `partition` (decoding and the rules of
 * cfg->rules); everything given must outlive it. The state's last id
 * counts as committed. Returns 0, or -1 when out of memory (pipeline_free
 * cleans up). */
int pipeline_init(struct pipeline *pl, struct event_base *base, const struct config *cfg,
                  uint32_t partition, struct state *st, struct metrics *m, struct link *link,
                  const struct commit_keys *keys, enum consumer_phase *phase);

/* Frees the batch and the tick timer. */
void pipeline_free(struct pipeline *pl);

/* Replaces decoding and the rules by `apply(arg, ...)` (benchmarks). */
void pipeline_set_apply(struct pipeline *pl, ingest_apply_fn *apply, const void *arg);

/* Sets the observer of landed batches (NULL: none). */
void pipeline_set_landed(struct pipeline *pl, pipeline_landed_fn *fn, void *arg);

/* Sets the hook told after each confirmed commit (NULL: none). */
void pipeline_set_committed_hook(struct pipeline *pl, pipeline_committed_fn *fn, void *arg);

/* Starts and stops the tick timer (no timer when tick_interval_ms is 0). */
void pipeline_start_ticks(struct pipeline *pl);
void pipeline_stop_ticks(struct pipeline *pl);

/* Queues the next XREADGROUP: pending entries unless LIVE. Needs a
 * connection (a failure to queue drops it). */
void pipeline_read(struct pipeline *pl);

/* Commits the batch in hand (again: phase RESEND). */
void pipeline_commit(struct pipeline *pl);

/* Applies `entries` (an XRANGE reply) with outputs discarded: a recovery
 * replay of entries whose outputs were published. Same result as
 * ingest_entries. */
int pipeline_replay(struct pipeline *pl, const redisReply *entries, struct ingest_stats *stats);

/* True while a commit is unconfirmed (the batch is in hand). */
bool pipeline_in_flight(const struct pipeline *pl);

/* The last id of the batch in hand. */
struct proto_id pipeline_batch_last(const struct pipeline *pl);

/* The commit in flight landed (the marker says so): the batch is done. */
void pipeline_landed(struct pipeline *pl);

/* Forgets the batch in hand (the state is being rebuilt: its entries, if
 * Redis still has them, are pending again). */
void pipeline_discard(struct pipeline *pl);

/* The last marker Redis confirmed, and setting it after recovery decided
 * what Redis holds. */
struct proto_id pipeline_committed(const struct pipeline *pl);
void pipeline_set_committed(struct pipeline *pl, struct proto_id id);

/* Trims <prefix>in below `min_id` (XTRIM MINID ~) when connected, not
 * stopping and daemon.trim_input is set; entries at or after it stay. */
void pipeline_trim(struct pipeline *pl, struct proto_id min_id);

#endif
