/* caltime.h - calendar arithmetic on event time (UTC), integers only.
 *
 * Rules judge time by the `ts` of events (ms since the epoch), never by the
 * daemon's clock. These helpers turn such a timestamp into calendar fields
 * with the proleptic Gregorian calendar (H. Hinnant's days_from_civil
 * algorithm), valid for every ts the decoder accepts (0..PROTO_TS_MAX).
 */
#ifndef LOYALTY_CALTIME_H
#define LOYALTY_CALTIME_H

#include <stdint.h>

#define CALTIME_DAY_MS 86400000LL

struct caltime_date {
    int32_t year;
    uint8_t month; /* 1..12 */
    uint8_t day;   /* 1..31 */
};

/* Days since 1970-01-01 of the UTC day holding `ts_ms` (ts_ms >= 0). */
int64_t caltime_day(int64_t ts_ms);

/* The calendar date of the UTC day holding `ts_ms` (ts_ms >= 0). */
struct caltime_date caltime_date(int64_t ts_ms);

/* A month index that counts months: year * 12 + (month - 1). Consecutive
 * months have consecutive indexes. `ts_ms` >= 0. */
int32_t caltime_month(int64_t ts_ms);

/* Days in month `month` (1..12) of `year`, February by the Gregorian
 * leap rule. */
int32_t caltime_month_days(int32_t year, int32_t month);

/* Milliseconds since the epoch of 00:00 UTC on the first day of month
 * index `month` (as caltime_month counts them, >= 0). */
int64_t caltime_month_start(int32_t month);

/* Milliseconds since the epoch of 00:00 UTC on the given date. The date
 * must be valid (asserted). */
int64_t caltime_ts(struct caltime_date d);

#endif
