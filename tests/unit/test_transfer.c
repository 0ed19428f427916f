/* test_transfer.c - points transfers between members (transfer.h): the
 * points keep the expiry of the sender's oldest lots, refusals are
 * answered with transfer.result, unknown members are rejected, retries
 * are answered again and applied once, the receiver's debt is repaid
 * first, transferred points are not earning, and a storm of random
 * transfers with retries conserves the sum of balances in every expiry
 * mode.
 *
 * Rulebook (progfx.h): 1 point per 1.00, blue/silver/gold at 0/500/2000,
 * expiry 12 months after the earning month unless a test says otherwise,
 * transfers enabled with at most 1000 points per sender and UTC day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "progfx.h"
#include "splitmix.h"
#include "wallet.h"

#define MONTHS_TEXT                                                                        \
    "expiry = { months = 12; };\n"                                                        \
    "transfers = { enabled = true; max_points_per_day = 1000; };\n"

static int64_t expiring(struct progfx *f, const char *id, int64_t until)
{
    return wallet_expiring(&f->st.members, progfx_pos(f, id), until);
}

static int64_t next_expiry(struct progfx *f, const char *id)
{
    return wallet_next_expiry(&f->st.members, progfx_pos(f, id));
}

/* A and B enrolled; A earned 100 in January 2027 and 200 in March. */
static struct progfx *two_members(const char *text)
{
    struct progfx *f = progfx_new(text, 16);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    progfx_enroll(f, progfx_noon(2027, 1, 5), "B");
    progfx_buy(f, progfx_noon(2027, 1, 10), "A", 10000);
    progfx_buy(f, progfx_noon(2027, 3, 10), "A", 20000);
    assert_int_equal(progfx_member(f, "A")->lifetime_points, 300);
    return f;
}

static void expect_result(const struct progfx *f, const char *txn, bool ok, const char *error,
                          int64_t balance)
{
    assert_int_equal(progfx_count(f, PROTO_OUT_TRANSFER_RESULT), 1);
    const struct proto_output *r = progfx_out(f, PROTO_OUT_TRANSFER_RESULT, 0);
    assert_string_equal(r->member, f->e.member);
    assert_string_equal(r->txn, txn);
    assert_int_equal(r->ok, ok);
    if (error)
        assert_string_equal(r->error, error);
    else
        assert_null(r->error);
    assert_int_equal(r->balance, balance);
}

/* 150 of A's 300 go to B on 2027-04-02: the 100 of January (expiring
 * 2028-02-01) and 50 of March's 200 (2028-04-01). */
static void transfer_moves_the_oldest_points_and_keeps_their_expiry(void **unused)
{
    (void)unused;
    struct progfx *f = two_members(MONTHS_TEXT);
    assert_int_equal(progfx_transfer(f, progfx_noon(2027, 4, 2), "t1", "A", "B", 150),
                     OUTBOX_APPLIED);
    assert_int_equal(f->ob.count, 3);
    assert_int_equal(progfx_delta(f, "A", PROTO_CAUSE_TRANSFER_OUT), -150);
    assert_int_equal(progfx_delta(f, "B", PROTO_CAUSE_TRANSFER_IN), 150);
    assert_int_equal(progfx_out(f, PROTO_OUT_POINTS_CHANGED, 1)->balance, 150);
    expect_result(f, "t1", true, NULL, 150);
    int64_t feb = progfx_midnight(2028, 2, 1), apr = progfx_midnight(2028, 4, 1);
    assert_int_equal(next_expiry(f, "B"), feb);
    assert_int_equal(expiring(f, "B", feb + 1), 100);
    assert_int_equal(expiring(f, "B", apr + 1), 150);
    assert_int_equal(next_expiry(f, "A"), apr);
    assert_int_equal(expiring(f, "A", apr + 1), 150);
    /* Not earning: nothing counts toward lifetime, rewards or tiers. */
    const struct member *a = progfx_member(f, "A"), *b = progfx_member(f, "B");
    assert_int_equal(a->lifetime_points, 300);
    assert_int_equal(a->reward_points, 300);
    assert_int_equal(b->lifetime_points, 0);
    assert_int_equal(b->reward_points, 0);
    assert_int_equal(members_qual_total(b, f->st.clock_month, 12), 0);
    assert_int_equal(members_qual_total(a, f->st.clock_month, 12), 300);
    /* January's points expire at B's on time. */
    progfx_tick(f, feb);
    assert_int_equal(progfx_out(f, PROTO_OUT_POINTS_EXPIRED, 0)->points, 100);
    assert_string_equal(progfx_out(f, PROTO_OUT_POINTS_EXPIRED, 0)->member, "B");
    assert_int_equal(progfx_member(f, "B")->balance, 50);
    assert_int_equal(progfx_member(f, "A")->balance, 150);
    progfx_free(f);
}

