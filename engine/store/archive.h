/* archive.h - appending to the input archive (format: archfmt.h; reading:
 * archread.h).
 *
 * The daemon archives the entries it is about to trim from <prefix>in:
 * archive_append / archive_append_rules add them (in id order, each after
 * the last one archived), archive_commit makes them durable (block
 * written, segment fsynced, HEAD replaced atomically), and only then may
 * the XTRIM go out. A segment is self-contained: it starts with the
 * start-up rulebook's text (ARCH_R_STARTUP) and holds the text of every
 * rulebook its rules entries name, so deleting old segments (retention,
 * archive_prune) never loses a text a kept one needs.
 *
 * One writer per directory (the daemon's data directory is locked by
 * snapdir). Single-threaded: the caller serialises calls. No logging of its
 * own: notes (a cut tail, a removed uncommitted segment) go to `note`.
 */
#ifndef LOYALTY_ARCHIVE_H
#define LOYALTY_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archfmt.h"

struct archive;

typedef void archive_note_fn(void *arg, const char *text);

/* What the archive holds, for metrics. */
struct archive_stats {
    uint64_t bytes;      /* segment bytes on disk (committed and not) */
    uint32_t segments;
    uint64_t appended;   /* entries appended since open */
};

/* Opens (creating) the archive in `dir` for appending. `startup_hash` and
 * `startup_text` (the canonical text of the rulebook the daemon runs with,
 * at most ARCH_TEXT_BYTES_MAX bytes) begin each new segment. Recovers from
 * a crash: segments newer than HEAD's and bytes of HEAD's segment beyond
 * its committed length were never committed, and are removed (told to
 * `note`); HEAD's segment is read and checked. Returns NULL with err when
 * the archive is damaged (naming the file) or cannot be created. */
struct archive *archive_open(const char *dir, const char *startup_hash, const char *startup_text,
                             archive_note_fn *note, void *note_arg, struct arch_error *err);

/* Closes the archive (what was not committed is not durable). */
void archive_close(struct archive *a);

/* The last entry id appended (committed or not); 0-0 when none ever was. */
struct proto_id archive_last(const struct archive *a);

/* Appends entry `id` (after archive_last, asserted) whose `m` field is
 * m[0..len) (`has_m` false: the entry had no `m` field). Returns 0, or -1
 * with err (disk): then close and open again before going on. */
int archive_append(struct archive *a, struct proto_id id, const char *m, size_t len, bool has_m,
                   struct arch_error *err);

/* Appends a rules entry: as archive_append, preceded in the same segment
 * by the text of rulebook `hash` (text[0..text_len); NULL when it was not
 * found: a replay then finds it missing, as the daemon did). */
int archive_append_rules(struct archive *a, struct proto_id id, const char *m, size_t len,
                         const char *hash, const char *text, size_t text_len,
                         struct arch_error *err);

/* Makes everything appended durable: the last block is written, the
 * segment fsynced, HEAD replaced (temporary file, fsync, rename, fsync of
 * the directory). Returns 0, or -1 with err. */
int archive_commit(struct archive *a, struct arch_error *err);

/* Retention: deletes the oldest segments (never HEAD's) whose entries all
 * lie before `now_ms - keep_days` days (keep_days 0: no age limit), and
 * oldest first while the archive is over `keep_bytes` (0: no size limit).
 * Returns the number deleted, or -1 with err. */
int archive_prune(struct archive *a, uint64_t now_ms, uint32_t keep_days, uint64_t keep_bytes,
                  struct arch_error *err);

/* Closes segments once they pass `bytes` instead of ARCH_SEGMENT_BYTES
 * (tests and tools; at least 1). */
void archive_set_segment_bytes(struct archive *a, uint64_t bytes);

/* Sizes, for metrics. */
void archive_get_stats(const struct archive *a, struct archive_stats *s);

#endif
