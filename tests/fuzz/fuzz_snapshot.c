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
 *  - an accepted snapshot holds only indexes the rules core may use
 *    without checking (tiers, segments, stages, spend buckets, referrers,
 *    txn members and kinds): snapshot.h promises that much;
 *  - an accepted snapshot encodes again (snapshot_encode) to the bytes
 *    loaded: the loader keeps everything, and the same state always gives
 *    the same bytes. The one designed exception is state_reindex, which
 *    moves the per-reward counters to this rulebook's order by name: a
 *    snapshot naming other rewards may come back with those counters (and
 *    the names) changed, and one written under this rulebook only loses
 *    counts in slots no reward is configured for. What comes back must then
 *    load and encode to itself.
 *
 * Random bytes almost never carry valid XXH3 checksums, so each input is
 * loaded twice: as it is (covering the checksum checks), then with its
 * checksums recomputed (covering everything behind them). The second copy
 * also gets this rulebook's fingerprint: the loader ignores it by design
 * (a restart under changed rules is allowed), so an accepted snapshot need
 * not reproduce it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "snapfuzz_config.h"
#include "snapshot.h"

/* Where the checksummed fields lie in the header (struct snap_header,
 * snapshot.c: its layout is part of the format). */
#define HEADER_SIZE 128
#define MEMBER_COUNT_OFF 28
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
static struct state_globals fresh; /* what state_init records: this rulebook's names */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct state st;
    snapfuzz_config(&cfg);
    rules_hash = snapshot_rules_hash(&cfg.rules);
    if (state_init(&st, &cfg.rules, cfg.members_max) != 0)
        abort();
    fresh = st.g;
    state_free(&st);
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

/* Every index the loaded state holds is within what it indexes. */
static void check_indexes(const struct state *st)
{
    for (uint32_t i = 0; i < st->members.count; i++) {
        const struct member *m = &st->members.v[i];
        if (m->tier >= cfg.rules.tier_count || m->segment >= RULEBOOK_SEGMENTS_MAX ||
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
 * (malloc'd, `*out_len` of them), or NULL when the loader rejected `buf`. */
static char *reload(const uint8_t *buf, size_t len, size_t *out_len)
{
    struct state st;
    struct snapshot_error err;
    char *out = NULL;
    if (state_init(&st, &cfg.rules, cfg.members_max) != 0)
        abort();
    memset(&err, 0, sizeof(err));
    if (snapshot_decode((const char *)buf, len, &cfg.rules, cfg.members_max, &st, &err) != 0) {
        if (err.text[0] == '\0' || memchr(err.text, '\0', sizeof(err.text)) == NULL)
            abort();
    } else {
        check_indexes(&st);
        if (snapshot_encode(&st, &cfg.rules, &out, out_len) != 0)
            abort();
    }
    state_free(&st);
    return out;
}

static bool within(size_t off, size_t field_off, size_t field_size)
{
    return off >= field_off && off < field_off + field_size;
}

#define GLOBAL(f) offsetof(struct state_globals, f), sizeof(fresh.f)

/* Whether body byte `off` of a snapshot of `members` members may change on
 * a reload: the counters state_reindex moves. All of them when the
 * snapshot names other rewards than this rulebook (`same_names` false),
 * else only those of slots no reward is configured for (they are dropped). */
static bool reindexed(size_t off, uint32_t members, bool same_names)
{
    const struct rulebook *rb = &cfg.rules;
    if (within(off, GLOBAL(catalog_issued)))
        return !same_names || (off - offsetof(struct state_globals, catalog_issued)) /
                                          sizeof(int64_t) >= rb->catalog_count;
    if (within(off, GLOBAL(catalog_names)) || within(off, GLOBAL(auto_names)))
        return !same_names;
    /* Campaign budgets and the members' per-campaign counters are
     * re-indexed by campaign name the same way (budgets.h): counts of
     * campaigns this rulebook does not have are dropped. */
    if (within(off, GLOBAL(camp)))
        return true;
    if (off < sizeof(struct state_globals) ||
        off >= sizeof(struct state_globals) + (size_t)members * sizeof(struct member))
        return false;
    size_t in_member = (off - sizeof(struct state_globals)) % sizeof(struct member);
    if (within(in_member, offsetof(struct member, camp_times),
               sizeof(((struct member *)0)->camp_times)) ||
        within(in_member, offsetof(struct member, camp_points),
               sizeof(((struct member *)0)->camp_points)))
        return true;
    size_t slot = offsetof(struct member, auto_issued);
    if (!within(in_member, slot, RULEBOOK_AUTO_REWARDS_MAX * sizeof(uint32_t)))
        return false;
    return !same_names || (in_member - slot) / sizeof(uint32_t) >= rb->auto_reward_count;
}

/* `out` (of `out_len` bytes) came from reloading the accepted snapshot
 * `in`: see the top of this file for what may differ. */
static void check_reload(const uint8_t *in, size_t len, const char *out, size_t out_len)
{
    if (out_len != len || memcmp(out, in, BODY_HASH_OFF) != 0 ||
        memcmp(out + BODY_HASH_OFF + 8, in + BODY_HASH_OFF + 8,
               HEADER_HASH_OFF - BODY_HASH_OFF - 8) != 0)
        abort(); /* the header (bar its checksums) did not survive */
    if (memcmp(out, in, len) == 0)
        return;
    const uint8_t *body = in + HEADER_SIZE;
    uint32_t members;
    memcpy(&members, in + MEMBER_COUNT_OFF, sizeof(members));
    bool same_names =
        memcmp(body + offsetof(struct state_globals, catalog_names), fresh.catalog_names,
               sizeof(fresh.catalog_names)) == 0 &&
        memcmp(body + offsetof(struct state_globals, auto_names), fresh.auto_names,
               sizeof(fresh.auto_names)) == 0;
    for (size_t i = 0; i < len - HEADER_SIZE; i++)
        if ((uint8_t)out[HEADER_SIZE + i] != body[i] && !reindexed(i, members, same_names))
            abort(); /* decode then encode changed what it must keep */
    size_t again_len;
    char *again = reload((const uint8_t *)out, out_len, &again_len);
    if (again == NULL || again_len != out_len || memcmp(again, out, out_len) != 0)
        abort(); /* what a reload gives is not stable */
    free(again);
}

/* Loads `buf`; an accepted one is checked against `expect` (`buf` with its
 * fingerprint set to this rulebook's). */
static void load(const uint8_t *buf, size_t len, const uint8_t *expect)
{
    size_t out_len;
    char *out = reload(buf, len, &out_len);
    if (out != NULL)
        check_reload(expect, len, out, out_len);
    free(out);
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
