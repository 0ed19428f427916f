/* test_rulecanon.c - a rulebook's canonical text and identity: the text
 * of a parsed rulebook parses back to the same bytes (the shipped file,
 * the defaults and variants that use every kind of setting); comments,
 * layout, the order of settings and sections and explicitly written
 * defaults leave the hash alone; any changed value changes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_rules.h"
#include "rulecanon.h"

#ifndef LOYALTY_CONF_DIR
#error "LOYALTY_CONF_DIR must name the conf/ directory (tests/CMakeLists.txt)"
#endif

/* Parses rule text `text`, failing the test on an error. */
static void parse_good(const char *text, struct rulebook *rb)
{
    struct config_error err = {{0}};
    int rc = rulecanon_parse(text, "test", rb, &err);
    if (rc != 0)
        fail_msg("%s", err.text);
}

/* The canonical text of `rb` parses back to the same bytes and is a
 * fixed point (canonical of canonical is itself). */
static void assert_round_trip(const struct rulebook *rb)
{
    static struct rulebook back;
    char *text = rulecanon_text(rb);
    assert_non_null(text);
    parse_good(text, &back);
    assert_memory_equal(rb, &back, sizeof(back));
    char *again = rulecanon_text(&back);
    assert_string_equal(text, again);
    free(text);
    free(again);
}

static void hash_of(const char *text, char hex[RULECANON_HASH_LEN + 1])
{
    static struct rulebook rb;
    parse_good(text, &rb);
    assert_int_equal(rulecanon_hash(&rb, hex), 0);
    assert_int_equal(strlen(hex), RULECANON_HASH_LEN);
    assert_int_equal(strspn(hex, "0123456789abcdef"), RULECANON_HASH_LEN);
}

static void shipped_file_round_trips(void **unused)
{
    (void)unused;
    static struct config cfg;
    struct config_error err = {{0}};
    config_defaults(&cfg);
    if (config_load(&cfg, LOYALTY_CONF_DIR "/loyaltyd.conf", &err) != 0)
        fail_msg("%s", err.text);
    assert_true(cfg.rules.seg.enabled);
    assert_true(cfg.rules.campaign_count > 0);
    assert_round_trip(&cfg.rules);
}

static void defaults_round_trip(void **unused)
{
    (void)unused;
    static struct rulebook rb;
    config_rules_defaults(&rb);
    assert_round_trip(&rb);
    /* The defaults are the empty text. */
    char a[RULECANON_HASH_LEN + 1], b[RULECANON_HASH_LEN + 1];
    assert_int_equal(rulecanon_hash(&rb, a), 0);
    hash_of("", b);
    assert_string_equal(a, b);
}

/* Every kind of setting: lists with and without optional settings, names
 * needing escapes, a fixed review, spend basis, forgiving refunds, a
 * custom segment map and value classes, 64-bit values. */
static const char variant[] =
    "earning = { points_per_unit = 3; minor_per_unit = 1000; require_enrollment = false;\n"
    "  categories = ( { cat = \"wine\"; multiplier_bp = 20000; } );\n"
    "  campaigns = ( { name = \"a\\\"q\"; start = \"2024-02-29\"; end = \"2024-03-02\";\n"
    "                  stores = [\"s1\", \"s\\\\2\"]; bonus_points = 50; min_amount = 100; },\n"
    "                { name = \"x2\"; start = \"2024-01-01\"; end = \"2025-01-01\";\n"
    "                  categories = [\"wine\"]; multiplier_bp = 15000; } );\n"
    "  txn_cap_points = 400000000; day_cap_points = 7; referral_bonus = 9;\n"
    "  pending_days = 30; adjust_earns = true; };\n"
    "tiers = { basis = \"spend\"; review = \"fixed\"; review_date = \"12-31\"; grace_months = 2;\n"
    "  refund_downgrade = \"review\"; qualify_on = \"release\";\n"
    "  window_months = 6; levels = ( { name = \"a\"; threshold = 0; multiplier_bp = 10000; },\n"
    "  { name = \"b\"; threshold = 5000000000; multiplier_bp = 15000; perks = [\"p\", \"q\"]; } );\n"
    "};\n"
    "rewards = { auto = ( { reward = \"r\"; every_points = 500; } );\n"
    "  milestones = ( { reward = \"m\"; purchase = 10; } );\n"
    "  catalog = ( { reward = \"c\"; cost_points = 10; }, { reward = \"d\"; cost_points = 1;\n"
    "                stock = 0; } ); };\n"
    "expiry = { months = 7; };\n"
    "refunds = { shortfall = \"forgive\"; keep_bonuses = true; };\n"
    "notices = { tier_days = 21; expiry_days = 7; need_step = 3; };\n"
    "segments = { window_months = 3; recency_days = [1, 2, 3, 4];\n"
    "  map = ( { name = \"top\"; r = [5, 5]; }, { name = \"rest\"; } );\n"
    "  value_classes = ( { name = \"v\"; share_bp = 4000; }, { name = \"w\"; } ); };\n"
    "idempotency = { window_days = 3; max_txns = 77; };\n";

