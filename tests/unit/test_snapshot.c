/* test_snapshot.c - snapshots (format 4): the same entries give the same
 * bytes, a loaded snapshot writes back the same bytes, it carries the
 * rulebook versions (texts included), any damage is detected, and what
 * another build or configuration wrote is told apart from damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "caltime.h"
#include "config.h"
#include "config_rules.h"
#include "rulecanon.h"
#include "rules.h"
#include "snapshot.h"
#include "splitmix.h"

#define MEMBERS 200
#define ENTRIES 6000

/* A rulebook with every time-driven feature on (expiry lots, reviews,
 * segments, rewards) so the snapshot holds all of the state's parts. */
static void test_config(struct config *cfg)
{
    struct config_error err;
    config_defaults(cfg);
    int rc = config_load(cfg, LOYALTY_CONF_DIR "/loyaltyd.conf", &err);
    if (rc != 0)
        fail_msg("%s", err.text);
    cfg->members_max = 10000;
    cfg->rules.txns_max = 300; /* small: the ring wraps and evicts early */
}

/* Entry `i` of a seeded workload over MEMBERS members and about a year. */
static void workload_entry(uint64_t *rng, uint32_t i, struct proto_entry *e)
{
    static const enum proto_kind kinds[] = {PROTO_PURCHASE, PROTO_PURCHASE, PROTO_PURCHASE,
                                            PROTO_REDEEM,   PROTO_REFUND,   PROTO_SCAN,
                                            PROTO_TICK,     PROTO_ADJUST};
    memset(e, 0, sizeof(*e));
    e->ts = caltime_ts((struct caltime_date){2026, 1, 1}) + (int64_t)i * 90 * 60000;
    if (i < MEMBERS) {
        e->kind = PROTO_ENROLL;
        snprintf(e->member, sizeof(e->member), "m%03u", i);
        snprintf(e->txn, sizeof(e->txn), "e%u", i);
        return;
    }
    e->kind = kinds[splitmix_below(rng, sizeof(kinds) / sizeof(kinds[0]))];
    snprintf(e->member, sizeof(e->member), "m%03u", (unsigned)splitmix_below(rng, MEMBERS));
    snprintf(e->txn, sizeof(e->txn), "t%u", i);
    snprintf(e->orig_txn, sizeof(e->orig_txn), "t%u", i - (uint32_t)splitmix_below(rng, 50));
    snprintf(e->store, sizeof(e->store), "store_%03u", (unsigned)splitmix_below(rng, 30));
    snprintf(e->reason, sizeof(e->reason), "goodwill");
    e->amount = 100 + splitmix_below(rng, 20000);
    e->points = e->kind == PROTO_ADJUST ? 50 : 1 + splitmix_below(rng, 400);
    if (e->kind == PROTO_REFUND)
        e->amount = 1 + splitmix_below(rng, 500);
}

struct fixture {
    struct config cfg;
    struct state a, b;
    struct outbox res;
};

