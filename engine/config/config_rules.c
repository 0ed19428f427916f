/* config_rules.c - the rulebook sections of the configuration file:
 * earning, tiers, rewards, expiry, refunds and idempotency, described by
 * the tables of cfgparse.h. What a table cannot say (relations between
 * settings, choices among names, uniqueness beyond names) is checked here,
 * each error at the line of the setting at fault. Every feature is off
 * unless configured (config_defaults). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <stdio.h>

#include <libconfig.h>

#include "caltime.h"
#include "config_rules.h"
#include "config_segments.h"

/* A catalog item's stock: more than any catalog holds, and small enough to
 * stay a plain (32-bit) integer literal in libconfig. */
#define CONFIG_STOCK_MAX 1000000000

/* ---- earning ------------------------------------------------------------ */

static const struct cfg_field category_fields[] = {
    CFG_NEED("cat", CFG_NAME, struct rulebook_category, cat, 0, 0),
    CFG_NEED("multiplier_bp", CFG_I64, struct rulebook_category, multiplier_bp, 0,
             RULEBOOK_MULTIPLIER_BP_MAX),
};

static const struct cfg_list category_list = {
    "categories", "a category", "a category", "category", category_fields,
    CFG_COUNT(category_fields), sizeof(struct rulebook_category), NULL, NULL};

#define CAMPAIGN(nm, ty, mb, lo, hi) CFG_FIELD(nm, ty, struct rulebook_campaign, mb, lo, hi)

static const struct cfg_field campaign_fields[] = {
    CFG_NEED("name", CFG_NAME, struct rulebook_campaign, name, 0, 0),
    CFG_NEED("start", CFG_DATE_MS, struct rulebook_campaign, start_ms, 0, 0),
    CFG_NEED("end", CFG_DATE_MS, struct rulebook_campaign, end_ms, 0, 0),
    CFG_NAMES_OF("stores", struct rulebook_campaign, stores, store_count, RULEBOOK_FILTER_MAX),
    CFG_NAMES_OF("categories", struct rulebook_campaign, cats, cat_count, RULEBOOK_FILTER_MAX),
    /* x1 or less would never beat the base rate: a multiplier must raise it. */
    CAMPAIGN("multiplier_bp", CFG_I64, multiplier_bp, 10001, RULEBOOK_MULTIPLIER_BP_MAX),
    CAMPAIGN("bonus_points", CFG_I64, bonus_points, 1, RULEBOOK_BONUS_MAX),
    CAMPAIGN("min_amount", CFG_I64, min_amount, 0, PROTO_AMOUNT_MAX),
    CAMPAIGN("budget_points", CFG_I64, budget_points, 0, PROTO_POINTS_MAX),
    CAMPAIGN("member_limit_points", CFG_I64, member_limit_points, 0, RULEBOOK_BONUS_MAX),
    CAMPAIGN("member_limit_times", CFG_I64, member_limit_times, 0,
             RULEBOOK_MEMBER_LIMIT_TIMES_MAX),
};

/* Of two settings, the one further down the file. */
static const config_setting_t *later(const config_setting_t *a, const config_setting_t *b)
{
    return config_setting_source_line(a) > config_setting_source_line(b) ? a : b;
}

/* Members keep a counter slot per campaign with a member limit
 * (budgets.h): at most RULEBOOK_LIMITED_CAMPAIGNS_MAX of them. */
static int limits_check(struct cfg_ctx *c, const config_setting_t *e, const void *recs,
                        uint32_t i)
{
    const struct rulebook_campaign *k = recs;
    uint32_t limited = 0;
    for (uint32_t j = 0; j <= i; j++)
        limited += k[j].member_limit_points > 0 || k[j].member_limit_times > 0;
    if (limited > RULEBOOK_LIMITED_CAMPAIGNS_MAX)
        return cfg_fail(c, e, "campaign '%s': at most %d campaigns may have a member limit",
                        k[i].name, RULEBOOK_LIMITED_CAMPAIGNS_MAX);
    return 0;
}