static void variant_round_trips(void **unused)
{
    (void)unused;
    static struct rulebook rb;
    parse_good(variant, &rb);
    assert_true(rb.seg.enabled);
    assert_int_equal(rb.tiers[1].threshold, 5000000000LL);
    assert_int_equal(rb.catalog[0].stock, -1);
    assert_int_equal(rb.catalog[1].stock, 0);
    assert_round_trip(&rb);
}

static void layout_and_order_do_not_matter(void **unused)
{
    (void)unused;
    char a[RULECANON_HASH_LEN + 1], b[RULECANON_HASH_LEN + 1], c[RULECANON_HASH_LEN + 1];
    hash_of("expiry = { months = 6; };\n"
            "earning = { points_per_unit = 2; first_purchase_bonus = 10; };\n", a);
    hash_of("# the program\n"
            "earning = {\n  first_purchase_bonus = 10; // welcome\n  points_per_unit = 2;\n"
            "  /* base */ minor_per_unit = 100; # a default, written out\n};\n\n"
            "refunds = { shortfall = \"negative\"; }; # a default section\n"
            "expiry = { months   =   6 ; } ;\n", b);
    assert_string_equal(a, b);
    /* Catalog stock -1 is what leaving stock out gives. */
    hash_of("rewards = { catalog = ( { reward = \"c\"; cost_points = 5; } ); };", a);
    hash_of("rewards = { catalog = ( { stock = -1; cost_points = 5; reward = \"c\"; } ); };",
            c);
    assert_string_equal(a, c);
    /* The settings of issue 13 written out at their defaults. */
    hash_of("", a);
    hash_of("notices = { need_step = 0; expiry_days = 0; tier_days = 0; };\n"
            "tiers = { qualify_on = \"earn\"; refund_downgrade = \"immediate\"; };\n"
            "refunds = { keep_bonuses = false; };\n"
            "earning = { adjust_earns = false; pending_days = 0; };\n", b);
    assert_string_equal(a, b);
}

static void a_changed_value_changes_the_hash(void **unused)
{
    (void)unused;
    static const char *const texts[] = {
        "expiry = { months = 6; };",
        "expiry = { months = 7; };",
        "earning = { points_per_unit = 2; };",
        "rewards = { catalog = ( { reward = \"c\"; cost_points = 5; } ); };",
        "rewards = { catalog = ( { reward = \"c\"; cost_points = 5; stock = 3; } ); };",
        "rewards = { catalog = ( { reward = \"C\"; cost_points = 5; } ); };",
        /* The order of list elements is meaning (tiers, first match wins). */
        "segments = { map = ( { name = \"a\"; r = [5, 5]; }, { name = \"b\"; } ); };",
        "segments = { map = ( { name = \"b\"; r = [5, 5]; }, { name = \"a\"; } ); };",
        "segments = { };",
        "",
        /* Returns, pending points and notices (issue 13): each its own. */
        "earning = { pending_days = 14; };",
        "earning = { pending_days = 30; };",
        "earning = { adjust_earns = true; };",
        "tiers = { refund_downgrade = \"review\"; };",
        "tiers = { qualify_on = \"release\"; };",
        "refunds = { keep_bonuses = true; };",
        "notices = { tier_days = 30; };",
        "notices = { expiry_days = 30; };",
        "notices = { need_step = 100; };",
    };
    enum { N = sizeof(texts) / sizeof(texts[0]) };
    char hex[N][RULECANON_HASH_LEN + 1];
    for (size_t i = 0; i < N; i++)
        hash_of(texts[i], hex[i]);
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            if (strcmp(hex[i], hex[j]) == 0)
                fail_msg("'%s' and '%s' hash alike", texts[i], texts[j]);
}

/* Every setting of issue 14 round trips, and each changed from its value
 * in `programmes` (or from its default) changes the hash. */
