/* test_expiry_modes.c - the expiry modes (wallet.h): months after the
 * earning month, days after the earning day, the end of the earning year
 * + N, never; spending oldest first and the lookup's expiring view in each;
 * keyed lots (lots.h) at their bound; snapshots of keyed lots.
 *
 * Rulebook (progfx.h): 1 point per 1.00; the expiry section each test
 * writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lots.h"
#include "progfx.h"
#include "rulecanon.h"
#include "snapshot.h"
#include "wallet.h"

static int64_t expiring(struct progfx *f, const char *id, int64_t until)
{
    return wallet_expiring(&f->st.members, progfx_pos(f, id), until);
}

static int64_t next_expiry(struct progfx *f, const char *id)
{
    return wallet_next_expiry(&f->st.members, progfx_pos(f, id));
}

/* Ticks at `ts` and returns the points it expired for `id`. */
static int64_t expired_at(struct progfx *f, int64_t ts, const char *id)
{
    progfx_tick(f, ts);
    return -progfx_delta(f, id, PROTO_CAUSE_EXPIRY);
}

/* days = 90: 100 points earned on 2026-01-10 expire at 2026-04-11 00:00
 * (day 10 + 90 + 1): usable through the whole 90th day after. */
static void days_mode_expires_at_the_start_of_day_d_plus_days_plus_1(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"days\"; days = 90; };\n", 4);
    int64_t due = progfx_midnight(2026, 4, 11);
    progfx_enroll(f, progfx_noon(2026, 1, 1), "m");
    progfx_buy(f, progfx_noon(2026, 1, 10), "m", 10000);
    progfx_buy(f, progfx_noon(2026, 1, 20), "m", 5000); /* expires 2026-04-21 */
    assert_int_equal(next_expiry(f, "m"), due);
    progfx_tick(f, progfx_noon(2026, 3, 15));
    assert_int_equal(expiring(f, "m", f->st.clock_ms + 30 * DAY), 100);
    assert_int_equal(expiring(f, "m", f->st.clock_ms + 60 * DAY), 150);
    assert_int_equal(expiring(f, "m", progfx_midnight(2026, 4, 12)), 100);
    assert_int_equal(expired_at(f, due - 1, "m"), 0);
    assert_int_equal(expired_at(f, due, "m"), 100);
    assert_int_equal(progfx_out(f, PROTO_OUT_POINTS_EXPIRED, 0)->balance, 50);
    assert_int_equal(next_expiry(f, "m"), progfx_midnight(2026, 4, 21));
    progfx_free(f);
}

/* years = 1: points of 2026 (March and 31 December) expire at
 * 2028-01-01 00:00, those of 1 January 2027 at 2029-01-01; years = 0: at
 * the end of the year earned. */
static void end_of_year_mode_expires_at_the_end_of_year_y_plus_n(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"end_of_year\"; years = 1; };\n", 4);
    progfx_enroll(f, progfx_noon(2026, 3, 1), "m");
    progfx_buy(f, progfx_noon(2026, 3, 10), "m", 10000);
    progfx_buy(f, progfx_midnight(2026, 12, 31) + DAY - 1, "m", 5000);
    progfx_buy(f, progfx_midnight(2027, 1, 1), "m", 7000);
    int64_t y28 = progfx_midnight(2028, 1, 1), y29 = progfx_midnight(2029, 1, 1);
    assert_int_equal(next_expiry(f, "m"), y28);
    assert_int_equal(expiring(f, "m", y28 + 1), 150);
    assert_int_equal(expiring(f, "m", y29 + 1), 220);
    assert_int_equal(expired_at(f, y28 - 1, "m"), 0);
    assert_int_equal(expired_at(f, y28, "m"), 150);
    assert_int_equal(expired_at(f, y29, "m"), 70);
    assert_int_equal(progfx_member(f, "m")->balance, 0);
    progfx_free(f);

    f = progfx_new("expiry = { mode = \"end_of_year\"; years = 0; };\n", 4);
    progfx_enroll(f, progfx_noon(2026, 6, 1), "m");
    progfx_buy(f, progfx_noon(2026, 6, 10), "m", 10000);
    assert_int_equal(next_expiry(f, "m"), progfx_midnight(2027, 1, 1));
    progfx_free(f);
}

static void never_mode_keeps_points_for_ever(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"never\"; };\n", 4);
    /* An empty ring (wallet.h): a later version may turn expiry.months on. */
    assert_int_equal(f->st.members.lots_kind, WALLET_RING);
    progfx_enroll(f, progfx_noon(2026, 6, 1), "m");
    progfx_buy(f, progfx_noon(2026, 6, 10), "m", 10000);
    assert_int_equal(next_expiry(f, "m"), INT64_MAX);
    assert_int_equal(expired_at(f, progfx_noon(2036, 6, 10), "m"), 0);
    assert_int_equal(expiring(f, "m", INT64_MAX), 0);
    assert_int_equal(progfx_member(f, "m")->balance, 100);
    progfx_free(f);
}

