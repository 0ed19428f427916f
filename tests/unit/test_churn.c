/* test_churn.c - the churn risk score (churn.h) and lifetime value with a
 * retention programme (segments.h), on their worked examples.
 *
 * Rulebook (progfx.h): 1 point per 1.00; segments.active_days 90 (the
 * default) for members with fewer than two purchases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "churn.h"
#include "progfx.h"
#include "segments.h"

static int64_t risk_at(struct progfx *f, int64_t ts)
{
    progfx_tick(f, ts);
    return churn_risk(&f->st, &f->st.ver->now, progfx_pos(f, "m"));
}

/* Purchases on 2027-01-01, 01-31 and 03-02: a usual interval of 30 days.
 * 0 within it, 50 at 75 days (100 * 45 / 90), 100 from 120 days on. */
static void churn_risk_worked_example(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("", 4);
    progfx_enroll(f, progfx_noon(2026, 12, 1), "m");
    progfx_buy(f, progfx_noon(2027, 1, 1), "m", 1000);
    progfx_buy(f, progfx_noon(2027, 1, 31), "m", 1000);
    progfx_buy(f, progfx_noon(2027, 3, 2), "m", 1000);
    assert_int_equal(risk_at(f, progfx_noon(2027, 3, 20)), 0);
    assert_int_equal(risk_at(f, progfx_noon(2027, 4, 1)), 0);
    assert_int_equal(risk_at(f, progfx_noon(2027, 5, 16)), 50);
    assert_int_equal(risk_at(f, progfx_noon(2027, 6, 29)), 98);
    assert_int_equal(risk_at(f, progfx_noon(2027, 6, 30)), 100);
    assert_int_equal(risk_at(f, progfx_noon(2030, 1, 1)), 100);
    /* A late sale dated before the first one lengthens the interval. */
    progfx_buy(f, progfx_noon(2026, 12, 2), "m", 1000);
    assert_int_equal(progfx_member(f, "m")->first_purchase_ts, progfx_noon(2026, 12, 2));
    progfx_free(f);
}

/* Fewer than two purchases: measured against active_days (90) from the
 * last activity: 33 at 180 days, 100 from 360. */
static void a_member_with_fewer_than_two_purchases_is_measured_by_active_days(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("", 4);
    int64_t t0 = progfx_noon(2027, 1, 1);
    progfx_enroll(f, t0, "m");
    assert_int_equal(risk_at(f, t0 + 90 * DAY), 0);
    assert_int_equal(risk_at(f, t0 + 180 * DAY), 33);
    progfx_buy(f, t0 + 200 * DAY, "m", 1000);
    assert_int_equal(risk_at(f, t0 + 290 * DAY), 0);
    assert_int_equal(risk_at(f, t0 + 560 * DAY), 100);
    progfx_free(f);
}

/* A customer with a margin of 100.00 a year (1000.00 spent at 10%) at
 * 10% churn, acquired for 75.00, is worth 100 * 10 - 75 = 925.00. A
 * retention programme costing 20.00 a year that halves churn: (100 - 20)
 * * 20 - 75 = 1525.00. With max_years 10 the halving cannot show:
 * (100 - 20) * 10 - 75 = 725.00. */
#define CLV_TEXT(extra)                                                                    \
    "segments = { margin_bp = 1000; acquisition_cost = 7500; default_churn_bp = 1000;\n" \
    "  min_sample = 1000000; " extra " };\n"

static int64_t clv_of(const char *text)
{
    struct progfx *f = progfx_new(text, 4);
    progfx_enroll(f, progfx_noon(2027, 1, 1), "m");
    progfx_buy(f, progfx_noon(2027, 2, 1), "m", 100000);
    int64_t clv = segments_clv(&f->st, &f->st.ver->now, progfx_pos(f, "m"));
    progfx_free(f);
    return clv;
}

static void retention_cost_and_effect_reproduce_the_lifetime_value_example(void **unused)
{
    (void)unused;
    assert_int_equal(clv_of(CLV_TEXT("max_years = 20;")), 92500);
    assert_int_equal(clv_of(CLV_TEXT("max_years = 20; retention_cost = 2000; "
                                     "retention_churn_bp = 5000;")), 152500);
    assert_int_equal(clv_of(CLV_TEXT("max_years = 10; retention_cost = 2000; "
                                     "retention_churn_bp = 5000;")), 72500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(churn_risk_worked_example),
        cmocka_unit_test(a_member_with_fewer_than_two_purchases_is_measured_by_active_days),
        cmocka_unit_test(retention_cost_and_effect_reproduce_the_lifetime_value_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
