/* archread.h - reading and verifying the input archive (format: archfmt.h).
 *
 * Read-only: a reader never changes a file, so tools may read the archive
 * of a running daemon. It reads only what HEAD says is committed (segments
 * up to HEAD's, that one up to its committed length), checks every
 * header and block checksum, the chain of segments (each one's `prev` is
 * the last entry of the one before) and that entry ids increase, and hands
 * each record to a visitor. Any failure names the segment file and the
 * byte offset.
 */
#ifndef LOYALTY_ARCHREAD_H
#define LOYALTY_ARCHREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archfmt.h"

/* One record, valid only during the visitor's call. */
struct archread_record {
    enum arch_record type;
    struct proto_id id;     /* entries */
    const char *data;       /* entry bytes (`m`) or rulebook text */
    size_t len;
    char hash[ARCH_HASH_LEN + 1]; /* texts */
    const char *segment;    /* the segment's file name */
};

/* Gets each record in order; a non-zero return stops the reading, which
 * then returns that value. */
typedef int archread_visit_fn(void *arg, const struct archread_record *r);

/* One segment as read. */
struct archread_seg_info {
    char name[ARCH_SEG_NAME_LEN + 1];
    struct proto_id prev;  /* the header's: last entry before this segment */
    struct proto_id first, last; /* entries in it (0-0 when none) */
    uint64_t bytes;        /* bytes read (the committed length) */
    uint64_t raw_bytes;    /* their records, uncompressed */
    uint64_t entries, texts, blocks;
    char startup_hash[ARCH_HASH_LEN + 1]; /* its ARCH_R_STARTUP record's, or "" */
};

/* The whole archive as read. */
struct archread_summary {
    uint32_t segments;
    uint64_t entries, bytes, raw_bytes;
    struct proto_id prev;        /* the first segment's prev: 0-0 when the archive
                                  * starts at the beginning of the stream */
    struct proto_id first, last; /* first and last entry archived (0-0: none) */
    char startup_hash[ARCH_HASH_LEN + 1]; /* the first segment's start-up rulebook */
};

struct archread;

/* A reader (its buffers and decompression context). NULL when out of
 * memory. */
struct archread *archread_new(void);
void archread_free(struct archread *r);

/* Reads segment file `path`, at most its first `limit` bytes (UINT64_MAX:
 * all; a block crossing `limit` is not read), checking everything (see
 * above), visiting each record. `after`: the previous segment's last entry,
 * which must be this one's `prev` (0-0: not checked; entry ids must follow
 * `prev`). Returns 0 with *info filled, the visitor's
 * non-zero value, or -1 with err naming the file and offset. */
int archread_segment(struct archread *r, const char *path, uint64_t limit, struct proto_id after,
                     archread_visit_fn *fn, void *arg, struct archread_seg_info *info,
                     struct arch_error *err);

/* Reads the archive in directory `dir` (see above): 0 with *sum filled
 * (an archive that does not exist yet is empty: 0 segments), the
 * visitor's non-zero value, or -1 with err. `per_segment` (may be NULL)
 * is told of each segment once read. */
int archread_dir(struct archread *r, const char *dir, archread_visit_fn *fn, void *arg,
                 void (*per_segment)(void *arg, const struct archread_seg_info *info),
                 struct archread_summary *sum, struct arch_error *err);

/* Reads and checks only the header of segment file `path` (its `prev`:
 * the last entry before it). Returns 0, or -1 with err naming the file. */
int archread_seg_header(const char *path, struct arch_seg_header *h, struct arch_error *err);

/* Reads and checks HEAD in `dir`. Returns 1 with *head, 0 when there is
 * no HEAD, -1 with err. */
int archread_head(const char *dir, struct arch_head *head, struct arch_error *err);

/* Lists the segment file names of `dir`, sorted (= id order), into a
 * malloc'd array of *n names (the caller frees it). Returns 0, or -1 with
 * err. A missing directory has none. */
int archread_list(const char *dir, char (**names)[ARCH_SEG_NAME_LEN + 1], size_t *n,
                  struct arch_error *err);

#endif
