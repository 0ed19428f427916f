/* test_notices.c - notices before members lose something (issue 13):
 * tier.at_risk ahead of a review that would downgrade the member, and
 * points.expiring ahead of an expiry lot's end, both found through the
 * due-time schedule.
 *
 * The rulebook is rulesfx.h's (gold at 2000 points, x1.5) with
 * notices.tier_days = 30 and need_step = 100, and for expiry tests
 * expiry.months = 3 with notices.expiry_days = 10.
 */
#include "rulesfx.h"

#include "notices.h"

static int notices_setup(void **state)
{
    if (fx_setup(state) != 0)
        return -1;
    struct fx *f = *state;
    f->cfg.rules.notice_tier_days = 30;
    f->cfg.rules.notice_need_step = 100;
    fx_restart(f);
    return 0;
}

static void expect_at_risk(const struct fx *f, uint32_t i, const char *tier, int64_t review_ts,
                           int64_t needed)
{
    assert_true(i < f->res.count);
    const struct proto_output *o = &f->res.out[i];
    assert_int_equal(o->kind, PROTO_OUT_TIER_AT_RISK);
    assert_string_equal(o->member, "ann");
    assert_string_equal(o->tier, tier);
    assert_int_equal(o->review_ts, review_ts);
    assert_int_equal(o->needed, needed);
}

static void expect_expiring(const struct fx *f, uint32_t i, int64_t points, int64_t expire_ts,
                            int64_t balance)
{
    assert_true(i < f->res.count);
    const struct proto_output *o = &f->res.out[i];
    assert_int_equal(o->kind, PROTO_OUT_POINTS_EXPIRING);
    assert_string_equal(o->member, "ann");
    assert_int_equal(o->points, points);
    assert_int_equal(o->expire_ts, expire_ts);
    assert_int_equal(o->balance, balance);
}

/* Enrolled 2024-01-10 (review 2025-01-10), gold from 2000 points earned in
 * January 2024, which will have left the window (Feb 2024..Jan 2025) by
 * the review: 2000 short. */
static void gold_on_january(struct fx *f)
{
    applied(enroll(f, midnight(2024, 1, 10), "e-ann", "ann"));
    applied(purchase(f, at(2024, 1, 15), "p-0", "ann", 200000));
    assert_int_equal(find_member(f, "ann")->tier, 2);
}

/* ---- tier.at_risk ------------------------------------------------------- */

static void at_risk_is_told_tier_days_before_the_review_with_the_need(void **state)
{
    struct fx *f = *state;
    gold_on_january(f);
    /* Due when the window opens: 2025-01-10 - 30 days = 2024-12-11. */
    assert_int_equal(find_member(f, "ann")->sched_ts, midnight(2024, 12, 11));
    applied(tick(f, midnight(2024, 12, 11) - 1));
    assert_int_equal(f->res.count, 0);
    applied(tick(f, midnight(2024, 12, 11)));
    assert_int_equal(f->res.count, 1);
    expect_at_risk(f, 0, "gold", midnight(2025, 1, 10), 2000);
    int64_t review, needed;
    assert_true(notices_at_risk(&f->st, &f->cfg.rules, 0, &review, &needed));
    assert_int_equal(needed, 2000);
}

static void at_risk_again_only_when_the_need_moves_a_step(void **state)
{
    struct fx *f = *state;
    gold_on_january(f);
    applied(tick(f, midnight(2024, 12, 11)));
    /* 50.00 at gold: 75 points, need 1925: moved 75 < 100, nothing. */
    applied(purchase(f, at(2024, 12, 15), "p-1", "ann", 5000));
    assert_int_equal(f->res.count, 1);
    /* 100.00: 150 more, need 1775: moved 225 from the last notice. */
    applied(purchase(f, at(2024, 12, 16), "p-2", "ann", 10000));
    assert_int_equal(f->res.count, 2);
    expect_at_risk(f, 1, "gold", midnight(2025, 1, 10), 1775);
}

