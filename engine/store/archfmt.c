/* archfmt.c - see archfmt.h. */
#include "archfmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "lyassert.h"

/* Offsets in a segment header. */
enum {
    SH_MAGIC = 0,      /* 8 bytes */
    SH_VERSION = 8,    /* u32 */
    SH_PREV_MS = 16,   /* u64 */
    SH_PREV_SEQ = 24,  /* u64 */
    SH_CREATED = 32,   /* u64 */
    SH_HASH = 56,      /* u64: XXH3 of bytes [0, 56) */
};

/* Offsets in a block header. */
enum {
    BH_MAGIC = 0,        /* u32 */
    BH_RAW = 4,          /* u32 */
    BH_COMP = 8,         /* u32 */
    BH_RECORDS = 12,     /* u32 */
    BH_FIRST_MS = 16,    /* u64 */
    BH_FIRST_SEQ = 24,   /* u64 */
    BH_LAST_MS = 32,     /* u64 */
    BH_LAST_SEQ = 40,    /* u64 */
    BH_PAYLOAD_HASH = 48, /* u64: XXH3 of the compressed payload */
    BH_HASH = 56,        /* u64: XXH3 of bytes [0, 56) */
};

void archfmt_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void archfmt_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t archfmt_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t archfmt_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void archfmt_seg_name(struct proto_id first, char *name)
{
    int n = snprintf(name, ARCH_SEG_NAME_LEN + 1, "seg-%020" PRIu64 "-%020" PRIu64 ARCH_SEG_EXT,
                     first.ms, first.seq);
    LY_ASSERT(n == ARCH_SEG_NAME_LEN);
}

int archfmt_parse_seg_name(const char *name, struct proto_id *first)
{
    char check[ARCH_SEG_NAME_LEN + 1];
    unsigned long long ms, seq;
    if (strlen(name) != ARCH_SEG_NAME_LEN || sscanf(name, "seg-%20llu-%20llu", &ms, &seq) != 2)
        return -1;
    first->ms = ms;
    first->seq = seq;
    archfmt_seg_name(*first, check);
    return strcmp(check, name) == 0 ? 0 : -1;
}

void archfmt_put_seg_header(unsigned char *buf, const struct arch_seg_header *h)
{
    memset(buf, 0, ARCH_HEADER_BYTES);
    memcpy(buf + SH_MAGIC, ARCH_SEG_MAGIC, 8);
    archfmt_put_u32(buf + SH_VERSION, h->version);
    archfmt_put_u64(buf + SH_PREV_MS, h->prev.ms);
    archfmt_put_u64(buf + SH_PREV_SEQ, h->prev.seq);
    archfmt_put_u64(buf + SH_CREATED, h->created_ms);
    archfmt_put_u64(buf + SH_HASH, XXH3_64bits(buf, SH_HASH));
}

int archfmt_get_seg_header(const unsigned char *buf, struct arch_seg_header *h,
                           struct arch_error *err)
{
    if (memcmp(buf + SH_MAGIC, ARCH_SEG_MAGIC, 8) != 0) {
        snprintf(err->text, sizeof(err->text), "not an archive segment (bad magic)");
        return -1;
    }
    if (archfmt_get_u64(buf + SH_HASH) != XXH3_64bits(buf, SH_HASH)) {
        snprintf(err->text, sizeof(err->text), "segment header checksum mismatch");
        return -1;
    }
    h->version = archfmt_get_u32(buf + SH_VERSION);
    if (h->version != ARCH_VERSION) {
        snprintf(err->text, sizeof(err->text), "segment format version %u (this build reads %d)",
                 h->version, ARCH_VERSION);
        return -1;
    }
    h->prev.ms = archfmt_get_u64(buf + SH_PREV_MS);
    h->prev.seq = archfmt_get_u64(buf + SH_PREV_SEQ);
    h->created_ms = archfmt_get_u64(buf + SH_CREATED);
    return 0;
}

