/* segments.h - know the customers: RFM scores, segments, value classes,
 * lifecycle stages and a lifetime value estimate, kept live by the rules.
 *
 * Scores (1..5 each, cut points in the rulebook):
 *   R  days since the last purchase: 5 when <= recency_days[0], down to 1
 *      past recency_days[3] (and 1 when the member never bought);
 *   F  purchases over the window: 1, plus one per frequency[i] reached;
 *   M  spend over the window (minor units): likewise with monetary[i].
 * The segment is the first configured one whose score ranges hold them.
 * The stage: reactivated (for reactivated_days after a lapsed member buys
 * again), new (new_days after enrolment), else by days since the last
 * activity (purchase or enrolment): active (<= active_days), at_risk
 * (<= lapsed_days), lapsed. Each member stores when its scores or stage
 * can next change (seg_due_ts); ticks visit only members due (schedule.h).
 * A change publishes segment.changed with dimension "segment" or "stage".
 */
#ifndef LOYALTY_SEGMENTS_H
#define LOYALTY_SEGMENTS_H

#include <stdint.h>

#include "rulebook.h"
#include "outbox.h"
#include "state.h"

/* Outputs segments_refresh appends at most: one per dimension. */
#define SEGMENTS_REFRESH_OUTPUTS 2

/* A new member at `pos`: counted in the first tier and classified (no
 * event: there is nothing to move from). */
void segments_enrolled(struct state *st, const struct rulebook *rb, uint32_t pos);

/* Records a sale of `amount` at `ts` before the member's last purchase
 * time is updated (a lapsed member becomes reactivated). */
void segments_note_purchase(struct state *st, const struct rulebook *rb, uint32_t pos,
                            int64_t ts, int64_t amount);

/* Records that `amount` of a sale made at `sale_ts` was refunded: it
 * leaves the monetary window (M score, value class, lifetime value) of the
 * sale's month, never below zero; the purchase still counts in F. Call
 * segments_refresh after it. */
void segments_note_refund(struct state *st, const struct rulebook *rb, uint32_t pos,
                          int64_t sale_ts, int64_t amount);

/* Re-classifies member `pos` at the engine clock, publishes what moved
 * (stamped `ts`) and stores its next due time. */
void segments_refresh(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      int64_t ts, uint32_t pos);

/* Moves the tier count of a member from tier `from` to tier `to`. */
void segments_tier_moved(struct state *st, uint8_t from, uint8_t to);

/* Spend and purchases of member `pos` over the rulebook's window. */
void segments_window(const struct state *st, const struct rulebook *rb, uint32_t pos,
                     int64_t *spend, int64_t *purchases);

/* The value class index of member `pos` (by its window spend's share of
 * all members' spend), or -1 when no classes are configured. */
int segments_value_class(const struct state *st, const struct rulebook *rb, uint32_t pos);

/* Members per value class into counts[0..value_class_count). */
void segments_value_counts(const struct state *st, const struct rulebook *rb, int64_t *counts);

/* Observed yearly churn of segment `s` in basis points (see rulebook.h). */
int64_t segments_churn_bp(const struct state *st, const struct rulebook *rb, uint32_t s);

/* Lifetime value estimate of member `pos`, minor units:
 *   (yearly spend * margin_bp - retention_cost * 10000) / churn_bp
 *   - acquisition_cost
 * where yearly spend is the window spend scaled to 12 months and churn_bp
 * the segment's churn times retention_churn_bp / 10000, at least
 * 10000 / max_years. Worked example: a margin of 100.00 a year at 10%
 * churn, acquired for 75.00: 10000 * 10 - 7500 = 92500 (925.00); a
 * retention programme costing 20.00 a year that halves churn
 * (retention_churn_bp 5000, max_years >= 20): (10000 - 2000) * 20 - 7500
 * = 152500 (1525.00). */
int64_t segments_clv(const struct state *st, const struct rulebook *rb, uint32_t pos);

/* Wire name of a stage ("new", "active", "at_risk", "lapsed",
 * "reactivated"). */
const char *segments_stage_name(enum rulebook_stage s);

#endif