static void no_notice_after_the_member_has_qualified(void **state)
{
    struct fx *f = *state;
    gold_on_january(f);
    applied(tick(f, midnight(2024, 12, 11)));
    /* 2000.00: 3000 points, the review is safe. */
    applied(purchase(f, at(2024, 12, 17), "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 1);
    /* Returned: short again, but told no more for this review (and the tier,
     * still supported by the window today, stays). */
    applied(refund(f, at(2024, 12, 18), "r-1", "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 1);
    assert_int_equal(f->res.out[0].kind, PROTO_OUT_POINTS_CHANGED);
    /* The review moves the member down; the next review starts afresh. */
    applied(tick(f, midnight(2025, 1, 10)));
    assert_int_equal(f->res.count, 1);
    assert_string_equal(f->res.out[0].reason, "review");
    assert_int_equal(find_member(f, "ann")->notice_due_ts, midnight(2025, 12, 11));
}

static void need_step_zero_tells_once_per_review(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.notice_need_step = 0;
    gold_on_january(f);
    applied(tick(f, midnight(2024, 12, 11)));
    assert_int_equal(f->res.count, 1);
    applied(purchase(f, at(2024, 12, 16), "p-1", "ann", 100000)); /* need 500 */
    assert_int_equal(f->res.count, 1);
}

static void tier_days_zero_and_the_first_tier_tell_nothing(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 1, 10), "bob", 0); /* blue: nothing to lose */
    applied(tick(f, midnight(2024, 12, 20)));
    assert_int_equal(f->res.count, 0);
    f->cfg.rules.notice_tier_days = 0;
    gold_on_january(f);
    applied(tick(f, midnight(2025, 1, 9)));
    assert_int_equal(f->res.count, 0);
    assert_int_equal(find_member(f, "ann")->notice_due_ts, 0);
}

/* ---- points.expiring ---------------------------------------------------- */

static void with_expiry(struct fx *f, uint32_t days)
{
    f->cfg.rules.expiry_months = 3;
    f->cfg.rules.notice_expiry_days = days;
    fx_restart(f);
}

static void expiring_is_told_expiry_days_before_once_per_lot(void **state)
{
    struct fx *f = *state;
    with_expiry(f, 10);
    member_with(f, at(2024, 3, 1), "ann", 0);
    /* March's lot expires at 2024-07-01 00:00: told from 06-21. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    applied(tick(f, midnight(2024, 6, 21) - 1));
    assert_int_equal(f->res.count, 0);
    applied(tick(f, midnight(2024, 6, 21)));
    assert_int_equal(f->res.count, 1);
    expect_expiring(f, 0, 100, midnight(2024, 7, 1), 100);
    applied(tick(f, midnight(2024, 6, 25)));
    assert_int_equal(f->res.count, 0);
    applied(tick(f, midnight(2024, 7, 1)));
    assert_int_equal(f->res.out[0].kind, PROTO_OUT_POINTS_EXPIRED);
}

static void expiring_tells_what_is_left_of_the_lot(void **state)
{
    struct fx *f = *state;
    with_expiry(f, 10);
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    applied(redeem(f, at(2024, 4, 2), "d-1", "ann", 30)); /* oldest points first */
    applied(tick(f, midnight(2024, 6, 21)));
    expect_expiring(f, 0, 70, midnight(2024, 7, 1), 70);
}

static void two_lots_due_at_once_are_both_told_by_one_tick(void **state)
{
    struct fx *f = *state;
    with_expiry(f, 40);
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000)); /* told from 05-22 */
    applied(purchase(f, at(2024, 4, 5), "p-2", "ann", 20000)); /* from 06-22 */
    applied(tick(f, midnight(2024, 6, 25)));
    assert_int_equal(f->res.count, 2);
    expect_expiring(f, 0, 100, midnight(2024, 7, 1), 300);
    expect_expiring(f, 1, 200, midnight(2024, 8, 1), 300);
}

#define T(name) cmocka_unit_test_setup_teardown(name, notices_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(at_risk_is_told_tier_days_before_the_review_with_the_need),
        T(at_risk_again_only_when_the_need_moves_a_step),
        T(no_notice_after_the_member_has_qualified),
        T(need_step_zero_tells_once_per_review),
        T(tier_days_zero_and_the_first_tier_tell_nothing),
        T(expiring_is_told_expiry_days_before_once_per_lot),
        T(expiring_tells_what_is_left_of_the_lot),
        T(two_lots_due_at_once_are_both_told_by_one_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