static void refusals_are_answered_and_move_nothing(void **unused)
{
    (void)unused;
    struct progfx *f = two_members(MONTHS_TEXT);
    int64_t d = progfx_noon(2027, 4, 2);
    assert_int_equal(progfx_transfer(f, d, "t1", "A", "B", 301), OUTBOX_APPLIED);
    expect_result(f, "t1", false, "insufficient_points", 300);
    assert_int_equal(progfx_count(f, PROTO_OUT_POINTS_CHANGED), 0);
    progfx_buy(f, d, "A", 500000); /* 5300 */
    assert_int_equal(progfx_transfer(f, d, "t2", "A", "B", 600), OUTBOX_APPLIED);
    expect_result(f, "t2", true, NULL, 4700);
    /* 600 + 500 > 1000 on the same UTC day; 600 + 400 = 1000 is allowed. */
    assert_int_equal(progfx_transfer(f, d + 3600000, "t3", "A", "B", 500), OUTBOX_APPLIED);
    expect_result(f, "t3", false, "daily_limit", 4700);
    assert_int_equal(progfx_transfer(f, d + 3600000, "t4", "A", "B", 400), OUTBOX_APPLIED);
    expect_result(f, "t4", true, NULL, 4300);
    assert_int_equal(progfx_transfer(f, d + DAY, "t5", "A", "B", 1000), OUTBOX_APPLIED);
    expect_result(f, "t5", true, NULL, 3300);
    assert_int_equal(progfx_member(f, "B")->balance, 2000);
    /* The refusal is remembered: its retry gets the same answer. */
    assert_int_equal(progfx_transfer(f, d + DAY, "t3", "A", "B", 500), OUTBOX_DUPLICATE);
    expect_result(f, "t3", false, "daily_limit", 4700);
    progfx_free(f);

    f = two_members("expiry = { months = 12; };\n"); /* transfers off: the default */
    assert_int_equal(progfx_transfer(f, d, "t1", "A", "B", 10), OUTBOX_APPLIED);
    expect_result(f, "t1", false, "transfers_disabled", 300);
    assert_int_equal(progfx_member(f, "B")->balance, 0);
    progfx_free(f);
}

static void unknown_sender_or_receiver_is_unknown_member_and_changes_nothing(void **unused)
{
    (void)unused;
    struct progfx *f = two_members(MONTHS_TEXT);
    static struct member before[2];
    memcpy(before, f->st.members.v, sizeof(before));
    uint32_t txns = f->st.txns.count;
    const char *pairs[][2] = {{"A", "nobody"}, {"nobody", "B"}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(progfx_transfer(f, progfx_noon(2027, 3, 11), "t1", pairs[i][0],
                                         pairs[i][1], 10),
                         OUTBOX_REJECTED);
        assert_string_equal(f->ob.reject.code, "unknown_member");
        assert_non_null(strstr(f->ob.reject.detail, "'nobody' is not enrolled"));
        assert_int_equal(f->ob.count, 0);
    }
    assert_memory_equal(before, f->st.members.v, sizeof(before));
    assert_int_equal(f->st.txns.count, txns);
    progfx_free(f);
}

static void retries_are_answered_again_and_applied_once(void **unused)
{
    (void)unused;
    struct progfx *f = two_members(MONTHS_TEXT);
    int64_t d = progfx_noon(2027, 4, 2);
    assert_int_equal(progfx_transfer(f, d, "t1", "A", "B", 100), OUTBOX_APPLIED);
    progfx_buy(f, d, "A", 1000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(progfx_transfer(f, d + i, "t1", "A", "B", 100), OUTBOX_DUPLICATE);
        assert_int_equal(f->ob.count, 1);
        expect_result(f, "t1", true, NULL, 200); /* the balance of the original answer */
    }
    assert_int_equal(progfx_member(f, "A")->balance, 210);
    assert_int_equal(progfx_member(f, "B")->balance, 100);
    assert_int_equal(progfx_transfer(f, d, "t1", "B", "A", 100), OUTBOX_REJECTED);
    assert_string_equal(f->ob.reject.code, "txn_conflict");
    /* The same txn with other points or another receiver is no retry. */
    assert_int_equal(progfx_transfer(f, d, "t1", "A", "B", 150), OUTBOX_REJECTED);
    assert_string_equal(f->ob.reject.code, "txn_conflict");
    assert_non_null(strstr(f->ob.reject.detail, "points 100; this one has points 150"));
    assert_int_equal(progfx_transfer(f, d, "t1", "A", "A", 100), OUTBOX_REJECTED);
    assert_non_null(strstr(f->ob.reject.detail, "receiver (to)"));
    assert_int_equal(progfx_member(f, "B")->balance, 100);
    progfx_free(f);
}

