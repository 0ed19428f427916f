/* fuzz_snapshot.c - libFuzzer target for snapshot_decode.
 *
 * Built with -DLOYALTY_FUZZ=ON (tests/fuzz/CMakeLists.txt), run by ctest
 * for a while on the seeds in corpus/snapshot (format 2, committed, and
 * format 5 from gen_snapshot_seeds.c), or by hand:
 *   build-asan/tests/fuzz/fuzz_snapshot -runs=10000000 CORPUS_DIR
 *
 * Every input is loaded into a fresh state (state_init before, state_free
 * after, as the contract asks) under the fixed configuration of
 * snapfuzz_config.c. Beyond "never crashes, leaks or reads out of bounds":
 *  - a refusal is FOREIGN or DAMAGED with a non-empty reason;
 *  - an accepted snapshot holds only indexes the rules core may use
 *    without checking (tiers of the version in force, segments, stages,
 *    spend buckets, referrers, txn members and kinds): snapshot.h promises
 *    that much;
 *  - what an accepted snapshot encodes to (format 5) loads again and
 *    encodes to the same bytes: the loader keeps everything the encoder
 *    writes, and the same state always gives the same bytes. (The first
 *    load may differ from its input: state_reindex moves per-reward
 *    counters to the loaded rulebook's order by name, and format 2 comes
 *    back as format 5.)
 *
 * Random bytes almost never carry valid XXH3 checksums, so a format-3
 * input is loaded twice: as it is (covering the checksum checks), then
 * with its checksums recomputed (covering everything behind them).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "rulecanon.h"
#include "snapfuzz_config.h"
#include "snapshot.h"

/* Where the checksums lie in a format-3 header (snapshot.h). */
#define VERSION_OFF 8
#define BODY_HASH_OFF 24
#define HEADER_HASH_OFF 104

/* Inputs up to this are copied to be patched; larger ones are loaded as
 * they are. */
#define INPUT_MAX (1024 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;

/* libconfig 1.5 leaks a string token a syntax error discards (see
 * fuzz_config.c): a rulebook text in a snapshot is parsed by it. Skip
 * exactly the scanner's string allocation sites. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snapfuzz_config(&cfg);
    return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the body checksum over everything after the header, then the
 * header checksum. */
static void fix_checksums(uint8_t *buf, size_t len)
{
    put_u64(buf + BODY_HASH_OFF,
            XXH3_64bits(buf + SNAPSHOT_HEADER_SIZE, len - SNAPSHOT_HEADER_SIZE));
    put_u64(buf + HEADER_HASH_OFF, XXH3_64bits(buf, HEADER_HASH_OFF));
}

/* Every index the loaded state holds is within what it indexes. */
static void check_indexes(const struct state *st)
{
    for (uint32_t i = 0; i < st->members.count; i++) {
        const struct member *m = &st->members.v[i];
        if (m->tier >= st->ver->now.tier_count || m->segment >= RULEBOOK_SEGMENTS_MAX ||
            m->stage >= RULEBOOK_STAGE_COUNT || m->hist_bucket >= STATE_HIST_BUCKETS ||
            m->referrer > st->members.count)
            abort();
    }
    for (uint32_t i = 0; i < st->txns.count; i++) {
        const struct txn_rec *r = &st->txns.ring[(st->txns.head + i) % st->txns.max];
        if (r->member >= st->members.count || r->kind >= PROTO_KIND_COUNT)
            abort();
    }
}

/* Loads `buf` into a fresh state and encodes that again: returns the bytes
 * (malloc'd, `*out_len` of them), or NULL when the loader refused `buf`. */
static char *reload(const uint8_t *buf, size_t len, size_t *out_len)
{
    struct state st;
    struct snapshot_error err;
    char *out = NULL;
    if (state_init(&st, &cfg.rules, cfg.members_max) != 0)
        abort();
    memset(&err, 0, sizeof(err));
    enum snapshot_status s =
        snapshot_decode((const char *)buf, len, &cfg.rules, rulecanon_codec(), &st, &err);
    if (s != SNAPSHOT_OK) {
        if ((s != SNAPSHOT_FOREIGN && s != SNAPSHOT_DAMAGED) || err.text[0] == '\0' ||
            memchr(err.text, '\0', sizeof(err.text)) == NULL)
            abort();
    } else {
        check_indexes(&st);
        if (snapshot_encode(&st, rulecanon_codec(), &out, out_len) != 0)
            abort();
    }
    state_free(&st);
    return out;
}

/* An accepted input: what it encodes to must load and encode to itself. */
static void load(const uint8_t *buf, size_t len)
{
    size_t out_len, again_len;
    char *out = reload(buf, len, &out_len);
    if (out == NULL)
        return;
    char *again = reload((const uint8_t *)out, out_len, &again_len);
    if (again == NULL || again_len != out_len || memcmp(again, out, out_len) != 0)
        abort(); /* decode then encode is not stable */
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    if (size < SNAPSHOT_HEADER_SIZE || size > INPUT_MAX || data[VERSION_OFF] != SNAPSHOT_VERSION)
        return 0;
    uint8_t *fixed = malloc(size);
    if (fixed == NULL)
        abort();
    memcpy(fixed, data, size);
    fix_checksums(fixed, size);
    if (memcmp(fixed, data, size) != 0)
        load(fixed, size);
    free(fixed);
    return 0;
}
