/* test_snapshot_compat.c - snapshots of earlier formats (2, the memory
 * image written by the builds before format 4, and 4, the field-by-field
 * format before the compact one; tests/data/README.md says how the files
 * were made) load into this build: the figures they were written with
 * (tests/data/snapshot-v2.txt, snapshot-v4.txt: the same state), their
 * expiry lots keyed by the month they expire in, and a state that goes on
 * applying entries and writes itself back in the current format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caltime.h"
#include "rulecanon.h"
#include "rules.h"
#include "snapshot.h"
#include "wallet.h"

#define FIXTURE LOYALTY_DATA_DIR "/snapshot-v2.lysnap"
#define FIXTURE_V4 LOYALTY_DATA_DIR "/snapshot-v4.lysnap"

/* The rulebook the file was written under (the generator's). */
static const char RB[] =
    "earning = { points_per_unit = 1; minor_per_unit = 100; };\n"
    "tiers = { basis = \"points\"; window_months = 12;\n"
    "  levels = ( { name = \"blue\"; threshold = 0; multiplier_bp = 10000; },\n"
    "    { name = \"silver\"; threshold = 500; multiplier_bp = 12500; perks = [ \"free_delivery\" ]; },\n"
    "    { name = \"gold\"; threshold = 2000; multiplier_bp = 15000; perks = [ \"free_delivery\", \"lounge\" ]; } ); };\n"
    "rewards = { catalog = ( { reward = \"mug\"; cost_points = 100; } ); };\n"
    "expiry = { months = 6; };\n"
    "idempotency = { window_days = 30; max_txns = 64; };\n";

struct fx {
    struct rulebook rb;
    struct state st;
    struct outbox ob;
};

static int setup_file(void **state, const char *path)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct config_error cerr;
    struct snapshot_error err;
    assert_non_null(f);
    if (rulecanon_parse(RB, "test", &f->rb, &cerr) != 0)
        fail_msg("%s", cerr.text);
    assert_int_equal(state_init(&f->st, &f->rb, 100), 0);
    if (snapshot_read(path, &f->rb, rulecanon_codec(), &f->st, &err) != SNAPSHOT_OK)
        fail_msg("%s: %s", path, err.text);
    rules_outbox_init(&f->ob);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_file(state, FIXTURE); }
static int setup_v4(void **state) { return setup_file(state, FIXTURE_V4); }

static int teardown(void **state)
{
    struct fx *f = *state;
    state_free(&f->st);
    outbox_free(&f->ob);
    free(f);
    return 0;
}

static const struct member *member(struct fx *f, const char *id)
{
    uint32_t pos = members_find(&f->st.members, id);
    assert_int_not_equal(pos, HINDEX_NONE);
    return members_at(&f->st.members, pos);
}

static void the_figures_it_was_written_with_come_back(void **state)
{
    struct fx *f = *state;
    static const struct { const char *id; int64_t balance, lifetime; } want[] = {
        {"alice", 2594, 2744}, {"bob", 3038, 3100}, {"carol", 3357, 3457}, {"dave", 4135, 4135}};
    assert_int_equal(f->st.last_id.ms, 1000);
    assert_int_equal(f->st.last_id.seq, 24);
    assert_int_equal(f->st.clock_ms, 1779494400000LL);
    assert_int_equal(f->st.entries_applied, 24);
    assert_int_equal(f->st.members.count, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct member *m = member(f, want[i].id);
        assert_int_equal(m->balance, want[i].balance);
        assert_int_equal(m->lifetime_points, want[i].lifetime);
        assert_int_equal(m->purchases, 4);
        assert_string_equal(f->rb.tiers[m->tier].name, "gold");
    }
    assert_int_equal(f->st.txns.count, 6);
    const struct txn_rec *p13 = txns_find(&f->st.txns, "p13");
    assert_non_null(p13);
    assert_int_equal(p13->amount, 112947);
    assert_int_equal(p13->points, 1411);
    assert_int_equal(p13->refunded_amount, 5000);
    assert_int_equal(p13->refunded_points, 62);
    assert_int_equal(f->st.g.catalog_issued[0], 1); /* carol's mug */
    /* Format 2 names no rulebook: the configured one is the start-up
     * version; format 4 recorded that same start-up version. */
    assert_string_equal(versions_current(f->st.ver)->hash, "");
}

