/* fuzz_snapshot.c - libFuzzer target for snapshot_decode.
 *
 * Built with -DLOYALTY_FUZZ=ON (tests/fuzz/CMakeLists.txt), run by ctest
 * for a while on the seeds in corpus/snapshot (gen_snapshot_seeds.c), or
 * by hand:
 *   build-asan/tests/fuzz/fuzz_snapshot -runs=10000000 CORPUS_DIR
 *
 * Every input is loaded into a fresh state (state_init before, state_free
 * after, as the contract asks) under the fixed configuration of
 * snapfuzz_config.c. Beyond "never crashes, leaks or reads out of bounds":
 *  - a rejection leaves a non-empty reason;
 *  - an accepted snapshot encodes again (snapshot_encode) to exactly the
 *    bytes loaded: the loader keeps everything, and the same state always
 *    gives the same bytes.
 *
 * Random bytes almost never carry valid XXH3 checksums, so each input is
 * loaded twice: as it is (covering the checksum checks), then with its
 * checksums recomputed (covering everything behind them). The second copy
 * also gets this rulebook's fingerprint: the loader ignores it by design
 * (a restart under changed rules is allowed), so it is the one header
 * field an accepted snapshot need not reproduce.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "snapfuzz_config.h"
#include "snapshot.h"

/* Where the checksummed fields lie in the header (struct snap_header,
 * snapshot.c: its layout is part of the format). */
#define HEADER_SIZE 128
#define BODY_HASH_OFF 48
#define RULES_HASH_OFF 112
#define HEADER_HASH_OFF 120

/* Inputs up to this are copied to be patched (the seeds are ~10 KiB, a
 * full store under snapfuzz_config ~270 KiB); larger ones are loaded as
 * they are. */
#define INPUT_MAX (1024 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static uint64_t rules_hash;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snapfuzz_config(&cfg);
    rules_hash = snapshot_rules_hash(&cfg.rules);
    return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* Recomputes the body checksum over everything after the header, sets the
 * rulebook fingerprint, then recomputes the header checksum. */
static void fix_checksums(uint8_t *buf, size_t len)
{
    put_u64(buf + BODY_HASH_OFF, XXH3_64bits(buf + HEADER_SIZE, len - HEADER_SIZE));
    put_u64(buf + RULES_HASH_OFF, rules_hash);
    put_u64(buf + HEADER_HASH_OFF, XXH3_64bits(buf, HEADER_HASH_OFF));
}

/* Loads `buf` into a fresh state. An accepted snapshot must encode to
 * `expect` (`buf` with its fingerprint set to this rulebook's). */
static void load(const uint8_t *buf, size_t len, const uint8_t *expect)
{
    struct state st;
    struct snapshot_error err;
    if (state_init(&st, &cfg) != 0)
        abort();
    memset(&err, 0, sizeof(err));
    if (snapshot_decode((const char *)buf, len, &cfg, &st, &err) != 0) {
        if (err.text[0] == '\0' || memchr(err.text, '\0', sizeof(err.text)) == NULL)
            abort();
        state_free(&st);
        return;
    }
    char *out;
    size_t out_len;
    if (snapshot_encode(&st, &cfg.rules, &out, &out_len) != 0)
        abort();
    if (out_len != len || memcmp(out, expect, len) != 0)
        abort(); /* decode then encode is not the identity */
    free(out);
    state_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_SIZE || size > INPUT_MAX) {
        load(data, size, data);
        return 0;
    }
    uint8_t *fixed = malloc(size);
    if (fixed == NULL)
        abort();
    memcpy(fixed, data, size);
    fix_checksums(fixed, size);
    if (memcmp(fixed, data, size) != 0)
        load(data, size, fixed);
    load(fixed, size, fixed);
    free(fixed);
    return 0;
}