/* The shipped mode, unchanged: March 2027's points expire 2028-04-01. */
static void months_mode_expires_after_the_earning_month(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"months\"; months = 12; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 3, 1), "m");
    progfx_buy(f, progfx_noon(2027, 3, 31), "m", 10000);
    assert_int_equal(next_expiry(f, "m"), progfx_midnight(2028, 4, 1));
    assert_int_equal(expired_at(f, progfx_midnight(2028, 4, 1) - 1, "m"), 0);
    assert_int_equal(expired_at(f, progfx_midnight(2028, 4, 1), "m"), 100);
    progfx_free(f);
}

/* days = 30: 100 earned on day 1 and 100 on day 5; 150 redeemed takes
 * day 1's 100 and 50 of day 5's: nothing left to expire on day 32. */
static void spending_takes_the_oldest_keyed_lot_first(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"days\"; days = 30; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 1), "m");
    progfx_buy(f, progfx_noon(2027, 1, 1), "m", 10000);
    progfx_buy(f, progfx_noon(2027, 1, 5), "m", 10000);
    progfx_entry(f, PROTO_REDEEM, progfx_noon(2027, 1, 6), "r1", "m")->points = 150;
    progfx_ok(f);
    assert_int_equal(next_expiry(f, "m"), progfx_midnight(2027, 2, 5));
    assert_int_equal(expired_at(f, progfx_midnight(2027, 2, 1), "m"), 0);
    assert_int_equal(expired_at(f, progfx_midnight(2027, 2, 5), "m"), 50);
    progfx_free(f);
}

/* days = 365 keeps at most 16 lots: earning on 20 days merges the two
 * lots closest in time, the earlier taking the later expiry, so points
 * expire no earlier than promised, and none are lost. */
static void keyed_lots_past_their_bound_merge_and_never_expire_early(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"days\"; days = 365; };\n", 4);
    assert_int_equal(f->st.members.lots_per, 2 * LOTS_CAP_MAX);
    progfx_enroll(f, progfx_noon(2027, 1, 1), "m");
    int64_t first_due = progfx_midnight(2027, 1, 1) + 366 * DAY;
    for (int i = 0; i < 20; i++)
        progfx_buy(f, progfx_noon(2027, 1, 1) + (int64_t)(i * i) * DAY, "m", 100 * (i + 1));
    const int64_t *l = members_lots(&f->st.members, progfx_pos(f, "m"));
    int64_t sum = 0;
    assert_true(lots_valid(l, LOTS_CAP_MAX, &sum));
    assert_int_equal(sum, 210);
    assert_int_equal(progfx_member(f, "m")->balance, 210);
    assert_true(next_expiry(f, "m") >= first_due);
    /* Each day i's points are gone only after day i + 366. */
    for (int i = 0; i < 20; i++) {
        int64_t due = progfx_midnight(2027, 1, 1) + (int64_t)(i * i + 366) * DAY;
        int64_t left = 0;
        for (int j = i; j < 20; j++)
            left += j + 1;
        progfx_tick(f, due - 1);
        assert_true(progfx_member(f, "m")->balance >= left);
    }
    progfx_tick(f, progfx_midnight(2029, 1, 1));
    assert_int_equal(progfx_member(f, "m")->balance, 0);
    progfx_free(f);
}

