/* test_rules.c - the rules core driven directly: decoded entries go through
 * rules_apply one at a time, with no Redis and no decoder in the way.
 *
 * The rulebook is built in code (rulesfx.h), so every expected number can
 * be worked out by hand from it; the comments show the arithmetic.
 * Every rejection and every duplicate is checked to leave the members and
 * the remembered txns byte for byte as they were (see frozen in rulesfx.h).
 */
#include "rulesfx.h"
#include "wallet.h"

/* ---- earning ------------------------------------------------------------ */

static void earn_formula_floors_the_exact_product(void **state)
{
    const struct rulebook *rb = &((struct fx *)*state)->cfg.rules;
    /* 5999 * 15000 / 1000000 = 89.985 -> 89 */
    assert_int_equal(earn_points(rb, 5999, 15000), 89);
    /* 5999 * 12500 / 1000000 = 74.9875 -> 74 */
    assert_int_equal(earn_points(rb, 5999, 12500), 74);
    /* 5999 * 10000 / 1000000 = 59.99 -> 59 */
    assert_int_equal(earn_points(rb, 5999, 10000), 59);
    assert_int_equal(earn_points(rb, 99, 10000), 0);
    assert_int_equal(earn_points(rb, 100, 10000), 1);
    assert_int_equal(earn_points(rb, 0, 20000), 0);
    /* The largest inputs: 1e10 * 1000 * 100000 / (1 * 10000) = 1e14,
     * computed without overflow (UBSan would stop the test). */
    struct rulebook big = *rb;
    big.minor_per_unit = 1;
    big.points_per_unit = RULEBOOK_POINTS_PER_UNIT_MAX;
    assert_int_equal(earn_points(&big, PROTO_AMOUNT_MAX, RULEBOOK_MULTIPLIER_BP_MAX),
                     100000000000000LL);
}

static void tier_for_is_the_highest_threshold_reached(void **state)
{
    const struct rulebook *rb = &((struct fx *)*state)->cfg.rules;
    assert_int_equal(tiers_for(rb, 0), 0);
    assert_int_equal(tiers_for(rb, 499), 0);
    assert_int_equal(tiers_for(rb, 500), 1);
    assert_int_equal(tiers_for(rb, 1999), 1);
    assert_int_equal(tiers_for(rb, 2000), 2);
    assert_int_equal(tiers_for(rb, 9999), 2);
    assert_int_equal(tiers_for(rb, 10000), 3);
    assert_int_equal(tiers_for(rb, INT64_MAX), 3);
}

static void gold_purchase_of_59_99_earns_89_points(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 3, 1), "e-1", "ann"));
    /* 2000.00 at blue x1.0 = 2000 points, the gold threshold: one upgrade
     * straight from blue to gold, silver skipped. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 2);
    expect_points(f, 0, 2000, 2000, PROTO_CAUSE_PURCHASE);
    expect_upgrade(f, 1, "blue", "gold");
    /* 59.99 at gold: floor(5999 * 15000 / 1000000) = floor(89.985) = 89. */
    applied(purchase(f, at(2024, 3, 3), "p-2", "ann", 5999));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 89, 2089, PROTO_CAUSE_PURCHASE);
    struct member *m = find_member(f, "ann");
    assert_int_equal(m->balance, 2089);
    assert_int_equal(m->lifetime_points, 2089);
    assert_int_equal(m->purchases, 2);
    assert_int_equal(m->last_purchase_ts, at(2024, 3, 3));
}

static void purchase_earning_no_points_publishes_nothing_but_counts(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 3, 1), "e-1", "ann"));
    /* 0.99 at x1.0: floor(0.99) = 0 points, so no points.changed. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 99));
    assert_int_equal(f->res.count, 0);
    assert_int_equal(find_member(f, "ann")->balance, 0);
    assert_int_equal(find_member(f, "ann")->purchases, 1);
    /* Still remembered: the retry is a duplicate. */
    duplicate(purchase(f, at(2024, 3, 2), "p-1", "ann", 99));
}

static void multiplier_is_that_of_the_tier_held_before_the_purchase(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 3, 1), "e-1", "ann"));
    /* 400.00 at blue: 400 points, qualifying 400 < 500. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 40000));
    expect_points(f, 0, 400, 400, PROTO_CAUSE_PURCHASE);
    assert_int_equal(f->res.count, 1);
    /* 200.00 still earns at blue x1.0 (200, not 250); the qualifying 600
     * then reaches silver, announced after the points. */
    applied(purchase(f, at(2024, 3, 3), "p-2", "ann", 20000));
    assert_int_equal(f->res.count, 2);
    expect_points(f, 0, 200, 600, PROTO_CAUSE_PURCHASE);
    expect_upgrade(f, 1, "blue", "silver");
    assert_int_equal(find_member(f, "ann")->tier, 1);
    /* The next 200.00 earns at silver: 20000 * 12500 / 1000000 = 250. */
    applied(purchase(f, at(2024, 3, 4), "p-3", "ann", 20000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 250, 850, PROTO_CAUSE_PURCHASE);
}

