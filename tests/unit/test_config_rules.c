/* test_config_rules.c - the rulebook settings of the configuration file:
 * categories, campaigns, bonuses and caps (earning), reviews and grace
 * (tiers), automatic, milestone and catalog rewards, expiry and refunds.
 * The shipped conf/loyaltyd.conf loads with the values it documents and
 * its worked examples earn what its comments say; every bad setting is
 * refused with "PATH:LINE: problem" at the line of the setting at fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caltime.h"
#include "config.h"
#include "earn.h"

#ifndef LOYALTY_CONF_DIR
#error "LOYALTY_CONF_DIR must name the conf/ directory (tests/CMakeLists.txt)"
#endif

#define SHIPPED_CONF LOYALTY_CONF_DIR "/loyaltyd.conf"

/* A file's text grows to at most this (the generated lists are longest). */
#define TEXT_MAX 8192

static int64_t day_ms(int32_t y, uint8_t m, uint8_t d)
{
    struct caltime_date date = {y, m, d};
    return caltime_ts(date);
}

/* Writes `text` to a fresh temporary file, loads it over `*cfg` and
 * removes it. Returns config_load's result; the path is left in `path`
 * (the name of a file that no longer exists) for checking messages. */
static int load_over(struct config *cfg, const char *text, struct config_error *err,
                     char path[static 256])
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 256, "%s/test_config_rules.XXXXXX", dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    int rc = config_load(cfg, path, err);
    assert_int_equal(unlink(path), 0);
    return rc;
}

/* Loads `text` over the defaults and fails the test on an error. */
static void load_good(struct config *cfg, const char *text)
{
    struct config_error err = {{0}};
    char path[256];
    config_defaults(cfg);
    if (load_over(cfg, text, &err, path) != 0)
        fail_msg("refused: %s\n%s", err.text, text);
}

/* Loads `text` over the defaults and expects it refused with an error
 * that starts "PATH:LINE: " and contains `needle`. */
static void expect_refused(const char *text, unsigned line, const char *needle)
{
    struct config cfg;
    struct config_error err = {{0}};
    char path[256], prefix[300];
    config_defaults(&cfg);
    int rc = load_over(&cfg, text, &err, path);
    snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
    if (rc != -1 || strncmp(err.text, prefix, strlen(prefix)) != 0 ||
        strstr(err.text, needle) == NULL)
        fail_msg("rc %d, text \"%s\", want \"%s...%s\" for:\n%s", rc, err.text, prefix, needle,
                 text);
}

/* ---- the shipped file --------------------------------------------------- */

static void load_shipped(struct config *cfg)
{
    struct config_error err = {{0}};
    config_defaults(cfg);
    if (config_load(cfg, SHIPPED_CONF, &err) != 0)
        fail_msg("%s", err.text);
}

/* Campaign `k` runs [start, end) and gives `multiplier_bp` or `bonus_points`
 * from `min_amount`, at `store_count` stores and no category filter. */
static void expect_campaign(const struct rulebook_campaign *k, const char *name,
                            int64_t start_ms, int64_t end_ms, int64_t multiplier_bp,
                            int64_t bonus_points, int64_t min_amount, uint32_t store_count)
{
    assert_string_equal(k->name, name);
    assert_int_equal(k->start_ms, start_ms);
    assert_int_equal(k->end_ms, end_ms);
    assert_int_equal(k->multiplier_bp, multiplier_bp);
    assert_int_equal(k->bonus_points, bonus_points);
    assert_int_equal(k->min_amount, min_amount);
    assert_int_equal(k->store_count, store_count);
    assert_int_equal(k->cat_count, 0);
}

static void shipped_conf_enables_every_earning_rule(void **state)
{
    (void)state;
    static const struct rulebook_category cats[] = {
        {"wine", 20000}, {"fresh", 15000}, {"tobacco", 0}};
    struct config cfg;
    load_shipped(&cfg);
    const struct rulebook *rb = &cfg.rules;
    assert_int_equal(rb->category_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_string_equal(rb->categories[i].cat, cats[i].cat);
        assert_int_equal(rb->categories[i].multiplier_bp, cats[i].multiplier_bp);
    }
    assert_int_equal(rb->campaign_count, 3);
    expect_campaign(&rb->campaigns[0], "black_friday", day_ms(2026, 11, 27),
                    day_ms(2026, 12, 1), 20000, 0, 0, 0);
    expect_campaign(&rb->campaigns[1], "spring_bonus", day_ms(2027, 3, 1), day_ms(2027, 4, 1),
                    0, 100, 5000, 3);
    assert_string_equal(rb->campaigns[1].stores[0], "store_012");
    assert_string_equal(rb->campaigns[1].stores[2], "store_031");
    expect_campaign(&rb->campaigns[2], "holiday_2028", day_ms(2028, 12, 1), day_ms(2029, 1, 1),
                    0, 200, 2000, 0);
    assert_int_equal(rb->campaigns[2].budget_points, 20000);
    assert_int_equal(rb->campaigns[2].member_limit_times, 2);
    assert_int_equal(rb->campaigns[2].member_limit_points, 0);
    assert_int_equal(rb->enroll_bonus, 0);
    assert_int_equal(rb->min_amount, 0);
    assert_true(rb->transfers_enabled);
    assert_int_equal(rb->transfer_day_max_points, 5000);
    assert_int_equal(rb->first_purchase_bonus, 100);
    assert_int_equal(rb->birthday_bonus, 200);
    assert_int_equal(rb->referral_bonus, 250);
    assert_int_equal(rb->txn_cap_points, 5000);
    assert_int_equal(rb->day_cap_points, 10000);
}

