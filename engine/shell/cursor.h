/* cursor.h - where the consumer stands in the input stream, found again
 * after every (re)connection.
 *
 * On each new connection (phase SETUP) the cursor:
 *   1. creates the consumer group on <prefix>in (MKSTREAM) if missing and
 *      checks that <prefix>out and <prefix>dlq are streams (or absent);
 *   2. reads the progress marker <prefix>progress and reconciles: a batch
 *      whose commit was in flight is dropped if the marker shows it landed,
 *      or sent again (RESEND); a marker behind the state means Redis lost
 *      writes: the state is rebuilt from a snapshot not after the marker
 *      (the owner's reload hook), or, when none can be, consuming stops
 *      (BEHIND, /healthz says redis_behind);
 *   3. replays the entries between the state's last id and the marker with
 *      outputs suppressed (REPLAY: they were published), after checking
 *      with XINFO STREAM that none of them was trimmed or deleted;
 *   4. hands over to the pipeline (PENDING): it re-reads the entries
 *      delivered before but not acknowledged, then consumes new ones.
 */
#ifndef LOYALTY_CURSOR_H
#define LOYALTY_CURSOR_H

#include <stdbool.h>

#include "commit.h"
#include "config.h"
#include "link.h"
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
    struct link *link;
    struct pipeline *pl;
    const struct commit_keys *keys;
    enum consumer_phase *phase; /* the consumer's; moved by phase_set only */
    struct proto_id target;     /* the marker read at set-up */
    bool marker_missing;        /* Redis had no progress marker at set-up */
    char count_arg[16];
    cursor_reload_fn *reload;
    void *reload_arg;
    struct link_cmd group, type, marker, history, replay;
};

/* Prepares `cur`; everything given must outlive it. */
void cursor_init(struct cursor *cur, const struct config *cfg, struct state *st,
                 struct metrics *m, struct link *link, struct pipeline *pl,
                 const struct commit_keys *keys, enum consumer_phase *phase);

/* Sets the hook asked to rebuild the state (NULL: it cannot be rebuilt,
 * and a marker behind the state stops consuming). */
void cursor_set_reload(struct cursor *cur, cursor_reload_fn *reload, void *arg);

/* A connection came up (phase SETUP): queues the set-up commands; recovery
 * goes on from their replies. */
void cursor_begin(struct cursor *cur);

#endif