static void tier_never_goes_down_on_a_purchase(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 1, 5), "e-1", "ann"));
    applied(purchase(f, at(2024, 1, 6), "p-1", "ann", 60000)); /* 600: silver */
    expect_upgrade(f, 1, "blue", "silver");
    /* 14 months on, the window holds only this 1.00 at x1.25 = 1 point,
     * yet the member stays silver: downgrades wait for the review. */
    applied(purchase(f, at(2025, 3, 6), "p-2", "ann", 100));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 1, 601, PROTO_CAUSE_PURCHASE);
    assert_int_equal(find_member(f, "ann")->tier, 1);
    assert_int_equal(members_qual_total(find_member(f, "ann"), caltime_month(f->st.clock_ms), 12),
                     1);
}

/* ---- the qualification window ------------------------------------------- */

static void points_from_twelve_months_ago_stop_qualifying(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 1, 2), "e-1", "ann"));
    applied(enroll(f, at(2024, 1, 2), "e-2", "bob"));
    applied(purchase(f, at(2024, 1, 10), "p-1", "ann", 40000)); /* 400 in Jan 2024 */
    applied(purchase(f, at(2024, 1, 10), "p-2", "bob", 40000)); /* 400 in Jan 2024 */
    /* Dec 2024: the window is Jan..Dec 2024, 400 + 200 = 600 -> silver. */
    applied(purchase(f, at(2024, 12, 20), "p-3", "ann", 20000));
    expect_upgrade(f, 1, "blue", "silver");
    /* Jan 2025: the window is Feb 2024..Jan 2025, only 200 -> blue. */
    applied(purchase(f, at(2025, 1, 5), "p-4", "bob", 20000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 200, 600, PROTO_CAUSE_PURCHASE);
    assert_int_equal(find_member(f, "bob")->tier, 0);
}

static void late_purchase_counts_in_its_own_month_and_keeps_the_clock(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 1, 2), "e-1", "ann"));
    applied(tick(f, at(2024, 3, 15)));
    /* A till that was offline sends a January sale in March. */
    applied(purchase(f, at(2024, 1, 10), "p-1", "ann", 40000));
    expect_points(f, 0, 400, 400, PROTO_CAUSE_PURCHASE);
    assert_int_equal(f->st.clock_ms, at(2024, 3, 15));
    assert_int_equal(find_member(f, "ann")->last_purchase_ts, at(2024, 1, 10));
    applied(purchase(f, at(2024, 3, 16), "p-2", "ann", 100)); /* 1 point */
    applied(purchase(f, at(2024, 2, 1), "p-3", "ann", 100));  /* late again */
    assert_int_equal(find_member(f, "ann")->last_purchase_ts, at(2024, 3, 16));
    /* Dec 2024: January's 400 + 1 + 1 + 200 = 602 in the window -> silver. */
    applied(purchase(f, at(2024, 12, 20), "p-4", "ann", 20000));
    expect_upgrade(f, 1, "blue", "silver");
    /* A sale dated Dec 2023 arriving in Dec 2024 earns 1000 points but is
     * outside Jan..Dec 2024, so it qualifies for nothing. */
    applied(enroll(f, at(2024, 12, 21), "e-2", "bob"));
    applied(purchase(f, at(2023, 12, 28), "p-5", "bob", 100000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 1000, 1000, PROTO_CAUSE_PURCHASE);
    assert_int_equal(find_member(f, "bob")->tier, 0);
    assert_int_equal(f->st.clock_ms, at(2024, 12, 21));
}

static void spend_basis_qualifies_on_money_spent(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.basis = RULEBOOK_BASIS_SPEND;
    fx_restart(f);
    applied(enroll(f, at(2024, 3, 1), "e-1", "ann"));
    /* 4.99 earns 4 points; spend 499 < 500 (a points basis would need 500
     * points, i.e. 500.00 of sales). */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 499));
    expect_points(f, 0, 4, 4, PROTO_CAUSE_PURCHASE);
    assert_int_equal(f->res.count, 1);
    /* 0.01 earns no points but brings spend to 500: silver, and the only
     * output is the upgrade. */
    applied(purchase(f, at(2024, 3, 3), "p-2", "ann", 1));
    assert_int_equal(f->res.count, 1);
    expect_upgrade(f, 0, "blue", "silver");
}

/* ---- membership --------------------------------------------------------- */

static void enrolling_twice_is_member_exists(void **state)
{
    struct fx *f = *state;
    applied(enroll(f, at(2024, 3, 1), "e-1", "ann"));
    assert_int_equal(f->res.count, 0);
    assert_int_equal(find_member(f, "ann")->enrolled_ts, at(2024, 3, 1));
    rejected(enroll(f, at(2024, 3, 2), "e-2", "ann"), RULES_R_MEMBER_EXISTS);
}

static void entries_for_unknown_members_are_unknown_member(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    gold_member(f, ts, "ann");
    rejected(purchase(f, ts, "p-1", "zed", 1000), RULES_R_UNKNOWN_MEMBER);
    rejected(refund(f, ts, "r-1", "g-ann", "zed", 100), RULES_R_UNKNOWN_MEMBER);
    rejected(redeem(f, ts, "d-1", "zed", 10), RULES_R_UNKNOWN_MEMBER);
    rejected(adjust(f, ts, "a-1", "zed", 10), RULES_R_UNKNOWN_MEMBER);
    rejected(scan(f, ts, "zed", "s-1"), RULES_R_UNKNOWN_MEMBER);
    /* A rejected txn is not remembered: once zed enrols, p-1 applies. */
    applied(enroll(f, ts, "e-zed", "zed"));
    applied(purchase(f, ts, "p-1", "zed", 1000));
    expect_points(f, 0, 10, 10, PROTO_CAUSE_PURCHASE);
}