static int campaign_check(struct cfg_ctx *c, const config_setting_t *e, const void *recs,
                          uint32_t i)
{
    const struct rulebook_campaign *k = (const struct rulebook_campaign *)recs + i;
    const config_setting_t *mul = config_setting_get_member(e, "multiplier_bp");
    const config_setting_t *bonus = config_setting_get_member(e, "bonus_points");
    if (k->end_ms <= k->start_ms)
        return cfg_fail(c, config_setting_get_member(e, "end"),
                        "campaign '%s' must end after it starts (end is the first day "
                        "it no longer runs)", k->name);
    if (mul != NULL && bonus != NULL)
        return cfg_fail(c, later(mul, bonus),
                        "campaign '%s' gives either multiplier_bp or bonus_points, not both",
                        k->name);
    if (mul == NULL && bonus == NULL)
        return cfg_fail(c, e, "campaign '%s' needs multiplier_bp or bonus_points", k->name);
    return limits_check(c, e, recs, i);
}

static const struct cfg_list campaign_list = {
    "campaigns", "a campaign", "a campaign", "campaign", campaign_fields,
    CFG_COUNT(campaign_fields), sizeof(struct rulebook_campaign), NULL, campaign_check};

#define RB(nm, ty, mb, lo, hi) CFG_FIELD(nm, ty, struct rulebook, mb, lo, hi)

static const struct cfg_field earning_fields[] = {
    RB("minor_per_unit", CFG_I64, minor_per_unit, 1, RULEBOOK_MINOR_PER_UNIT_MAX),
    RB("points_per_unit", CFG_I64, points_per_unit, 0, RULEBOOK_POINTS_PER_UNIT_MAX),
    RB("require_enrollment", CFG_BOOL, require_enrollment, 0, 1),
    CFG_LIST_OF("categories", struct rulebook, categories, category_count, 0,
                RULEBOOK_CATEGORIES_MAX, &category_list),
    CFG_LIST_OF("campaigns", struct rulebook, campaigns, campaign_count, 0,
                RULEBOOK_CAMPAIGNS_MAX, &campaign_list),
    RB("first_purchase_bonus", CFG_I64, first_purchase_bonus, 0, RULEBOOK_BONUS_MAX),
    RB("birthday_bonus", CFG_I64, birthday_bonus, 0, RULEBOOK_BONUS_MAX),
    RB("referral_bonus", CFG_I64, referral_bonus, 0, RULEBOOK_BONUS_MAX),
    RB("txn_cap_points", CFG_I64, txn_cap_points, 0, RULEBOOK_BONUS_MAX),
    RB("day_cap_points", CFG_I64, day_cap_points, 0, RULEBOOK_BONUS_MAX),
    RB("enroll_bonus", CFG_I64, enroll_bonus, 0, RULEBOOK_BONUS_MAX),
    RB("min_amount", CFG_I64, min_amount, 0, PROTO_AMOUNT_MAX),
    RB("pending_days", CFG_U32, pending_days, 0, RULEBOOK_PENDING_DAYS_MAX),
    RB("adjust_earns", CFG_BOOL, adjust_earns, 0, 1),
};

/* ---- tiers -------------------------------------------------------------- */

static const struct cfg_field level_fields[] = {
    CFG_NEED("name", CFG_NAME, struct rulebook_tier, name, 0, 0),
    CFG_NEED("threshold", CFG_I64, struct rulebook_tier, threshold, 0, INT64_MAX / 2),
    CFG_NEED("multiplier_bp", CFG_I64, struct rulebook_tier, multiplier_bp, 0,
             RULEBOOK_MULTIPLIER_BP_MAX),
    CFG_NAMES_OF("perks", struct rulebook_tier, perks, perk_count, RULEBOOK_PERKS_MAX),
};

static int level_check(struct cfg_ctx *c, const config_setting_t *e, const void *recs,
                       uint32_t i)
{
    const struct rulebook_tier *t = recs;
    const config_setting_t *thr = config_setting_get_member(e, "threshold");
    if (i == 0 && t[0].threshold != 0)
        return cfg_fail(c, thr, "the first tier must have threshold 0 (everyone starts there)");
    if (i > 0 && t[i].threshold <= t[i - 1].threshold)
        return cfg_fail(c, thr, "tier '%s': thresholds must increase", t[i].name);
    return 0;
}

