/* test_returns.c - returns and retries that cannot be gamed (issue 13):
 * refunds take back the tier, the bonuses and the spend a sale gave, a
 * reused txn is recognised by its content, an adjust is not earning and
 * every-N rewards are issued by the entry that earns them.
 *
 * The rulebook is rulesfx.h's (blue 0 x1, silver 500 x1.25, gold 2000
 * x1.5, platinum 10000 x2; 1 point per 1.00; qualifying on purchase
 * points over 12 months); each test switches on what it exercises.
 */
#include "rulesfx.h"

#include "config_segments.h"
#include "retry.h"

static void expect_tier_change(const struct fx *f, uint32_t i, const char *from,
                               const char *to, const char *reason)
{
    const struct proto_output *o = out(f, i, PROTO_OUT_TIER_CHANGED);
    assert_string_equal(o->from, from);
    assert_string_equal(o->to, to);
    assert_string_equal(o->reason, reason);
}

static void expect_reward(const struct fx *f, uint32_t i, const char *reward, int64_t count)
{
    const struct proto_output *o = out(f, i, PROTO_OUT_REWARD_ISSUED);
    assert_string_equal(o->reward, reward);
    assert_int_equal(o->cost, 0);
    assert_int_equal(o->count, count);
}

/* ---- refunds take back the tier ----------------------------------------- */

static void buying_to_gold_then_returning_it_all_drops_to_blue_at_once(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    /* 2000.00 at blue x1.0: 2000 points, gold. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 200000));
    expect_upgrade(f, 1, "blue", "gold");
    /* The full refund takes the 2000 points and the qualification back:
     * 0 qualifies for blue only, and the member held blue before. */
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 2);
    expect_points(f, 0, -2000, 0, PROTO_CAUSE_REFUND);
    expect_tier_change(f, 1, "gold", "blue", "refund");
    /* The multiplier is gone: 100.00 earns 100 points, not 150... */
    applied(purchase(f, at(2024, 3, 4), "p-2", "ann", 10000));
    expect_points(f, 0, 100, 100, PROTO_CAUSE_PURCHASE);
    /* ...and so are the perks. */
    applied(scan(f, at(2024, 3, 4), "ann", "s-1"));
    assert_int_equal(f->res.count, 0);
    assert_int_equal(f->st.g.tier_members[2], 0);
    assert_int_equal(f->st.g.tier_members[0], 1);
}

static void partial_refunds_drop_step_by_step_to_what_is_left(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 200000)); /* 2000: gold */
    /* 500.00 back: 2000 * 50000 / 200000 = 500 points, 1500 left: silver. */
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "ann", 50000));
    expect_points(f, 0, -500, 1500, PROTO_CAUSE_REFUND);
    expect_tier_change(f, 1, "gold", "silver", "refund");
    /* 1000.00 more: 500 left, still silver: no event. */
    applied(refund(f, at(2024, 3, 4), "r-2", "p-1", "ann", 100000));
    assert_int_equal(f->res.count, 1);
    /* The last 500.00: blue. */
    applied(refund(f, at(2024, 3, 5), "r-3", "p-1", "ann", 50000));
    expect_tier_change(f, 1, "silver", "blue", "refund");
}

/* Enrolled 2024-01-10, gold from a January 2024 sale; the review of
 * 2025-01-10 finds nothing in the window (Feb 2024..Jan 2025) and moves the
 * member down one level: silver, held until the next review on a past
 * year's qualification. */
static void silver_on_last_years_qualification(struct fx *f, const char *id)
{
    char txn[PROTO_TXN_MAX + 1];
    snprintf(txn, sizeof(txn), "e-%s", id);
    applied(enroll(f, caltime_ts((struct caltime_date){2024, 1, 10}), txn, id));
    snprintf(txn, sizeof(txn), "g-%s", id);
    applied(purchase(f, at(2024, 1, 15), txn, id, 200000));
    applied(tick(f, caltime_ts((struct caltime_date){2025, 1, 10})));
    assert_int_equal(find_member(f, id)->tier, 1);
    assert_int_equal(members_qual_total(find_member(f, id), f->st.clock_month, 12), 0);
}

