/* test_budgets.c - campaign budgets and per-member limits (budgets.h), the
 * per-campaign parts of a sale (earn.h), earning.min_amount and
 * earning.enroll_bonus.
 *
 * Rulebook (progfx.h): 1 point per 1.00, no expiry, the campaigns each
 * test writes, all running through 2027.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "earn.h"
#include "progfx.h"

#define IN_2027 "start = \"2027-01-01\"; end = \"2028-01-01\";"

static int64_t given(const struct progfx *f, uint32_t c)
{
    return f->st.g.camp.given[c];
}

/* welcome: +100 a sale, 250 in all. Sales 1 and 2 get 100, sale 3 the 50
 * left (and campaign.exhausted, once), sale 4 nothing. */
static void a_budget_gives_exactly_its_points_and_is_announced_once(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { campaigns = ( { name = \"welcome\"; " IN_2027
                                  " bonus_points = 100; budget_points = 250; } ); };\n",
                                  8);
    const char *ids[] = {"m1", "m2", "m3", "m4"};
    const int64_t want[] = {100, 100, 50, 0};
    for (int i = 0; i < 4; i++) {
        progfx_enroll(f, progfx_noon(2027, 2, 1), ids[i]);
        progfx_buy(f, progfx_noon(2027, 2, 2 + i), ids[i], 10000);
        assert_int_equal(progfx_delta(f, ids[i], PROTO_CAUSE_PURCHASE), 100);
        assert_int_equal(progfx_delta(f, ids[i], PROTO_CAUSE_BONUS), want[i]);
        assert_int_equal(progfx_count(f, PROTO_OUT_CAMPAIGN_EXHAUSTED), i == 2);
    }
    const struct proto_output *o = NULL;
    progfx_buy(f, progfx_noon(2027, 3, 1), "m3", 10000);
    assert_int_equal(progfx_count(f, PROTO_OUT_CAMPAIGN_EXHAUSTED), 0);
    assert_int_equal(given(f, 0), 250);
    assert_int_equal(budgets_remaining(&f->st.g.camp, &f->st.ver->now, &f->st.place, 0), 0);
    /* The announcement names the campaign and no member. */
    progfx_free(f);
    f = progfx_new("earning = { campaigns = ( { name = \"welcome\"; " IN_2027
                   " bonus_points = 100; budget_points = 100; } ); };\n", 8);
    progfx_enroll(f, progfx_noon(2027, 2, 1), "m1");
    progfx_buy(f, progfx_noon(2027, 2, 2), "m1", 500);
    o = progfx_out(f, PROTO_OUT_CAMPAIGN_EXHAUSTED, 0);
    assert_string_equal(o->campaign, "welcome");
    assert_int_equal(o->ts, progfx_noon(2027, 2, 2));
    progfx_free(f);
}

/* x2 on everything with a budget of 75: a 100.00 sale earns its 100 and
 * 75 of the campaign's 100; the next earns the base only. */
static void a_multiplier_campaigns_budget_caps_what_it_adds(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { campaigns = ( { name = \"x2\"; " IN_2027
                                  " multiplier_bp = 20000; budget_points = 75; } ); };\n",
                                  8);
    progfx_enroll(f, progfx_noon(2027, 2, 1), "m1");
    progfx_buy(f, progfx_noon(2027, 2, 2), "m1", 10000);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_PURCHASE), 175);
    assert_int_equal(progfx_count(f, PROTO_OUT_CAMPAIGN_EXHAUSTED), 1);
    progfx_buy(f, progfx_noon(2027, 2, 3), "m1", 10000);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_PURCHASE), 100);
    assert_int_equal(given(f, 0), 75);
    progfx_free(f);
}

static void member_limits_cap_sales_and_points_per_member(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(
        "earning = { campaigns = (\n"
        "  { name = \"twice\"; " IN_2027 " bonus_points = 100; member_limit_times = 2; },\n"
        "  { name = \"upto150\"; " IN_2027 " bonus_points = 100; member_limit_points = 150; }"
        " ); };\n", 8);
    const int64_t want[] = {200, 150, 0, 0};
    for (int who = 0; who < 2; who++) {
        const char *id = who ? "m2" : "m1";
        progfx_enroll(f, progfx_noon(2027, 2, 1), id);
        for (int i = 0; i < 4; i++) {
            progfx_buy(f, progfx_noon(2027, 2, 2 + i), id, 1000);
            assert_int_equal(progfx_delta(f, id, PROTO_CAUSE_BONUS), want[i]);
        }
        const struct member_extra *x = members_extra(&f->st.members, progfx_member(f, id));
        assert_int_equal(x->camp_times[0], 2);
        assert_int_equal(x->camp_points[1], 150);
    }
    assert_int_equal(given(f, 0), 400);
    assert_int_equal(given(f, 1), 300);
    progfx_free(f);
}

/* txn_cap_points 120: a 100.00 sale's 100 + 100 bonus become 120, the cap
 * taking 80 of the bonus, so the budget is charged 20. */