static void purchase_enrols_when_enrollment_is_not_required(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.require_enrollment = false;
    fx_restart(f);
    applied(purchase(f, at(2024, 3, 2), "p-1", "walk-in", 1234)); /* 12 points */
    expect_points(f, 0, 12, 12, PROTO_CAUSE_PURCHASE);
    struct member *m = find_member(f, "walk-in");
    assert_int_equal(m->enrolled_ts, at(2024, 3, 2));
    assert_int_equal(m->purchases, 1);
    duplicate(purchase(f, at(2024, 3, 2), "p-1", "walk-in", 1234));
    /* Other kinds still need a member. */
    rejected(adjust(f, at(2024, 3, 2), "a-1", "stranger", 5), RULES_R_UNKNOWN_MEMBER);
}

static void enrolment_past_members_max_is_members_full(void **state)
{
    struct fx *f = *state;
    f->cfg.members_max = 2;
    f->cfg.rules.require_enrollment = false;
    fx_restart(f);
    applied(enroll(f, at(2024, 3, 1), "e-1", "ann"));
    applied(purchase(f, at(2024, 3, 1), "p-1", "bob", 500)); /* enrols bob */
    rejected(enroll(f, at(2024, 3, 2), "e-3", "cat"), RULES_R_MEMBERS_FULL);
    rejected(purchase(f, at(2024, 3, 2), "p-2", "dan", 500), RULES_R_MEMBERS_FULL);
    /* Members already in keep buying. */
    applied(purchase(f, at(2024, 3, 3), "p-3", "ann", 500));
    expect_points(f, 0, 5, 5, PROTO_CAUSE_PURCHASE);
}

/* ---- redemption --------------------------------------------------------- */

static void redeem_covered_by_the_balance_spends_the_points(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 500);
    applied(redeem(f, at(2024, 3, 2), "d-1", "ann", 200));
    assert_int_equal(f->res.count, 2);
    expect_points(f, 0, -200, 300, PROTO_CAUSE_REDEEM);
    expect_redeem_result(f, 1, true, NULL, 300);
    /* The whole balance can be spent. */
    applied(redeem(f, at(2024, 3, 2), "d-2", "ann", 300));
    expect_points(f, 0, -300, 0, PROTO_CAUSE_REDEEM);
    expect_redeem_result(f, 1, true, NULL, 0);
    assert_int_equal(find_member(f, "ann")->lifetime_points, 0); /* an adjust is not earned */
}

static void redeem_not_covered_answers_no_and_changes_no_member(void **state)
{
    struct fx *f = *state;
    struct frozen z;
    member_with(f, at(2024, 3, 1), "ann", 300);
    freeze(f, &z);
    applied(redeem(f, at(2024, 3, 2), "d-1", "ann", 301));
    assert_int_equal(f->res.count, 1);
    expect_redeem_result(f, 0, false, RULES_E_INSUFFICIENT_POINTS, 300);
    expect_members_as_frozen(f, &z);
    /* Rewards come with the catalog; until then every one is unknown. */
    redeem(f, at(2024, 3, 2), "d-2", "ann", 0);
    copy_str(f->e.reward, sizeof(f->e.reward), "mug");
    applied(f);
    expect_redeem_result(f, 0, false, RULES_E_UNKNOWN_REWARD, 300);
    expect_members_as_frozen(f, &z); /* the txns are remembered, though */
    thaw(&z);
}

/* ---- idempotency -------------------------------------------------------- */

static void retried_txns_are_duplicates_that_change_nothing(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 1000);
    applied(purchase(f, ts, "p-1", "ann", 10000));
    applied(refund(f, ts, "r-1", "p-1", "ann", 5000));
    applied(redeem(f, ts, "d-1", "ann", 300));
    /* 1000 + 100 - 50 - 300 = 750 */
    assert_int_equal(find_member(f, "ann")->balance, 750);
    duplicate(enroll(f, ts + 1, "e-ann", "ann"));
    assert_int_equal(f->res.count, 0);
    duplicate(adjust(f, ts + 1, "a-ann", "ann", 1000));
    assert_int_equal(f->res.count, 0);
    duplicate(purchase(f, ts + 1, "p-1", "ann", 10000));
    assert_int_equal(f->res.count, 0);
    duplicate(refund(f, ts + 1, "r-1", "p-1", "ann", 5000));
    assert_int_equal(f->res.count, 0);
    /* The clock still follows the retries' time. */
    assert_int_equal(f->st.clock_ms, ts + 1);
    assert_int_equal(f->st.entries_duplicate, 4);
}

