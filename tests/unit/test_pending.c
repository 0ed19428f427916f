/* test_pending.c - pending points (issue 13): with earning.pending_days a
 * sale's points wait out the return window before they can be spent.
 *
 * The rulebook is rulesfx.h's with pending_days = 14 unless a test says
 * otherwise. Worked example of a release day: a sale on 2024-03-02 (UTC
 * day 19784) waits for day 19784 + 14 + 1 = 19799, rounded up to the step
 * ceil(14 / (5 - 1)) = 4: day 19800, 2024-03-18.
 */
#include "rulesfx.h"

#include "pending.h"

static int pending_setup(void **state)
{
    if (fx_setup(state) != 0)
        return -1;
    struct fx *f = *state;
    f->cfg.rules.pending_days = 14;
    fx_restart(f);
    return 0;
}

static void expect_pending(const struct fx *f, uint32_t i, int64_t points, int64_t pending,
                           int64_t release_ts)
{
    const struct proto_output *o = out(f, i, PROTO_OUT_POINTS_PENDING);
    assert_int_equal(o->points, points);
    assert_int_equal(o->pending, pending);
    assert_int_equal(o->release_ts, release_ts);
}

/* ---- release days ------------------------------------------------------- */

static void release_day_is_the_window_rounded_up_to_the_step(void **state)
{
    struct fx *f = *state;
    assert_int_equal(pending_step_days(1), 1);
    assert_int_equal(pending_step_days(4), 1);
    assert_int_equal(pending_step_days(5), 2);
    assert_int_equal(pending_step_days(14), 4);
    assert_int_equal(pending_step_days(30), 8);
    assert_int_equal(pending_step_days(RULEBOOK_PENDING_DAYS_MAX), 92);
    assert_int_equal(caltime_day(at(2024, 3, 2)), 19784);
    assert_int_equal(pending_release_day(&f->cfg.rules, at(2024, 3, 2)), 19800);
    assert_int_equal(19800 * DAY, midnight(2024, 3, 18));
    /* The first and last ms of a day release together. */
    assert_int_equal(pending_release_day(&f->cfg.rules, midnight(2024, 3, 2)), 19800);
    assert_int_equal(pending_release_day(&f->cfg.rules, midnight(2024, 3, 3) - 1), 19800);
}

/* Any window, any shopping pattern: the slots hold every release day a
 * member can have pending at once, and each sale waits at least its window
 * and less than one step more. */
static void slots_hold_every_release_day_of_a_fixed_window(void **state)
{
    (void)state;
    static const uint32_t windows[] = {1, 3, 4, 5, 7, 14, 30, 45, 90, 365};
    uint64_t rng = 13;
    for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
        struct rulebook rb = {.pending_days = windows[w]};
        struct members ms;
        assert_int_equal(members_init(&ms, 1, 0), 0);
        struct member *m = members_at(&ms, members_add(&ms, "m"));
        int64_t ts = at(2024, 1, 1);
        for (int sale = 0; sale < 3000; sale++) {
            ts += (int64_t)splitmix_below(&rng, 3 * DAY); /* daily shoppers and slower */
            int32_t today = (int32_t)caltime_day(ts), d;
            int64_t p, q;
            while (pending_pop_due(&ms, m, today, &d, &p, &q))
                assert_true(d <= today);
            int32_t day = pending_release_day(&rb, ts);
            int32_t raw = today + (int32_t)windows[w] + 1;
            assert_true(day >= raw && day < raw + pending_step_days(windows[w]));
            bool has_day = false;
            for (uint32_t i = 0; i < pending_count(m); i++)
                has_day = has_day || m->pend_day[i] == day;
            if (!has_day && pending_count(m) == MEMBERS_PENDING_SLOTS)
                fail_msg("window %u: no slot for day %d", (unsigned)windows[w], (int)day);
            pending_add(&ms, m, day, 1, 0);
        }
        members_free(&ms);
    }
}

/* ---- holding, releasing, spending --------------------------------------- */

static void purchase_holds_its_points_and_tells_when_they_release(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    assert_int_equal(f->res.count, 1);
    expect_pending(f, 0, 100, 100, midnight(2024, 3, 18));
    struct member *m = find_member(f, "ann");
    assert_int_equal(m->balance, 0);
    assert_int_equal(m->lifetime_points, 0);
    assert_int_equal(pending_total(m), 100);
    /* A second sale the same day shares the slot. */
    applied(purchase(f, at(2024, 3, 2) + 1000, "p-2", "ann", 5000));
    expect_pending(f, 0, 50, 150, midnight(2024, 3, 18));
    assert_int_equal(pending_count(m), 1);
}