static void shipped_conf_enables_reviews_rewards_expiry_and_refunds(void **state)
{
    (void)state;
    struct config cfg;
    load_shipped(&cfg);
    const struct rulebook *rb = &cfg.rules;
    assert_int_equal(rb->review, RULEBOOK_REVIEW_ANNIVERSARY);
    assert_int_equal(rb->review_month, 0);
    assert_int_equal(rb->grace_months, 1);
    assert_int_equal(rb->auto_reward_count, 1);
    assert_string_equal(rb->auto_rewards[0].reward, "voucher_5");
    assert_int_equal(rb->auto_rewards[0].every_points, 1000);
    assert_int_equal(rb->milestone_count, 2);
    assert_string_equal(rb->milestones[0].reward, "free_coffee");
    assert_int_equal(rb->milestones[0].purchase, 10);
    assert_string_equal(rb->milestones[1].reward, "tote_bag");
    assert_int_equal(rb->milestones[1].purchase, 50);
    static const struct {
        const char *reward;
        int64_t cost_points, stock;
    } catalog[] = {{"voucher_5", 500, -1}, {"voucher_10", 950, -1},
                   {"cinema_ticket", 1200, -1}, {"wine_tasting", 2500, 40}};
    assert_int_equal(rb->catalog_count, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_string_equal(rb->catalog[i].reward, catalog[i].reward);
        assert_int_equal(rb->catalog[i].cost_points, catalog[i].cost_points);
        assert_int_equal(rb->catalog[i].stock, catalog[i].stock);
    }
    assert_int_equal(rb->expiry_months, 12);
    assert_int_equal(rb->shortfall, RULEBOOK_SHORTFALL_NEGATIVE);
    assert_int_equal(rb->expiry_mode, RULEBOOK_EXPIRY_MONTHS);
    assert_int_equal(rb->downgrade, RULEBOOK_DOWNGRADE_REVIEW);
}

/* A purchase at `store` on `ts` with lines of (cat, amount). */
static void sale(struct proto_entry *e, int64_t ts, const char *store, uint32_t n,
                 const char *const *cats, const int64_t *amounts)
{
    memset(e, 0, sizeof(*e));
    e->kind = PROTO_PURCHASE;
    e->ts = ts;
    snprintf(e->store, sizeof(e->store), "%s", store);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(e->lines[i].cat, sizeof(e->lines[i].cat), "%s", cats[i]);
        e->lines[i].qty = 1;
        e->lines[i].amount = amounts[i];
        e->amount += amounts[i];
    }
    e->line_count = n;
}

static struct earn_result earn(const struct rulebook *rb, const struct proto_entry *e,
                               const char *tier)
{
    uint32_t t = 0;
    while (t < rb->tier_count && strcmp(rb->tiers[t].name, tier) != 0)
        t++;
    assert_true(t < rb->tier_count);
    struct earn_result r;
    struct proto_reject rej;
    assert_int_equal(earn_purchase(rb, e, rb->tiers[t].multiplier_bp, &r, &rej), 0);
    return r;
}

/* The numbers in the comments of conf/loyaltyd.conf, worked by earn.c. */
static void shipped_conf_worked_examples_earn_what_its_comments_say(void **state)
{
    (void)state;
    static const char *const basket[] = {"wine", "fresh", "bakery"};
    static const int64_t amounts[] = {3999, 1235, 749};
    struct config cfg;
    struct proto_entry e;
    load_shipped(&cfg);
    const struct rulebook *rb = &cfg.rules;
    int64_t saturday = day_ms(2026, 11, 28) + 15 * 3600 * 1000LL;
    sale(&e, saturday, "store_001", 3, basket, amounts);
    assert_int_equal(earn(rb, &e, "gold").points, 317); /* floored once, not 316 */
    assert_int_equal(earn(rb, &e, "gold").campaign_bonus, 0);
    sale(&e, day_ms(2026, 12, 1), "store_001", 3, basket, amounts); /* end is exclusive */
    assert_int_equal(earn(rb, &e, "blue").points, 105);
    static const int64_t wine_700[] = {70000}, wine_400[] = {40000};
    sale(&e, saturday, "store_001", 1, basket, wine_700);
    assert_int_equal(earn(rb, &e, "platinum").points, 5600); /* capped to 5000 by rules */
    sale(&e, saturday, "store_001", 1, basket, wine_400);
    assert_int_equal(earn(rb, &e, "platinum").points, 3200);
    /* spring_bonus: +100 from 50.00 at its stores in March 2027. */
    static const int64_t b6210[] = {6210}, b4999[] = {4999};
    static const char *const other[] = {"household"};
    sale(&e, day_ms(2027, 3, 15), "store_027", 1, other, b6210);
    assert_int_equal(earn(rb, &e, "blue").points, 62);
    assert_int_equal(earn(rb, &e, "blue").campaign_bonus, 100);
    sale(&e, day_ms(2027, 3, 15), "store_027", 1, other, b4999);
    assert_int_equal(earn(rb, &e, "blue").campaign_bonus, 0);
    sale(&e, day_ms(2027, 3, 15), "store_001", 1, other, b6210);
    assert_int_equal(earn(rb, &e, "blue").campaign_bonus, 0);
    sale(&e, day_ms(2027, 4, 1), "store_027", 1, other, b6210);
    assert_int_equal(earn(rb, &e, "blue").campaign_bonus, 0);
}