static void retried_redeem_repeats_its_original_answer(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 500);
    applied(redeem(f, ts, "d-1", "ann", 200));   /* ok, balance 300 */
    applied(redeem(f, ts, "d-2", "ann", 1000));  /* insufficient at 300 */
    applied(adjust(f, ts, "a-2", "ann", 5000));  /* balance 5300 */
    /* Retries get the answer of the time, not one for today's balance. */
    duplicate(redeem(f, ts + 1, "d-1", "ann", 200));
    assert_int_equal(f->res.count, 1);
    expect_redeem_result(f, 0, true, NULL, 300);
    duplicate(redeem(f, ts + 1, "d-2", "ann", 1000));
    assert_int_equal(f->res.count, 1);
    expect_redeem_result(f, 0, false, RULES_E_INSUFFICIENT_POINTS, 300);
    assert_int_equal(find_member(f, "ann")->balance, 5300);
}

static void txn_reused_by_another_kind_is_txn_conflict(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 100);
    applied(purchase(f, ts, "t-1", "ann", 1000));
    rejected(adjust(f, ts, "t-1", "ann", 10), RULES_R_TXN_CONFLICT);
    rejected(redeem(f, ts, "t-1", "ann", 10), RULES_R_TXN_CONFLICT);
    rejected(refund(f, ts, "t-1", "t-1", "ann", 10), RULES_R_TXN_CONFLICT);
    rejected(enroll(f, ts, "t-1", "bob"), RULES_R_TXN_CONFLICT);
    rejected(purchase(f, ts, "e-ann", "ann", 1000), RULES_R_TXN_CONFLICT);
}

static void txn_reused_for_another_member_is_txn_conflict(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 100);
    member_with(f, ts, "bob", 100);
    applied(purchase(f, ts, "t-1", "ann", 1000));
    rejected(purchase(f, ts, "t-1", "bob", 1000), RULES_R_TXN_CONFLICT);
    rejected(enroll(f, ts, "e-ann", "cy"), RULES_R_TXN_CONFLICT);
    assert_int_equal(find_member(f, "bob")->purchases, 0);
}

static void retry_after_the_txn_window_is_applied_again(void **state)
{
    struct fx *f = *state;
    int64_t t0 = at(2024, 3, 1);
    member_with(f, t0, "ann", 0);
    applied(purchase(f, t0, "p-1", "ann", 1000)); /* 10 points */
    /* Exactly 35 days later the txn is still remembered... */
    duplicate(purchase(f, t0 + 35 * DAY, "p-1", "ann", 1000));
    /* ...one millisecond more of event time (a tick will do) forgets it,
     * and a retry, even one dated back at t0, is a new sale. */
    applied(tick(f, t0 + 35 * DAY + 1));
    assert_null(txns_find(&f->st.txns, "p-1"));
    applied(purchase(f, t0, "p-1", "ann", 1000));
    expect_points(f, 0, 10, 20, PROTO_CAUSE_PURCHASE);
    assert_int_equal(f->st.txns.evicted_early, 0);
}

static void full_txn_table_forgets_the_oldest_early_and_counts_it(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    f->cfg.rules.txns_max = 3;
    fx_restart(f);
    member_with(f, ts, "ann", 0);                /* e-ann */
    applied(purchase(f, ts, "p-1", "ann", 100)); /* e-ann p-1 */
    applied(purchase(f, ts, "p-2", "ann", 100)); /* e-ann p-1 p-2 */
    applied(purchase(f, ts, "p-3", "ann", 100)); /* p-1 p-2 p-3 */
    assert_int_equal(f->st.txns.evicted_early, 1);
    applied(purchase(f, ts, "p-4", "ann", 100)); /* p-2 p-3 p-4 */
    assert_int_equal(f->st.txns.evicted_early, 2);
    duplicate(purchase(f, ts, "p-4", "ann", 100));
    duplicate(purchase(f, ts, "p-2", "ann", 100));
    /* p-1 was forgotten within its window: its retry applies again. */
    applied(purchase(f, ts, "p-1", "ann", 100));
    assert_int_equal(find_member(f, "ann")->purchases, 5);
    assert_int_equal(f->st.txns.evicted_early, 3);
}

/* ---- refunds ------------------------------------------------------------ */

static void refund_in_parts_reverses_with_cumulative_floor(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 0);
    applied(purchase(f, ts, "p-1", "ann", 1999)); /* floor(19.99) = 19 */
    /* Refunded so far -> points reversed so far = floor(19 * so_far / 1999):
     *   700  -> floor(6.65)  = 6,  this part 6
     *   1400 -> floor(13.31) = 13, this part 7
     *   1999 -> 19,                this part 6
     * (flooring each part alone would reverse 6 + 6 + 5 = 17.) */
    applied(refund(f, ts, "r-1", "p-1", "ann", 700));
    expect_points(f, 0, -6, 13, PROTO_CAUSE_REFUND);
    applied(refund(f, ts, "r-2", "p-1", "ann", 700));
    expect_points(f, 0, -7, 6, PROTO_CAUSE_REFUND);
    rejected(refund(f, ts, "r-3", "p-1", "ann", 600), RULES_R_REFUND_EXCEEDS_SALE);
    applied(refund(f, ts, "r-3", "p-1", "ann", 599));
    expect_points(f, 0, -6, 0, PROTO_CAUSE_REFUND);
    /* Nothing is left to refund; points earned stay in the lifetime total. */
    rejected(refund(f, ts, "r-4", "p-1", "ann", 1), RULES_R_REFUND_EXCEEDS_SALE);
    assert_int_equal(find_member(f, "ann")->lifetime_points, 19);
}