static void pending_points_cannot_be_spent(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    applied(redeem(f, at(2024, 3, 3), "d-1", "ann", 50));
    assert_int_equal(f->res.count, 1);
    expect_redeem_result(f, 0, false, RULES_E_INSUFFICIENT_POINTS, 0);
}

static void tick_passing_the_release_day_releases_them(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    applied(tick(f, midnight(2024, 3, 18) - 1));
    assert_int_equal(f->res.count, 0);
    /* Found through the schedule: the member is due at the release day. */
    assert_int_equal(find_member(f, "ann")->sched_ts, midnight(2024, 3, 18));
    applied(tick(f, midnight(2024, 3, 18)));
    assert_int_equal(f->res.count, 1);
    expect_points_of(f, 0, "ann", 100, 100, PROTO_CAUSE_RELEASE);
    struct member *m = find_member(f, "ann");
    assert_int_equal(m->lifetime_points, 100);
    assert_int_equal(pending_total(m), 0);
    applied(redeem(f, midnight(2024, 3, 18) + 1, "d-1", "ann", 50));
    expect_redeem_result(f, 1, true, NULL, 50);
}

static void any_entry_of_the_member_releases_what_is_due(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    /* No tick came; the redemption on the 20th releases first. */
    applied(redeem(f, at(2024, 3, 20), "d-1", "ann", 60));
    assert_int_equal(f->res.count, 3);
    expect_points(f, 0, 100, 100, PROTO_CAUSE_RELEASE);
    expect_points(f, 1, -60, 40, PROTO_CAUSE_REDEEM);
    expect_redeem_result(f, 2, true, NULL, 40);
}

/* ---- refunds inside and after the window -------------------------------- */

static void refund_inside_the_window_cancels_pending_points_first(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 500);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 10000));
    /* 40.00 back: 40 of the 100 pending points, the balance untouched. */
    applied(refund(f, at(2024, 3, 5), "r-1", "p-1", "ann", 4000));
    assert_int_equal(f->res.count, 1);
    expect_pending(f, 0, -40, 60, midnight(2024, 3, 18));
    assert_int_equal(find_member(f, "ann")->balance, 500);
    applied(tick(f, midnight(2024, 3, 18)));
    expect_points_of(f, 0, "ann", 60, 560, PROTO_CAUSE_RELEASE);
    /* After the release, a refund comes off the balance. */
    applied(refund(f, at(2024, 3, 19), "r-2", "p-1", "ann", 6000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -60, 500, PROTO_CAUSE_REFUND);
}

/* The cycle pending points exist for: buy, redeem at once, return. */
static void buy_redeem_return_inside_the_window_gets_nothing(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 500);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 100000)); /* 1000 pending */
    applied(redeem(f, at(2024, 3, 2) + 1000, "d-1", "ann", 1200));
    expect_redeem_result(f, 0, false, RULES_E_INSUFFICIENT_POINTS, 500);
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "ann", 100000));
    assert_int_equal(f->res.count, 2); /* and silver, which the sale gave, goes */
    expect_pending(f, 0, -1000, 0, midnight(2024, 3, 18));
    assert_int_equal(f->res.out[1].kind, PROTO_OUT_TIER_CHANGED);
    struct member *m = find_member(f, "ann");
    assert_int_equal(m->balance, 500);
    assert_int_equal(pending_count(m), 0);
    applied(tick(f, midnight(2024, 3, 18)));
    assert_int_equal(f->res.count, 0); /* nothing left to release */
}

static void referral_bonus_waits_with_the_sale_and_a_return_cancels_it(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.referral_bonus = 250;
    member_with(f, at(2024, 3, 1), "ref", 0);
    referred_member(f, at(2024, 3, 1), "bob", "ref");
    applied(purchase(f, at(2024, 3, 2), "p-1", "bob", 10000));
    assert_int_equal(f->res.count, 2);
    assert_string_equal(f->res.out[1].member, "ref");
    assert_int_equal(f->res.out[1].kind, PROTO_OUT_POINTS_PENDING);
    assert_int_equal(f->res.out[1].points, 250);
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "bob", 10000));
    assert_int_equal(f->res.count, 2);
    assert_string_equal(f->res.out[1].member, "ref");
    assert_int_equal(f->res.out[1].points, -250);
    assert_int_equal(pending_total(find_member(f, "ref")), 0);
    assert_int_equal(find_member(f, "ref")->balance, 0);
}

/* ---- qualification, rewards, late sales, limits ------------------------- */

