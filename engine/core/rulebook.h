/* rulebook.h - the rules a retailer configures, as plain data.
 *
 * Filled by config_load (config.h), read by the rules core (rules.h). The
 * core never changes it; it outlives every state and every output, so
 * outputs may point at its strings. All amounts are integers: money in
 * minor units, multipliers in basis points (10000 = x1).
 */
#ifndef LOYALTY_RULEBOOK_H
#define LOYALTY_RULEBOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#define RULEBOOK_TIERS_MAX 8          /* VIP levels: retailers use 3..6 */
#define RULEBOOK_PERKS_MAX 8          /* perks of one tier: one scan event each */
#define RULEBOOK_NAME_MAX PROTO_NAME_MAX
#define RULEBOOK_WINDOW_MONTHS_MAX 12 /* tier qualification window: a year */
#define RULEBOOK_MULTIPLIER_BP_MAX 100000 /* x10 */
#define RULEBOOK_POINTS_PER_UNIT_MAX 1000
#define RULEBOOK_MINOR_PER_UNIT_MAX 1000
#define RULEBOOK_CATEGORIES_MAX 64    /* SKU categories with their own multiplier */
#define RULEBOOK_CAMPAIGNS_MAX 32     /* campaigns configured at once */
#define RULEBOOK_FILTER_MAX 16        /* stores or categories one campaign names */
#define RULEBOOK_AUTO_REWARDS_MAX 4   /* "every N points" rewards */
#define RULEBOOK_MILESTONES_MAX 16    /* "Nth purchase" rewards */
#define RULEBOOK_CATALOG_MAX 64       /* rewards members can redeem */
#define RULEBOOK_EXPIRY_MONTHS_MAX 36 /* points live at most 3 years */
#define RULEBOOK_BONUS_MAX 1000000000LL /* points one bonus or cap may name */
#define RULEBOOK_EXPIRY_DAYS_MAX 1096 /* expiry.days: three years (a leap year too) */
#define RULEBOOK_EXPIRY_YEARS_MAX 3   /* expiry.years: three years after the earning one */
/* Campaigns with a per-member limit in one rulebook: each member keeps a
 * counter slot per such campaign (members.h), so they are few. */
#define RULEBOOK_LIMITED_CAMPAIGNS_MAX 4
#define RULEBOOK_MEMBER_LIMIT_TIMES_MAX 65535 /* a member's counter is 16 bits */

/* The largest intermediate of the earn formula must fit in int64. */
_Static_assert((__int128)PROTO_AMOUNT_MAX * RULEBOOK_POINTS_PER_UNIT_MAX *
                       RULEBOOK_MULTIPLIER_BP_MAX <
                   (__int128)INT64_MAX,
               "earn formula overflows int64");

enum rulebook_basis {
    RULEBOOK_BASIS_POINTS, /* qualify on points earned by purchases */
    RULEBOOK_BASIS_SPEND   /* qualify on money spent (minor units) */
};

struct rulebook_category {
    char cat[RULEBOOK_NAME_MAX + 1];
    int64_t multiplier_bp;
};

/* A campaign applies to sales whose own ts is in [start_ms, end_ms), at
 * one of `stores` (all when none) and, for a multiplier, to the line items
 * in one of `categories` (all when none). Stacking: multipliers do not
 * stack (each line gets the best active multiplier); fixed bonuses all
 * stack (each active one adds its bonus once per qualifying sale). */
struct rulebook_campaign {
    char name[RULEBOOK_NAME_MAX + 1];
    int64_t start_ms, end_ms;
    int64_t multiplier_bp; /* 0: a fixed-bonus campaign */
    int64_t bonus_points;  /* fixed bonus per qualifying sale */
    int64_t min_amount;    /* a sale must reach this (minor units) */
    /* Budgets (budgets.h), 0: none. budget_points: the most the campaign
     * gives over all members (the sale that reaches it gets the rest);
     * member_limit_points / _times: the most one member gets from it, in
     * points and in sales. */
    int64_t budget_points;
    int64_t member_limit_points;
    int64_t member_limit_times;
    uint32_t store_count, cat_count;
    char stores[RULEBOOK_FILTER_MAX][RULEBOOK_NAME_MAX + 1];
    char cats[RULEBOOK_FILTER_MAX][RULEBOOK_NAME_MAX + 1];
};

struct rulebook_auto_reward {
    char reward[RULEBOOK_NAME_MAX + 1];
    int64_t every_points; /* one reward each time net points earned pass a multiple */
};

struct rulebook_milestone {
    char reward[RULEBOOK_NAME_MAX + 1];
    uint32_t purchase; /* issued on the member's Nth purchase */
};

