/* consumer.h - the Redis side of one served partition: read, apply,
 * commit, recover.
 *
 * The facade over three parts, in the order of use:
 *   router.h    the partition's route to the Redis node of its slot, over
 *               the connection the router shares between the partitions on
 *               that node (link.h: connect, AUTH, reconnect with backoff,
 *               the reply watchdog; the fenced library loaded first);
 *   cursor.h    on every (re)connection, finding where the consumer stands:
 *               the partition's claim, key checks, the progress marker,
 *               reconciling the commits in flight, replaying (state,
 *               marker] with outputs suppressed, detecting a Redis behind
 *               our state;
 *   pipeline.h  then the data path: read from the marker, consume new
 *               entries, each batch ingested and committed as one fenced
 *               call, a few batches in flight; ticks and input trims.
 *   rulesync.h  rulebook texts for rules entries (fetched on the
 *               partition's route before they are applied), the file's
 *               rulebook appended to the partition's input, and its
 *               <prefix>rules:current summary.
 * Their shared state machine is phase.h; only phase_set() moves it. When
 * Redis goes away the consumer reconnects, keeping the state (and the
 * uncommitted batch, if any) in memory.
 */
#ifndef LOYALTY_CONSUMER_H
#define LOYALTY_CONSUMER_H

#include <stdbool.h>

#include "config.h"
#include "cursor.h"
#include "ingest.h"
#include "metrics.h"
#include "pipeline.h"
#include "router.h"
#include "rulesync.h"
#include "state.h"

struct event_base;
struct consumer;

/* Creates a consumer of partition `partition` for `cfg` over router `r`
 * (which, with `cfg`, `st` and `m`, must outlive it) on `base`. Does not
 * connect yet. Returns NULL when out of memory. */
struct consumer *consumer_new(struct event_base *base, const struct config *cfg,
                              struct router *r, uint32_t partition, struct state *st,
                              struct metrics *m);

/* Frees the consumer (after the router: router.h). */
void consumer_free(struct consumer *c);

/* Called after each confirmed commit; `idle` when no batch is in flight,
 * so the state equals what Redis holds (the moment a snapshot may start).
 * Returning true holds reading until it is idle. */
typedef pipeline_committed_fn consumer_committed_fn;

/* Asked to replace the state with the newest snapshot not after
 * `not_after` (Redis lost writes the state holds). Returns 0 when the
 * state was replaced (possibly by an empty one), -1 when it cannot be. */
typedef cursor_reload_fn consumer_reload_fn;

/* Sets the hooks (either may be NULL). */
void consumer_set_hooks(struct consumer *c, consumer_committed_fn *committed,
                        consumer_reload_fn *reload, void *arg);

/* Called with each batch Redis confirmed (commit answered, or found landed
 * on reconnection), before the batch is reset: its outputs and DLQ entries
 * are in Redis (the daemon's DLQ ring, dlqring.h, listens). */
typedef pipeline_landed_fn consumer_landed_fn;

/* Sets the observer of landed batches (may be NULL). */
void consumer_set_landed(struct consumer *c, consumer_landed_fn *landed, void *arg);

/* Replaces decoding and the rules by `apply(arg, ...)` for every entry
 * read or replayed (ingest.h). For benchmark programs (bench/bench_bare.c):
 * the daemon never calls it. Call before consumer_start. */
void consumer_set_apply(struct consumer *c, ingest_apply_fn *apply, const void *arg);

/* Makes rulebook `rb` (the configuration file's, copied) the version in
 * force through the log: once the consumer has caught up with the input
 * stream, a rules entry naming it is appended unless the log already has
 * it in force or scheduled (rulesync.h). `label` names the occasion.
 * Returns 0, or -1 when out of memory. */
int consumer_want_rules(struct consumer *c, const struct rulebook *rb, const char *label);

/* The hash of the rulebook last given to consumer_want_rules ("": none). */
const char *consumer_file_rules(const struct consumer *c);

/* Trims <prefix>in below `min_id` (XTRIM MINID ~) when connected and
 * daemon.trim_input is set; entries at or after it stay. */
void consumer_trim(struct consumer *c, struct proto_id min_id);

/* The first claim of the partition takes it even from another owner,
 * fencing that owner (the hand-over; --take-partitions). Call before
 * consumer_start. */
void consumer_take(struct consumer *c);

/* Starts connecting (and reconnecting for as long as it runs). */
void consumer_start(struct consumer *c);

/* Stops consuming: the batches in hand are committed (if Redis answers
 * within `grace_ms`), the route is released, and then `done(arg)` is
 * called once. */
void consumer_stop(struct consumer *c, unsigned grace_ms, void (*done)(void *), void *arg);

/* A short word for /healthz: "consuming", "connecting", "recovering",
 * "redis_behind", "fenced", "stopping" or "stopped". */
const char *consumer_status(const struct consumer *c);

/* True when every applied entry's effects are committed to Redis (no
 * commit in flight): the state may be snapshotted. */
bool consumer_all_committed(const struct consumer *c);

/* True when the consumer is caught up and consuming new entries. */
bool consumer_healthy(const struct consumer *c);

/* True when Redis is behind this partition's state (phase BEHIND). */
bool consumer_behind(const struct consumer *c);

/* Whether LIVE reads may block: the connection is this partition's alone
 * (the daemon serves one partition). Call before consumer_start. */
void consumer_set_blocking(struct consumer *c, bool blocking);

/* The partition's key prefix, and the node it is served from ("" none). */
const char *consumer_prefix(const struct consumer *c);
const char *consumer_node(const struct consumer *c);

#endif