static const struct cfg_list level_list = {
    "levels", "a tier level", "a tier", "tier", level_fields, CFG_COUNT(level_fields),
    sizeof(struct rulebook_tier), NULL, level_check};

static const struct cfg_field tiers_fields[] = {
    RB("window_months", CFG_U32, window_months, 1, RULEBOOK_WINDOW_MONTHS_MAX),
    RB("grace_months", CFG_U32, grace_months, 0, 12),
    CFG_LIST_OF("levels", struct rulebook, tiers, tier_count, 1, RULEBOOK_TIERS_MAX,
                &level_list),
};

static const char *const tiers_extra[] = {"basis",     "review",           "review_date",
                                          "downgrade", "refund_downgrade", "qualify_on",
                                          NULL};
static const char *const downgrade_names[] = {"review", "never", NULL};
_Static_assert(RULEBOOK_DOWNGRADE_REVIEW == 0 && RULEBOOK_DOWNGRADE_NEVER == 1,
               "downgrade_names order");
static const char *const refund_downgrade_names[] = {"immediate", "review", NULL};
static const char *const qualify_on_names[] = {"earn", "release", NULL};
_Static_assert(RULEBOOK_REFUND_IMMEDIATE == 0 && RULEBOOK_REFUND_REVIEW == 1,
               "refund_downgrade_names order");
_Static_assert(RULEBOOK_QUALIFY_EARN == 0 && RULEBOOK_QUALIFY_RELEASE == 1,
               "qualify_on_names order");
static const char *const basis_names[] = {"points", "spend", NULL};
static const char *const review_names[] = {"anniversary", "fixed", NULL};
_Static_assert(RULEBOOK_BASIS_POINTS == 0 && RULEBOOK_BASIS_SPEND == 1, "basis_names order");
_Static_assert(RULEBOOK_REVIEW_ANNIVERSARY == 0 && RULEBOOK_REVIEW_FIXED == 1,
               "review_names order");

/* review_date belongs to review = "fixed": required there, refused
 * elsewhere (a date that does nothing is a mistake waiting to surprise). */
static int load_review(struct cfg_ctx *c, const config_setting_t *s, struct rulebook *rb)
{
    const config_setting_t *review = config_setting_get_member(s, "review");
    const config_setting_t *date = config_setting_get_member(s, "review_date");
    uint32_t k;
    if (review != NULL) {
        if (cfg_get_choice(c, review, "tiers.review", review_names, &k) != 0)
            return -1;
        rb->review = (enum rulebook_review)k;
    }
    if (date == NULL && rb->review == RULEBOOK_REVIEW_FIXED)
        return cfg_fail(c, review ? review : s,
                        "tiers.review = \"fixed\" needs review_date = \"MM-DD\"");
    if (date == NULL)
        return 0;
    if (rb->review != RULEBOOK_REVIEW_FIXED)
        return cfg_fail(c, date, "tiers.review_date applies only with review = \"fixed\"");
    const char *d = config_setting_get_string(date);
    if (d == NULL)
        return cfg_fail(c, date, "tiers.review_date must be a string \"MM-DD\"");
    if (cfg_parse_month_day(d, &rb->review_month, &rb->review_day) != 0)
        return cfg_fail(c, date,
                        "tiers.review_date '%s' is not \"MM-DD\" of a day every year has "
                        "(02-29 is refused)", d);
    return 0;
}

/* Stores in `*index` the choice setting `name` of group `s` makes, when
 * given (left as it is otherwise). Returns 0, or -1. */
static int load_choice(struct cfg_ctx *c, const config_setting_t *s, const char *name,
                       const char *what, const char *const *names, uint32_t *index)
{
    const config_setting_t *v = config_setting_get_member(s, name);
    return v == NULL ? 0 : cfg_get_choice(c, v, what, names, index);
}

