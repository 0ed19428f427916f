/* snapdir.h - the data directory: snapshot files, their order, the lock.
 *
 * Snapshots are named "snap-<ms>-<seq>.lysnap" after the last entry id
 * they contain (zero-padded, so name order is id order). One daemon owns a
 * directory at a time: snapdir_open takes an exclusive POSIX record lock on
 * "<dir>/LOCK" (released by the kernel if the process dies, so a crash
 * never leaves a stale lock; not shared with a forked snapshot writer, so
 * a killed daemon frees it at once) and writes its pid there for the
 * operator.
 */
#ifndef LOYALTY_SNAPDIR_H
#define LOYALTY_SNAPDIR_H

#include <stddef.h>
#include <stdint.h>

#include "rulebook.h"
#include "proto.h"
#include "snapshot.h"
#include "state.h"

#define SNAPDIR_FILES_MAX 1024 /* snapshot files considered in one listing */
#define SNAPDIR_DIR_MAX 1024   /* the data directory's path (as CONFIG_PATH_MAX) */
#define SNAPDIR_PATH_MAX SNAPSHOT_PATH_MAX

/* What the directory reports (a loaded snapshot, one set aside, a file
 * that cannot be deleted): the store does no logging of its own, the shell
 * passes its logger. `level`: 0 info, 1 warning, 2 error. */
enum snapdir_level { SNAPDIR_INFO, SNAPDIR_WARN, SNAPDIR_ERROR };
typedef void snapdir_report_fn(enum snapdir_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct snapdir {
    char dir[SNAPDIR_DIR_MAX + 1];
    int lock_fd;
    snapdir_report_fn *report;
    uint32_t keep; /* snapshots kept after a new one is written */
};

/* Creates `dir` if missing and locks it. Returns 0, or -1 with a message
 * in err (e.g. another daemon holds the lock: its pid is named). */
int snapdir_open(struct snapdir *sd, const char *dir, uint32_t keep, snapdir_report_fn *report,
                 struct snapshot_error *err);

/* Releases the lock. */
void snapdir_close(struct snapdir *sd);

/* Writes the path of the snapshot for `id` into buf (SNAPDIR_PATH_MAX). */
void snapdir_path(const struct snapdir *sd, struct proto_id id, char *buf, size_t cap);

/* Lists snapshot ids in ascending order into ids[0..cap): the newest `cap`
 * of them when the directory holds more. Returns the count (at most cap),
 * or -1 when the directory cannot be read. */
int snapdir_list(const struct snapdir *sd, struct proto_id *ids, size_t cap);

/* Loads into `st` (state_init_limits'ed with `rb` and `lim`, empty) the
 * newest usable snapshot whose id is not after `not_after` (snapshot.h;
 * rulebook texts through `codec`). A damaged one is logged by name,
 * renamed to "*.corrupt" and skipped; one written by another build or for
 * another configuration is logged and skipped, and stays as it is.
 * Returns 1 when one was loaded, 0 when none qualifies (`st` is left
 * empty, initialised again), -1 when out of memory. */
int snapdir_load(const struct snapdir *sd, const struct rulebook *rb,
                 const struct rulebook_codec *codec, const struct state_limits *lim,
                 struct proto_id not_after, struct state *st);

/* Renames every snapshot after `id` to "*.discarded": after a rebuild from
 * an older snapshot (Redis lost writes), those hold effects Redis no longer
 * has and must never be loaded again. Returns how many were set aside. */
int snapdir_discard_after(const struct snapdir *sd, struct proto_id id);

/* Deletes all but the newest `keep` snapshots and any leftover temporary
 * files. Returns the id of the oldest snapshot kept in *oldest (0-0 when
 * none) and 0, or -1 when the directory cannot be read. */
int snapdir_prune(const struct snapdir *sd, struct proto_id *oldest);

#endif
