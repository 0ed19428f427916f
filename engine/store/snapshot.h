/* snapshot.h - the on-disk image of the whole state.
 *
 * A snapshot is one file: a fixed header, then the body (every member in
 * enrolment order, then every remembered txn oldest first, both as the
 * in-memory records). The header holds a magic, a format version, the
 * record sizes, the body length, an XXH3-64 checksum of the body and one of
 * the header itself, the last entry id applied and the state's counters.
 * Because every record is zeroed before it is filled (padding included)
 * and the order is defined, the same state always gives the same bytes.
 *
 * Writing: to "<path>.tmp", fsync, rename to <path>, fsync the directory,
 * so a crash leaves either the old set of files or the new one, never a
 * half-written snapshot under a final name. Reading validates everything
 * (sizes, checksums, every id, index and count against the rulebook and
 * limits) before the state is used; any failure names the problem.
 */
#ifndef LOYALTY_SNAPSHOT_H
#define LOYALTY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "rulebook.h"
#include "state.h"

/* 2: globals name their rewards; txn records carry qual. 3: members carry
 * pending points and notice state, txn records a digest and what a refund
 * takes back (issue 13). */
#define SNAPSHOT_VERSION 3
#define SNAPSHOT_ERROR_MAX 256
/* A snapshot's path: the data directory (at most 1024 bytes, the config's
 * limit) and a file name of at most 63 bytes with its suffixes. */
#define SNAPSHOT_PATH_MAX (1024 + 64)
/* What snapshot_write writes before it renames: "<path>.tmp". */
#define SNAPSHOT_TMP_SUFFIX ".tmp"

struct snapshot_error {
    char text[SNAPSHOT_ERROR_MAX];
};

/* A fingerprint of the rulebook, stored in snapshots so that a restart
 * under changed rules can be logged (the rules apply from then on). */
uint64_t snapshot_rules_hash(const struct rulebook *rb);

/* Writes the temporary name snapshot_write uses for `path` into
 * buf[0..SNAPSHOT_PATH_MAX + sizeof SNAPSHOT_TMP_SUFFIX). Returns 0, or -1 when
 * `path` is too long. */
int snapshot_tmp_path(const char *path, char *buf, size_t cap);

/* Writes `st` atomically to `path` (see above). Returns 0, or -1 with the
 * reason in err (the previous file at `path`, if any, is untouched). Safe
 * to call in a forked child: no allocation beyond stdio buffers. */
int snapshot_write(const struct state *st, const struct rulebook *rb, const char *path,
                   struct snapshot_error *err);

/* Encodes the snapshot of `st` into memory: `*out` (malloc'd, the caller
 * frees) of `*len` bytes, exactly the bytes snapshot_write would write.
 * Returns 0, or -1 when out of memory. For tests and tools. */
int snapshot_encode(const struct state *st, const struct rulebook *rb, char **out,
                    size_t *len);

/* Loads the snapshot in `buf[0..len)` into `st`, which must be freshly
 * initialised with state_init(rb, members_max) (empty). Returns 0, or -1 with the
 * reason in err; on failure `st` holds partial data and must be freed and
 * initialised again. Never crashes on any input. */
int snapshot_decode(const char *buf, size_t len, const struct rulebook *rb,
                    uint32_t members_max, struct state *st, struct snapshot_error *err);

/* Reads and decodes the file at `path` (see snapshot_decode). */
int snapshot_read(const char *path, const struct rulebook *rb, uint32_t members_max,
                  struct state *st, struct snapshot_error *err);

/* The last entry id recorded in the header of the snapshot at `path`
 * (header checks only, body not read). Returns 0, or -1 with err. */
int snapshot_peek_id(const char *path, struct proto_id *id, struct snapshot_error *err);

#endif
