/* xrelay.h - the relay that carries transfers' credits and returns from the
 * partition that committed them to the partition they are for (README,
 * Transfers; engine/core/xfer.h).
 *
 * A batch's relay entries are committed with it, in the same fenced call,
 * to the committing partition's <prefix>{p}:xfer stream (fields m: the
 * input entry, p: the partition it is for). The relay reads that stream
 * from <prefix>{p}:xfer:relayed (the id of the last entry it carried,
 * kept in Redis so that a restart, or another daemon taking the
 * partition, resumes there), XADDs each entry's m to <prefix>{q}:in on q's
 * node (cluster routing, router.h; with daemon.wait_replicas, each append
 * is followed by WAIT as a commit is), and once every append is confirmed,
 * SETs the marker to the last id carried and trims the stream below it.
 * A crash between the appends and the SET repeats them at the next round:
 * the receiving partition recognises a repeat by the txn (xfer.h), within
 * its idempotency window.
 *
 * Rounds: one at a time for the whole daemon, over the partitions it
 * serves, at most XRELAY_BATCH entries each. A partition is due when its
 * commit confirmed relay entries (xrelay_kick), when its route comes up
 * (a start or a reconnection: resume from the marker), and again after a
 * full round. A round that fails (an error reply, a route that goes down
 * or is not up) is dropped once its replies are in and retried from the
 * marker after XRELAY_RETRY_MS: nothing is lost, since the marker moves
 * only after the appends are confirmed.
 *
 * With one partition there is nothing to relay: xrelay_new returns NULL.
 */
#ifndef LOYALTY_XRELAY_H
#define LOYALTY_XRELAY_H

#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "router.h"

struct event_base;
struct xrelay;

/* Entries one round carries: a few round trips' worth, small enough that
 * a round never holds a connection long. */
#define XRELAY_BATCH 128
/* The pause before a failed round is tried again from the marker. */
#define XRELAY_RETRY_MS 200u
/* A failure repeating within this long logs at debug level: a partition
 * unreachable for a minute writes a warning every 5 s, not 300. */
#define XRELAY_QUIET_MS 5000u

/* Creates the relay of cfg's served partitions over `r`, counting in `m`
 * (all must outlive it), with a route to each of the program's
 * partitions. NULL with one partition (nothing to relay); `*err` is set
 * when out of memory. */
struct xrelay *xrelay_new(struct event_base *base, const struct config *cfg, struct router *r,
                          struct metrics *m, int *err);

/* Frees the relay (after router_free, as the routes' owners are). */
void xrelay_free(struct xrelay *x);

/* Starts the routes; each served partition resumes from its marker. */
void xrelay_start(struct xrelay *x);

/* Stops relaying: the routes are released, replies still due are
 * ignored; what was not noted is carried again at the next start. */
void xrelay_stop(struct xrelay *x);

/* Served partition `p` committed relay entries: carry them. */
void xrelay_kick(struct xrelay *x, uint32_t p);

#endif
