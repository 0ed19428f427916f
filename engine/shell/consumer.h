/* consumer.h - the Redis side of the daemon: read, apply, commit, recover.
 *
 * One hiredis async connection on the daemon's libevent loop carries
 * everything, in order. On every (re)connection the consumer:
 *   1. creates the consumer group on <prefix>in (MKSTREAM) if missing and
 *      checks that its keys have the right types;
 *   2. reads the progress marker and reconciles: a batch whose commit was
 *      in flight is dropped if the marker shows it landed, or sent again;
 *      entries between the state's last id and the marker are replayed
 *      with outputs suppressed (they were published); a marker behind the
 *      state means Redis lost writes, and consuming stops (see /healthz);
 *   3. re-reads its pending entries (XREADGROUP ... 0), then
 *   4. consumes new ones (XREADGROUP ... > with BLOCK), committing each
 *      batch (commit.h) and pipelining the next read behind the commit.
 * When Redis goes away it reconnects with exponential backoff, keeping the
 * state (and the uncommitted batch, if any) in memory.
 */
#ifndef LOYALTY_CONSUMER_H
#define LOYALTY_CONSUMER_H

#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "state.h"

struct event_base;
struct consumer;

/* Creates a consumer for `cfg` (which, with `st` and `m`, must outlive it)
 * on `base`. Does not connect yet. Returns NULL when out of memory. */
struct consumer *consumer_new(struct event_base *base, const struct config *cfg,
                              struct state *st, struct metrics *m);

/* Frees the consumer, dropping its connection if any. */
void consumer_free(struct consumer *c);

/* Called after each confirmed commit, when the state equals what Redis
 * holds (the moment a snapshot may start). */
typedef void consumer_committed_fn(void *arg);

/* Asked to replace the state with the newest snapshot not after
 * `not_after` (Redis lost writes the state holds). Returns 0 when the
 * state was replaced (possibly by an empty one), -1 when it cannot be. */
typedef int consumer_reload_fn(void *arg, struct proto_id not_after);

/* Sets the hooks (either may be NULL). */
void consumer_set_hooks(struct consumer *c, consumer_committed_fn *committed,
                        consumer_reload_fn *reload, void *arg);

struct batch;

/* Called with each batch Redis confirmed (commit answered, or found landed
 * on reconnection), before the batch is reset: its outputs and DLQ entries
 * are in Redis. */
typedef void consumer_landed_fn(void *arg, const struct batch *b);

/* Sets the observer of landed batches (may be NULL). */
void consumer_set_landed(struct consumer *c, consumer_landed_fn *landed, void *arg);

/* Trims <prefix>in below `min_id` (XTRIM MINID ~) when connected and
 * daemon.trim_input is set; entries at or after it stay. */
void consumer_trim(struct consumer *c, struct proto_id min_id);

/* Starts connecting (and reconnecting for as long as it runs). */
void consumer_start(struct consumer *c);

/* Stops consuming: the batch in hand is committed (if Redis answers within
 * `grace_ms`), the connection is closed, and then `done(arg)` is called
 * once from the event loop. */
void consumer_stop(struct consumer *c, unsigned grace_ms, void (*done)(void *), void *arg);

/* A short word for /healthz: "consuming", "connecting", "recovering",
 * "redis_behind", "stopping" or "stopped". */
const char *consumer_status(const struct consumer *c);

/* True when every applied entry's effects are committed to Redis (no
 * commit in flight): the state may be snapshotted. */
bool consumer_all_committed(const struct consumer *c);

/* True when the consumer is caught up and consuming new entries. */
bool consumer_healthy(const struct consumer *c);

#endif