/* ---- good files --------------------------------------------------------- */

static void absent_rulebook_settings_leave_every_feature_off(void **state)
{
    (void)state;
    struct config cfg;
    load_good(&cfg, "earning = { };\ntiers = { };\nrewards = { };\nexpiry = { };\n"
                    "refunds = { };\n");
    const struct rulebook *rb = &cfg.rules;
    assert_int_equal(rb->category_count + rb->campaign_count, 0);
    assert_int_equal(rb->first_purchase_bonus + rb->birthday_bonus + rb->referral_bonus, 0);
    assert_int_equal(rb->txn_cap_points + rb->day_cap_points, 0);
    assert_int_equal(rb->review, RULEBOOK_REVIEW_ANNIVERSARY);
    assert_int_equal(rb->grace_months, 0);
    assert_int_equal(rb->auto_reward_count + rb->milestone_count + rb->catalog_count, 0);
    assert_int_equal(rb->expiry_months, 0);
    assert_int_equal(rb->shortfall, RULEBOOK_SHORTFALL_NEGATIVE);
}

static void fixed_review_date_and_forgiving_refunds_load(void **state)
{
    (void)state;
    static const struct {
        const char *date;
        uint8_t month, day;
    } dates[] = {{"01-15", 1, 15}, {"02-28", 2, 28}, {"12-31", 12, 31}, {"04-30", 4, 30}};
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        char text[256];
        struct config cfg;
        snprintf(text, sizeof(text),
                 "tiers = {\n  review = \"fixed\";\n  review_date = \"%s\";\n};\n"
                 "refunds = { shortfall = \"forgive\"; };\n",
                 dates[i].date);
        load_good(&cfg, text);
        assert_int_equal(cfg.rules.review, RULEBOOK_REVIEW_FIXED);
        assert_int_equal(cfg.rules.review_month, dates[i].month);
        assert_int_equal(cfg.rules.review_day, dates[i].day);
        assert_int_equal(cfg.rules.shortfall, RULEBOOK_SHORTFALL_FORGIVE);
    }
}

static void returns_pending_and_notices_settings_load(void **state)
{
    (void)state;
    struct config cfg;
    load_good(&cfg, "earning = { pending_days = 30; adjust_earns = true; };\n"
                    "tiers = { refund_downgrade = \"review\"; qualify_on = \"release\"; };\n"
                    "refunds = { keep_bonuses = true; };\n"
                    "notices = { tier_days = 45; expiry_days = 14; need_step = 250; };\n");
    const struct rulebook *rb = &cfg.rules;
    assert_int_equal(rb->pending_days, 30);
    assert_true(rb->adjust_earns);
    assert_int_equal(rb->refund_downgrade, RULEBOOK_REFUND_REVIEW);
    assert_int_equal(rb->qualify_on, RULEBOOK_QUALIFY_RELEASE);
    assert_true(rb->keep_bonuses);
    assert_int_equal(rb->notice_tier_days, 45);
    assert_int_equal(rb->notice_expiry_days, 14);
    assert_int_equal(rb->notice_need_step, 250);
    /* Absent, each is off but the immediate refund downgrade. */
    load_good(&cfg, "earning = { };\ntiers = { };\nrefunds = { };\nnotices = { };\n");
    assert_int_equal(rb->pending_days + rb->notice_tier_days + rb->notice_expiry_days, 0);
    assert_int_equal(rb->notice_need_step, 0);
    assert_false(rb->adjust_earns || rb->keep_bonuses);
    assert_int_equal(rb->refund_downgrade, RULEBOOK_REFUND_IMMEDIATE);
    assert_int_equal(rb->qualify_on, RULEBOOK_QUALIFY_EARN);
}

/* review_date takes exactly the days of a common year: every MM-DD from
 * 01-01 to 12-31 against the calendar of caltime (2023 has no 02-29). */
static void review_date_takes_exactly_the_days_every_year_has(void **state)
{
    (void)state;
    for (uint8_t m = 1; m <= 12; m++) {
        int64_t next = m == 12 ? day_ms(2024, 1, 1) : day_ms(2023, (uint8_t)(m + 1), 1);
        int64_t days = (next - day_ms(2023, m, 1)) / CALTIME_DAY_MS;
        for (uint8_t d = 1; d <= 31; d++) {
            char text[128];
            struct config cfg;
            struct config_error err = {{0}};
            char path[256];
            snprintf(text, sizeof(text),
                     "tiers = { review = \"fixed\"; review_date = \"%02u-%02u\"; };\n", m, d);
            config_defaults(&cfg);
            int rc = load_over(&cfg, text, &err, path);
            if (rc != (d <= days ? 0 : -1))
                fail_msg("%02u-%02u: rc %d (%s)", m, d, rc, err.text);
            assert_true(rc != 0 || (cfg.rules.review_month == m && cfg.rules.review_day == d));
        }
    }
}

