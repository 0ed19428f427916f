/* wistats.h - what one replay of the history produced, for the what-if
 * report: points by cause and month, outstanding liability at each month's
 * end, rewards issued, campaign costs; and at the end, from the state,
 * tiers, segments and each member's points.
 *
 * Fed after each entry with its outputs (wistats_after); campaign costs
 * need the member's tier before the sale (wistats_before). A campaign's
 * cost is marginal and before caps: what the sale earned under the
 * rulebook in force less what it would have earned without that one
 * campaign (multipliers do not stack, so another campaign may take over).
 */
#ifndef LOYALTY_WISTATS_H
#define LOYALTY_WISTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"

/* Months a report spans: a century either side is more than a program
 * lives; outputs outside [base, base + WISTATS_MONTHS) are clamped. */
#define WISTATS_MONTHS 2400
/* Distinct reward and campaign names counted (each rulebook has at most
 * RULEBOOK_CATALOG_MAX + auto + milestones rewards and
 * RULEBOOK_CAMPAIGNS_MAX campaigns; versions add more). */
#define WISTATS_NAMES_MAX 256

struct wistats_month {
    int64_t by_cause[PROTO_CAUSE_COUNT]; /* sum of points.changed deltas */
    int64_t issued;      /* positive deltas: purchase, bonus, reward, adjust > 0 */
    int64_t redeemed;    /* spent (positive number) */
    int64_t expired;     /* expired (positive number) */
    int64_t liability;   /* sum of balances after the month's last change */
    int64_t rewards;     /* reward.issued */
    int64_t tier_changes;
    int64_t campaign_cost;
    bool used;           /* some output fell in this month */
};

struct wistats_named {
    char name[RULEBOOK_NAME_MAX + 1];
    int64_t count;  /* rewards issued / sales a campaign paid on */
    int64_t points; /* their cost in points */
};

struct wistats {
    int32_t base_month;     /* caltime_month of index 0 */
    struct wistats_month *m; /* WISTATS_MONTHS of them */
    int64_t liability;      /* running: sum of every delta */
    uint32_t reward_count, campaign_count;
    struct wistats_named rewards[WISTATS_NAMES_MAX];
    struct wistats_named campaigns[WISTATS_NAMES_MAX];
    /* Campaign attribution of the entry being applied. */
    struct rulebook *scratch;  /* the rulebook in force, one campaign switched off at a time */
    uint32_t scratch_version;  /* versions count it was copied at (+1; 0: never) */
    struct proto_id scratch_since;
    uint32_t pending_count;
    int16_t pending_campaign[RULEBOOK_CAMPAIGNS_MAX];
    int64_t pending_points[RULEBOOK_CAMPAIGNS_MAX];
    uint64_t entries, applied, rejected, duplicates;
};

/* Starts empty counts for a history whose first entry has event time
 * `first_ts`. Returns 0, or -1 when out of memory. */
int wistats_init(struct wistats *s, int64_t first_ts);
void wistats_free(struct wistats *s);

/* Before `e` (decoded, NULL otherwise) is applied to `st`: works out what
 * each campaign in force adds to it, when it is a purchase. */
void wistats_before(struct wistats *s, const struct state *st, const struct proto_entry *e);

/* After it was applied, with its verdict and outputs in `ob`. */
void wistats_after(struct wistats *s, const struct proto_entry *e, const struct outbox *ob);

/* The month index (caltime_month) of stats month `i`, and whether any
 * output fell in it. */
int32_t wistats_month_of(const struct wistats *s, uint32_t i);

#endif
