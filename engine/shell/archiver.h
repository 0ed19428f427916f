/* archiver.h - archive the input before it is trimmed, then trim it.
 *
 * Replaces the plain XTRIM of <prefix>in (pipeline_trim) when
 * daemon.archive is set. On a worker thread with its own blocking Redis
 * connection, so that neither the disk (compression, fsync) nor the
 * XRANGEs stall the event loop:
 *   1. XRANGE the entries after the last one archived and before `min_id`
 *      (in chunks of ARCHIVER_CHUNK), appending each to the archive
 *      (archive.h); a rules entry's rulebook text goes with it (the
 *      configured rulebook's canonical text when it is the one named,
 *      else the value of <prefix>rules:<hash>, if any);
 *   2. commit the archive (written, fsynced, HEAD replaced);
 *   3. only then XTRIM <prefix>in MINID ~ min_id;
 *   4. retention (daemon.archive_keep_days, archive_keep_bytes).
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

/* Opens <cfg->data_dir>/archive (the data directory must be locked by
 * this process) and starts the worker. `m` gets the archive's counters
 * (updated atomically from the worker). Returns NULL when out of memory or
 * the thread cannot start; a damaged archive is logged and the archiver
 * still made (it then never trims). */
struct archiver *archiver_new(const struct config *cfg, struct metrics *m);

/* Asks for everything before `min_id` to be archived and trimmed (a newer
 * request replaces one not yet started). Never blocks on I/O. */
void archiver_trim(struct archiver *a, struct proto_id min_id);

/* Stops the worker (a run in progress stops between chunks, without
 * trimming) and frees everything. */
void archiver_free(struct archiver *a);

#endif
