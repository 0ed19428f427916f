/* archiver.h - archive the input before it is trimmed, then trim it.
 *
 * One per served partition: it stands before the fenced trim of the
 * partition's <prefix>in (pipeline_trim) when daemon.archive is set. On a
 * worker thread with its own blocking Redis connection (following MOVED
 * on a Redis Cluster), so that neither the disk (compression, fsync) nor
 * the XRANGEs stall the event loop:
 *   1. XRANGE the entries after the last one archived and before `min_id`
 *      (in chunks of ARCHIVER_CHUNK), appending each to the archive
 *      (archive.h); a rules entry's rulebook text goes with it (the
 *      configured rulebook's canonical text when it is the one named,
 *      else the value of <daemon prefix>rules:<hash>, if any);
 *   2. commit the archive (written, fsynced, HEAD replaced);
 *   3. retention (daemon.archive_keep_days, archive_keep_bytes);
 *   4. only then hand `min_id` back to the event loop (a pipe), where the
 *      `archived` callback sends the fenced trim.
 * A failure (Redis, disk) is logged and counted; nothing is trimmed then,
 * and the next snapshot's request tries again. A damaged archive (found at
 * start-up or later) is never appended to, so the input is not trimmed
 * until the operator repairs it (the log names the file).
 */
#ifndef LOYALTY_ARCHIVER_H
#define LOYALTY_ARCHIVER_H

#include "config.h"
#include "metrics.h"
#include "proto.h"

/* Entries per XRANGE: a few MB of reply at most. */
#define ARCHIVER_CHUNK 2000

struct archiver;
struct event_base;

/* Called on the event loop once everything before `min_id` is archived:
 * the trim may be sent now. */
typedef void archiver_done_fn(void *arg, struct proto_id min_id);

/* Opens `dir` (the partition's data directory + "/archive"; the data
 * directory must be locked by this process) for the stream <prefix>in and
 * starts the worker; `done(arg, min_id)` runs on `base`'s loop after each
 * archived request. `m` gets the archive's counters (the worker adds its
 * changes atomically, so partitions sum). Returns NULL when out of memory
 * or the thread cannot start; a damaged archive is logged and the archiver
 * still made (it then never trims). */
struct archiver *archiver_new(const struct config *cfg, struct metrics *m, const char *dir,
                              const char *prefix, struct event_base *base,
                              archiver_done_fn *done, void *arg);

/* Asks for everything before `min_id` to be archived and trimmed (a newer
 * request replaces one not yet started). Never blocks on I/O. */
void archiver_trim(struct archiver *a, struct proto_id min_id);

/* Stops the worker (a run in progress stops between chunks, without
 * trimming) and frees everything. */
void archiver_free(struct archiver *a);

#endif