static void refund_drop_stops_at_the_tier_held_before_the_sale(void **state)
{
    struct fx *f = *state;
    silver_on_last_years_qualification(f, "ann");
    /* 2000.00 at silver x1.25: 2500 points, gold. */
    applied(purchase(f, at(2025, 1, 20), "p-2", "ann", 200000));
    expect_upgrade(f, 1, "silver", "gold");
    /* Returned: the window supports blue, but the sale found the member at
     * silver, so that is where they go back to. */
    applied(refund(f, at(2025, 1, 21), "r-2", "p-2", "ann", 200000));
    expect_tier_change(f, 1, "gold", "silver", "refund");
    assert_int_equal(find_member(f, "ann")->tier, 1);
}

static void refund_leaves_a_tier_held_on_a_past_years_qualification(void **state)
{
    struct fx *f = *state;
    silver_on_last_years_qualification(f, "ann");
    /* 100.00 at x1.25: 125 points, not enough to move. */
    applied(purchase(f, at(2025, 1, 20), "p-2", "ann", 10000));
    assert_int_equal(f->res.count, 1);
    /* Returning it takes nothing the tier rested on: silver stays. */
    applied(refund(f, at(2025, 1, 21), "r-2", "p-2", "ann", 10000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -125, find_member(f, "ann")->balance, PROTO_CAUSE_REFUND);
    assert_int_equal(find_member(f, "ann")->tier, 1);
}

static void refund_downgrade_review_keeps_the_tier_until_the_review(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.refund_downgrade = RULEBOOK_REFUND_REVIEW;
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 200000));
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "ann", 200000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -2000, 0, PROTO_CAUSE_REFUND);
    assert_int_equal(find_member(f, "ann")->tier, 2);
}

static void spend_basis_drops_on_a_refund_too(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.basis = RULEBOOK_BASIS_SPEND; /* thresholds in minor units */
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 1500)); /* 15.00: silver */
    expect_upgrade(f, 1, "blue", "silver");
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "ann", 1001)); /* 4.99 left */
    expect_tier_change(f, 1, "silver", "blue", "refund");
}

/* ---- refunds take back the bonuses -------------------------------------- */

static void full_refund_of_the_first_purchase_takes_its_bonus_back(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.first_purchase_bonus = 100;
    member_with(f, at(2024, 3, 1), "bob", 0);
    applied(purchase(f, at(2024, 3, 2), "p-1", "bob", 10000));
    expect_points(f, 0, 100, 100, PROTO_CAUSE_PURCHASE);
    expect_points(f, 1, 100, 200, PROTO_CAUSE_BONUS);
    /* Half back: 50 points; the bonus stays while part of the sale does. */
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "bob", 5000));
    expect_points(f, 0, -50, 150, PROTO_CAUSE_REFUND);
    /* The rest: 50 points and the 100 bonus, in one move. */
    applied(refund(f, at(2024, 3, 4), "r-2", "p-1", "bob", 5000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -150, 0, PROTO_CAUSE_REFUND);
    /* Not given again by the next purchase. */
    applied(purchase(f, at(2024, 3, 5), "p-2", "bob", 10000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 100, 100, PROTO_CAUSE_PURCHASE);
}

static void full_refund_takes_the_referral_bonus_back_from_the_referrer(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.referral_bonus = 250;
    member_with(f, at(2024, 3, 1), "ref", 0);
    referred_member(f, at(2024, 3, 1), "bob", "ref");
    applied(purchase(f, at(2024, 3, 2), "p-1", "bob", 10000));
    expect_points_of(f, 1, "ref", 250, 250, PROTO_CAUSE_BONUS);
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "bob", 10000));
    assert_int_equal(f->res.count, 2);
    expect_points_of(f, 0, "bob", -100, 0, PROTO_CAUSE_REFUND);
    expect_points_of(f, 1, "ref", -250, 0, PROTO_CAUSE_REFUND);
    assert_int_equal(find_member(f, "ref")->reward_points, 0);
}