static void lots_add_take_and_expire_keep_their_invariants(void **unused)
{
    (void)unused;
    int64_t l[2 * 3] = {0}, sum;
    struct lots_piece out[3];
    lots_add(l, 3, 300, 5);
    lots_add(l, 3, 100, 1);
    lots_add(l, 3, 200, 2);
    lots_add(l, 3, 200, 2); /* the same instant: one lot */
    assert_true(lots_valid(l, 3, &sum));
    assert_int_equal(sum, 10);
    lots_add(l, 3, 210, 7); /* full: 200 and 210 are closest; 200's move to 210 */
    const int64_t want[] = {100, 1, 210, 11, 300, 5};
    assert_memory_equal(l, want, sizeof(want));
    assert_int_equal(lots_take(l, 3, 3, out), 2);
    assert_int_equal(out[0].expire_ms, 100);
    assert_int_equal(out[0].points, 1);
    assert_int_equal(out[1].expire_ms, 210);
    assert_int_equal(out[1].points, 2);
    assert_int_equal(lots_next(l, 3), 210);
    assert_int_equal(lots_before(l, 3, 301), 14);
    assert_int_equal(lots_expire(l, 3, 210), 9);
    assert_int_equal(lots_expire(l, 3, 299), 0);
    const int64_t rest[] = {300, 5, 0, 0, 0, 0};
    assert_memory_equal(l, rest, sizeof(rest));
    /* What a snapshot must not hold: out of order, a hole, zero points. */
    const int64_t bad[][6] = {{300, 5, 100, 1, 0, 0}, {0, 0, 100, 1, 0, 0}, {100, 0, 0, 0, 0, 0},
                              {100, 1, 0, 3, 0, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(lots_valid(bad[i], 3, &sum));
}

/* A snapshot of keyed lots loads back byte for byte, and only under the
 * same expiry mode. */
static void keyed_lots_round_trip_through_a_snapshot_of_the_same_mode_only(void **unused)
{
    (void)unused;
    const char *text = "expiry = { mode = \"days\"; days = 3; };\n";
    struct progfx *f = progfx_new(text, 4);
    progfx_enroll(f, progfx_noon(2027, 1, 1), "m");
    for (int i = 0; i < 3; i++)
        progfx_buy(f, progfx_noon(2027, 1, 1) + i * DAY, "m", 1000);
    char *buf;
    size_t len;
    assert_int_equal(snapshot_encode(&f->st, rulecanon_codec(), &buf, &len), 0);
    static struct state back;
    struct snapshot_error err = {{0}};
    assert_int_equal(state_init(&back, &f->rb, 4), 0);
    if (snapshot_decode(buf, len, &f->rb, rulecanon_codec(), &back, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_int_equal(back.members.lots_per, 8);
    assert_memory_equal(back.members.lots, f->st.members.lots, 8 * sizeof(int64_t));
    state_free(&back);
    /* end_of_year with years = 3 takes 8 values too, but dates lots
     * otherwise: refused. */
    static struct rulebook other;
    progfx_parse("expiry = { mode = \"end_of_year\"; years = 3; };\n", &other);
    assert_int_equal(wallet_lots_per(&other, 0), 8);
    assert_int_equal(state_init(&back, &other, 4), 0);
    assert_int_equal(snapshot_decode(buf, len, &other, rulecanon_codec(), &back, &err),
                     SNAPSHOT_FOREIGN);
    assert_non_null(strstr(err.text, "another expiry mode"));
    state_free(&back);
    free(buf);
    progfx_free(f);
}

/* The ring keeps lots as int32 (members.h) until one does not fit: a
 * month's lot of 2.5e9 points moves that member's ring to int64, exactly
 * (the expiring view, the expiry tick, a snapshot that loads back to the
 * same bytes), while another member's ring stays narrow. */
static void a_lot_over_int32_widens_its_members_ring_and_stays_exact(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { mode = \"months\"; months = 1; };\n", 4);
    const int64_t big = 25 * (PROTO_AMOUNT_MAX / 100); /* 25 sales of the largest amount */
    progfx_enroll(f, progfx_noon(2027, 1, 1), "big");
    progfx_enroll(f, progfx_noon(2027, 1, 1), "small");
    for (int i = 0; i < 25; i++)
        progfx_buy(f, progfx_noon(2027, 1, 2) + i, "big", PROTO_AMOUNT_MAX);
    progfx_buy(f, progfx_noon(2027, 2, 3), "big", 10000);
    progfx_buy(f, progfx_noon(2027, 2, 3), "small", 10000);
    assert_true(big > INT32_MAX);
    assert_true(progfx_member(f, "big")->flags & MEMBER_F_WIDE_LOTS);
    assert_false(progfx_member(f, "small")->flags & MEMBER_F_WIDE_LOTS);
    int64_t mar = progfx_midnight(2027, 3, 1), apr = progfx_midnight(2027, 4, 1);
    assert_int_equal(expiring(f, "big", mar + 1), big);
    assert_int_equal(expiring(f, "big", apr + 1), big + 100);
    char *x, *y;
    size_t xl, yl;
    static struct state back;
    struct snapshot_error err = {{0}};
    assert_int_equal(snapshot_encode(&f->st, rulecanon_codec(), &x, &xl), 0);
    assert_int_equal(state_init(&back, &f->rb, 4), 0);
    if (snapshot_decode(x, xl, &f->rb, rulecanon_codec(), &back, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_int_equal(wallet_expiring(&back.members, progfx_pos(f, "big"), apr + 1), big + 100);
    assert_int_equal(snapshot_encode(&back, rulecanon_codec(), &y, &yl), 0);
    assert_int_equal(xl, yl);
    assert_memory_equal(x, y, xl);
    free(x);
    free(y);
    state_free(&back);
    assert_int_equal(expired_at(f, mar, "big"), big);
    assert_int_equal(progfx_member(f, "big")->balance, 100);
    assert_int_equal(expired_at(f, apr, "big"), 100);
    assert_int_equal(expired_at(f, apr, "small"), 0); /* expired with the tick before */
    assert_int_equal(progfx_member(f, "small")->balance, 0);
    progfx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(days_mode_expires_at_the_start_of_day_d_plus_days_plus_1),
        cmocka_unit_test(end_of_year_mode_expires_at_the_end_of_year_y_plus_n),
        cmocka_unit_test(never_mode_keeps_points_for_ever),
        cmocka_unit_test(months_mode_expires_after_the_earning_month),
        cmocka_unit_test(spending_takes_the_oldest_keyed_lot_first),
        cmocka_unit_test(keyed_lots_past_their_bound_merge_and_never_expire_early),
        cmocka_unit_test(lots_add_take_and_expire_keep_their_invariants),
        cmocka_unit_test(keyed_lots_round_trip_through_a_snapshot_of_the_same_mode_only),
        cmocka_unit_test(a_lot_over_int32_widens_its_members_ring_and_stays_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
