/* snapdir.h - the data directory: snapshot files, their order, the lock.
 *
 * Snapshots are named "snap-<ms>-<seq>.lysnap" after the last entry id
 * they contain (zero-padded, so name order is id order). One daemon owns a
 * directory at a time: snapdir_open takes an exclusive flock on
 * "<dir>/LOCK" (released by the kernel if the process dies, so a crash
 * never leaves a stale lock) and writes its pid there for the operator.
 */
#ifndef LOYALTY_SNAPDIR_H
#define LOYALTY_SNAPDIR_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"
#include "snapshot.h"
#include "state.h"

#define SNAPDIR_FILES_MAX 1024 /* snapshot files considered in one listing */
#define SNAPDIR_PATH_MAX (CONFIG_PATH_MAX + 64)

struct snapdir {
    char dir[CONFIG_PATH_MAX + 1];
    int lock_fd;
    uint32_t keep; /* snapshots kept after a new one is written */
};

/* Creates `dir` if missing and locks it. Returns 0, or -1 with a message
 * in err (e.g. another daemon holds the lock: its pid is named). */
int snapdir_open(struct snapdir *sd, const char *dir, uint32_t keep, struct snapshot_error *err);

/* Releases the lock. */
void snapdir_close(struct snapdir *sd);

/* Writes the path of the snapshot for `id` into buf (SNAPDIR_PATH_MAX). */
void snapdir_path(const struct snapdir *sd, struct proto_id id, char *buf, size_t cap);

/* Lists snapshot ids in ascending order into ids[0..cap). Returns the
 * count (at most cap), or -1 when the directory cannot be read. */
int snapdir_list(const struct snapdir *sd, struct proto_id *ids, size_t cap);

/* Loads into `st` (initialised, empty) the newest valid snapshot whose id
 * is not after `not_after`. Invalid ones are logged by name, renamed to
 * "*.corrupt" and skipped. Returns 1 when one was loaded, 0 when none
 * qualifies (`st` is left empty, re-initialised from cfg), -1 when out of
 * memory. */
int snapdir_load(const struct snapdir *sd, const struct config *cfg, struct proto_id not_after,
                 struct state *st);

/* Renames every snapshot after `id` to "*.discarded": after a rebuild from
 * an older snapshot (Redis lost writes), those hold effects Redis no longer
 * has and must never be loaded again. Returns how many were set aside. */
int snapdir_discard_after(const struct snapdir *sd, struct proto_id id);

/* Deletes all but the newest `keep` snapshots and any leftover temporary
 * files. Returns the id of the oldest snapshot kept in *oldest (0-0 when
 * none) and 0, or -1 when the directory cannot be read. */
int snapdir_prune(const struct snapdir *sd, struct proto_id *oldest);

#endif
