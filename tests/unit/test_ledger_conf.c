/* test_ledger_conf.c - the ledger's configuration (clients/ledger/lconf.h):
 * conf/ledger.conf loads with the defaults it documents, and every kind of
 * bad file is refused with "<path>:<line>: <problem>" naming the line at
 * fault; checks across settings (token beyond loopback, secrets from the
 * environment) say which setting to fix.
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

#include "lconf.h"

#ifndef LOYALTY_CONF_DIR
#error "LOYALTY_CONF_DIR must name the conf/ directory (tests/CMakeLists.txt)"
#endif

/* Loads `text` from a fresh temporary file over the defaults. Returns
 * lconf_load's result; the file's path is left in path[64]. */
static int load(const char *text, struct lconf *cfg, struct lconf_error *err, char *path)
{
    snprintf(path, 64, "/tmp/test_ledger_conf.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    lconf_defaults(cfg);
    memset(err, 0, sizeof *err);
    int rc = lconf_load(cfg, path, err);
    assert_int_equal(unlink(path), 0);
    return rc;
}

static void shipped_file_loads_with_the_defaults(void **state)
{
    (void)state;
    struct lconf cfg, defaults;
    struct lconf_error err = {{0}};
    lconf_defaults(&defaults);
    lconf_defaults(&cfg);
    assert_int_equal(lconf_load(&cfg, LOYALTY_CONF_DIR "/ledger.conf", &err), 0);
    assert_int_equal(lconf_finish(&cfg, &err), 0);
    assert_memory_equal(&cfg, &defaults, sizeof cfg);
    assert_string_equal(cfg.prefixes[0], "loyalty:");
    assert_string_equal(cfg.database, "sqlite://./ledger.db");
    assert_int_equal(cfg.http.port, 8091);
}

static void a_file_sets_every_kind_of_value(void **state)
{
    (void)state;
    struct lconf cfg;
    struct lconf_error err;
    char path[64];
    assert_int_equal(load("ledger = {\n"
                          "  redis = \"10.0.0.5:7000\";\n"
                          "  prefixes = [ \"loyalty:{0}:\", \"loyalty:{1}:\" ];\n"
                          "  database = \"postgresql://ledger@db:5432/ledger\";\n"
                          "  batch_entries_max = 0x10;\n"
                          "  block_ms = 250;\n"
                          "};\n",
                          &cfg, &err, path),
                     0);
    assert_string_equal(cfg.redis.host, "10.0.0.5");
    assert_int_equal(cfg.redis.port, 7000);
    assert_int_equal(cfg.prefix_count, 2);
    assert_string_equal(cfg.prefixes[1], "loyalty:{1}:");
    assert_string_equal(cfg.database, "postgresql://ledger@db:5432/ledger");
    assert_int_equal(cfg.batch_entries_max, 16);
    assert_int_equal(cfg.block_ms, 250);
}

struct bad_file {
    const char *text;
    int line;
    const char *problem;
};

static void bad_files_name_file_line_and_problem(void **state)
{
    (void)state;
    static const struct bad_file BAD[] = {
        {"ledger = {\n  colour = \"red\";\n};\n", 2, "unknown setting 'ledger.colour'"},
        {"daemon = { };\n", 1, "unknown setting 'daemon'"},
        {"ledger = {\n\n  block_ms = 0;\n};\n", 3, "block_ms: 0 is outside 1..60000"},
        {"ledger = {\n  block_ms = \"5\";\n};\n", 2, "block_ms: expected an integer"},
        /* libconfig 1.5 would read this as 1000 */
        {"ledger = {\n  block_ms = 4294968296;\n};\n", 2, "block_ms: the number is out of range"},
        {"ledger = {\n  batch_entries_max = 10001;\n};\n", 2, "outside 1..10000"},
        {"ledger = {\n  redis = \"nohost\";\n};\n", 2, "redis: 'nohost' is not HOST:PORT"},
        {"ledger = {\n  http = \"127.0.0.1:70000\";\n};\n", 2, "is not HOST:PORT"},
        {"ledger = {\n  database = \"mysql://x\";\n};\n", 2, "is not a database URL"},
        {"ledger = {\n  database = \"sqlite://\";\n};\n", 2, "sqlite:// takes a file path"},
        {"ledger = {\n  prefixes = [ ];\n};\n", 2, "prefixes: expected"},
        {"ledger = {\n  prefixes = [ \"a:\", \"a:\" ];\n};\n", 2, "'a:' is given twice"},
        {"ledger = {\n  prefixes = [ 1 ];\n};\n", 2, "not a string"},
        {"ledger = {\n  group = \"\";\n};\n", 2, "group: 0 bytes, expected 1..64"},
        {"ledger = {\n  block_ms = = 5;\n};\n", 2, "syntax error"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        struct lconf cfg;
        struct lconf_error err;
        char path[64], want[160];
        if (load(BAD[i].text, &cfg, &err, path) != -1)
            fail_msg("file %zu was accepted", i);
        snprintf(want, sizeof want, "%s:%d: ", path, BAD[i].line);
        if (strncmp(err.text, want, strlen(want)) != 0 || !strstr(err.text, BAD[i].problem))
            fail_msg("file %zu: got \"%s\", want \"%s...%s\"", i, err.text, want,
                     BAD[i].problem);
    }
}

static void a_missing_file_is_named(void **state)
{
    (void)state;
    struct lconf cfg;
    struct lconf_error err = {{0}};
    lconf_defaults(&cfg);
    assert_int_equal(lconf_load(&cfg, "/nonexistent/ledger.conf", &err), -1);
    assert_non_null(strstr(err.text, "/nonexistent/ledger.conf: cannot read"));
}

static void http_beyond_loopback_needs_a_token(void **state)
{
    (void)state;
    struct lconf cfg;
    struct lconf_error err = {{0}};
    lconf_defaults(&cfg);
    assert_int_equal(lconf_parse_endpoint("0.0.0.0:8091", &cfg.http, &err), 0);
    assert_int_equal(lconf_finish(&cfg, &err), -1);
    assert_non_null(strstr(err.text, "set ledger.http_token"));
    snprintf(cfg.http_token, sizeof cfg.http_token, "s3cret");
    assert_int_equal(lconf_finish(&cfg, &err), 0);
}

static void secrets_and_the_url_come_from_the_environment(void **state)
{
    (void)state;
    struct lconf cfg;
    struct lconf_error err = {{0}};
    lconf_defaults(&cfg);
    snprintf(cfg.database_env, sizeof cfg.database_env, "TEST_LEDGER_DB_URL");
    unsetenv("TEST_LEDGER_DB_URL");
    assert_int_equal(lconf_finish(&cfg, &err), -1);
    assert_non_null(strstr(err.text, "TEST_LEDGER_DB_URL must hold the database URL"));
    setenv("TEST_LEDGER_DB_URL", "postgresql://u:pw@h/db", 1);
    assert_int_equal(lconf_finish(&cfg, &err), 0);
    assert_string_equal(cfg.database, "postgresql://u:pw@h/db");
    setenv("TEST_LEDGER_DB_URL", "ftp://nope", 1);
    assert_int_equal(lconf_finish(&cfg, &err), -1);
    assert_non_null(strstr(err.text, "is not a database URL"));
    unsetenv("TEST_LEDGER_DB_URL");
    lconf_defaults(&cfg);
    snprintf(cfg.redis_user, sizeof cfg.redis_user, "ledger");
    assert_int_equal(lconf_finish(&cfg, &err), -1);
    assert_non_null(strstr(err.text, "redis_user needs a redis_password"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_file_loads_with_the_defaults),
        cmocka_unit_test(a_file_sets_every_kind_of_value),
        cmocka_unit_test(bad_files_name_file_line_and_problem),
        cmocka_unit_test(a_missing_file_is_named),
        cmocka_unit_test(http_beyond_loopback_needs_a_token),
        cmocka_unit_test(secrets_and_the_url_come_from_the_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