static void campaign_dates_are_utc_midnights_leap_days_included(void **state)
{
    (void)state;
    struct config cfg;
    load_good(&cfg, "earning = { campaigns = (\n"
                    "  { name = \"leap\"; start = \"2028-02-29\"; end = \"2028-03-01\";\n"
                    "    categories = [ \"wine\", \"fresh\" ]; bonus_points = 5; },\n"
                    "  { name = \"epoch\"; start = \"1970-01-01\"; end = \"9999-12-31\";\n"
                    "    multiplier_bp = 10001; min_amount = 1; }\n"
                    "); };\n");
    const struct rulebook_campaign *k = cfg.rules.campaigns;
    assert_int_equal(k[0].start_ms, day_ms(2028, 2, 29));
    assert_int_equal(k[0].end_ms - k[0].start_ms, CALTIME_DAY_MS);
    assert_int_equal(k[0].cat_count, 2);
    assert_string_equal(k[0].cats[1], "fresh");
    assert_int_equal(k[1].start_ms, 0);
    assert_int_equal(k[1].end_ms, day_ms(9999, 12, 31));
    assert_int_equal(k[1].min_amount, 1);
    static const struct {
        const char *s;
        int32_t y;
        uint8_t m, d;
    } leap[] = {{"2000-02-29", 2000, 2, 29}, {"2024-02-29", 2024, 2, 29},
                {"2400-02-29", 2400, 2, 29}, {"2026-08-31", 2026, 8, 31}};
    for (size_t i = 0; i < sizeof(leap) / sizeof(leap[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "earning = { campaigns = ( { name = \"x\"; start = \"%s\";\n"
                 "  end = \"9999-12-31\"; bonus_points = 1; } ); };\n", leap[i].s);
        load_good(&cfg, text);
        assert_int_equal(cfg.rules.campaigns[0].start_ms, day_ms(leap[i].y, leap[i].m, leap[i].d));
    }
}

/* Loading over a rulebook that already holds lists: each element starts
 * from nothing (a catalog item from unlimited stock), never from what its
 * slot held, and the counts are the new file's. */
static void list_elements_start_afresh_over_earlier_values(void **state)
{
    (void)state;
    struct config cfg;
    struct config_error err = {{0}};
    char path[256];
    load_shipped(&cfg);
    int rc = load_over(&cfg,
                       "earning = { campaigns = ( { name = \"b\"; start = \"2027-01-01\";\n"
                       "  end = \"2027-01-02\"; bonus_points = 7; } ); };\n"
                       "rewards = { catalog = ( { reward = \"a\"; cost_points = 1; },\n"
                       "  { reward = \"b\"; cost_points = 2; },\n"
                       "  { reward = \"c\"; cost_points = 3; },\n"
                       "  { reward = \"d\"; cost_points = 4; stock = 0; } ); };\n",
                       &err, path);
    if (rc != 0)
        fail_msg("%s", err.text);
    const struct rulebook *rb = &cfg.rules;
    assert_int_equal(rb->campaign_count, 1);
    assert_int_equal(rb->campaigns[0].multiplier_bp, 0); /* black_friday had 20000 */
    assert_int_equal(rb->campaigns[0].bonus_points, 7);
    assert_int_equal(rb->catalog[3].stock, 0);       /* sold out, not unlimited */
    assert_int_equal(rb->catalog[2].stock, -1);
    assert_string_equal(rb->catalog[0].reward, "a");
    char zeros[sizeof(rb->catalog[0].reward)] = {0};
    assert_memory_equal(rb->catalog[0].reward + 2, zeros, sizeof(zeros) - 2);
}

/* ---- bad files ---------------------------------------------------------- */

struct bad {
    const char *text;
    unsigned line;      /* the offending line */
    const char *needle; /* part of the message after "PATH:LINE: " */
};

/* One campaign "bf" whose other settings start on line 4. */
#define CAMPAIGN(body) \
    "earning = {\n  campaigns = (\n    { name = \"bf\";\n" body "    }\n  );\n};\n"
#define WHEN "      start = \"2026-11-27\"; end = \"2026-12-01\";\n"

static const struct bad BAD_CAMPAIGNS[] = {
    {CAMPAIGN("      start = \"2026-11-7\"; end = \"2026-12-01\"; multiplier_bp = 20000;\n"), 4,
     "start '2026-11-7' is not a day \"YYYY-MM-DD\" of 1970..9999"},
    {CAMPAIGN("      start = \"2026-11-27\";\n      end = \"2027-02-29\";\n      "
              "multiplier_bp = 20000;\n"),
     5, "end '2027-02-29' is not a day"},
    {CAMPAIGN("      start = \"2026-11-27\";\n      end = \"2026-11-27\";\n      "
              "multiplier_bp = 20000;\n"),
     5, "campaign 'bf' must end after it starts"},
    {CAMPAIGN("      end = \"2026-11-27\";\n      start = \"2026-12-01\";\n      "
              "bonus_points = 1;\n"),
     4, "campaign 'bf' must end after it starts"},
    {CAMPAIGN(WHEN "      multiplier_bp = 20000;\n      bonus_points = 100;\n"), 6,
     "campaign 'bf' gives either multiplier_bp or bonus_points, not both"},
    {CAMPAIGN(WHEN "      bonus_points = 100;\n      multiplier_bp = 20000;\n"), 6,
     "campaign 'bf' gives either multiplier_bp or bonus_points, not both"},
    {CAMPAIGN(WHEN "      min_amount = 5000;\n"), 3,
     "campaign 'bf' needs multiplier_bp or bonus_points"},
    {CAMPAIGN(WHEN "      multiplier_bp = 10000;\n"), 5,
     "multiplier_bp is 10000, allowed 10001..100000"},
    {CAMPAIGN(WHEN "      bonus_points = 0;\n"), 5, "bonus_points is 0, allowed 1..1000000000"},
    {CAMPAIGN(WHEN "      bonus_points = 5;\n      min_amount = -1;\n"), 6,
     "min_amount is -1, allowed 0..10000000000"},
    {CAMPAIGN(WHEN "      bonus_points = 5;\n      store = [ \"s1\" ];\n"), 6,
     "unknown setting 'store' in a campaign"},
    {CAMPAIGN("      end = \"2026-12-01\";\n      bonus_points = 5;\n"), 3,
     "a campaign needs 'start'"},
    {CAMPAIGN(WHEN "      bonus_points = 5;\n      stores = [ \"s1\",\n \"store 2\" ];\n"), 7,
     "stores: 'store 2' may hold only printable ASCII without spaces"},
    {CAMPAIGN(WHEN "      bonus_points = 5;\n      stores = [ \"a\", \"b\", \"c\", \"d\", \"e\", "
                   "\"f\", \"g\", \"h\", \"i\", \"j\", \"k\", \"l\", \"m\", \"n\", \"o\", "
                   "\"p\", \"q\" ];\n"),
     6, "a campaign has at most 16 stores"},
    {CAMPAIGN(WHEN "      bonus_points = 5;\n      categories = \"wine\";\n"), 6,
     "categories must be a list of names"},
    {"earning = {\n  campaigns = (\n    { name = \"bf\"; start = \"2026-11-27\";\n"
     "      end = \"2026-12-01\"; bonus_points = 1; },\n"
     "    { name = \"sb\"; start = \"2027-03-01\"; end = \"2027-04-01\";\n"
     "      bonus_points = 1; },\n"
     "    { start = \"2027-03-01\"; end = \"2027-04-01\"; bonus_points = 2;\n"
     "      name = \"bf\"; }\n  );\n};\n",
     8, "campaign 'bf' is defined twice"},
    {"earning = {\n  campaigns = { };\n};\n", 2,
     "earning.campaigns must be a list ( {...}, ... ) of 0..32 campaigns"},
    {"earning = {\n  campaigns = (\n    5\n  );\n};\n", 3, "a campaign must be a group"},
    {"earning = {\n  campaigns = ( { name = \"abcdefghijklmnopqrstuvwxyz0123456\"; } );\n};\n",
     2, "name: a name must be a string of 1..32 bytes"},
};

/* Campaign dates are exactly "YYYY-MM-DD": no sign, no space, no short
 * field, no day a calendar lacks, nothing before 1970. */
static void campaign_dates_are_exact_and_real(void **state)
{
    (void)state;
    static const char *const dates[] = {
        "2026-11-7",   "2026-1-27",  "26-11-27",    " 2026-11-27", "2026-11-27 ",
        "+026-11-27",  "2026-+1-27", "2026-11--1",  "2026/11/27",  "2026-11-27T00:00",
        "2026-13-01",  "2026-00-10", "2026-11-00",  "2026-11-31",  "2026-02-29",
        "2100-02-29",  "1969-12-31", "",            "2026-1x-27",  "2026-11-2 ",
    };
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        char text[512], needle[128];
        snprintf(text, sizeof(text),
                 CAMPAIGN("      bonus_points = 5; end = \"2030-01-01\";\n"
                          "      start = \"%s\";\n"),
                 dates[i]);
        snprintf(needle, sizeof(needle), "start '%s' is not a day", dates[i]);
        expect_refused(text, 5, needle);
    }
}