static void keep_bonuses_keeps_them_on_a_full_refund(void **state)
{
    struct fx *f = *state;
    f->cfg.rules.first_purchase_bonus = 100;
    f->cfg.rules.referral_bonus = 250;
    f->cfg.rules.keep_bonuses = true;
    member_with(f, at(2024, 3, 1), "ref", 0);
    referred_member(f, at(2024, 3, 1), "bob", "ref");
    applied(purchase(f, at(2024, 3, 2), "p-1", "bob", 10000));
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "bob", 10000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, -100, 100, PROTO_CAUSE_REFUND);
    assert_int_equal(find_member(f, "ref")->balance, 250);
}

/* ---- refunds take back the spend ---------------------------------------- */

static void refunded_spend_leaves_monetary_value_class_and_clv(void **state)
{
    struct fx *f = *state;
    struct rulebook *rb = &f->cfg.rules;
    config_segments_defaults(&rb->seg);
    rb->seg.enabled = true;
    fx_restart(f);
    member_with(f, at(2024, 3, 1), "cy", 0);
    uint32_t pos = members_find(&f->st.members, "cy");
    int64_t spend, count;
    /* 600.00: M = 3 (60000 >= 50000, < 100000); CLV 60000 * 3000 / 3000
     * (default churn) - 2000 = 58000. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "cy", 60000));
    assert_int_equal(find_member(f, "cy")->rfm[2], 3);
    assert_int_equal(segments_clv(&f->st, rb, pos), 58000);
    /* 300.00 back: M = 2, CLV 28000, and the spend histogram follows. */
    applied(refund(f, at(2024, 3, 3), "r-1", "p-1", "cy", 30000));
    segments_window(&f->st, rb, pos, &spend, &count);
    assert_int_equal(spend, 30000);
    assert_int_equal(count, 1); /* the purchase still counts in F */
    assert_int_equal(find_member(f, "cy")->rfm[2], 2);
    assert_int_equal(find_member(f, "cy")->hist_spend, 30000);
    assert_int_equal(segments_clv(&f->st, rb, pos), 28000);
    /* Never below zero, even for a month whose spend saturated. */
    applied(refund(f, at(2024, 3, 4), "r-2", "p-1", "cy", 30000));
    segments_window(&f->st, rb, pos, &spend, &count);
    assert_int_equal(spend, 0);
}

/* ---- retries by content ------------------------------------------------- */

static void same_txn_with_another_amount_is_txn_conflict_saying_so(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 0);
    applied(purchase(f, ts, "p-1", "ann", 10000));
    rejected(purchase(f, ts + 1000, "p-1", "ann", 20000), RULES_R_TXN_CONFLICT);
    assert_string_equal(f->res.reject.detail,
                        "txn 'p-1' was a purchase with amount 10000; this one has amount 20000");
    /* Same amount, another store: the detail names what else may differ. */
    purchase(f, ts + 2000, "p-1", "ann", 10000);
    copy_str(f->e.store, sizeof(f->e.store), "s-2");
    rejected(f, RULES_R_TXN_CONFLICT);
    assert_non_null(strstr(f->res.reject.detail, "store or lines"));
    /* The same content, even stamped anew, is a retry. */
    duplicate(purchase(f, ts + 3000, "p-1", "ann", 10000));
    assert_int_equal(find_member(f, "ann")->balance, 100);
}