/* B owes 50 (an adjustment); of the 120 from A's January (100) and March
 * (20) lots, the oldest 50 repay it. */
static void a_receivers_debt_is_repaid_first_from_the_oldest_points(void **unused)
{
    (void)unused;
    struct progfx *f = two_members(MONTHS_TEXT);
    progfx_entry(f, PROTO_ADJUST, progfx_noon(2027, 4, 1), "a1", "B")->points = -50;
    strcpy(f->e.reason, "correction");
    progfx_ok(f);
    assert_int_equal(progfx_transfer(f, progfx_noon(2027, 4, 2), "t1", "A", "B", 120),
                     OUTBOX_APPLIED);
    assert_int_equal(progfx_member(f, "B")->balance, 70);
    assert_int_equal(expiring(f, "B", progfx_midnight(2028, 2, 2)), 50);
    assert_int_equal(expiring(f, "B", INT64_MAX), 70);
    assert_int_equal(progfx_member(f, "A")->balance, 180);
    progfx_free(f);
}

/* days = 30: points earned on 2027-01-10 expire at 2027-02-10 00:00 at the
 * receiver's too; with no expiry, transfers move the balance. */
static void transfers_keep_expiry_in_keyed_modes_and_work_without_expiry(void **unused)
{
    (void)unused;
    struct progfx *f = two_members("expiry = { mode = \"days\"; days = 30; };\n"
                                   "transfers = { enabled = true; };\n");
    int64_t feb10 = progfx_midnight(2027, 2, 10);
    /* March's 200 remain; January's 100 expired on 2027-02-10. */
    assert_int_equal(progfx_transfer(f, progfx_noon(2027, 3, 11), "t1", "A", "B", 50),
                     OUTBOX_APPLIED);
    assert_int_equal(next_expiry(f, "B"), progfx_midnight(2027, 4, 10));
    assert_int_equal(progfx_member(f, "A")->balance, 150);
    progfx_free(f);

    f = progfx_new("expiry = { mode = \"days\"; days = 30; };\n"
                   "transfers = { enabled = true; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    progfx_enroll(f, progfx_noon(2027, 1, 5), "B");
    progfx_buy(f, progfx_noon(2027, 1, 10), "A", 10000);
    assert_int_equal(progfx_transfer(f, progfx_noon(2027, 1, 20), "t1", "A", "B", 40),
                     OUTBOX_APPLIED);
    assert_int_equal(next_expiry(f, "B"), feb10);
    progfx_tick(f, feb10);
    assert_int_equal(progfx_member(f, "B")->balance, 0);
    assert_int_equal(progfx_member(f, "A")->balance, 0);
    progfx_free(f);

    f = two_members("transfers = { enabled = true; };\n"); /* expiry: never */
    assert_int_equal(progfx_transfer(f, progfx_noon(2030, 1, 1), "t1", "A", "B", 300),
                     OUTBOX_APPLIED);
    assert_int_equal(progfx_member(f, "B")->balance, 300);
    assert_int_equal(next_expiry(f, "B"), INT64_MAX);
    progfx_free(f);
}

/* Random purchases and transfers among ten members (some
 * of the transfers sent again) over two years, in each expiry mode: every
 * transfer is applied once, the balances add up to what was earned less
 * what was redeemed and expired, and every wallet keeps its invariants. */
static void a_storm_of_transfers_with_retries_conserves_the_points(void **unused)
{
    (void)unused;
    static const char *const texts[] = {
        "expiry = { months = 3; };\n",
        "expiry = { mode = \"days\"; days = 40; };\n",
        "expiry = { mode = \"end_of_year\"; years = 0; };\n",
        "expiry = { mode = \"never\"; };\n",
    };
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        char text[256];
        snprintf(text, sizeof(text), "%stransfers = { enabled = true; };\n", texts[t]);
        struct progfx *f = progfx_new(text, 16);
        uint64_t rng = 14 + t;
        int64_t ts = progfx_noon(2027, 1, 1), in = 0, out = 0, moved = 0;
        char id[10][8];
        for (int i = 0; i < 10; i++) {
            snprintf(id[i], sizeof(id[i]), "m%d", i);
            progfx_enroll(f, ts, id[i]);
        }
        for (int i = 0; i < 4000; i++) {
            ts += splitmix_below(&rng, 5 * 3600000);
            int a = (int)splitmix_below(&rng, 10), b = (int)(a + 1 + splitmix_below(&rng, 9)) % 10;
            uint64_t roll = splitmix_below(&rng, 10);
            char txn[16];
            if (roll < 4) {
                progfx_buy(f, ts, id[a], 100 + splitmix_below(&rng, 20000));
                in += progfx_delta(f, id[a], PROTO_CAUSE_PURCHASE);
            } else {
                snprintf(txn, sizeof(txn), "t%d", roll < 9 ? i : i - 1 - (int)(i % 7));
                enum outbox_verdict v = progfx_transfer(f, ts, txn, id[a], id[b],
                                                        1 + splitmix_below(&rng, 150));
                assert_true(v != OUTBOX_REJECTED || strcmp(f->ob.reject.code, "txn_conflict") == 0);
                moved -= progfx_delta(f, id[a], PROTO_CAUSE_TRANSFER_OUT);
                assert_int_equal(progfx_delta(f, id[b], PROTO_CAUSE_TRANSFER_IN),
                                 -progfx_delta(f, id[a], PROTO_CAUSE_TRANSFER_OUT));
            }
            for (uint32_t k = 0; k < f->ob.count; k++)
                if (f->ob.out[k].kind == PROTO_OUT_POINTS_EXPIRED)
                    out += f->ob.out[k].points;
        }
        int64_t sum = 0;
        for (int i = 0; i < 10; i++) {
            const struct member *m = progfx_member(f, id[i]);
            sum += m->balance;
            int64_t lots[WALLET_LOTS_PER_MAX];
            members_lots_read(&f->st.members, (uint32_t)i, lots);
            assert_true(wallet_lots_valid(&f->st.members, m, lots));
        }
        assert_true(moved > 10000);
        assert_int_equal(sum, in - out);
        progfx_free(f);
    }
}

