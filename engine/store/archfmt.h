/* archfmt.h - the input archive's on-disk format, shared by its writer
 * (archive.h) and its reader (archread.h).
 *
 * The archive keeps every input entry the daemon trimmed from <prefix>in,
 * so the whole history stays replayable from empty state. It is a
 * directory (DATA/archive/) of segment files and one HEAD file:
 *
 *   seg-<ms>-<seq>.lyarc   named after the first entry id it holds
 *                          (zero-padded, so name order is id order)
 *   HEAD                   the segment being appended to and how many of
 *                          its bytes are committed (fsynced)
 *
 * A segment: a 64-byte header (magic, format version, the id of the last
 * entry archived before it, so that the chain of segments can be checked,
 * and an XXH3-64 of the header), then blocks. A block: a 64-byte header
 * (magic, raw and compressed lengths, record count, first and last entry
 * id, XXH3-64 of the compressed payload, XXH3-64 of the header), then the
 * payload compressed with zstd. The payload is a sequence of records:
 *
 *   u8 type, then
 *   ARCH_R_ENTRY:    u64 ms, u64 seq, u32 len, len bytes (the `m` field)
 *   ARCH_R_NO_M:     u64 ms, u64 seq (an entry without an `m` field)
 *   ARCH_R_TEXT:     32 hex digits (the hash), u32 len, len bytes: the
 *                    canonical text of a rulebook a rules entry of this
 *                    segment names (before that entry)
 *   ARCH_R_STARTUP:  as ARCH_R_TEXT: the rulebook the daemon that wrote
 *                    the segment was configured with (the start-up
 *                    version a state begins with), first in each segment
 *
 * Integers are little-endian. Entry ids increase strictly across records,
 * blocks and segments. Bytes are only ever appended: a segment is never
 * rewritten; the one exception is cutting, at open, a tail beyond HEAD's
 * committed length (a write that a crash interrupted before its fsync,
 * hence before any XTRIM relied on it).
 */
#ifndef LOYALTY_ARCHFMT_H
#define LOYALTY_ARCHFMT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define ARCH_VERSION 1
#define ARCH_SEG_MAGIC "LYARCSEG"
#define ARCH_BLOCK_MAGIC 0x4b4c4259u /* "YBLK" little-endian */
#define ARCH_HEADER_BYTES 64
#define ARCH_BLOCK_HEADER_BYTES 64
#define ARCH_SEG_EXT ".lyarc"
#define ARCH_HEAD_NAME "HEAD"
/* "seg-" + 20 + "-" + 20 + ".lyarc" */
#define ARCH_SEG_NAME_LEN (4 + 20 + 1 + 20 + 6)
/* A block's payload before compression: big enough that zstd finds the
 * repetition between entries, small enough to hold in memory twice. */
#define ARCH_BLOCK_RAW_MAX (1u << 20)
/* A segment is closed once it passes this many bytes: retention deletes
 * whole segments, so this is also its granularity. */
#define ARCH_SEGMENT_BYTES (64u << 20)
/* The most bytes of an entry's `m` field kept: 8x the decoder's limit.
 * A longer one is kept cut (ARCH_F_CUT): it could never decode anyway
 * (too_large), which is all a replay needs to know of it. */
#define ARCH_ENTRY_BYTES_MAX (8u * PROTO_ENTRY_BYTES_MAX)
/* A rulebook's canonical text: well under the config file's 1 MiB limit. */
#define ARCH_TEXT_BYTES_MAX (256u << 10)
/* Texts one segment holds (rules entries are rare: a few a month); past
 * this the segment is closed early. */
#define ARCH_SEGMENT_TEXTS_MAX 64
#define ARCH_HASH_LEN PROTO_HASH_LEN
#define ARCH_ERROR_MAX 640
#define ARCH_DIR_MAX 1100 /* the archive directory: the data dir's limit + "/archive" */
#define ARCH_PATH_MAX (ARCH_DIR_MAX + ARCH_SEG_NAME_LEN + 16) /* dir/name.tmp */

_Static_assert(ARCH_ENTRY_BYTES_MAX + 32 < ARCH_BLOCK_RAW_MAX, "an entry fits a block");
_Static_assert(ARCH_TEXT_BYTES_MAX + 64 < ARCH_BLOCK_RAW_MAX, "a text fits a block");

enum arch_record {
    ARCH_R_ENTRY = 1,
    ARCH_R_NO_M = 2,
    ARCH_R_TEXT = 3,
    ARCH_R_STARTUP = 4,
    ARCH_R_ENTRY_CUT = 5, /* ARCH_R_ENTRY whose bytes were cut at ARCH_ENTRY_BYTES_MAX */
};

struct arch_error {
    char text[ARCH_ERROR_MAX];
};

/* A segment's header, decoded. */
struct arch_seg_header {
    uint32_t version;
    struct proto_id prev; /* last entry archived before this segment; 0-0: none */
    uint64_t created_ms;  /* wall clock when it was started (for people) */
};

/* A block's header, decoded. */
struct arch_block_header {
    uint32_t raw_len, comp_len, records;
    struct proto_id first, last;
    uint64_t payload_hash;
};

/* HEAD: where appending goes on. */
struct arch_head {
    char segment[ARCH_SEG_NAME_LEN + 1];
    uint64_t committed; /* bytes of that segment that are fsynced */
    struct proto_id last; /* the last entry archived (and committed) */
};

/* The file name of the segment whose first entry is `first`, into
 * name[ARCH_SEG_NAME_LEN + 1]. */
void archfmt_seg_name(struct proto_id first, char *name);

/* Parses a segment file name; returns 0 with *first, or -1 when `name` is
 * not one. */
int archfmt_parse_seg_name(const char *name, struct proto_id *first);

/* Encodes / decodes a segment header (ARCH_HEADER_BYTES). Decoding checks
 * magic, version and checksum; -1 with err (naming nothing: the caller
 * adds the file). */
void archfmt_put_seg_header(unsigned char *buf, const struct arch_seg_header *h);
int archfmt_get_seg_header(const unsigned char *buf, struct arch_seg_header *h,
                           struct arch_error *err);

/* Encodes / decodes a block header (ARCH_BLOCK_HEADER_BYTES). Decoding
 * checks magic, checksum and that the lengths are within the limits. */
void archfmt_put_block_header(unsigned char *buf, const struct arch_block_header *h);
int archfmt_get_block_header(const unsigned char *buf, struct arch_block_header *h,
                             struct arch_error *err);

/* Encodes HEAD's text into buf[0..cap); returns its length. Decodes it:
 * 0, or -1 with err when it is malformed or its checksum is wrong. */
size_t archfmt_put_head(char *buf, size_t cap, const struct arch_head *h);
int archfmt_get_head(const char *buf, size_t len, struct arch_head *h, struct arch_error *err);

/* Little-endian helpers for records. */
void archfmt_put_u32(unsigned char *p, uint32_t v);
void archfmt_put_u64(unsigned char *p, uint64_t v);
uint32_t archfmt_get_u32(const unsigned char *p);
uint64_t archfmt_get_u64(const unsigned char *p);

#endif