static void reused_txn_of_other_kinds_names_points_or_other_fields(void **state)
{
    struct fx *f = *state;
    int64_t ts = at(2024, 3, 1);
    member_with(f, ts, "ann", 1000);
    applied(redeem(f, ts, "d-1", "ann", 200));
    rejected(redeem(f, ts, "d-1", "ann", 300), RULES_R_TXN_CONFLICT);
    assert_non_null(strstr(f->res.reject.detail, "points 200; this one has points 300"));
    duplicate(redeem(f, ts, "d-1", "ann", 200));
    expect_redeem_result(f, 0, true, NULL, 800); /* its original answer */
    adjust(f, ts, "a-ann", "ann", 1000);
    f->e.qualifying = true;
    rejected(f, RULES_R_TXN_CONFLICT);
    assert_non_null(strstr(f->res.reject.detail, "reason or qualifying"));
    rejected(refund(f, ts, "r-1", "nope", "ann", 10), RULES_R_UNKNOWN_SALE);
}

static void digest_covers_every_field_but_ts_and_txn(void **state)
{
    (void)state;
    static struct proto_entry a, b;
    a.kind = PROTO_PURCHASE;
    copy_str(a.member, sizeof(a.member), "ann");
    copy_str(a.txn, sizeof(a.txn), "p-1");
    a.amount = 500;
    a.line_count = 1;
    a.lines[0] = (struct proto_line){"sku", "wine", 1, 500};
    b = a;
    b.ts = 123;
    copy_str(b.txn, sizeof(b.txn), "p-2");
    assert_true(retry_digest(&a) == retry_digest(&b));
    b.lines[0].qty = 2;
    assert_true(retry_digest(&a) != retry_digest(&b));
    b = a;
    copy_str(b.lines[0].cat, sizeof(b.lines[0].cat), "win");
    copy_str(b.lines[0].sku, sizeof(b.lines[0].sku), "skuw");
    assert_true(retry_digest(&a) != retry_digest(&b)); /* strings are delimited */
    b = a;
    b.qualifying = true;
    assert_true(retry_digest(&a) != retry_digest(&b));
}

/* Digests are kept in snapshots: the one-shot hash must give the values
 * the streaming one (one XXH3 update per field) gave before it. */
static void digest_is_stable_across_versions(void **state)
{
    (void)state;
    static struct proto_entry a;
    a.kind = PROTO_PURCHASE;
    copy_str(a.member, sizeof(a.member), "ann");
    copy_str(a.txn, sizeof(a.txn), "p-1");
    copy_str(a.store, sizeof(a.store), "s-9");
    a.amount = 500;
    a.birthday_month = 7;
    a.birthday_day = 14;
    a.line_count = 2;
    a.lines[0] = (struct proto_line){"sku", "wine", 1, 500};
    a.lines[1] = (struct proto_line){"sku2", "", 3, 0};
    assert_true(retry_digest(&a) == 0xd3e21e8115cde3d0u);
    copy_str(a.reason, sizeof(a.reason), "goodwill");
    a.kind = PROTO_ADJUST;
    a.points = -40;
    a.qualifying = true;
    a.line_count = 0;
    assert_true(retry_digest(&a) == 0x921105c2f6dcdf82u);
}

/* ---- adjust is not earning ---------------------------------------------- */

static void set_voucher_every_1000(struct fx *f)
{
    f->cfg.rules.auto_reward_count = 1;
    f->cfg.rules.auto_rewards[0] = (struct rulebook_auto_reward){"voucher_5", 1000};
    fx_restart(f);
}

static void big_adjust_mints_no_rewards_and_spills_none(void **state)
{
    struct fx *f = *state;
    set_voucher_every_1000(f);
    member_with(f, at(2024, 3, 1), "ann", 0);
    applied(adjust(f, at(2024, 3, 2), "a-1", "ann", 120000));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 120000, 120000, PROTO_CAUSE_ADJUST);
    struct member *m = find_member(f, "ann");
    assert_int_equal(m->lifetime_points, 0);
    assert_int_equal(m->reward_points, 0);
    /* A 1.00 purchase later carries its own point and nothing else. */
    applied(purchase(f, at(2024, 3, 3), "p-1", "ann", 100));
    assert_int_equal(f->res.count, 1);
    expect_points(f, 0, 1, 120001, PROTO_CAUSE_PURCHASE);
    /* A debit does not lower the every-N count either. */
    applied(adjust(f, at(2024, 3, 4), "a-2", "ann", -500));
    assert_int_equal(m->reward_points, 1);
}

