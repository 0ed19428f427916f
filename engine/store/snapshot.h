/* snapshot.h - the state on disk: a file of a format of its own.
 *
 * Format 5 (this build writes it): a fixed header of SNAPSHOT_HEADER_SIZE
 * bytes, then the body (snaprec.h): the rulebook versions with the
 * canonical texts of the one in force and the scheduled one, the globals,
 * every member in enrolment order with its expiry lots, every remembered
 * txn oldest first. Every field is written explicitly, little-endian, so a
 * change of a C struct's layout or of the machine does not change what a
 * snapshot means; the same state always gives the same bytes.
 *
 * Header (little-endian, at fixed offsets): magic "LYSNAP\0\1" (8 bytes),
 * u32 format version, u32 header size (the first 16 bytes stay so in every
 * version), u64 body length, u64 XXH3-64 of the body, u64 ms and seq of
 * the last entry applied, i64 engine clock, u64 entries applied,
 * rejected, duplicate, txns evicted early, u32 members, u32 txns, u32
 * expiry lots per member of the writer, u32 zero, u64 XXH3-64 of the
 * header's bytes before it.
 *
 * Loading reads format 5, format 4 and format 2 (snapv2.h), and
 * tells apart what it cannot use:
 *   FOREIGN  written by another build or for another configuration: an
 *            unknown (newer) format version, format 2 of another byte order
 *            or under another rulebook, more members, txns or expiry months
 *            than this daemon's limits, a rulebook text this build cannot
 *            parse. Skipped with a log line, never renamed, never deleted
 *            by the loader;
 *   DAMAGED  a checksum, a length or a record that does not hold: set
 *            aside as "*.corrupt" by snapdir.
 * Every check runs before the state is used; each failure names the
 * problem.
 *
 * Writing: to "<path>.tmp", fsync, rename to <path>, fsync the directory,
 * so a crash leaves either the old set of files or the new one, never a
 * half-written snapshot under a final name.
 */
#ifndef LOYALTY_SNAPSHOT_H
#define LOYALTY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "rulebook.h"
#include "snaprec.h"
#include "state.h"
#include "versions.h"

/* 5: format 4 with each txn record keyed by its XXH3-128 digest instead
 * of its id (txns.h). 4: explicit little-endian fields, rulebook versions
 * with their texts, and everything issues 13 and 14 added to members,
 * txns and globals; still read (SNAPSHOT_VERSION_V4: same header). (3 was
 * a memory image of issue 13's records: never read here, as written by
 * another build.) */
#define SNAPSHOT_VERSION 5
#define SNAPSHOT_VERSION_V4 4
#define SNAPSHOT_VERSION_PREV 2 /* still read: the memory image of the builds before */
#define SNAPSHOT_HEADER_SIZE 112
/* A snapshot's path: the data directory (at most 1024 bytes, the config's
 * limit) and a file name of at most 63 bytes with its suffixes. */
#define SNAPSHOT_PATH_MAX (1024 + 64)
/* What snapshot_write writes before it renames: "<path>.tmp". */
#define SNAPSHOT_TMP_SUFFIX ".tmp"

/* Writes the temporary name snapshot_write uses for `path` into
 * buf[0..SNAPSHOT_PATH_MAX + sizeof SNAPSHOT_TMP_SUFFIX). Returns 0, or -1 when
 * `path` is too long. */
int snapshot_tmp_path(const char *path, char *buf, size_t cap);

/* Writes `st` atomically to `path` (see above), its rulebooks as texts made
 * by `codec`. Returns 0, or -1 with the reason in err (the previous file
 * at `path`, if any, is untouched). Safe in a forked child of the
 * single-threaded daemon: it writes through a fixed buffer, and allocates
 * only the rulebook texts. */
int snapshot_write(const struct state *st, const struct rulebook_codec *codec, const char *path,
                   struct snapshot_error *err);

/* Encodes the snapshot of `st` into memory: `*out` (malloc'd, the caller
 * frees) of `*len` bytes, exactly the bytes snapshot_write would write.
 * Returns 0, or -1 when out of memory. For tests and tools. */
int snapshot_encode(const struct state *st, const struct rulebook_codec *codec, char **out,
                    size_t *len);

/* Loads the snapshot in `buf[0..len)` into `st`, which must be freshly
 * initialised (state_init_limits: its limits are the daemon's) with `rb`
 * in force: the rulebook a format-2 snapshot is taken to be written under
 * (format 4 carries its own, parsed by `codec`). Returns SNAPSHOT_OK, or
 * FOREIGN / DAMAGED with the reason in err; then `st` holds partial data
 * and must be freed and initialised again. Never crashes on any input. */
enum snapshot_status snapshot_decode(const char *buf, size_t len, const struct rulebook *rb,
                                     const struct rulebook_codec *codec, struct state *st,
                                     struct snapshot_error *err);

/* Reads and decodes the file at `path` (see snapshot_decode; a file that
 * cannot be read is DAMAGED). */
enum snapshot_status snapshot_read(const char *path, const struct rulebook *rb,
                                   const struct rulebook_codec *codec, struct state *st,
                                   struct snapshot_error *err);

/* The last entry id recorded in the header of the snapshot at `path`
 * (header checks only, body not read). Returns 0, or -1 with err. */
int snapshot_peek_id(const char *path, struct proto_id *id, struct snapshot_error *err);

#endif
