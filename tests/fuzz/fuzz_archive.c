/* fuzz_archive.c - libFuzzer target for the input archive's reader
 * (archread_segment): a segment file is read on start-up by the daemon
 * and by every tool, and may be damaged on disk.
 *
 * Built with -DLOYALTY_FUZZ=ON (tests/fuzz/CMakeLists.txt); run by ctest
 * on the seeds gen_archive_seeds writes, or by hand:
 *   build-asan/tests/fuzz/fuzz_archive -runs=1000000 CORPUS_DIR
 *
 * Each input is read twice from a scratch file: as a segment file as it
 * is (covering the header and block checks), and as the parts of one
 * segment whose checksums and compression are made right (bytes 0..63 the
 * segment header, 64..127 a block header, the rest the block's records,
 * zstd-compressed here), so that random bytes reach the record parser
 * behind them. Beyond "never crashes, leaks or reads out of bounds":
 *  - a rejection leaves a reason that names the file;
 *  - every record handed to the visitor lies inside its block, within the
 *    format's limits (entry and text lengths, a 32-digit hex hash), and
 *    entry ids increase strictly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "archfmt.h"
#include "archread.h"

#define INPUT_MAX (ARCH_BLOCK_RAW_MAX + 2 * ARCH_HEADER_BYTES)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];
static struct archread *reader;
static unsigned char *segment; /* the made-right copy */
static size_t segment_cap;

static void remove_scratch(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof(path), "/tmp/fuzz_archive.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    atexit(remove_scratch);
    reader = archread_new();
    segment_cap = 2 * ARCH_HEADER_BYTES + ZSTD_compressBound(INPUT_MAX);
    segment = malloc(segment_cap);
    if (reader == NULL || segment == NULL)
        abort();
    return 0;
}

struct seen {
    struct proto_id last;
};

static int check_record(void *arg, const struct archread_record *r)
{
    struct seen *s = arg;
    switch (r->type) {
    case ARCH_R_ENTRY:
    case ARCH_R_ENTRY_CUT:
    case ARCH_R_NO_M:
        if (r->len > ARCH_ENTRY_BYTES_MAX || proto_id_cmp(r->id, s->last) <= 0)
            abort();
        s->last = r->id;
        break;
    case ARCH_R_TEXT:
    case ARCH_R_STARTUP:
        if (r->len > ARCH_TEXT_BYTES_MAX || strlen(r->hash) != ARCH_HASH_LEN ||
            strspn(r->hash, "0123456789abcdef") != ARCH_HASH_LEN)
            abort();
        break;
    default: abort();
    }
    volatile char touch = r->len ? r->data[0] ^ r->data[r->len - 1] : 0; /* ASan checks both */
    (void)touch;
    return 0;
}

static void read_file(const unsigned char *bytes, size_t len)
{
    struct archread_seg_info info;
    struct arch_error err = {{0}};
    struct seen s = {{0, 0}};
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0)
        abort();
    int rc = archread_segment(reader, path, UINT64_MAX, (struct proto_id){0, 0}, check_record,
                              &s, &info, &err);
    if (rc != 0 && (err.text[0] == '\0' || strstr(err.text, path) == NULL))
        abort();
}

/* The input as a segment whose checksums and compression are right. */
static size_t made_right(const uint8_t *data, size_t size)
{
    struct arch_seg_header sh;
    struct arch_block_header bh;
    struct arch_error err;
    unsigned char hb[ARCH_HEADER_BYTES];
    memset(hb, 0, sizeof(hb));
    memcpy(hb, data, ARCH_HEADER_BYTES);
    sh.version = ARCH_VERSION;
    sh.prev.ms = archfmt_get_u64(hb + 16);
    sh.prev.seq = archfmt_get_u64(hb + 24);
    sh.created_ms = 0;
    archfmt_put_seg_header(segment, &sh);
    const uint8_t *raw = data + 2 * ARCH_HEADER_BYTES;
    size_t raw_len = size - 2 * ARCH_HEADER_BYTES;
    unsigned char *comp = segment + 2 * ARCH_HEADER_BYTES;
    size_t n = ZSTD_compress(comp, segment_cap - 2 * ARCH_HEADER_BYTES, raw, raw_len, 1);
    if (ZSTD_isError(n))
        abort();
    const unsigned char *b = data + ARCH_HEADER_BYTES; /* the fuzzed block header's ids */
    bh.raw_len = (uint32_t)raw_len;
    bh.comp_len = (uint32_t)n;
    bh.records = archfmt_get_u32(b + 12);
    bh.first.ms = archfmt_get_u64(b + 16);
    bh.first.seq = archfmt_get_u64(b + 24);
    bh.last.ms = archfmt_get_u64(b + 32);
    bh.last.seq = archfmt_get_u64(b + 40);
    bh.payload_hash = XXH3_64bits(comp, n);
    archfmt_put_block_header(segment + ARCH_HEADER_BYTES, &bh);
    if (archfmt_get_seg_header(segment, &sh, &err) != 0)
        abort(); /* what archfmt writes, it reads */
    return 2 * ARCH_HEADER_BYTES + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_file(data, size);
    if (size > 2 * ARCH_HEADER_BYTES && size <= INPUT_MAX)
        read_file(segment, made_right(data, size));
    return 0;
}