static const struct bad BAD_EARNING[] = {
    {"earning = {\n  categories = (\n    { cat = \"wine\"; multiplier_bp = 20000; },\n"
     "    { cat = \"fresh\"; multiplier_bp = 15000; },\n"
     "    { multiplier_bp = 5000;\n      cat = \"wine\"; }\n  );\n};\n",
     6, "category 'wine' is defined twice"},
    {"earning = {\n  categories = (\n    { cat = \"wine\";\n      multiplier_bp = 100001; }\n"
     "  );\n};\n",
     4, "multiplier_bp is 100001, allowed 0..100000"},
    {"earning = {\n  categories = (\n    { cat = \"wine\"; }\n  );\n};\n", 3,
     "a category needs 'multiplier_bp'"},
    {"earning = {\n  categories = (\n    { cat = \"wine\"; multiplier_bp = 2; bonus = 1; }\n"
     "  );\n};\n",
     3, "unknown setting 'bonus' in a category"},
    {"earning = {\n  categories = (\n    { cat = \"red wine\"; multiplier_bp = 2; }\n"
     "  );\n};\n",
     3, "cat: 'red wine' may hold only printable ASCII without spaces"},
    {"earning = {\n  first_purchase_bonus = -1;\n};\n", 2,
     "first_purchase_bonus is -1, allowed 0..1000000000"},
    {"earning = {\n  birthday_bonus = 200;\n  referral_bonus = 1000000001;\n};\n", 3,
     "referral_bonus is 1000000001, allowed 0..1000000000"},
    {"earning = {\n  txn_cap_points = \"5000\";\n};\n", 2, "txn_cap_points must be an integer"},
    {"earning = {\n  day_cap_points = -5;\n};\n", 2, "day_cap_points is -5, allowed"},
    {"earning = {\n  day_cap = 5;\n};\n", 2, "unknown setting 'earning.day_cap'"},
};

