/* liabview.h - the points liability as the API, /metrics and the
 * dashboard show it (liability.h keeps the figures in each state).
 *
 * GET /v1/liability answers, summed over the served partitions (and, with
 * more than one, per partition under "partitions"):
 *   {"as_of": "2027-05" (null before the first entry), "clock_ts", "currency",
 *    "value_minor",
 *    "value_points", "totals": REPORT, "partitions": {"0": REPORT, ...}}
 * REPORT: {"outstanding_points", "pending_points", "debt_points",
 *   "opening_points", "outstanding_value_minor" (null: not valued),
 *   "redemption_rate_bp", "breakage_bp" (null: nothing to judge yet),
 *   "by_cohort": [{"month", "outstanding", "in", "redeemed", "expired",
 *   "other"}], "by_expiry": [{"month", "points"}], "by_month": [{"month",
 *   "issued", "adjusted_in", "adjusted_out", "redeemed", "expired",
 *   "refunded", "transferred_in", "transferred_out", "pending_held",
 *   "pending_released", "pending_cancelled"}]}, months "YYYY-MM" oldest
 * first and only those with a figure; "earlier" (cohorts and months
 * folded), "overdue" and "never" (expiry) where not empty.
 */
#ifndef LOYALTY_LIABVIEW_H
#define LOYALTY_LIABVIEW_H

#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "config.h"
#include "liability.h"
#include "state.h"

/* How the figures are valued (config.h's liability_value_*). */
struct liabview_value {
    uint64_t minor;  /* 0: not valued */
    uint32_t points; /* >= 1 */
    const char *currency;
};

/* The value of `points` in minor units, rounded down. */
int64_t liabview_value_of(const struct liabview_value *v, int64_t points);

/* Fills `r` with the liabilities of states[0..n) (as of the newest
 * month among them). */
void liabview_report(const struct state *const *states, uint32_t n,
                     struct liability_report *r);

/* GET /v1/liability (above) for states[0..n), partition numbers
 * parts[0..n); NULL when out of memory. */
json_t *liabview_json(const struct state *const *states, const uint32_t *parts, uint32_t n,
                      const struct liabview_value *v);

/* Appends the liability gauges of states[0..n) in Prometheus text
 * format: loyalty_liability_{outstanding,pending,debt}_points,
 * loyalty_liability_points{cohort} (the LIABILITY_MONTHS latest cohorts
 * with points and "earlier": at most 61 series),
 * loyalty_liability_expiring_points{month} (likewise bounded), the
 * redemption rate and breakage as ratios, and
 * loyalty_liability_value_minor when valued. Returns 0, or -1 when the
 * buffer cannot grow. */
int liabview_metrics(const struct state *const *states, uint32_t n,
                     const struct liabview_value *v, struct evbuffer *out);

#endif