static int tiers_finish(struct cfg_ctx *c, const config_setting_t *s, void *base)
{
    struct rulebook *rb = base;
    uint32_t basis = rb->basis, down = rb->refund_downgrade, on = rb->qualify_on;
    uint32_t never = rb->downgrade;
    if (load_choice(c, s, "basis", "tiers.basis", basis_names, &basis) != 0 ||
        load_choice(c, s, "downgrade", "tiers.downgrade", downgrade_names, &never) != 0 ||
        load_choice(c, s, "refund_downgrade", "tiers.refund_downgrade",
                    refund_downgrade_names, &down) != 0 ||
        load_choice(c, s, "qualify_on", "tiers.qualify_on", qualify_on_names, &on) != 0)
        return -1;
    rb->basis = (enum rulebook_basis)basis;
    rb->downgrade = (enum rulebook_downgrade)never;
    rb->refund_downgrade = (enum rulebook_refund_downgrade)down;
    rb->qualify_on = (enum rulebook_qualify_on)on;
    /* A grace for downgrades that never happen is a mistake to point out. */
    if (rb->downgrade == RULEBOOK_DOWNGRADE_NEVER && rb->grace_months > 0)
        return cfg_fail(c, config_setting_get_member(s, "downgrade"),
                        "tiers.grace_months applies only with downgrade = \"review\"");
    return load_review(c, s, rb);
}

/* ---- rewards ------------------------------------------------------------ */

static const struct cfg_field auto_fields[] = {
    CFG_NEED("reward", CFG_NAME, struct rulebook_auto_reward, reward, 0, 0),
    CFG_NEED("every_points", CFG_I64, struct rulebook_auto_reward, every_points, 1,
             RULEBOOK_BONUS_MAX),
};

static const struct cfg_list auto_list = {
    "rewards", "an automatic reward", "an automatic reward", NULL, auto_fields,
    CFG_COUNT(auto_fields), sizeof(struct rulebook_auto_reward), NULL, NULL};

static const struct cfg_field milestone_fields[] = {
    CFG_NEED("reward", CFG_NAME, struct rulebook_milestone, reward, 0, 0),
    CFG_NEED("purchase", CFG_U32, struct rulebook_milestone, purchase, 1, UINT32_MAX),
};

/* One reward per purchase number: two would be one milestone said twice. */
static int milestone_check(struct cfg_ctx *c, const config_setting_t *e, const void *recs,
                           uint32_t i)
{
    const struct rulebook_milestone *m = recs;
    for (uint32_t j = 0; j < i; j++)
        if (m[j].purchase == m[i].purchase)
            return cfg_fail(c, config_setting_get_member(e, "purchase"),
                            "a milestone for purchase %u is defined twice",
                            (unsigned)m[i].purchase);
    return 0;
}

static const struct cfg_list milestone_list = {
    "milestones", "a milestone", "a milestone", NULL, milestone_fields,
    CFG_COUNT(milestone_fields), sizeof(struct rulebook_milestone), NULL, milestone_check};

static const struct cfg_field catalog_fields[] = {
    CFG_NEED("reward", CFG_NAME, struct rulebook_catalog_item, reward, 0, 0),
    CFG_NEED("cost_points", CFG_I64, struct rulebook_catalog_item, cost_points, 0,
             RULEBOOK_BONUS_MAX),
    CFG_FIELD("stock", CFG_I64, struct rulebook_catalog_item, stock, -1, CONFIG_STOCK_MAX),
};

static const struct rulebook_catalog_item catalog_init = {.stock = -1}; /* unlimited */

static const struct cfg_list catalog_list = {
    "items", "a catalog item", "a catalog item", "catalog reward", catalog_fields,
    CFG_COUNT(catalog_fields), sizeof(struct rulebook_catalog_item), &catalog_init, NULL};

static const struct cfg_field rewards_fields[] = {
    CFG_LIST_OF("auto", struct rulebook, auto_rewards, auto_reward_count, 0,
                RULEBOOK_AUTO_REWARDS_MAX, &auto_list),
    CFG_LIST_OF("milestones", struct rulebook, milestones, milestone_count, 0,
                RULEBOOK_MILESTONES_MAX, &milestone_list),
    CFG_LIST_OF("catalog", struct rulebook, catalog, catalog_count, 0,
                RULEBOOK_CATALOG_MAX, &catalog_list),
};