/* earning.categories with `n` elements, the list opening on line 2. */
static void categories_text(char *text, size_t cap, int n)
{
    size_t len = (size_t)snprintf(text, cap, "earning = {\n  categories = (\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "    { cat = \"c%d\"; multiplier_bp = 12000; }%s\n", i,
                                i + 1 < n ? "," : "");
    snprintf(text + len, cap - len, "  );\n};\n");
    assert_true(len < cap - 16);
}

static void lists_longer_than_their_limit_are_refused_at_the_list(void **state)
{
    (void)state;
    char text[TEXT_MAX];
    struct config cfg;
    categories_text(text, sizeof(text), RULEBOOK_CATEGORIES_MAX);
    load_good(&cfg, text);
    assert_int_equal(cfg.rules.category_count, RULEBOOK_CATEGORIES_MAX);
    assert_string_equal(cfg.rules.categories[63].cat, "c63");
    categories_text(text, sizeof(text), RULEBOOK_CATEGORIES_MAX + 1);
    expect_refused(text, 2, "earning.categories must be a list ( {...}, ... ) of 0..64 "
                            "categories");
    size_t len = (size_t)snprintf(text, sizeof(text), "earning = {\n  campaigns = (\n");
    for (int i = 0; i <= RULEBOOK_CAMPAIGNS_MAX; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "    { name = \"k%d\"; start = \"2027-01-01\"; "
                                "end = \"2027-02-01\"; bonus_points = 1; }%s\n",
                                i, i < RULEBOOK_CAMPAIGNS_MAX ? "," : "");
    snprintf(text + len, sizeof(text) - len, "  );\n};\n");
    expect_refused(text, 2, "earning.campaigns must be a list ( {...}, ... ) of 0..32 "
                            "campaigns");
    expect_refused("rewards = {\n  auto = (\n    { reward = \"a\"; every_points = 1; },\n"
                   "    { reward = \"b\"; every_points = 2; },\n"
                   "    { reward = \"c\"; every_points = 3; },\n"
                   "    { reward = \"d\"; every_points = 4; },\n"
                   "    { reward = \"e\"; every_points = 5; }\n  );\n};\n",
                   2, "rewards.auto must be a list ( {...}, ... ) of 0..4 rewards");
}

static const struct bad BAD_TIERS[] = {
    {"tiers = {\n  review = \"yearly\";\n};\n", 2,
     "tiers.review must be \"anniversary\" or \"fixed\""},
    {"tiers = {\n  grace_months = 1;\n  review = \"fixed\";\n};\n", 3,
     "tiers.review = \"fixed\" needs review_date = \"MM-DD\""},
    {"tiers = {\n  review = \"fixed\";\n  review_date = \"02-29\";\n};\n", 3,
     "tiers.review_date '02-29' is not \"MM-DD\" of a day every year has"},
    {"tiers = {\n  review = \"fixed\";\n  review_date = \"04-31\";\n};\n", 3,
     "tiers.review_date '04-31' is not"},
    {"tiers = {\n  review = \"fixed\";\n  review_date = \"2-28\";\n};\n", 3,
     "tiers.review_date '2-28' is not"},
    {"tiers = {\n  review = \"fixed\";\n  review_date = \"13-01\";\n};\n", 3,
     "tiers.review_date '13-01' is not"},
    {"tiers = {\n  review = \"fixed\";\n  review_date = \"2027-01-15\";\n};\n", 3,
     "tiers.review_date '2027-01-15' is not"},
    {"tiers = {\n  review = \"fixed\";\n  review_date = 115;\n};\n", 3,
     "tiers.review_date must be a string \"MM-DD\""},
    {"tiers = {\n  review_date = \"01-15\";\n};\n", 2,
     "tiers.review_date applies only with review = \"fixed\""},
    {"tiers = {\n  review = \"anniversary\";\n\n  review_date = \"01-15\";\n};\n", 4,
     "tiers.review_date applies only with review = \"fixed\""},
    {"tiers = {\n  grace_months = 13;\n};\n", 2, "grace_months is 13, allowed 0..12"},
    {"tiers = {\n  grace = 1;\n};\n", 2, "unknown setting 'tiers.grace'"},
};

static const struct bad BAD_REWARDS[] = {
    {"rewards = {\n  auto = (\n    { reward = \"voucher_5\";\n      every_points = 0; }\n"
     "  );\n};\n",
     4, "every_points is 0, allowed 1..1000000000"},
    {"rewards = {\n  auto = (\n    { every_points = 1000; }\n  );\n};\n", 3,
     "an automatic reward needs 'reward'"},
    {"rewards = {\n  milestones = (\n    { reward = \"free_coffee\"; purchase = 10; },\n"
     "    { reward = \"tote_bag\";\n      purchase = 10; }\n  );\n};\n",
     5, "a milestone for purchase 10 is defined twice"},
    {"rewards = {\n  milestones = (\n    { reward = \"free_coffee\"; purchase = 0; }\n"
     "  );\n};\n",
     3, "purchase is 0, allowed 1..4294967295"},
    {"rewards = {\n  catalog = (\n    { reward = \"voucher_10\"; cost_points = 1000;\n"
     "      stock = -5; }\n  );\n};\n",
     4, "stock is -5, allowed -1..1000000000"},
    {"rewards = {\n  catalog = (\n    { reward = \"voucher_10\"; cost_points = -1; }\n"
     "  );\n};\n",
     3, "cost_points is -1, allowed 0..1000000000"},
    {"rewards = {\n  catalog = (\n    { reward = \"voucher_10\"; cost_points = 1000; },\n"
     "    { reward = \"voucher_5\"; cost_points = 500; },\n"
     "    { reward = \"voucher_10\"; cost_points = 900; }\n  );\n};\n",
     5, "catalog reward 'voucher_10' is defined twice"},
    {"rewards = {\n  catalog = (\n    { reward = \"voucher_10\"; cost_points = 1000;\n"
     "      price = 10; }\n  );\n};\n",
     4, "unknown setting 'price' in a catalog item"},
    {"rewards = {\n  catalog = (\n    { reward = \"voucher_10\"; stock = 5; }\n  );\n};\n", 3,
     "a catalog item needs 'cost_points'"},
    {"rewards = {\n  every = 1000;\n};\n", 2, "unknown setting 'rewards.every'"},
    {"rewards = 5;\n", 1, "'rewards' must be a group"},
};

static const struct bad BAD_OTHERS[] = {
    {"expiry = {\n  months = 37;\n};\n", 2, "months is 37, allowed 0..36"},
    {"expiry = {\n  months = -1;\n};\n", 2, "months is -1, allowed 0..36"},
    {"expiry = {\n  weeks = 30;\n};\n", 2, "unknown setting 'expiry.weeks'"},
    {"refunds = {\n  shortfall = \"clawback\";\n};\n", 2,
     "refunds.shortfall must be \"negative\" or \"forgive\""},
    {"refunds = {\n  shortfall = 1;\n};\n", 2, "refunds.shortfall must be"},
    {"refunds = {\n  shortfall = \"forgive\";\n  reverse = true;\n};\n", 3,
     "unknown setting 'refunds.reverse'"},
};

/* The settings of transfers, budgets, expiry and tier modes. */
static const struct bad BAD_PROGRAMS[] = {
    {"expiry = {\n  days = 30;\n};\n", 2, "need a mode = \"days\" or \"end_of_year\""},
    {"expiry = {\n  mode = \"weekly\";\n};\n", 2,
     "expiry.mode must be \"months\", \"days\", \"end_of_year\" or \"never\""},
    {"expiry = {\n  mode = \"days\";\n};\n", 1, "mode = \"days\" needs days >= 1"},
    {"expiry = {\n  mode = \"months\";\n};\n", 1, "needs months >= 1"},
    {"expiry = {\n  mode = \"days\";\n  days = 90;\n  months = 3;\n};\n", 4,
     "expiry.months applies only with mode = \"months\""},
    {"expiry = {\n  mode = \"never\";\n  years = 1;\n};\n", 3,
     "expiry.years applies only with mode = \"end_of_year\""},
    {"expiry = {\n  mode = \"days\";\n  days = 1097;\n};\n", 3, "days is 1097, allowed 0..1096"},
    {"expiry = {\n  mode = \"end_of_year\";\n  years = 4;\n};\n", 3,
     "years is 4, allowed 0..3"},
    {"tiers = {\n  downgrade = \"sometimes\";\n};\n", 2,
     "tiers.downgrade must be \"review\" or \"never\""},
    {"tiers = {\n  grace_months = 1;\n  downgrade = \"never\";\n};\n", 3,
     "grace_months applies only with downgrade = \"review\""},
    {"transfers = {\n  enabled = 1;\n};\n", 2, "enabled"},
    {"transfers = {\n  max_points_per_day = -1;\n};\n", 2, "max_points_per_day is -1"},
    {"transfers = {\n  fee = 5;\n};\n", 2, "unknown setting 'transfers.fee'"},
    {"earning = {\n  enroll_bonus = -5;\n};\n", 2, "enroll_bonus is -5"},
    {"earning = {\n  min_amount = 10000000001;\n};\n", 2, "min_amount is 10000000001"},
    {"earning = { campaigns = (\n  { name = \"a\"; start = \"2027-01-01\"; end = \"2027-02-01\";\n"
     "    bonus_points = 5; member_limit_times = 65536; } ); };\n", 3,
     "member_limit_times is 65536"},
    {"earning = { campaigns = (\n  { name = \"a\"; start = \"2027-01-01\"; end = \"2027-02-01\";\n"
     "    bonus_points = 5; budget_points = -1; } ); };\n", 3, "budget_points is -1"},
    {"earning = { campaigns = (\n"
     "  { name = \"a\"; start = \"2027-01-01\"; end = \"2027-02-01\"; bonus_points = 5;"
     " member_limit_times = 1; },\n"
     "  { name = \"b\"; start = \"2027-01-01\"; end = \"2027-02-01\"; bonus_points = 5;"
     " member_limit_times = 1; },\n"
     "  { name = \"c\"; start = \"2027-01-01\"; end = \"2027-02-01\"; bonus_points = 5;"
     " member_limit_points = 9; },\n"
     "  { name = \"d\"; start = \"2027-01-01\"; end = \"2027-02-01\"; bonus_points = 5;"
     " member_limit_times = 1; },\n"
     "  { name = \"e\"; start = \"2027-01-01\"; end = \"2027-02-01\"; bonus_points = 5;"
     " member_limit_times = 1; } ); };\n", 6,
     "campaign 'e': at most 4 campaigns may have a member limit"},
    {"segments = {\n  retention_churn_bp = 0;\n};\n", 2, "retention_churn_bp is 0"},
    {"segments = {\n  retention_cost = -1;\n};\n", 2, "retention_cost is -1"},
};

/* Returns, pending points and notices (issue 13). */
static const struct bad BAD_RETURNS[] = {
    {"tiers = {\n  refund_downgrade = \"never\";\n};\n", 2,
     "tiers.refund_downgrade must be \"immediate\" or \"review\""},
    {"tiers = {\n  qualify_on = \"later\";\n};\n", 2,
     "tiers.qualify_on must be \"earn\" or \"release\""},
    {"earning = {\n  pending_days = 366;\n};\n", 2, "pending_days is 366, allowed 0..365"},
    {"earning = {\n  adjust_earns = 1;\n};\n", 2, "adjust_earns"},
    {"refunds = {\n  keep_bonuses = \"yes\";\n};\n", 2, "keep_bonuses"},
    {"notices = {\n  tier_days = -1;\n};\n", 2, "tier_days is -1, allowed 0..365"},
    {"notices = {\n  expiry_days = 400;\n};\n", 2, "expiry_days is 400, allowed 0..365"},
    {"notices = {\n  need_step = -5;\n};\n", 2, "need_step is -5"},
    {"notices = {\n  tier_days = 30;\n  review_days = 3;\n};\n", 3,
     "unknown setting 'notices.review_days'"},
};

/* One table of bad files; each is a test of its own (see main). */
struct bad_set {
    const struct bad *files;
    size_t count;
};

#define BAD_SET(table) {table, sizeof(table) / sizeof(table[0])}

static const struct bad_set campaign_set = BAD_SET(BAD_CAMPAIGNS);
static const struct bad_set earning_set = BAD_SET(BAD_EARNING);
static const struct bad_set tiers_set = BAD_SET(BAD_TIERS);
static const struct bad_set rewards_set = BAD_SET(BAD_REWARDS);
static const struct bad_set others_set = BAD_SET(BAD_OTHERS);
static const struct bad_set programs_set = BAD_SET(BAD_PROGRAMS);
static const struct bad_set returns_set = BAD_SET(BAD_RETURNS);

static void bad_files_are_refused(void **state)
{
    const struct bad_set *set = *state;
    for (size_t i = 0; i < set->count; i++)
        expect_refused(set->files[i].text, set->files[i].line, set->files[i].needle);
}

/* A test named `name` that refuses every file of `set`. */
#define BAD_TEST(name, set) {name, bad_files_are_refused, NULL, NULL, (void *)&(set)}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_conf_enables_every_earning_rule),
        cmocka_unit_test(shipped_conf_enables_reviews_rewards_expiry_and_refunds),
        cmocka_unit_test(shipped_conf_worked_examples_earn_what_its_comments_say),
        cmocka_unit_test(absent_rulebook_settings_leave_every_feature_off),
        cmocka_unit_test(fixed_review_date_and_forgiving_refunds_load),
        cmocka_unit_test(review_date_takes_exactly_the_days_every_year_has),
        cmocka_unit_test(campaign_dates_are_utc_midnights_leap_days_included),
        cmocka_unit_test(list_elements_start_afresh_over_earlier_values),
        BAD_TEST("bad_campaigns_are_refused_at_the_offending_line", campaign_set),
        cmocka_unit_test(campaign_dates_are_exact_and_real),
        BAD_TEST("bad_categories_bonuses_and_caps_are_refused_at_the_offending_line",
                 earning_set),
        cmocka_unit_test(lists_longer_than_their_limit_are_refused_at_the_list),
        BAD_TEST("bad_reviews_are_refused_at_the_offending_line", tiers_set),
        BAD_TEST("bad_rewards_are_refused_at_the_offending_line", rewards_set),
        BAD_TEST("bad_expiry_and_refunds_are_refused_at_the_offending_line", others_set),
        BAD_TEST("bad_transfer_budget_expiry_and_tier_modes_are_refused_at_the_line",
                 programs_set),
        cmocka_unit_test(returns_pending_and_notices_settings_load),
        BAD_TEST("bad_returns_pending_and_notices_are_refused_at_the_line", returns_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
