/* fleet.h - every partition this daemon serves, over one router, on one
 * event loop.
 *
 * The fleet opens each served partition (part.h: its state, snapshots and
 * consumer), shares the router (router.h: one connection per Redis node)
 * and the DLQ ring between them, starts and stops them together, and sums
 * up their condition for /healthz, /metrics and systemd: the daemon is
 * healthy when every partition it serves is consuming. With one partition
 * (the default program) that is exactly the one consumer's condition.
 */
#ifndef LOYALTY_FLEET_H
#define LOYALTY_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dlqring.h"
#include "ingest.h"
#include "metrics.h"
#include "part.h"

struct event_base;
struct fleet;

struct fleet_options {
    bool snapshots;          /* false: no data dir, no snapshots (bench_bare) */
    ingest_apply_fn *apply;  /* NULL: decode and apply the rules */
    const void *apply_arg;
    struct dlqring *dlq;     /* fed with every partition's landed rejections; may be NULL */
};

/* Opens every partition of cfg->serve (loading snapshots) and prepares
 * their consumers; `cfg`, `m` and what `o` points to must outlive it.
 * Does not connect yet. Returns NULL after logging why. */
struct fleet *fleet_new(struct event_base *base, const struct config *cfg, struct metrics *m,
                        const struct fleet_options *o);

/* Frees the fleet (the router first, then the partitions). */
void fleet_free(struct fleet *f);

/* The first claim of each partition in `list` (as daemon.serve; each
 * served) takes it from its former owner (--take-partitions). Call before
 * fleet_start. Returns 0, or -1 when `list` is not such a set. */
int fleet_take(struct fleet *f, const char *list);

/* Starts every partition's consumer. */
void fleet_start(struct fleet *f);

/* Stops every consumer (each commits its batches in hand if Redis answers
 * within `grace_ms`), then closes the connections and calls `done(arg)`
 * once. */
void fleet_stop(struct fleet *f, unsigned grace_ms, void (*done)(void *), void *arg);

/* The served partitions, in ascending order. */
uint32_t fleet_count(const struct fleet *f);
struct part *fleet_part(struct fleet *f, uint32_t i);
const struct part *fleet_part_c(const struct fleet *f, uint32_t i);

/* The partition `p` if this daemon serves it, else NULL. */
const struct part *fleet_find(const struct fleet *f, uint32_t p);

/* The daemon's condition in one word (consumer_status() words): the
 * partitions' common word, or the most urgent of theirs: "stopping" /
 * "stopped", "redis_behind", "fenced", "connecting", "recovering", then
 * "consuming". */
const char *fleet_status(const struct fleet *f);

/* True when every served partition is consuming. */
bool fleet_healthy(const struct fleet *f);

/* The states and condition /metrics shows: states[] must hold
 * fleet_count() pointers. */
void fleet_view(const struct fleet *f, const struct state **states, struct metrics_view *v);

#endif