void archfmt_put_block_header(unsigned char *buf, const struct arch_block_header *h)
{
    memset(buf, 0, ARCH_BLOCK_HEADER_BYTES);
    archfmt_put_u32(buf + BH_MAGIC, ARCH_BLOCK_MAGIC);
    archfmt_put_u32(buf + BH_RAW, h->raw_len);
    archfmt_put_u32(buf + BH_COMP, h->comp_len);
    archfmt_put_u32(buf + BH_RECORDS, h->records);
    archfmt_put_u64(buf + BH_FIRST_MS, h->first.ms);
    archfmt_put_u64(buf + BH_FIRST_SEQ, h->first.seq);
    archfmt_put_u64(buf + BH_LAST_MS, h->last.ms);
    archfmt_put_u64(buf + BH_LAST_SEQ, h->last.seq);
    archfmt_put_u64(buf + BH_PAYLOAD_HASH, h->payload_hash);
    archfmt_put_u64(buf + BH_HASH, XXH3_64bits(buf, BH_HASH));
}

int archfmt_get_block_header(const unsigned char *buf, struct arch_block_header *h,
                             struct arch_error *err)
{
    if (archfmt_get_u32(buf + BH_MAGIC) != ARCH_BLOCK_MAGIC) {
        snprintf(err->text, sizeof(err->text), "bad block magic");
        return -1;
    }
    if (archfmt_get_u64(buf + BH_HASH) != XXH3_64bits(buf, BH_HASH)) {
        snprintf(err->text, sizeof(err->text), "block header checksum mismatch");
        return -1;
    }
    h->raw_len = archfmt_get_u32(buf + BH_RAW);
    h->comp_len = archfmt_get_u32(buf + BH_COMP);
    h->records = archfmt_get_u32(buf + BH_RECORDS);
    h->first.ms = archfmt_get_u64(buf + BH_FIRST_MS);
    h->first.seq = archfmt_get_u64(buf + BH_FIRST_SEQ);
    h->last.ms = archfmt_get_u64(buf + BH_LAST_MS);
    h->last.seq = archfmt_get_u64(buf + BH_LAST_SEQ);
    h->payload_hash = archfmt_get_u64(buf + BH_PAYLOAD_HASH);
    if (h->raw_len == 0 || h->raw_len > ARCH_BLOCK_RAW_MAX || h->comp_len == 0 ||
        h->comp_len > 2 * ARCH_BLOCK_RAW_MAX || h->records == 0) {
        snprintf(err->text, sizeof(err->text), "block lengths out of range (raw %u, "
                 "compressed %u, records %u)", h->raw_len, h->comp_len, h->records);
        return -1;
    }
    return 0;
}

/* HEAD is text, so an operator can read it:
 *   segment seg-...lyarc
 *   committed <bytes>
 *   last <ms>-<seq>
 *   sum <XXH3-64 of the lines above, 16 hex digits>
 */
size_t archfmt_put_head(char *buf, size_t cap, const struct arch_head *h)
{
    int n = snprintf(buf, cap, "segment %s\ncommitted %" PRIu64 "\nlast %" PRIu64 "-%" PRIu64 "\n",
                     h->segment, h->committed, h->last.ms, h->last.seq);
    LY_ASSERT(n > 0 && (size_t)n < cap);
    int m = snprintf(buf + n, cap - (size_t)n, "sum %016" PRIx64 "\n",
                     (uint64_t)XXH3_64bits(buf, (size_t)n));
    LY_ASSERT(m > 0 && (size_t)(n + m) < cap);
    return (size_t)(n + m);
}

int archfmt_get_head(const char *buf, size_t len, struct arch_head *h, struct arch_error *err)
{
    char seg[61]; /* %60s: room to see a name that is too long */
    char text[512];
    unsigned long long committed, ms, seq, sum;
    int body = 0;
    struct proto_id first;
    if (len >= sizeof(text))
        goto bad;
    memcpy(text, buf, len);
    text[len] = '\0';
    if (sscanf(text, "segment %60s\ncommitted %llu\nlast %llu-%llu\n%n", seg, &committed, &ms,
               &seq, &body) != 4 || body <= 0 ||
        sscanf(text + body, "sum %16llx\n", &sum) != 1)
        goto bad;
    if (sum != XXH3_64bits(text, (size_t)body)) {
        snprintf(err->text, sizeof(err->text), "HEAD checksum mismatch");
        return -1;
    }
    if (archfmt_parse_seg_name(seg, &first) != 0)
        goto bad;
    memcpy(h->segment, seg, ARCH_SEG_NAME_LEN + 1);
    h->committed = committed;
    h->last.ms = ms;
    h->last.seq = seq;
    return 0;
bad:
    snprintf(err->text, sizeof(err->text), "HEAD is malformed");
    return -1;
}
