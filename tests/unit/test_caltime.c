/* test_caltime.c - calendar arithmetic (caltime.h): every UTC day the
 * decoder can reach, and days far beyond, against the calendar's own rules
 * (one day after another, months of their length, caltime_ts the inverse)
 * and known dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "caltime.h"
#include "proto.h"

#define DAY CALTIME_DAY_MS

/* Walks days [first, last]: each date follows the one before (the next
 * day of its month, or the 1st of the next month after the month's last
 * day), caltime_ts gives the day back, caltime_month counts months. */
static void walk_days(int64_t first, int64_t last)
{
    struct caltime_date prev = caltime_date(first * DAY);
    for (int64_t d = first; d <= last; d++) {
        int64_t ts = d * DAY + (d % 7) * 3600000; /* any time of the day */
        struct caltime_date now = caltime_date(ts);
        assert_int_equal(caltime_ts(now), d * DAY);
        assert_int_equal(caltime_month(ts), now.year * 12 + now.month - 1);
        if (now.day == 1)
            assert_int_equal(caltime_month_start(now.year * 12 + now.month - 1), d * DAY);
        if (d == first)
            continue;
        if (now.day == prev.day + 1) {
            assert_int_equal(now.month, prev.month);
            assert_int_equal(now.year, prev.year);
        } else {
            assert_int_equal(now.day, 1);
            assert_int_equal(prev.day, caltime_month_days(prev.year, prev.month));
            assert_int_equal(now.month, prev.month == 12 ? 1 : prev.month + 1);
            assert_int_equal(now.year, prev.year + (prev.month == 12));
        }
        prev = now;
    }
}

static void every_day_the_decoder_accepts_follows_the_calendar(void **unused)
{
    (void)unused;
    walk_days(0, PROTO_TS_MAX / DAY);
    struct caltime_date last = caltime_date(PROTO_TS_MAX);
    assert_int_equal(last.year, 9999);
    assert_int_equal(last.month, 12);
    assert_int_equal(last.day, 31);
}

/* caltime_date counts 400-year eras in 64 bits and the days within one in
 * 32: far beyond 9999, where the day number passes 2^32, and across an
 * era's end, the days still follow each other. */
static void dates_follow_each_other_past_day_two_to_the_32(void **unused)
{
    (void)unused;
    int64_t edge = (int64_t)UINT32_MAX - 719468;
    walk_days(edge - 800, edge + 800);
    walk_days(146097 * 30000LL - 719468 - 800, 146097 * 30000LL - 719468 + 800);
}

/* caltime_month_start (its own 32-bit path from March of year 0) is
 * caltime_ts of the month's first day: every month of years 0..9999, and
 * up to the last month index an int32_t holds. */
static void month_starts_are_the_first_days_of_their_months(void **unused)
{
    (void)unused;
    for (int32_t k = 0; k < 10000 * 12; k++) {
        struct caltime_date d = {k / 12, (uint8_t)(k % 12 + 1), 1};
        assert_int_equal(caltime_month_start(k), caltime_ts(d));
    }
    for (int32_t k = INT32_MAX - 12 * 1000; k > 0 && k <= INT32_MAX - 1; k++) {
        struct caltime_date d = {k / 12, (uint8_t)(k % 12 + 1), 1};
        assert_int_equal(caltime_month_start(k), caltime_ts(d));
    }
    struct caltime_date last = {INT32_MAX / 12, (uint8_t)(INT32_MAX % 12 + 1), 1};
    assert_int_equal(caltime_month_start(INT32_MAX), caltime_ts(last));
}

static void known_dates(void **unused)
{
    (void)unused;
    struct caltime_date d = caltime_date(0);
    assert_true(d.year == 1970 && d.month == 1 && d.day == 1);
    d = caltime_date(1767225600000LL); /* 2026-01-01T00:00:00Z */
    assert_true(d.year == 2026 && d.month == 1 && d.day == 1);
    d = caltime_date(951782400000LL + DAY - 1); /* 2000-02-29T23:59:59.999Z */
    assert_true(d.year == 2000 && d.month == 2 && d.day == 29);
    assert_int_equal(caltime_month_start(2027 * 12 + 2), 1803859200000LL); /* 2027-03-01 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_day_the_decoder_accepts_follows_the_calendar),
        cmocka_unit_test(dates_follow_each_other_past_day_two_to_the_32),
        cmocka_unit_test(month_starts_are_the_first_days_of_their_months),
        cmocka_unit_test(known_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
