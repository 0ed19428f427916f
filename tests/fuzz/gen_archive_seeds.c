/* gen_archive_seeds.c - seeds for fuzz_archive: writes into DIR (argv[1])
 * a real segment (entries with and without `m`, a cut one, a rules entry
 * with its text, the start-up text; as archive.c writes them) and the
 * "made right" form fuzz_archive rebuilds from (its segment header, its
 * first block's header, that block's records uncompressed). Run by the
 * fuzz_archive ctest; committed copies are in corpus/archive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "archive.h"
#include "archread.h"

#define HASH "00112233445566778899aabbccddeeff"

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int rc = f != NULL && fwrite(buf, 1, len, f) == len ? 0 : -1;
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    return rc;
}

static int make_archive(const char *dir)
{
    static char big[ARCH_ENTRY_BYTES_MAX + 10];
    struct arch_error err;
    struct archive *a = archive_open(dir, HASH, "earning = { points_per_unit = 1; };\n", NULL,
                                     NULL, &err);
    if (a == NULL)
        return fprintf(stderr, "%s\n", err.text), -1;
    int rc = 0;
    for (uint64_t i = 1; rc == 0 && i <= 40; i++) {
        char m[32];
        int n = snprintf(m, sizeof(m), "\x83\xa1v\x01\xa4kind\xa4tick%llu", (unsigned long long)i);
        rc = archive_append(a, (struct proto_id){1000 + i, i % 3}, m, (size_t)n, i % 9 != 0, &err);
    }
    memset(big, 'x', sizeof(big));
    rc |= archive_append(a, (struct proto_id){2000, 0}, big, sizeof(big), true, &err);
    rc |= archive_append_rules(a, (struct proto_id){2001, 0}, "r", 1, HASH, "tiers = { };", 12,
                               &err);
    rc |= archive_commit(a, &err);
    archive_close(a);
    return rc;
}

/* Header, first block header and that block's records, uncompressed. */
static int made_right_seed(const char *seg, const char *out_dir)
{
    FILE *f = fopen(seg, "rb");
    static unsigned char buf[4 << 20], raw[ARCH_BLOCK_RAW_MAX];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    if (n < 2 * ARCH_HEADER_BYTES)
        return -1;
    uint32_t comp = archfmt_get_u32(buf + ARCH_HEADER_BYTES + 8);
    size_t r = ZSTD_decompress(raw, sizeof(raw), buf + 2 * ARCH_HEADER_BYTES, comp);
    if (ZSTD_isError(r))
        return -1;
    memcpy(buf + 2 * ARCH_HEADER_BYTES, raw, r);
    return write_file(out_dir, "made_right.bin", buf, 2 * ARCH_HEADER_BYTES + r);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/gen_archive_seeds.XXXXXX", path[4096], cmd[4200];
    char (*names)[ARCH_SEG_NAME_LEN + 1];
    size_t n;
    struct arch_error err;
    if (argc != 2 || mkdtemp(dir) == NULL)
        return fprintf(stderr, "usage: gen_archive_seeds OUT_DIR\n"), 2;
    int rc = make_archive(dir) == 0 && archread_list(dir, &names, &n, &err) == 0 && n == 1 ? 0 : 1;
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
        FILE *f = fopen(path, "rb");
        static unsigned char seg[1 << 20];
        size_t len = f ? fread(seg, 1, sizeof(seg), f) : 0;
        if (f)
            fclose(f);
        rc = len > 0 && write_file(argv[1], "segment.lyarc", seg, len) == 0 &&
                     made_right_seed(path, argv[1]) == 0 ? 0 : 1;
        free(names);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