static void refund_in_parts_never_reverses_more_than_earned(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    f->cfg.rules.txns_max = 4000; /* the sale must outlive 1999 refunds */
    fx_restart(f);
    member_with(f, ts, "ann", 0);
    applied(purchase(f, ts, "p-1", "ann", 1999)); /* 19 points */
    /* 1999 one-cent refunds: after k of them floor(19 * k / 1999) points
     * are reversed in all, never more, and exactly 19 at the end. */
    for (int k = 1; k <= 1999; k++) {
        char txn[16];
        snprintf(txn, sizeof(txn), "r-%d", k);
        applied(refund(f, ts, txn, "p-1", "ann", 1));
        assert_int_equal(find_member(f, "ann")->balance, 19 - (19 * k) / 1999);
    }
    assert_int_equal(find_member(f, "ann")->balance, 0);
}

static void full_refund_reverses_exactly_what_the_sale_earned(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    gold_member(f, ts, "ann");                     /* balance 2000 */
    applied(purchase(f, ts, "p-1", "ann", 5999)); /* 89 at gold */
    /* A later refund reverses what the sale earned, not what it would
     * earn today: 89. */
    applied(refund(f, ts, "r-1", "p-1", "ann", 5999));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -89, 2000, PROTO_CAUSE_REFUND);
    /* A sale that earned nothing refunds without a points change. */
    applied(purchase(f, ts, "p-2", "ann", 50)); /* floor(0.75) = 0 */
    applied(refund(f, ts, "r-2", "p-2", "ann", 50));
    assert_int_equal(f->res.count, 0);
}

static void refund_of_unknown_foreign_or_overpaid_sale_is_rejected(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 50);
    member_with(f, ts, "bob", 0);
    applied(purchase(f, ts, "p-1", "ann", 1000));
    rejected(refund(f, ts, "r-1", "p-404", "ann", 100), RULES_R_UNKNOWN_SALE);
    rejected(refund(f, ts, "r-1", "p-1", "bob", 100), RULES_R_UNKNOWN_SALE);
    rejected(refund(f, ts, "r-1", "a-ann", "ann", 10), RULES_R_UNKNOWN_SALE);
    rejected(refund(f, ts, "r-1", "p-1", "ann", 1001), RULES_R_REFUND_EXCEEDS_SALE);
    /* A sale forgotten with the txn window can no longer be refunded. */
    applied(tick(f, ts + 36 * DAY));
    rejected(refund(f, ts + 36 * DAY, "r-1", "p-1", "ann", 100), RULES_R_UNKNOWN_SALE);
}

/* ---- adjustments -------------------------------------------------------- */

static void adjust_may_take_the_balance_below_zero(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 100);
    expect_points(f, 0, 100, 100, PROTO_CAUSE_ADJUST);
    applied(adjust(f, at(2024, 3, 2), "a-2", "ann", -250));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -250, -150, PROTO_CAUSE_ADJUST);
    assert_int_equal(find_member(f, "ann")->balance, -150);
    assert_int_equal(find_member(f, "ann")->lifetime_points, 0); /* an adjust is not earned */
}

static void balance_overflow_is_points_overflow(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    gold_member(f, ts, "ann");
    /* Reaching the edge by entries would take millions of them: set it. */
    find_member(f, "ann")->balance = INT64_MAX - 5;
    rejected(adjust(f, ts, "a-1", "ann", 6), RULES_R_POINTS_OVERFLOW);
    rejected(purchase(f, ts, "p-1", "ann", 1000), RULES_R_POINTS_OVERFLOW); /* 15 */
    applied(adjust(f, ts, "a-1", "ann", 5));
    expect_points(f, 0, 5, INT64_MAX, PROTO_CAUSE_ADJUST);
    find_member(f, "ann")->balance = INT64_MIN + 5;
    rejected(adjust(f, ts, "a-2", "ann", -6), RULES_R_POINTS_OVERFLOW);
    applied(adjust(f, ts, "a-2", "ann", -5));
    expect_points(f, 0, -5, INT64_MIN, PROTO_CAUSE_ADJUST);
    /* A refund reversing 2000 points from there underflows too. */
    rejected(refund(f, ts, "r-1", "g-ann", "ann", 200000), RULES_R_POINTS_OVERFLOW);
}