static void points_the_caps_take_are_not_charged_to_the_budget(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { txn_cap_points = 120; campaigns = ( { name = "
                                  "\"w\"; " IN_2027 " bonus_points = 100; budget_points = 1000;"
                                  " member_limit_points = 1000; } ); };\n", 8);
    progfx_enroll(f, progfx_noon(2027, 2, 1), "m1");
    progfx_buy(f, progfx_noon(2027, 2, 2), "m1", 10000);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_PURCHASE), 100);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_BONUS), 20);
    assert_int_equal(given(f, 0), 20);
    assert_int_equal(members_extra(&f->st.members, progfx_member(f, "m1"))->camp_points[0], 20);
    progfx_free(f);
}

/* wine x2 and fresh x3 on a basket of 33.33 wine and 12.35 fresh:
 *   base      floor(45.68)                         = 45
 *   wine  +   floor(45.68 + 33.33 = 79.01) - 45    = 34
 *   fresh +   floor(79.01 + 24.70 = 103.71) - 79   = 24
 * adding up to floor(66.66 + 37.05) = 103, the one-floor total. */
static void campaign_parts_add_up_to_the_one_floor_total(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(
        "earning = { campaigns = (\n"
        "  { name = \"wine\"; " IN_2027 " categories = [\"wine\"]; multiplier_bp = 20000; },\n"
        "  { name = \"fresh\"; " IN_2027 " categories = [\"fresh\"]; multiplier_bp = 30000; }"
        " ); };\n", 4);
    struct proto_entry *e = progfx_entry(f, PROTO_PURCHASE, progfx_noon(2027, 5, 5), "p", "m");
    strcpy(e->store, "s1");
    e->amount = 4568;
    e->line_count = 2;
    e->lines[0] = (struct proto_line){"w1", "wine", 1, 3333};
    e->lines[1] = (struct proto_line){"f1", "fresh", 1, 1235};
    struct earn_result er;
    struct proto_reject rej;
    assert_int_equal(earn_purchase(&f->rb, e, 10000, &er, &rej), 0);
    assert_int_equal(er.base, 45);
    assert_int_equal(er.by_campaign[0], 34);
    assert_int_equal(er.by_campaign[1], 24);
    assert_int_equal(er.points, 103);
    assert_int_equal(er.campaign_bonus, 0);
    progfx_free(f);
}

/* min_amount 10.00: a 9.99 sale earns no base points but keeps the
 * campaign's bonus (its own min_amount is 0); 10.00 earns 10. */
static void a_sale_below_min_amount_earns_no_base_points(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { min_amount = 1000; campaigns = ( { name = "
                                  "\"b\"; start = \"2027-06-01\"; end = \"2027-07-01\";"
                                  " bonus_points = 5; } ); };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 5, 1), "m1");
    progfx_buy(f, progfx_noon(2027, 5, 2), "m1", 999);
    assert_int_equal(f->ob.count, 0);
    progfx_buy(f, progfx_noon(2027, 5, 3), "m1", 1000);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_PURCHASE), 10);
    progfx_buy(f, progfx_noon(2027, 6, 3), "m1", 999);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_PURCHASE), 0);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_BONUS), 5);
    assert_int_equal(progfx_member(f, "m1")->balance, 15);
    progfx_free(f);
}

/* enroll_bonus 50, on an enrol entry and on a purchase that enrols. */
static void enrolment_earns_the_enroll_bonus(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { enroll_bonus = 50; require_enrollment = false; "
                                  "};\nrewards = { auto = ( { reward = \"r\"; every_points = "
                                  "50; } ); };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 5, 1), "m1");
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_BONUS), 50);
    assert_int_equal(progfx_count(f, PROTO_OUT_REWARD_ISSUED), 1);
    const struct member *m = progfx_member(f, "m1");
    assert_int_equal(m->balance, 50);
    assert_int_equal(m->lifetime_points, 50);
    assert_int_equal(members_qual_total(m, f->st.clock_month, 12), 0); /* not a purchase */
    progfx_buy(f, progfx_noon(2027, 5, 2), "m2", 1000);
    assert_int_equal(progfx_delta(f, "m2", PROTO_CAUSE_BONUS), 50);
    assert_int_equal(progfx_delta(f, "m2", PROTO_CAUSE_PURCHASE), 10);
    progfx_free(f);
}

/* A rules entry that reorders the campaigns, raises one budget and adds a
 * campaign: the counts follow the names; the raised budget gives again. */
