/* cursor.h - where the consumer stands in the input stream, found again
 * after every (re)connection.
 *
 * On each new connection (phase SETUP) the cursor:
 *   1. claims the partition (fenced.h): the owner epoch our commits will
 *      carry; when another instance owns it the partition is FENCED (not
 *      served: logged, /healthz says so), unless this start was asked to
 *      take it (--take-partitions), which fences the former owner instead;
 *   2. checks that <prefix>out and <prefix>dlq are streams (or absent);
 *   3. reads the progress marker <prefix>progress and reconciles: batches
 *      whose commits were in flight are dropped if the marker shows they
 *      landed, or sent again (RESEND); a marker behind the state means
 *      Redis lost writes: the state is rebuilt from a snapshot not after
 *      the marker (the owner's reload hook), or, when none can be,
 *      consuming stops (BEHIND, /healthz says redis_behind);
 *   4. replays the entries between the state's last id and the marker with
 *      outputs suppressed (REPLAY: they were published), after checking
 *      with XINFO STREAM that none of them was trimmed or deleted;
 *   5. hands over to the pipeline (CATCHUP): it reads on from the marker.
 */
#ifndef LOYALTY_CURSOR_H
#define LOYALTY_CURSOR_H

#include <stdbool.h>

#include "commit.h"
#include "config.h"
#include "router.h"
#include "metrics.h"
#include "phase.h"
#include "pipeline.h"
#include "state.h"

/* Asked to replace the state with the newest snapshot not after
 * `not_after` (Redis lost writes the state holds). Returns 0 when the
 * state was replaced (possibly by an empty one), -1 when it cannot be. */
typedef int cursor_reload_fn(void *arg, struct proto_id not_after);

struct cursor {
    const struct config *cfg;
    struct state *st;
    struct metrics *m;
    struct route *route;
    struct pipeline *pl;
    const struct commit_keys *keys;
    enum consumer_phase *phase; /* the consumer's; moved by phase_set only */
    struct proto_id target;     /* the marker read at set-up */
    bool marker_missing;        /* Redis had no progress marker at set-up */
    bool take;                  /* the next claim takes the partition (once) */
    char count_arg[16];
    cursor_reload_fn *reload;
    void *reload_arg;
    struct link_cmd claim, type, marker, history, replay;
};

/* Prepares `cur`; everything given must outlive it. */
void cursor_init(struct cursor *cur, const struct config *cfg, struct state *st,
                 struct metrics *m, struct route *route, struct pipeline *pl,
                 const struct commit_keys *keys, enum consumer_phase *phase);

/* Sets the hook asked to rebuild the state (NULL: it cannot be rebuilt,
 * and a marker behind the state stops consuming). */
void cursor_set_reload(struct cursor *cur, cursor_reload_fn *reload, void *arg);

/* The next claim takes the partition even from another owner (the
 * hand-over, README "Scaling out"); later claims of this run do not. */
void cursor_set_take(struct cursor *cur);

/* A connection came up (phase SETUP): queues the claim; recovery goes on
 * from its reply. */
void cursor_begin(struct cursor *cur);

#endif