static void referral_bonus_that_would_overflow_is_not_paid(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    f->cfg.rules.referral_bonus = 200;
    fx_restart(f);
    applied(enroll(f, ts, "e-ann", "ann"));
    enroll(f, ts, "e-bob", "bob");
    copy_str(f->e.referrer, sizeof(f->e.referrer), "ann");
    applied(f);
    /* Points earned and spent again and again: lifetime at the limit with
     * an empty balance. Paying 200 more would overflow the statistic. */
    find_member(f, "ann")->lifetime_points = INT64_MAX - 100;
    find_member(f, "ann")->reward_points = INT64_MAX - 100;
    /* bob's first sale earns him 10; ann gets nothing rather than a wrap. */
    applied(purchase(f, ts, "p-1", "bob", 1000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 10, 10, PROTO_CAUSE_PURCHASE);
    assert_int_equal(find_member(f, "ann")->balance, 0);
    assert_int_equal(find_member(f, "ann")->lifetime_points, INT64_MAX - 100);
}

/* ---- scans and time ----------------------------------------------------- */

static void scan_announces_each_perk_of_the_tier_in_config_order(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    gold_member(f, ts, "ann");
    applied(scan(f, ts + 1, "ann", "s-9"));
    assert_int_equal(f->res.count, 2);
    expect_perk(f, 0, "free_delivery", "gold");
    expect_perk(f, 1, "priority_service", "gold");
    /* A blue member has no perks: the scan applies and says nothing. */
    member_with(f, ts, "bob", 0);
    applied(scan(f, ts + 2, "bob", "s-2"));
    assert_int_equal(f->res.count, 0);
    /* A txn on a scan is never taken for a retry. */
    scan(f, ts + 3, "ann", "s-3");
    copy_str(f->e.txn, sizeof(f->e.txn), "g-ann");
    applied(f);
    assert_int_equal(f->res.count, 2);
}

static void tick_moves_the_clock_only_forward(void **state)
{
    struct fx *f = *state;
    int64_t t0 = at(2024, 3, 1);
    applied(tick(f, t0));
    assert_int_equal(f->res.count, 0);
    assert_int_equal(f->st.clock_ms, t0);
    applied(tick(f, t0 - DAY));
    assert_int_equal(f->st.clock_ms, t0);
    applied(tick(f, t0 + 1));
    assert_int_equal(f->st.clock_ms, t0 + 1);
    assert_int_equal(f->st.last_id.seq, 3);
    assert_int_equal(f->st.entries_applied, 3);
}

/* ---- determinism -------------------------------------------------------- */

/* The whole rulebook switched on, for the workload: expiry, reviews with
 * grace, bonuses, caps, a category, campaigns and rewards. */
static void config_rich(struct config *cfg)
{
    struct rulebook *rb = &cfg->rules;
    cfg->members_max = 50; /* the workload names 60 */
    rb->require_enrollment = false;
    rb->txns_max = 100; /* 35 days of the workload remember about 170 */
    rb->expiry_months = 3;
    rb->grace_months = 2;
    rb->first_purchase_bonus = 50;
    rb->birthday_bonus = 100;
    rb->referral_bonus = 200;
    rb->day_cap_points = 5000;
    rb->category_count = 1;
    rb->categories[0] = (struct rulebook_category){"shoes", 20000};
    rb->campaign_count = 2;
    rb->campaigns[0] = (struct rulebook_campaign){
        .name = "spring", .start_ms = at(2024, 3, 1), .end_ms = at(2024, 6, 1),
        .multiplier_bp = 30000, .cat_count = 1, .cats = {"shoes"}};
    rb->campaigns[1] = (struct rulebook_campaign){
        .name = "big-basket", .start_ms = 1, .end_ms = at(2030, 1, 1),
        .bonus_points = 25, .min_amount = 100000};
    rb->catalog_count = 1;
    rb->catalog[0] = (struct rulebook_catalog_item){"mug", 300, 40};
    rb->auto_reward_count = 1;
    rb->auto_rewards[0] = (struct rulebook_auto_reward){"voucher", 1000};
    rb->milestone_count = 1;
    rb->milestones[0] = (struct rulebook_milestone){"tote", 5};
    rb->pending_days = 14; /* returns, pending points and notices (issue 13) */
    rb->notice_tier_days = 30;
    rb->notice_expiry_days = 20;
    rb->notice_need_step = 100;
}

/* Workload entries vary by kind: referrers and birthdays on enrolments,
 * line items (now and then not adding up) on sales, rewards (one known,
 * one not) or points on redemptions, signed adjustments. */
static void random_details(uint64_t *rng, struct proto_entry *e)
{
    char id[24];
    snprintf(id, sizeof(id), "m%u", (unsigned)splitmix_below(rng, 60));
    if (e->kind == PROTO_ENROLL && splitmix_below(rng, 4) == 0 && strcmp(id, e->member) != 0)
        copy_str(e->referrer, sizeof(e->referrer), id);
    if (e->kind == PROTO_ENROLL && splitmix_below(rng, 3) == 0) {
        e->birthday_month = (uint8_t)(1 + splitmix_below(rng, 12));
        e->birthday_day = (uint8_t)(1 + splitmix_below(rng, 28));
    }
    if (e->kind == PROTO_PURCHASE && e->amount > 1 && splitmix_below(rng, 3) == 0) {
        e->line_count = 2;
        e->lines[0] = (struct proto_line){"sku-1", "shoes", 1, e->amount / 2};
        e->lines[1] = (struct proto_line){"sku-2", "food", 3, e->amount - e->amount / 2};
        e->lines[1].amount += splitmix_below(rng, 50) == 0; /* lines_mismatch */
    }
    if (e->kind == PROTO_REDEEM && splitmix_below(rng, 10) == 0)
        copy_str(e->reward, sizeof(e->reward), splitmix_below(rng, 4) ? "mug" : "yacht");
    else if (e->kind == PROTO_REDEEM)
        e->points = 1 + splitmix_below(rng, 3000);
    if (e->kind == PROTO_ADJUST) {
        int64_t size = 1 + splitmix_below(rng, 500);
        e->points = splitmix_below(rng, 2) ? size : -size;
    }
}

/* Entry `i` of a workload over 60 member ids and 1041 days: every kind,
 * retries, txn reuse across kinds and late entries. Members m0..m29 stop
 * coming after entry 2000 (day 208), so later reviews move them down. */
static void random_entry(uint64_t *rng, uint32_t i, struct fx *f)
{
    static const enum proto_kind kinds[] = {
        PROTO_ENROLL, PROTO_PURCHASE, PROTO_PURCHASE, PROTO_PURCHASE, PROTO_PURCHASE,
        PROTO_REFUND, PROTO_REDEEM,   PROTO_ADJUST,   PROTO_SCAN,     PROTO_TICK};
    char txn[24], orig[24], mem[24];
    enum proto_kind kind = kinds[splitmix_below(rng, sizeof(kinds) / sizeof(kinds[0]))];
    int64_t ts = at(2024, 1, 1) + (int64_t)i * 150 * 60000;
    if (splitmix_below(rng, 10) == 0)
        ts -= splitmix_below(rng, 60 * DAY); /* a till that was offline */
    /* Reused txns and refunded sales are recent ones, mostly still
     * remembered: retries, conflicts and refunds all happen. */
    uint32_t recent = i < 40 ? i + 1 : 40;
    uint32_t t = splitmix_below(rng, 5) == 0 ? i - (uint32_t)splitmix_below(rng, recent) : i;
    snprintf(txn, sizeof(txn), "t%u", (unsigned)t);
    snprintf(orig, sizeof(orig), "t%u", (unsigned)(i - (uint32_t)splitmix_below(rng, recent)));
    uint32_t first = i < 2000 ? 0 : 30;
    /* A retry names the same member as the txn it repeats (a POS retry);
     * the member of a reused txn is the one its first use drew, and so is
     * its content when the kind is the same (a retry, not a conflict). */
    uint64_t owner = t;
    uint32_t who = (uint32_t)splitmix_below(&owner, 60);
    if (kind == PROTO_REFUND)
        snprintf(orig, sizeof(orig), "t%u",
                 (unsigned)(t - (uint32_t)splitmix_below(&owner, t < 40 ? t + 1 : 40)));
    if (who < first)
        who = first + who % (60 - first);
    snprintf(mem, sizeof(mem), "m%u", (unsigned)who);
    entry(f, kind, ts, kind == PROTO_TICK || kind == PROTO_SCAN ? NULL : txn,
          kind == PROTO_TICK ? NULL : mem);
    copy_str(f->e.orig_txn, sizeof(f->e.orig_txn), kind == PROTO_REFUND ? orig : "");
    copy_str(f->e.store, sizeof(f->e.store), "s-1");
    if (kind == PROTO_PURCHASE || kind == PROTO_REFUND)
        f->e.amount = 1 + splitmix_below(&owner, kind == PROTO_PURCHASE ? 300000 : 20000);
    random_details(&owner, &f->e);
}

static void expect_same_result(const struct outbox *a, const struct outbox *b)
{
    assert_int_equal(a->verdict, b->verdict);
    assert_int_equal(a->count, b->count);
    if (a->verdict == OUTBOX_REJECTED) {
        assert_string_equal(a->reject.code, b->reject.code);
        assert_string_equal(a->reject.detail, b->reject.detail);
    }
    /* Compared as published: names point into each state's own rulebook. */
    for (uint32_t i = 0; i < a->count; i++) {
        msgpack_sbuffer x, y;
        msgpack_sbuffer_init(&x);
        msgpack_sbuffer_init(&y);
        struct proto_id src = {1, 1};
        assert_int_equal(proto_encode_output(&x, &a->out[i], src, i), 0);
        assert_int_equal(proto_encode_output(&y, &b->out[i], src, i), 0);
        assert_int_equal(x.size, y.size);
        assert_memory_equal(x.data, y.data, x.size);
        msgpack_sbuffer_destroy(&x);
        msgpack_sbuffer_destroy(&y);
    }
}

static void expect_same_state(const struct state *a, const struct state *b)
{
    const struct members *ma = &a->members, *mb = &b->members;
    assert_int_equal(ma->count, mb->count);
    for (uint32_t p = 0; p < ma->count; p++) /* by value: extras handles are not state */
        assert_true(members_same(ma, p, mb, p));
    assert_int_equal(ma->lots_per, mb->lots_per);
    assert_int_equal(ma->ring32, mb->ring32);
    for (uint32_t p = 0; p < ma->count; p++) { /* by value: ring slots may be narrow */
        int64_t la[WALLET_LOTS_PER_MAX], lb[WALLET_LOTS_PER_MAX];
        members_lots_read(ma, p, la);
        members_lots_read(mb, p, lb);
        assert_memory_equal(la, lb, ma->lots_per * sizeof(int64_t));
    }
    assert_memory_equal(&a->g, &b->g, sizeof(a->g));
    assert_int_equal(a->schedule.count, b->schedule.count);
    assert_memory_equal(a->schedule.heap, b->schedule.heap,
                        a->schedule.count * sizeof(a->schedule.heap[0]));
    assert_int_equal(a->txns.count, b->txns.count);
    assert_int_equal(a->txns.head, b->txns.head);
    assert_int_equal(a->txns.evicted_early, b->txns.evicted_early);
    assert_int_equal(a->txns.cap, b->txns.cap);
    for (uint32_t k = 0; k < a->txns.count; k++)
        assert_memory_equal(txns_at(&a->txns, k), txns_at(&b->txns, k), sizeof(struct txn_rec));
    assert_int_equal(a->clock_ms, b->clock_ms);
    assert_int_equal(a->entries_applied, b->entries_applied);
    assert_int_equal(a->entries_rejected, b->entries_rejected);
    assert_int_equal(a->entries_duplicate, b->entries_duplicate);
}

/* What the workload made happen, so that the test cannot pass vacuously. */
struct seen {
    uint64_t by_kind[PROTO_OUT_KIND_COUNT];
    uint64_t reviews;
};

static void count_outputs(const struct outbox *res, struct seen *seen)
{
    for (uint32_t k = 0; k < res->count; k++) {
        const struct proto_output *o = &res->out[k];
        seen->by_kind[o->kind]++;
        if (o->kind == PROTO_OUT_TIER_CHANGED && strcmp(o->reason, "review") == 0)
            seen->reviews++;
    }
}

static void same_entries_give_byte_identical_state_and_outputs(void **state)
{
    struct fx *a = *state;
    struct fx *b = fx_new();
    struct seen seen = {{0}, 0};
    assert_non_null(b);
    config_rich(&a->cfg);
    config_rich(&b->cfg);
    fx_restart(a);
    fx_restart(b);
    uint64_t rng = 20240301;
    for (uint32_t i = 0; i < 10000; i++) {
        random_entry(&rng, i, a);
        b->e = a->e;
        /* One rulebook for both, as for a replay: outputs point at it. */
        apply(a);
        apply_under(b, &a->cfg.rules);
        expect_same_result(&a->res, &b->res);
        count_outputs(&a->res, &seen);
    }
    expect_same_state(&a->st, &b->st);
    print_message("applied %llu, rejected %llu, duplicate %llu, evicted early %llu, "
                  "expired %llu, rewards %llu, reviews %llu\n",
                  (unsigned long long)a->st.entries_applied,
                  (unsigned long long)a->st.entries_rejected,
                  (unsigned long long)a->st.entries_duplicate,
                  (unsigned long long)a->st.txns.evicted_early,
                  (unsigned long long)seen.by_kind[PROTO_OUT_POINTS_EXPIRED],
                  (unsigned long long)seen.by_kind[PROTO_OUT_REWARD_ISSUED],
                  (unsigned long long)seen.reviews);
    /* The workload reached every verdict, both store limits and the
     * time-driven rules. */
    assert_true(a->st.entries_applied > 1000);
    assert_true(a->st.entries_rejected > 100);
    assert_true(a->st.entries_duplicate > 100);
    assert_int_equal(a->st.members.count, 50);
    assert_true(a->st.txns.evicted_early > 0);
    assert_true(seen.by_kind[PROTO_OUT_POINTS_EXPIRED] > 0);
    assert_true(seen.by_kind[PROTO_OUT_REWARD_ISSUED] > 0);
    assert_true(seen.by_kind[PROTO_OUT_PERK_TRIGGERED] > 0);
    assert_true(seen.reviews > 0);
    assert_true(seen.by_kind[PROTO_OUT_POINTS_PENDING] > 0);
    assert_true(seen.by_kind[PROTO_OUT_TIER_AT_RISK] > 0);
    assert_true(seen.by_kind[PROTO_OUT_POINTS_EXPIRING] > 0);
    fx_free(b);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(earn_formula_floors_the_exact_product),
        T(tier_for_is_the_highest_threshold_reached),
        T(gold_purchase_of_59_99_earns_89_points),
        T(purchase_earning_no_points_publishes_nothing_but_counts),
        T(multiplier_is_that_of_the_tier_held_before_the_purchase),
        T(tier_never_goes_down_on_a_purchase),
        T(points_from_twelve_months_ago_stop_qualifying),
        T(late_purchase_counts_in_its_own_month_and_keeps_the_clock),
        T(spend_basis_qualifies_on_money_spent),
        T(enrolling_twice_is_member_exists),
        T(entries_for_unknown_members_are_unknown_member),
        T(purchase_enrols_when_enrollment_is_not_required),
        T(enrolment_past_members_max_is_members_full),
        T(redeem_covered_by_the_balance_spends_the_points),
        T(redeem_not_covered_answers_no_and_changes_no_member),
        T(retried_txns_are_duplicates_that_change_nothing),
        T(retried_redeem_repeats_its_original_answer),
        T(txn_reused_by_another_kind_is_txn_conflict),
        T(txn_reused_for_another_member_is_txn_conflict),
        T(retry_after_the_txn_window_is_applied_again),
        T(full_txn_table_forgets_the_oldest_early_and_counts_it),
        T(refund_in_parts_reverses_with_cumulative_floor),
        T(refund_in_parts_never_reverses_more_than_earned),
        T(full_refund_reverses_exactly_what_the_sale_earned),
        T(refund_of_unknown_foreign_or_overpaid_sale_is_rejected),
        T(adjust_may_take_the_balance_below_zero),
        T(balance_overflow_is_points_overflow),
        T(referral_bonus_that_would_overflow_is_not_paid),
        T(scan_announces_each_perk_of_the_tier_in_config_order),
        T(tick_moves_the_clock_only_forward),
        T(same_entries_give_byte_identical_state_and_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