/* alice earned 366, 916 and 1312 points in the three months before May
 * 2026 that count (six-month expiry): they expire at the start of
 * September, October and November 2026. */
static void expiry_lots_keep_their_dates(void **state)
{
    struct fx *f = *state;
    const struct members *ms = &f->st.members;
    uint32_t a = members_find(ms, "alice");
    int32_t sep = caltime_month(caltime_ts((struct caltime_date){2026, 9, 1}));
    assert_int_equal(wallet_next_expiry(ms, a), caltime_month_start(sep));
    assert_int_equal(wallet_expiring(ms, a, caltime_month_start(sep + 1)), 366);
    assert_int_equal(wallet_expiring(ms, a, caltime_month_start(sep + 2)), 366 + 916);
    assert_int_equal(wallet_expiring(ms, a, caltime_month_start(sep + 3)), 2594);
    /* A tick at September 1st expires exactly the first lot. */
    struct proto_entry e;
    memset(&e, 0, sizeof(e));
    e.kind = PROTO_TICK;
    e.ts = caltime_month_start(sep);
    rules_apply(&f->st, (struct proto_id){2000, 1}, &e, NULL, &f->ob);
    assert_int_equal(member(f, "alice")->balance, 2594 - 366);
}

/* Loaded, the state goes on and writes itself in format 4, which loads
 * back to the same bytes. */
static void it_goes_on_and_writes_back_in_the_current_format(void **state)
{
    struct fx *f = *state;
    struct proto_entry e;
    struct snapshot_error err;
    memset(&e, 0, sizeof(e));
    e.kind = PROTO_PURCHASE;
    e.ts = 1779494400000LL + 86400000;
    snprintf(e.member, sizeof(e.member), "bob");
    snprintf(e.txn, sizeof(e.txn), "p100");
    snprintf(e.store, sizeof(e.store), "s1");
    e.amount = 10000; /* 100.00 at gold x1.5 */
    rules_apply(&f->st, (struct proto_id){2000, 2}, &e, NULL, &f->ob);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
    assert_int_equal(member(f, "bob")->balance, 3038 + 150);
    char *x, *y;
    size_t xl, yl;
    assert_int_equal(snapshot_encode(&f->st, rulecanon_codec(), &x, &xl), 0);
    assert_int_equal((unsigned char)x[8], SNAPSHOT_VERSION);
    struct state again;
    assert_int_equal(state_init(&again, &f->rb, 100), 0);
    if (snapshot_decode(x, xl, &f->rb, rulecanon_codec(), &again, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_int_equal(snapshot_encode(&again, rulecanon_codec(), &y, &yl), 0);
    assert_int_equal(xl, yl);
    assert_memory_equal(x, y, xl);
    state_free(&again);
    free(x);
    free(y);
}

/* Format 2 under another rulebook (here: another expiry) is FOREIGN, not
 * damaged: it is kept for the build or configuration that wrote it. */
static void under_another_rulebook_it_is_foreign(void **state)
{
    struct fx *f = *state;
    struct rulebook *other = malloc(sizeof(*other));
    struct state st;
    struct snapshot_error err;
    memcpy(other, &f->rb, sizeof(*other));
    other->expiry_months = 12;
    assert_int_equal(state_init(&st, other, 100), 0);
    assert_int_equal(snapshot_read(FIXTURE, other, rulecanon_codec(), &st, &err),
                     SNAPSHOT_FOREIGN);
    assert_non_null(strstr(err.text, "another rulebook"));
    state_free(&st);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_figures_it_was_written_with_come_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expiry_lots_keep_their_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(it_goes_on_and_writes_back_in_the_current_format,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(under_another_rulebook_it_is_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(the_figures_it_was_written_with_come_back, setup_v4,
                                        teardown),
        cmocka_unit_test_setup_teardown(expiry_lots_keep_their_dates, setup_v4, teardown),
        cmocka_unit_test_setup_teardown(it_goes_on_and_writes_back_in_the_current_format,
                                        setup_v4, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