struct rulebook_catalog_item {
    char reward[RULEBOOK_NAME_MAX + 1];
    int64_t cost_points;
    int64_t stock; /* -1: unlimited */
};

#define RULEBOOK_SEGMENTS_MAX 16     /* named RFM segments */
#define RULEBOOK_VALUE_CLASSES_MAX 8 /* value classes by share of spend */
#define RULEBOOK_RFM_CUTS 4          /* cut points between scores 1..5 */
#define RULEBOOK_RFM_MONTHS_MAX 12   /* frequency/monetary window */

/* A segment matches members whose scores lie in [lo, hi] for each of
 * r, f, m; the first match in configured order wins (the last segment
 * should catch everything). */
struct rulebook_segment {
    char name[RULEBOOK_NAME_MAX + 1];
    uint8_t lo[3], hi[3];
};

/* The top members by spend whose spend adds up to share_bp of all spend
 * (cumulative from the top) get this class; the last class takes the
 * rest. */
struct rulebook_value_class {
    char name[RULEBOOK_NAME_MAX + 1];
    int64_t share_bp;
};

/* Lifecycle stages, in wire order. */
enum rulebook_stage {
    RULEBOOK_STAGE_NEW,
    RULEBOOK_STAGE_ACTIVE,
    RULEBOOK_STAGE_AT_RISK,
    RULEBOOK_STAGE_LAPSED,
    RULEBOOK_STAGE_REACTIVATED,
    RULEBOOK_STAGE_COUNT
};

struct rulebook_segments {
    bool enabled;
    uint32_t window_months;                 /* F and M over this many months */
    int64_t recency_days[RULEBOOK_RFM_CUTS]; /* ascending: R=5 if <= [0], 4 if <= [1]... */
    int64_t frequency[RULEBOOK_RFM_CUTS];   /* ascending: F=2 if >= [0], ... 5 if >= [3] */
    int64_t monetary[RULEBOOK_RFM_CUTS];    /* ascending, minor units, like frequency */
    uint32_t segment_count;
    struct rulebook_segment segments[RULEBOOK_SEGMENTS_MAX];
    uint32_t value_class_count;
    struct rulebook_value_class value_classes[RULEBOOK_VALUE_CLASSES_MAX];
    int64_t new_days;         /* "new" for this long after enrolment */
    int64_t active_days;      /* "active" while the last activity is this recent */
    int64_t lapsed_days;      /* "lapsed" past this; "at_risk" in between */
    int64_t reactivated_days; /* a lapsed member who buys is "reactivated" this long */
    /* Lifetime value: yearly margin x expected remaining years - acquisition
     * cost; expected years = 1 / the observed yearly churn of the member's
     * segment (default_churn_bp until min_sample members were observed),
     * at most max_years. */
    int64_t margin_bp;
    int64_t acquisition_cost; /* minor units */
    int64_t default_churn_bp;
    int64_t min_sample;
    int64_t max_years;
    /* A retention programme for lifetime value: it costs retention_cost
     * (minor units) per member and year and leaves retention_churn_bp of
     * the churn (10000: none, no effect; 5000: halves it). */
    int64_t retention_cost;
    int64_t retention_churn_bp;
};

enum rulebook_review { RULEBOOK_REVIEW_ANNIVERSARY, RULEBOOK_REVIEW_FIXED };
/* After a refund: IMMEDIATE drops the member to the tier their remaining
 * qualification supports (refunds.h); REVIEW leaves it to the review. */
enum rulebook_refund_downgrade { RULEBOOK_REFUND_IMMEDIATE, RULEBOOK_REFUND_REVIEW };
/* When a sale's qualification counts with pending points on: when it is
 * earned, or when its points are released (pending.h). */
enum rulebook_qualify_on { RULEBOOK_QUALIFY_EARN, RULEBOOK_QUALIFY_RELEASE };

#define RULEBOOK_PENDING_DAYS_MAX 365 /* a return window: retailers use 14..90 days */
#define RULEBOOK_NOTICE_DAYS_MAX 365  /* notices ahead of a review or an expiry */
enum rulebook_shortfall { RULEBOOK_SHORTFALL_NEGATIVE, RULEBOOK_SHORTFALL_FORGIVE };
/* When tiers move down: at the yearly review, or never (lifetime tiers). */
enum rulebook_downgrade { RULEBOOK_DOWNGRADE_REVIEW, RULEBOOK_DOWNGRADE_NEVER };
/* How points expire (wallet.h): months after the earning month, days
 * after the earning day, at the end of the earning year + N, or never. */