/* Pending points (pending_days = 4: a sale on 2027-04-02 releases on
 * 2027-04-07) cannot be given; from their release day the transfer
 * releases them first and gives them. */
static void only_released_points_can_be_transferred(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(MONTHS_TEXT "earning = { pending_days = 4; };\n", 16);
    progfx_enroll(f, progfx_noon(2027, 4, 1), "A");
    progfx_enroll(f, progfx_noon(2027, 4, 1), "B");
    progfx_buy(f, progfx_noon(2027, 4, 2), "A", 10000);
    assert_int_equal(progfx_member(f, "A")->balance, 0);
    assert_int_equal(progfx_transfer(f, progfx_noon(2027, 4, 6), "t1", "A", "B", 50),
                     OUTBOX_APPLIED);
    expect_result(f, "t1", false, "insufficient_points", 0);
    assert_int_equal(progfx_transfer(f, progfx_midnight(2027, 4, 7), "t2", "A", "B", 50),
                     OUTBOX_APPLIED);
    assert_int_equal(progfx_delta(f, "A", PROTO_CAUSE_RELEASE), 100);
    assert_int_equal(progfx_delta(f, "A", PROTO_CAUSE_TRANSFER_OUT), -50);
    expect_result(f, "t2", true, NULL, 50);
    assert_int_equal(progfx_member(f, "A")->lifetime_points, 100);
    assert_int_equal(progfx_member(f, "B")->balance, 50);
    assert_int_equal(progfx_member(f, "B")->lifetime_points, 0);
    progfx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transfer_moves_the_oldest_points_and_keeps_their_expiry),
        cmocka_unit_test(refusals_are_answered_and_move_nothing),
        cmocka_unit_test(unknown_sender_or_receiver_is_unknown_member_and_changes_nothing),
        cmocka_unit_test(retries_are_answered_again_and_applied_once),
        cmocka_unit_test(a_receivers_debt_is_repaid_first_from_the_oldest_points),
        cmocka_unit_test(transfers_keep_expiry_in_keyed_modes_and_work_without_expiry),
        cmocka_unit_test(a_storm_of_transfers_with_retries_conserves_the_points),
        cmocka_unit_test(only_released_points_can_be_transferred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