/* ---- expiry, refunds, idempotency --------------------------------------- */

static const struct cfg_field expiry_fields[] = {
    RB("months", CFG_U32, expiry_months, 0, RULEBOOK_EXPIRY_MONTHS_MAX),
    RB("days", CFG_U32, expiry_days, 0, RULEBOOK_EXPIRY_DAYS_MAX),
    RB("years", CFG_U32, expiry_years, 0, RULEBOOK_EXPIRY_YEARS_MAX),
};

static const char *const expiry_extra[] = {"mode", NULL};
static const char *const expiry_mode_names[] = {"months", "days", "end_of_year", "never", NULL};
_Static_assert(RULEBOOK_EXPIRY_MONTHS == 0 && RULEBOOK_EXPIRY_DAYS == 1 &&
                   RULEBOOK_EXPIRY_END_OF_YEAR == 2 && RULEBOOK_EXPIRY_NEVER == 3,
               "expiry_mode_names order");

/* Which of months, days and years each mode reads; the others must stay 0
 * (a count that does nothing is a mistake waiting to surprise). */
static int expiry_counts_check(struct cfg_ctx *c, const config_setting_t *s,
                               const struct rulebook *rb)
{
    static const char *const names[] = {"months", "days", "years"};
    const uint32_t counts[] = {rb->expiry_months, rb->expiry_days, rb->expiry_years};
    for (int i = 0; i < 3; i++) {
        bool used = (int)rb->expiry_mode == i; /* months, days, end_of_year read the i-th */
        if (!used && counts[i] != 0)
            return cfg_fail(c, config_setting_get_member(s, names[i]),
                            "expiry.%s applies only with mode = \"%s\"", names[i],
                            expiry_mode_names[i]);
    }
    if (rb->expiry_mode == RULEBOOK_EXPIRY_MONTHS && rb->expiry_months == 0)
        return cfg_fail(c, s, "expiry.mode = \"months\" needs months >= 1 (or mode = "
                              "\"never\")");
    if (rb->expiry_mode == RULEBOOK_EXPIRY_DAYS && rb->expiry_days == 0)
        return cfg_fail(c, s, "expiry.mode = \"days\" needs days >= 1");
    return 0;
}

/* Without a mode, months decides as it always did: 0 never, else months. */
static int expiry_finish(struct cfg_ctx *c, const config_setting_t *s, void *base)
{
    struct rulebook *rb = base;
    const config_setting_t *mode = config_setting_get_member(s, "mode");
    uint32_t k;
    if (mode == NULL) {
        rb->expiry_mode = rb->expiry_months > 0 ? RULEBOOK_EXPIRY_MONTHS : RULEBOOK_EXPIRY_NEVER;
        if (rb->expiry_days != 0 || rb->expiry_years != 0)
            return cfg_fail(c, config_setting_get_member(s, rb->expiry_days ? "days" : "years"),
                            "expiry.days and expiry.years need a mode = \"days\" or "
                            "\"end_of_year\"");
        return 0;
    }
    if (cfg_get_choice(c, mode, "expiry.mode", expiry_mode_names, &k) != 0)
        return -1;
    rb->expiry_mode = (enum rulebook_expiry_mode)k;
    return expiry_counts_check(c, s, rb);
}

static const char *const refunds_extra[] = {"shortfall", NULL};
static const char *const shortfall_names[] = {"negative", "forgive", NULL};
_Static_assert(RULEBOOK_SHORTFALL_NEGATIVE == 0 && RULEBOOK_SHORTFALL_FORGIVE == 1,
               "shortfall_names order");

