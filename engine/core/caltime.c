/* caltime.c - see caltime.h. */
#include "caltime.h"

#include "lyassert.h"

int64_t caltime_day(int64_t ts_ms)
{
    LY_ASSERT(ts_ms >= 0);
    return ts_ms / CALTIME_DAY_MS;
}

struct caltime_date caltime_date(int64_t ts_ms)
{
    /* civil_from_days: eras of 400 years, years starting in March so the
     * leap day is the last day of the year. Within the era, unsigned 32-bit
     * arithmetic, where each division by a constant is a multiply and a
     * shift: every purchase asks for several dates and months. */
    int64_t z = caltime_day(ts_ms) + 719468;
    int64_t era = z / 146097;
    uint32_t doe = (uint32_t)(z - era * 146097); /* day of the era, < 146097 */
    uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint32_t mp = (5 * doy + 2) / 153;
    uint32_t d = doy - (153 * mp + 2) / 5 + 1;
    uint32_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    struct caltime_date out = {(int32_t)y, (uint8_t)m, (uint8_t)d};
    return out;
}

int32_t caltime_month(int64_t ts_ms)
{
    struct caltime_date d = caltime_date(ts_ms);
    return d.year * 12 + (d.month - 1);
}

int64_t caltime_ts(struct caltime_date d)
{
    LY_ASSERT(d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= 31);
    int64_t y = d.year - (d.month <= 2);
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t m = d.month;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d.day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (era * 146097 + doe - 719468) * CALTIME_DAY_MS;
}

int32_t caltime_month_days(int32_t year, int32_t month)
{
    LY_ASSERT(month >= 1 && month <= 12);
    if (month == 2)
        return 28 + ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0);
    /* Of the others, odd months up to July and even ones from August have 31. */
    return 30 + ((month + (month > 7)) & 1);
}

int64_t caltime_month_start(int32_t month)
{
    LY_ASSERT(month >= 0);
    if (month < 2) { /* January and February of year 0: the general path */
        struct caltime_date d = {month / 12, (uint8_t)(month % 12 + 1), 1};
        return caltime_ts(d);
    }
    /* caltime_ts of day 1 with years starting in March, in unsigned 32-bit
     * arithmetic (every purchase asks for two or three month starts): month
     * index - 2 counts months from March of year 0. */
    uint32_t q = (uint32_t)month - 2, y = q / 12, mp = q - y * 12;
    uint32_t era = y / 400, yoe = y - era * 400;
    uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5;
    return ((int64_t)era * 146097 + doe - 719468) * CALTIME_DAY_MS;
}