static const char programmes[] =
    "earning = { enroll_bonus = 50; min_amount = 500;\n"
    "  campaigns = ( { name = \"c\"; start = \"2027-01-01\"; end = \"2027-02-01\";\n"
    "    bonus_points = 5; budget_points = 1000; member_limit_points = 50;\n"
    "    member_limit_times = 3; } ); };\n"
    "tiers = { downgrade = \"never\"; };\n"
    "expiry = { mode = \"days\"; days = 90; };\n"
    "transfers = { enabled = true; max_points_per_day = 5000; };\n"
    "segments = { retention_cost = 2000; retention_churn_bp = 5000; };\n";

static void programme_settings_round_trip_and_each_changes_the_hash(void **unused)
{
    (void)unused;
    static struct rulebook rb;
    parse_good(programmes, &rb);
    assert_int_equal(rb.expiry_mode, RULEBOOK_EXPIRY_DAYS);
    assert_int_equal(rb.downgrade, RULEBOOK_DOWNGRADE_NEVER);
    assert_true(rb.transfers_enabled);
    assert_int_equal(rb.campaigns[0].member_limit_times, 3);
    assert_round_trip(&rb);
    /* Each text differs from `programmes` in one setting. */
    static const char *const from[] = {
        "enroll_bonus = 50", "min_amount = 500", "budget_points = 1000",
        "member_limit_points = 50", "member_limit_times = 3", "downgrade = \"never\"",
        "days = 90", "enabled = true", "max_points_per_day = 5000", "retention_cost = 2000",
        "retention_churn_bp = 5000", "mode = \"days\"; days = 90",
        "mode = \"days\"; days = 90",
    };
    static const char *const to[] = {
        "enroll_bonus = 51", "min_amount = 501", "budget_points = 1001",
        "member_limit_points = 51", "member_limit_times = 4", "downgrade = \"review\"",
        "days = 91", "enabled = false", "max_points_per_day = 5001", "retention_cost = 2001",
        "retention_churn_bp = 5001", "mode = \"end_of_year\"; years = 1",
        "mode = \"never\"",
    };
    enum { N = sizeof(from) / sizeof(from[0]) };
    _Static_assert(sizeof(to) / sizeof(to[0]) == N, "pairs");
    char base[RULECANON_HASH_LEN + 1], hex[N][RULECANON_HASH_LEN + 1];
    hash_of(programmes, base);
    for (size_t i = 0; i < N; i++) {
        char text[sizeof(programmes) + 64];
        const char *at = strstr(programmes, from[i]);
        assert_non_null(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - programmes), programmes, to[i],
                 at + strlen(from[i]));
        hash_of(text, hex[i]);
        if (strcmp(hex[i], base) == 0)
            fail_msg("changing '%s' to '%s' leaves the hash", from[i], to[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(hex[i], hex[j]);
    }
    /* months = 0 without a mode is "never", written either way. */
    char a[RULECANON_HASH_LEN + 1], b[RULECANON_HASH_LEN + 1];
    hash_of("expiry = { months = 0; };", a);
    hash_of("expiry = { mode = \"never\"; };", b);
    assert_string_equal(a, b);
    hash_of("expiry = { months = 6; };", a);
    hash_of("expiry = { mode = \"months\"; months = 6; };", b);
    assert_string_equal(a, b);
}

static void verify_checks_text_and_hash(void **unused)
{
    (void)unused;
    static struct rulebook rb;
    struct config_error err = {{0}};
    char hex[RULECANON_HASH_LEN + 1];
    parse_good(variant, &rb);
    char *text = rulecanon_text(&rb);
    assert_int_equal(rulecanon_hash(&rb, hex), 0);
    assert_int_equal(rulecanon_verify(text, hex, &rb, &err), 0);
    hex[0] = hex[0] == '0' ? '1' : '0';
    assert_int_equal(rulecanon_verify(text, hex, &rb, &err), -1);
    assert_non_null(strstr(err.text, "hashes to"));
    assert_int_equal(rulecanon_verify("daemon = { };\n", hex, &rb, &err), -1);
    assert_non_null(strstr(err.text, ":1: unknown section 'daemon'"));
    assert_int_equal(rulecanon_verify("expiry = { months = 99; };", hex, &rb, &err), -1);
    assert_non_null(strstr(err.text, "months is 99"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_file_round_trips),
        cmocka_unit_test(defaults_round_trip),
        cmocka_unit_test(variant_round_trips),
        cmocka_unit_test(layout_and_order_do_not_matter),
        cmocka_unit_test(a_changed_value_changes_the_hash),
        cmocka_unit_test(verify_checks_text_and_hash),
        cmocka_unit_test(programme_settings_round_trip_and_each_changes_the_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