enum rulebook_expiry_mode {
    RULEBOOK_EXPIRY_MONTHS,
    RULEBOOK_EXPIRY_DAYS,
    RULEBOOK_EXPIRY_END_OF_YEAR,
    RULEBOOK_EXPIRY_NEVER
};

struct rulebook_tier {
    char name[RULEBOOK_NAME_MAX + 1];
    int64_t threshold;     /* qualifying points or spend over the window */
    int64_t multiplier_bp; /* earn multiplier, 10000 = x1 */
    uint32_t perk_count;
    char perks[RULEBOOK_PERKS_MAX][RULEBOOK_NAME_MAX + 1];
};

struct rulebook {
    /* Earning: points = floor(amount * points_per_unit * multiplier_bp /
     * (minor_per_unit * 10000)). One rounding rule, floor, everywhere. */
    int64_t minor_per_unit;  /* minor units in one currency unit (100) */
    int64_t points_per_unit; /* base points per currency unit */
    bool require_enrollment; /* purchases of unknown members go to the DLQ */
    uint32_t category_count;
    struct rulebook_category categories[RULEBOOK_CATEGORIES_MAX];
    uint32_t campaign_count;
    struct rulebook_campaign campaigns[RULEBOOK_CAMPAIGNS_MAX];
    int64_t first_purchase_bonus; /* points on a member's first purchase */
    int64_t birthday_bonus;       /* points on the first purchase of the birthday month */
    int64_t referral_bonus;       /* points to the referrer on the referee's first purchase */
    int64_t txn_cap_points;       /* max points one sale earns; 0: no cap */
    int64_t day_cap_points;       /* max points a member earns per UTC day; 0: no cap */
    int64_t enroll_bonus;         /* points on enrolment; 0: none */
    int64_t min_amount;           /* a sale below this (minor units) earns no base points */

    /* Tiers, ordered by threshold; tiers[0] has threshold 0 and is where
     * every member starts. */
    enum rulebook_basis basis;
    uint32_t window_months; /* current month and the previous N-1 */
    uint32_t tier_count;
    struct rulebook_tier tiers[RULEBOOK_TIERS_MAX];
    enum rulebook_review review;
    uint8_t review_month, review_day; /* RULEBOOK_REVIEW_FIXED: every year on MM-DD */
    uint32_t grace_months;            /* a due downgrade waits this long; 0: none */
    enum rulebook_downgrade downgrade;

    /* Rewards. */
    uint32_t auto_reward_count;
    struct rulebook_auto_reward auto_rewards[RULEBOOK_AUTO_REWARDS_MAX];
    uint32_t milestone_count;
    struct rulebook_milestone milestones[RULEBOOK_MILESTONES_MAX];
    uint32_t catalog_count;
    struct rulebook_catalog_item catalog[RULEBOOK_CATALOG_MAX];

    /* Expiry: points earned in month M expire at the start of month
     * M + expiry_months + 1 (0: points never expire). Other modes
     * (wallet.h): expiry_days after the day of earning, or at the end of
     * the year of earning + expiry_years; NEVER has every count 0. */
    uint32_t expiry_months;
    enum rulebook_expiry_mode expiry_mode;
    uint32_t expiry_days;
    uint32_t expiry_years;

    /* Points transfers between members (transfer.h). */
    bool transfers_enabled;
    int64_t transfer_day_max_points; /* a sender's total per UTC day; 0: no limit */

    /* Refunds of points already spent: NEGATIVE lets the balance go below
     * zero (future earning repays it), FORGIVE stops it at zero. */
    enum rulebook_shortfall shortfall;

    /* Customer segments: RFM, value classes, lifecycle, lifetime value. */
    struct rulebook_segments seg;

    /* Idempotency: a txn applied within window_ms of event time is
     * recognised as a retry; at most txns_max are remembered. */
    int64_t txn_window_ms;
    uint32_t txns_max;

    /* Returns, pending points and notices (refunds.h, pending.h, release.h,
     * notices.h, adjust.h). Every one off (0 / false) by default but the
     * immediate refund downgrade. */
    uint32_t pending_days;         /* earning.pending_days: a sale's points wait this long */
    bool adjust_earns;             /* earning.adjust_earns: an adjust counts as earned */
    enum rulebook_refund_downgrade refund_downgrade; /* tiers.refund_downgrade */
    enum rulebook_qualify_on qualify_on;             /* tiers.qualify_on */
    bool keep_bonuses;             /* refunds.keep_bonuses: a full refund keeps them */
    uint32_t notice_tier_days;     /* notices.tier_days: tier.at_risk this long ahead */
    uint32_t notice_expiry_days;   /* notices.expiry_days: points.expiring this long ahead */
    int64_t notice_need_step;      /* notices.need_step: tier.at_risk again past this change */
};

#endif