static void qualify_on_release_upgrades_when_the_points_release(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.qualify_on = RULEBOOK_QUALIFY_RELEASE;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 1); /* 2000 pending, no upgrade yet */
    assert_int_equal(find_member(f, "ann")->tier, 0);
    applied(tick(f, midnight(2024, 3, 18)));
    assert_int_equal(f->res.count, 2);
    expect_points_of(f, 0, "ann", 2000, 2000, PROTO_CAUSE_RELEASE);
    assert_int_equal(f->res.out[1].kind, PROTO_OUT_TIER_CHANGED);
    assert_string_equal(f->res.out[1].to, "gold");
    assert_string_equal(f->res.out[1].reason, "upgrade");
}

static void qualify_on_earn_upgrades_at_once_while_points_wait(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 2);
    expect_pending(f, 0, 2000, 2000, midnight(2024, 3, 18));
    expect_upgrade(f, 1, "blue", "gold");
    /* A return inside the window still takes the tier back. */
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 2);
    assert_int_equal(f->res.out[1].kind, PROTO_OUT_TIER_CHANGED);
    assert_string_equal(f->res.out[1].reason, "refund");
}

static void every_n_rewards_count_released_points(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.auto_reward_count = 1;
    f->cfg.rules.auto_rewards[0] = (struct rulebook_auto_reward){"voucher_5", 1000};
    fx_restart(f);
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 250000));
    for (uint32_t i = 0; i < f->res.count; i++)
        assert_int_not_equal(f->res.out[i].kind, PROTO_OUT_REWARD_ISSUED);
    applied(tick(f, midnight(2024, 3, 18)));
    assert_int_equal(f->res.count, 2);
    expect_points_of(f, 0, "ann", 2500, 2500, PROTO_CAUSE_RELEASE);
    assert_int_equal(f->res.out[1].kind, PROTO_OUT_REWARD_ISSUED);
    assert_int_equal(f->res.out[1].count, 2);
}

static void late_sale_past_its_window_is_credited_at_once(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 4, 30), "ann", 0);
    /* A till that was offline sends a sale of 2024-03-01: its points were
     * due on day 19783 + 15 = 19798, rounded up to 19800 (03-18), gone by. */
    applied(purchase(f, at(2024, 3, 1), "p-1", "ann", 10000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 100, 100, PROTO_CAUSE_PURCHASE);
}

/* After a switch to a longer window the slots can fill: new points join
 * the last slot, which releases on their (later) day, never earlier. */
static void full_slots_after_a_switch_move_the_last_release_later(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.pending_days = 4; /* step 1: five days, five slots */
    fx_restart(f);
    member_with(f, at(2024, 3, 1), "ann", 0);
    char txn[16];
    for (uint8_t d = 0; d < 5; d++) {
        snprintf(txn, sizeof(txn), "p-%u", (unsigned)d);
        applied(purchase(f, at(2024, 3, (uint8_t)(2 + d)), txn, "ann", 10000));
    }
    struct member *m = find_member(f, "ann");
    assert_int_equal(pending_count(m), 5);
    assert_int_equal(m->pend_day[4], caltime_day(at(2024, 3, 11)));
    struct rulebook longer = f->cfg.rules;
    longer.pending_days = 30; /* 03-06 is day 19788: 19788 + 31 = 19819, step 8: 19824 */
    purchase(f, at(2024, 3, 6), "p-9", "ann", 10000);
    assert_int_equal(apply_under(f, &longer), OUTBOX_APPLIED);
    assert_int_equal(pending_count(m), 5);
    /* The fifth 100.00 made the member silver: this sale earns 125. */
    assert_int_equal(m->pend_day[4], 19824);
    assert_int_equal(m->pend_points[4], 100 + 125);
    expect_pending(f, 0, 125, 625, 19824 * DAY);
}

#define T(name) cmocka_unit_test_setup_teardown(name, pending_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(release_day_is_the_window_rounded_up_to_the_step),
        T(slots_hold_every_release_day_of_a_fixed_window),
        T(purchase_holds_its_points_and_tells_when_they_release),
        T(pending_points_cannot_be_spent),
        T(tick_passing_the_release_day_releases_them),
        T(any_entry_of_the_member_releases_what_is_due),
        T(refund_inside_the_window_cancels_pending_points_first),
        T(buy_redeem_return_inside_the_window_gets_nothing),
        T(referral_bonus_waits_with_the_sale_and_a_return_cancels_it),
        T(qualify_on_release_upgrades_when_the_points_release),
        T(qualify_on_earn_upgrades_at_once_while_points_wait),
        T(every_n_rewards_count_released_points),
        T(late_sale_past_its_window_is_credited_at_once),
        T(full_slots_after_a_switch_move_the_last_release_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
