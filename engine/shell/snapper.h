/* snapper.h - taking snapshots without stalling ingestion.
 *
 * Like Redis's BGSAVE: fork(), and the child writes the state it sees
 * (copy-on-write) to a snapshot file while the parent goes on applying
 * entries. The only stall is fork() itself (copying page tables), which is
 * measured and exported. A snapshot is started only when the state equals
 * what Redis has committed (the consumer calls snapper_maybe right after a
 * commit is confirmed), so a snapshot never holds effects whose outputs are
 * unpublished. When a child finishes, old snapshots are pruned and
 * `on_written` is told the oldest id still kept (the consumer trims the
 * input stream below it).
 *
 * The writer runs at snapshot_priority (low by default: it yields the CPU
 * and the disk to ingestion). One at low or idle priority still running
 * after snapshot_deadline_ms is stopped, and the next writer runs at normal
 * priority: on a saturated machine a snapshot lands within the deadline
 * plus one write at normal priority, instead of never.
 */
#ifndef LOYALTY_SNAPPER_H
#define LOYALTY_SNAPPER_H

#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "snapdir.h"
#include "state.h"

struct event_base;
struct snapper;

typedef void snapper_written_fn(void *arg, struct proto_id oldest_kept);

/* Shared by the snappers of one daemon's partitions: one writer at a time.
 * Every fork copies the page tables of the whole process (all partitions),
 * and each child's copy-on-write pages add up, so partitions due together
 * take turns instead of forking all at once. */
struct snapper_gate {
    unsigned writing; /* children running, 0 or 1 */
    /* Told, from the event loop, when a writer finished and the gate is
     * free again: a partition that was due while it waited, and is idle
     * now (no commit will come to start it), may go. NULL: nobody. */
    void (*free_again)(void *arg);
    void *arg;
};

/* Creates a snapper for `st` in `sd`, taking turns through `gate` (all
 * must outlive it). Returns NULL when out of memory. */
struct snapper *snapper_new(struct event_base *base, const struct config *cfg,
                            const struct state *st, const struct snapdir *sd,
                            struct metrics *m, struct snapper_gate *gate,
                            snapper_written_fn *on_written, void *arg);

/* Frees the snapper; a child still writing is waited for. */
void snapper_free(struct snapper *s);

/* True when a snapshot is due (snapshot_every_entries entries or
 * snapshot_every_ms since the last) and no snapshot of the daemon (of any
 * partition: the gate) is running. */
bool snapper_due(const struct snapper *s);

/* Starts a background snapshot when one is due (snapper_due). Call only
 * when the state equals what Redis has committed. */
void snapper_maybe(struct snapper *s);

/* The state was replaced by a rebuild: kills a writer still running (it
 * holds the old state, which Redis no longer matches) and forgets the entry
 * count of the last snapshot; the next one comes at the usual interval. */
void snapper_reset(struct snapper *s);

/* Writes a snapshot now, in this process, for shutdown: a child still
 * writing one is killed and its temp file removed (it runs at low priority,
 * so waiting for it could take long; this one supersedes it). Returns 0,
 * or -1 after logging why. */
int snapper_write_now(struct snapper *s);

#endif