static int refunds_finish(struct cfg_ctx *c, const config_setting_t *s, void *base)
{
    struct rulebook *rb = base;
    const config_setting_t *sf = config_setting_get_member(s, "shortfall");
    uint32_t k;
    if (sf == NULL)
        return 0;
    if (cfg_get_choice(c, sf, "refunds.shortfall", shortfall_names, &k) != 0)
        return -1;
    rb->shortfall = (enum rulebook_shortfall)k;
    return 0;
}

static const struct cfg_field transfers_fields[] = {
    RB("enabled", CFG_BOOL, transfers_enabled, 0, 1),
    RB("max_points_per_day", CFG_I64, transfer_day_max_points, 0, PROTO_POINTS_MAX),
};

/* ---- refunds ------------------------------------------------------------ */

static const struct cfg_field refunds_fields[] = {
    RB("keep_bonuses", CFG_BOOL, keep_bonuses, 0, 1),
};

/* ---- notices ------------------------------------------------------------ */

static const struct cfg_field notices_fields[] = {
    RB("tier_days", CFG_U32, notice_tier_days, 0, RULEBOOK_NOTICE_DAYS_MAX),
    RB("expiry_days", CFG_U32, notice_expiry_days, 0, RULEBOOK_NOTICE_DAYS_MAX),
    RB("need_step", CFG_I64, notice_need_step, 0, INT64_MAX / 2),
};

static const struct cfg_field idempotency_fields[] = {
    RB("window_days", CFG_DAYS_MS, txn_window_ms, 1, 3650),
    RB("max_txns", CFG_U32, txns_max, 1, 1000000000),
};

static const struct cfg_section rule_sections[] = {
    {"earning", earning_fields, CFG_COUNT(earning_fields), NULL, NULL},
    {"tiers", tiers_fields, CFG_COUNT(tiers_fields), tiers_extra, tiers_finish},
    {"rewards", rewards_fields, CFG_COUNT(rewards_fields), NULL, NULL},
    {"expiry", expiry_fields, CFG_COUNT(expiry_fields), expiry_extra, expiry_finish},
    {"refunds", refunds_fields, CFG_COUNT(refunds_fields), refunds_extra, refunds_finish},
    {"notices", notices_fields, CFG_COUNT(notices_fields), NULL, NULL},
    {"idempotency", idempotency_fields, CFG_COUNT(idempotency_fields), NULL, NULL},
    {"transfers", transfers_fields, CFG_COUNT(transfers_fields), NULL, NULL},
};

const struct cfg_section *config_rules_section(const char *name)
{
    if (strcmp(name, config_segments_section.name) == 0)
        return &config_segments_section;
    for (size_t k = 0; k < CFG_COUNT(rule_sections); k++)
        if (strcmp(name, rule_sections[k].name) == 0)
            return &rule_sections[k];
    return NULL;
}

void config_rules_defaults(struct rulebook *rb)
{
    memset(rb, 0, sizeof(*rb)); /* padding too: the rulebook's bytes are hashed */
    /* Every rulebook feature not set here is off: zero categories,
     * campaigns, bonuses, caps (0: none), rewards and expiry (0: never);
     * reviews on the anniversary without grace; refunds may go negative. */
    rb->minor_per_unit = 100;
    rb->points_per_unit = 1;
    rb->require_enrollment = true;
    rb->basis = RULEBOOK_BASIS_POINTS;
    rb->window_months = 12;
    rb->tier_count = 1;
    snprintf(rb->tiers[0].name, sizeof(rb->tiers[0].name), "member");
    rb->tiers[0].multiplier_bp = 10000;
    rb->review = RULEBOOK_REVIEW_ANNIVERSARY;
    rb->downgrade = RULEBOOK_DOWNGRADE_REVIEW;
    rb->expiry_mode = RULEBOOK_EXPIRY_NEVER; /* months 0 */
    rb->shortfall = RULEBOOK_SHORTFALL_NEGATIVE;
    rb->refund_downgrade = RULEBOOK_REFUND_IMMEDIATE; /* a refund takes back the tier */
    rb->qualify_on = RULEBOOK_QUALIFY_EARN;
    rb->txn_window_ms = 35 * CALTIME_DAY_MS;
    rb->txns_max = 5000000;
    config_segments_defaults(&rb->seg);
}