static void counts_follow_campaign_names_across_a_rulebook_switch(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(
        "earning = { campaigns = (\n"
        "  { name = \"a\"; " IN_2027 " bonus_points = 10; budget_points = 20; },\n"
        "  { name = \"b\"; " IN_2027 " bonus_points = 1; member_limit_times = 1; } ); };\n",
        4);
    progfx_enroll(f, progfx_noon(2027, 2, 1), "m1");
    progfx_buy(f, progfx_noon(2027, 2, 2), "m1", 100);
    progfx_buy(f, progfx_noon(2027, 2, 3), "m1", 100);
    assert_int_equal(progfx_count(f, PROTO_OUT_CAMPAIGN_EXHAUSTED), 1);
    static struct rulebook next;
    progfx_parse("earning = { campaigns = (\n"
                 "  { name = \"new\"; " IN_2027 " bonus_points = 7; member_limit_times = 1; },\n"
                 "  { name = \"b\"; " IN_2027 " bonus_points = 1; member_limit_times = 1; },\n"
                 "  { name = \"a\"; " IN_2027 " bonus_points = 10; budget_points = 30; } ); };\n",
                 &next);
    next.txns_max = f->rb.txns_max;
    progfx_entry(f, PROTO_RULES, progfx_noon(2027, 2, 4), NULL, NULL);
    strcpy(f->e.hash, "0123456789abcdef0123456789abcdef");
    struct rules_text rt = {&next, NULL};
    rules_apply(&f->st, (struct proto_id){1, ++f->seq}, &f->e, &rt, &f->ob);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
    assert_int_equal(given(f, 0), 0);
    assert_int_equal(given(f, 1), 1);
    assert_int_equal(given(f, 2), 20);
    const struct member_extra *x = members_extra(&f->st.members, progfx_member(f, "m1"));
    assert_int_equal(x->camp_times[0], 0);
    assert_int_equal(x->camp_times[1], 1);
    /* "b" stays used up for m1; "a" gives its last 10, "new" its 7. */
    progfx_buy(f, progfx_noon(2027, 2, 5), "m1", 100);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_BONUS), 17);
    assert_int_equal(progfx_count(f, PROTO_OUT_CAMPAIGN_EXHAUSTED), 1);
    assert_string_equal(progfx_out(f, PROTO_OUT_CAMPAIGN_EXHAUSTED, 0)->campaign, "a");
    progfx_free(f);
}

/* The shares of P partitions add up to the budget exactly, differ by at
 * most one point, and the larger ones go to the lowest partitions. */
static void partition_shares_add_up_to_the_budget(void **unused)
{
    (void)unused;
    const int64_t budgets[] = {1, 3, 250, 20000, 1000003};
    const uint32_t counts[] = {1, 2, 4, 7, 64, 1024};
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++) {
            int64_t sum = 0, first = budgets_share(budgets[i], 0, counts[j]);
            for (uint32_t p = 0; p < counts[j]; p++) {
                int64_t share = budgets_share(budgets[i], p, counts[j]);
                assert_true(share == first || share == first - 1);
                sum += share;
            }
            assert_int_equal(sum, budgets[i]);
        }
    }
    assert_int_equal(budgets_share(250, 0, 4), 63);
    assert_int_equal(budgets_share(250, 1, 4), 63);
    assert_int_equal(budgets_share(250, 2, 4), 62);
    assert_int_equal(budgets_share(250, 3, 4), 62);
}

/* Partition 2 of 4 spends its 62 of a 250 budget: the first sale gets 62
 * of its 100 bonus and announces the campaign exhausted (here). */
static void a_partition_spends_only_its_share_of_a_budget(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { campaigns = ( { name = \"welcome\"; " IN_2027
                                  " bonus_points = 100; budget_points = 250; } ); };\n",
                                  8);
    f->st.place.partition = 2;
    f->st.place.partitions = 4;
    progfx_enroll(f, progfx_noon(2027, 2, 1), "m1");
    progfx_buy(f, progfx_noon(2027, 2, 2), "m1", 10000);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_BONUS), 62);
    assert_int_equal(progfx_count(f, PROTO_OUT_CAMPAIGN_EXHAUSTED), 1);
    progfx_buy(f, progfx_noon(2027, 2, 3), "m1", 10000);
    assert_int_equal(progfx_delta(f, "m1", PROTO_CAUSE_BONUS), 0);
    assert_int_equal(given(f, 0), 62);
    assert_int_equal(budgets_remaining(&f->st.g.camp, &f->st.ver->now, &f->st.place, 0), 0);
    progfx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_budget_gives_exactly_its_points_and_is_announced_once),
        cmocka_unit_test(a_multiplier_campaigns_budget_caps_what_it_adds),
        cmocka_unit_test(member_limits_cap_sales_and_points_per_member),
        cmocka_unit_test(points_the_caps_take_are_not_charged_to_the_budget),
        cmocka_unit_test(campaign_parts_add_up_to_the_one_floor_total),
        cmocka_unit_test(a_sale_below_min_amount_earns_no_base_points),
        cmocka_unit_test(enrolment_earns_the_enroll_bonus),
        cmocka_unit_test(counts_follow_campaign_names_across_a_rulebook_switch),
        cmocka_unit_test(partition_shares_add_up_to_the_budget),
        cmocka_unit_test(a_partition_spends_only_its_share_of_a_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