static void build(struct fixture *f, struct state *st)
{
    uint64_t rng = 42;
    struct proto_entry e;
    assert_int_equal(state_init(st, &f->cfg.rules, f->cfg.members_max), 0);
    for (uint32_t i = 0; i < ENTRIES; i++) {
        workload_entry(&rng, i, &e);
        struct proto_id id = {(uint64_t)e.ts, i};
        memcpy(&(st)->ver->now, &f->cfg.rules, sizeof(struct rulebook)); /* the test's rulebook, as set */
    rules_apply(st, id, &e, NULL, &f->res);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_config(&f->cfg);
    rules_outbox_init(&f->res);
    build(f, &f->a);
    build(f, &f->b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    state_free(&f->a);
    state_free(&f->b);
    outbox_free(&f->res);
    free(f);
    return 0;
}

static void encode(const struct fixture *f, const struct state *st, char **buf, size_t *len)
{
    (void)f;
    assert_int_equal(snapshot_encode(st, rulecanon_codec(), buf, len), 0);
}

static void same_entries_give_byte_identical_snapshots(void **state)
{
    struct fixture *f = *state;
    char *x, *y;
    size_t xl, yl;
    /* The workload reached the parts of the state a snapshot holds. */
    assert_int_equal(f->a.members.count, MEMBERS);
    assert_true(f->a.txns.count > 0 && f->a.txns.evicted_early > 0);
    assert_true(f->a.members.lots_per > 0);
    encode(f, &f->a, &x, &xl);
    encode(f, &f->b, &y, &yl);
    assert_int_equal(xl, yl);
    assert_memory_equal(x, y, xl);
    free(x);
    free(y);
}

static void a_loaded_snapshot_writes_back_the_same_bytes(void **state)
{
    struct fixture *f = *state;
    struct state loaded;
    struct snapshot_error err;
    char *x, *y;
    size_t xl, yl;
    encode(f, &f->a, &x, &xl);
    assert_int_equal(state_init(&loaded, &f->cfg.rules, f->cfg.members_max), 0);
    if (snapshot_decode(x, xl, &f->cfg.rules, rulecanon_codec(), &loaded, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_int_equal(loaded.last_id.seq, f->a.last_id.seq);
    uint32_t scheduled = 0; /* the schedule is derived: one live entry per member due */
    for (uint32_t p = 0; p < loaded.members.count; p++)
        scheduled += loaded.members.v[p].sched_ts != 0;
    assert_true(scheduled > 0);
    assert_int_equal(loaded.schedule.count, scheduled);
    encode(f, &loaded, &y, &yl);
    assert_int_equal(xl, yl);
    assert_memory_equal(x, y, xl);
    state_free(&loaded);
    free(x);
    free(y);
}

/* Decodes `buf` into a fresh state and expects `status` naming `what`. */
static void expect_status(struct fixture *f, const char *buf, size_t len,
                          enum snapshot_status status, const char *what)
{
    struct state st;
    struct snapshot_error err;
    assert_int_equal(state_init(&st, &f->cfg.rules, f->cfg.members_max), 0);
    assert_int_equal(snapshot_decode(buf, len, &f->cfg.rules, rulecanon_codec(), &st, &err),
                     status);
    if (strstr(err.text, what) == NULL)
        fail_msg("expected '%s' in: %s", what, err.text);
    state_free(&st);
}

static void truncated_or_flipped_snapshots_are_damaged(void **state)
{
    struct fixture *f = *state;
    char *x;
    size_t xl;
    encode(f, &f->a, &x, &xl);
    expect_status(f, x, xl - 1, SNAPSHOT_DAMAGED, "truncated");
    expect_status(f, x, 100, SNAPSHOT_DAMAGED, "truncated");
    x[xl / 2] ^= 0x40; /* one bit in the body */
    expect_status(f, x, xl, SNAPSHOT_DAMAGED, "checksum");
    x[xl / 2] ^= 0x40;
    x[20] ^= 0x01; /* one bit in the header */
    expect_status(f, x, xl, SNAPSHOT_DAMAGED, "checksum");
    x[20] ^= 0x01;
    x[0] = 'X';
    expect_status(f, x, xl, SNAPSHOT_DAMAGED, "magic");
    free(x);
}

/* A newer format, or limits this daemon has lower, are another build's or
 * configuration's business: FOREIGN (skipped, kept), never DAMAGED. */
static void another_builds_or_configurations_snapshot_is_foreign(void **state)
{
    struct fixture *f = *state;
    struct state st;
    struct snapshot_error err;
    char *x;
    size_t xl;
    encode(f, &f->a, &x, &xl);
    x[8] = 6; /* format version 6: a newer build's (its header is not ours to check) */
    expect_status(f, x, xl, SNAPSHOT_FOREIGN, "format version 6");
    x[8] = 3; /* 3: the memory image of issue 13's development builds */
    expect_status(f, x, xl, SNAPSHOT_FOREIGN, "format version 3");
    x[8] = SNAPSHOT_VERSION;
    /* A daemon configured for fewer members than the snapshot holds. */
    assert_int_equal(state_init(&st, &f->cfg.rules, MEMBERS - 1), 0);
    assert_int_equal(snapshot_decode(x, xl, &f->cfg.rules, rulecanon_codec(), &st, &err),
                     SNAPSHOT_FOREIGN);
    assert_non_null(strstr(err.text, "members_max"));
    state_free(&st);
    /* A daemon whose expiry_months_max is below the rulebook's 12 months. */
    struct rulebook *plain = calloc(1, sizeof(*plain));
    config_rules_defaults(plain);
    const struct state_limits small = {f->cfg.members_max, 6, 0, 1};
    assert_int_equal(state_init_limits(&st, plain, &small), 0);
    assert_int_equal(snapshot_decode(x, xl, plain, rulecanon_codec(), &st, &err),
                     SNAPSHOT_FOREIGN);
    assert_non_null(strstr(err.text, "expiry_months_max"));
    state_free(&st);
    free(plain);
    free(x);
}

/* A state that switched rulebooks (one in force, one scheduled) loads
 * with those versions, whatever rulebook the loading daemon has. */
static void a_snapshot_carries_the_rulebook_versions_and_their_texts(void **state)
{
    struct fixture *f = *state;
    struct state st, loaded;
    struct snapshot_error err;
    struct proto_entry e;
    char *x;
    size_t xl;
    build(f, &st);
    struct rulebook *v[2] = {malloc(sizeof(struct rulebook)), malloc(sizeof(struct rulebook))};
    for (int k = 0; k < 2; k++) {
        memcpy(v[k], &f->cfg.rules, sizeof(*v[k]));
        v[k]->points_per_unit = 2 + k;
        memset(&e, 0, sizeof(e));
        e.kind = PROTO_RULES;
        e.ts = st.clock_ms;
        e.effective_ts = k == 0 ? 0 : st.clock_ms + 86400000; /* the second is scheduled */
        assert_int_equal(rulecanon_hash(v[k], e.hash), 0);
        snprintf(e.label, sizeof(e.label), "v%d", k);
        struct rules_text rt = {v[k], NULL};
        rules_apply(&st, (struct proto_id){(uint64_t)st.clock_ms, 100000u + (unsigned)k}, &e,
                    &rt, &f->res);
        assert_int_equal(f->res.verdict, OUTBOX_APPLIED);
    }
    assert_true(st.ver->has_next && st.ver->count == 2);
    encode(f, &st, &x, &xl);
    struct rulebook *plain = calloc(1, sizeof(*plain));
    config_rules_defaults(plain);
    plain->txns_max = f->cfg.rules.txns_max;
    plain->expiry_months = 12;
    assert_int_equal(state_init(&loaded, plain, f->cfg.members_max), 0);
    if (snapshot_decode(x, xl, plain, rulecanon_codec(), &loaded, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_memory_equal(&loaded.ver->now, v[0], sizeof(*v[0]));
    assert_memory_equal(&loaded.ver->next, v[1], sizeof(*v[1]));
    assert_true(loaded.ver->has_next);
    assert_memory_equal(loaded.ver->history, st.ver->history,
                        sizeof(st.ver->history[0]) * st.ver->count);
    assert_memory_equal(&loaded.ver->next_info, &st.ver->next_info, sizeof(st.ver->next_info));
    state_free(&loaded);
    state_free(&st);
    free(plain);
    free(v[0]);
    free(v[1]);
    free(x);
}

static void a_written_file_reads_back_and_names_its_last_entry(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/test_snapshot.XXXXXX", path[256];
    struct snapshot_error err;
    struct proto_id id;
    struct state loaded;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/snap", dir);
    if (snapshot_write(&f->a, rulecanon_codec(), path, &err) != 0)
        fail_msg("%s", err.text);
    assert_int_equal(snapshot_peek_id(path, &id, &err), 0);
    assert_int_equal(proto_id_cmp(id, f->a.last_id), 0);
    assert_int_equal(state_init(&loaded, &f->cfg.rules, f->cfg.members_max), 0);
    if (snapshot_read(path, &f->cfg.rules, rulecanon_codec(), &loaded, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_int_equal(loaded.members.count, f->a.members.count);
    for (uint32_t p = 0; p < loaded.members.count; p++) /* by value: extras handles differ */
        assert_true(members_same(&loaded.members, p, &f->a.members, p));
    state_free(&loaded);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_entries_give_byte_identical_snapshots),
        cmocka_unit_test(a_loaded_snapshot_writes_back_the_same_bytes),
        cmocka_unit_test(truncated_or_flipped_snapshots_are_damaged),
        cmocka_unit_test(another_builds_or_configurations_snapshot_is_foreign),
        cmocka_unit_test(a_snapshot_carries_the_rulebook_versions_and_their_texts),
        cmocka_unit_test(a_written_file_reads_back_and_names_its_last_entry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