static void adjust_earns_issues_every_reward_in_one_event_with_a_count(void **state)
{
    struct fx *f = *state;
    set_voucher_every_1000(f);
    f->cfg.rules.adjust_earns = true;
    member_with(f, at(2024, 3, 1), "ann", 0);
    /* 120000 points earned: 120 vouchers, all issued by this entry. */
    applied(adjust(f, at(2024, 3, 2), "a-1", "ann", 120000));
    assert_int_equal(f->res.count, 2);
    expect_reward(f, 1, "voucher_5", 120);
    assert_int_equal(find_member(f, "ann")->auto_issued[0], 120);
    applied(purchase(f, at(2024, 3, 3), "p-1", "ann", 100));
    assert_int_equal(f->res.count, 1); /* nothing left over for later entries */
}

static void purchase_earning_several_rewards_issues_them_at_once(void **state)
{
    struct fx *f = *state;
    set_voucher_every_1000(f);
    member_with(f, at(2024, 3, 1), "ann", 0);
    /* 2500.00 at blue: 2500 points, gold, two vouchers. */
    applied(purchase(f, at(2024, 3, 2), "p-1", "ann", 250000));
    assert_int_equal(f->res.count, 3);
    expect_upgrade(f, 1, "blue", "gold");
    expect_reward(f, 2, "voucher_5", 2);
}

static void qualifying_adjust_counts_toward_the_tier(void **state)
{
    struct fx *f = *state;
    member_with(f, at(2024, 3, 1), "ann", 0);
    adjust(f, at(2024, 3, 2), "a-1", "ann", 600);
    f->e.qualifying = true; /* a migrated member's status */
    applied(f);
    assert_int_equal(f->res.count, 2);
    expect_points(f, 0, 600, 600, PROTO_CAUSE_ADJUST);
    expect_upgrade(f, 1, "blue", "silver");
    assert_int_equal(members_qual_total(find_member(f, "ann"), f->st.clock_month, 12), 600);
    /* Without the flag, points move and qualification does not. */
    applied(adjust(f, at(2024, 3, 3), "a-2", "ann", 5000));
    assert_int_equal(f->res.count, 1);
    assert_int_equal(find_member(f, "ann")->tier, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(buying_to_gold_then_returning_it_all_drops_to_blue_at_once),
        T(partial_refunds_drop_step_by_step_to_what_is_left),
        T(refund_drop_stops_at_the_tier_held_before_the_sale),
        T(refund_leaves_a_tier_held_on_a_past_years_qualification),
        T(refund_downgrade_review_keeps_the_tier_until_the_review),
        T(spend_basis_drops_on_a_refund_too),
        T(full_refund_of_the_first_purchase_takes_its_bonus_back),
        T(full_refund_takes_the_referral_bonus_back_from_the_referrer),
        T(keep_bonuses_keeps_them_on_a_full_refund),
        T(refunded_spend_leaves_monetary_value_class_and_clv),
        T(same_txn_with_another_amount_is_txn_conflict_saying_so),
        T(reused_txn_of_other_kinds_names_points_or_other_fields),
        T(digest_covers_every_field_but_ts_and_txn),
        T(digest_is_stable_across_versions),
        T(big_adjust_mints_no_rewards_and_spills_none),
        T(adjust_earns_issues_every_reward_in_one_event_with_a_count),
        T(purchase_earning_several_rewards_issues_them_at_once),
        T(qualifying_adjust_counts_toward_the_tier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
