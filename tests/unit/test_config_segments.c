/* test_config_segments.c - the `segments` section of the configuration
 * file: the shipped conf/loyaltyd.conf switches segments on with exactly
 * the built-in defaults it documents; without the section segments are off
 * (with the default table kept for when they are on); every setting that
 * cannot make sense is refused with "PATH:LINE: problem" at the line at
 * fault.
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

#include "config.h"

#ifndef LOYALTY_CONF_DIR
#error "LOYALTY_CONF_DIR must name the conf/ directory (tests/CMakeLists.txt)"
#endif

/* One configuration text loaded from a scratch file: the outcome, the
 * message and the (removed) file's name, which the message starts with. */
struct loaded {
    int rc;
    struct config cfg;
    struct config_error err;
    char path[256];
};

static void load_text(struct loaded *l, const char *text)
{
    const char *dir = getenv("TMPDIR");
    memset(l, 0, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "%s/test_config_segments.XXXXXX", dir ? dir : "/tmp");
    int fd = mkstemp(l->path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    config_defaults(&l->cfg);
    l->rc = config_load(&l->cfg, l->path, &l->err);
    assert_int_equal(unlink(l->path), 0);
}

/* The segment settings of `text`, which must load. */
static struct rulebook_segments loaded_segments(const char *text)
{
    struct loaded *l = malloc(sizeof(*l));
    assert_non_null(l);
    load_text(l, text);
    if (l->rc != 0)
        fail_msg("refused: %s\n%s", l->err.text, text);
    struct rulebook_segments sg = l->cfg.rules.seg;
    free(l);
    return sg;
}

static struct rulebook_segments default_segments(void)
{
    struct config *cfg = malloc(sizeof(*cfg));
    assert_non_null(cfg);
    config_defaults(cfg);
    struct rulebook_segments sg = cfg->rules.seg;
    free(cfg);
    return sg;
}

static void expect_row(const struct rulebook_segment *s, const char *name, uint8_t r_lo,
                       uint8_t r_hi, uint8_t f_lo, uint8_t f_hi, uint8_t m_lo, uint8_t m_hi)
{
    const uint8_t lo[3] = {r_lo, f_lo, m_lo}, hi[3] = {r_hi, f_hi, m_hi};
    assert_string_equal(s->name, name);
    assert_memory_equal(s->lo, lo, 3);
    assert_memory_equal(s->hi, hi, 3);
}

/* The values the comments of conf/loyaltyd.conf give, one by one. */
static void expect_documented(const struct rulebook_segments *sg)
{
    static const int64_t recency[] = {30, 90, 180, 365}, frequency[] = {2, 4, 8, 16},
                         monetary[] = {10000, 50000, 100000, 500000};
    assert_int_equal(sg->window_months, 12);
    assert_memory_equal(sg->recency_days, recency, sizeof(recency));
    assert_memory_equal(sg->frequency, frequency, sizeof(frequency));
    assert_memory_equal(sg->monetary, monetary, sizeof(monetary));
    assert_int_equal(sg->segment_count, 8);
    expect_row(&sg->segments[0], "champions", 4, 5, 4, 5, 4, 5);
    expect_row(&sg->segments[1], "loyal", 3, 5, 3, 5, 1, 5);
    expect_row(&sg->segments[2], "new", 4, 5, 1, 1, 1, 5);
    expect_row(&sg->segments[3], "potential", 3, 5, 1, 2, 1, 5);
    expect_row(&sg->segments[4], "cannot_lose", 1, 2, 4, 5, 4, 5);
    expect_row(&sg->segments[5], "at_risk", 2, 2, 2, 5, 1, 5);
    expect_row(&sg->segments[6], "hibernating", 1, 2, 1, 2, 1, 5);
    expect_row(&sg->segments[7], "lost", 1, 5, 1, 5, 1, 5);
    static const char *const classes[] = {"key", "growth", "regular", "low"};
    static const int64_t shares[] = {5000, 8000, 9500, 10000};
    assert_int_equal(sg->value_class_count, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(sg->value_classes[i].name, classes[i]);
        assert_int_equal(sg->value_classes[i].share_bp, shares[i]);
    }
    assert_int_equal(sg->new_days, 30);
    assert_int_equal(sg->active_days, 90);
    assert_int_equal(sg->lapsed_days, 180);
    assert_int_equal(sg->reactivated_days, 90);
    assert_int_equal(sg->margin_bp, 3000);
    assert_int_equal(sg->acquisition_cost, 2000);
    assert_int_equal(sg->default_churn_bp, 3000);
    assert_int_equal(sg->min_sample, 100);
    assert_int_equal(sg->max_years, 10);
}

/* ---- good files --------------------------------------------------------- */

/* The shipped file turns segments on with the documented values, which
 * are the built-in defaults byte for byte (the rulebook is hashed into
 * snapshots, so "the same" must mean the same bytes). */
static void shipped_conf_enables_the_documented_defaults(void **state)
{
    (void)state;
    struct loaded *l = malloc(sizeof(*l));
    assert_non_null(l);
    config_defaults(&l->cfg);
    if (config_load(&l->cfg, LOYALTY_CONF_DIR "/loyaltyd.conf", &l->err) != 0)
        fail_msg("%s", l->err.text);
    const struct rulebook_segments *sg = &l->cfg.rules.seg;
    assert_true(sg->enabled);
    expect_documented(sg);
    struct rulebook_segments d = default_segments();
    assert_false(d.enabled);
    d.enabled = true;
    assert_memory_equal(&d, sg, sizeof(d));
    free(l);
}

/* No section: segments off, the default table in place. An empty section:
 * on, with every default. */
static void absent_section_is_off_and_empty_section_is_on(void **state)
{
    (void)state;
    struct rulebook_segments off = loaded_segments("expiry = { months = 12; };\n");
    assert_false(off.enabled);
    expect_documented(&off);
    struct rulebook_segments on = loaded_segments("segments = { };\n");
    assert_true(on.enabled);
    expect_documented(&on);
}

/* A section of its own: absent ranges are [1, 5], a last value class
 * without share_bp takes the rest (10000), and what it leaves out keeps
 * its default. */
static void custom_section_loads_what_it_says(void **state)
{
    (void)state;
    struct rulebook_segments sg = loaded_segments(
        "segments = {\n"
        "  window_months = 6;\n"
        "  recency_days = [ 7, 14, 28, 56 ];\n"
        "  map = (\n"
        "    { name = \"vip\"; m = [ 5, 5 ]; },\n"
        "    { name = \"recent\"; r = [ 4, 5 ]; f = [ 2, 5 ]; },\n"
        "    { name = \"others\"; r = [ 1, 5 ]; }\n"
        "  );\n"
        "  value_classes = ( { name = \"top\"; share_bp = 2000; }, { name = \"rest\"; } );\n"
        "  active_days = 10;\n"
        "  lapsed_days = 11;\n"
        "  min_sample = 0;\n"
        "};\n");
    static const int64_t recency[] = {7, 14, 28, 56}, frequency[] = {2, 4, 8, 16};
    assert_true(sg.enabled);
    assert_int_equal(sg.window_months, 6);
    assert_memory_equal(sg.recency_days, recency, sizeof(recency));
    assert_memory_equal(sg.frequency, frequency, sizeof(frequency));
    assert_int_equal(sg.segment_count, 3);
    expect_row(&sg.segments[0], "vip", 1, 5, 1, 5, 5, 5);
    expect_row(&sg.segments[1], "recent", 4, 5, 2, 5, 1, 5);
    expect_row(&sg.segments[2], "others", 1, 5, 1, 5, 1, 5);
    static const struct rulebook_segment zero;
    assert_memory_equal(&sg.segments[3], &zero, sizeof(zero)); /* no default row left */
    assert_int_equal(sg.value_class_count, 2);
    assert_string_equal(sg.value_classes[1].name, "rest");
    assert_int_equal(sg.value_classes[0].share_bp, 2000);
    assert_int_equal(sg.value_classes[1].share_bp, 10000);
    assert_int_equal(sg.active_days, 10);
    assert_int_equal(sg.lapsed_days, 11);
    assert_int_equal(sg.new_days, 30);
    assert_int_equal(sg.min_sample, 0);
}

/* ---- bad files ---------------------------------------------------------- */

struct bad {
    const char *text;
    unsigned line;      /* the line at fault */
    const char *needle; /* part of the message after "PATH:LINE: " */
};

/* A map whose rows start on line 3 (the first) and line 4. */
#define MAP(rows) "segments = {\n  map = (\n" rows "  );\n};\n"
/* Value classes starting on line 3. */
#define CLASSES(rows) "segments = {\n  value_classes = (\n" rows "  );\n};\n"

static const struct bad BAD[] = {
    /* cut points */
    {"segments = {\n  window_months = 12;\n  recency_days = [ 30, 90, 90, 365 ];\n};\n", 3,
     "segments.recency_days must be ascending"},
    {"segments = {\n  monetary = [ 10000, 5000, 100000, 500000 ];\n};\n", 2,
     "segments.monetary must be ascending"},
    {"segments = {\n  frequency = [ 2, 4, 8 ];\n};\n", 2,
     "segments.frequency must be [a, b, c, d]: 4 ascending integers"},
    {"segments = {\n  frequency = [ 2, 4, 8, 16, 32 ];\n};\n", 2,
     "segments.frequency must be [a, b, c, d]"},
    {"segments = {\n  recency_days = [ 30, 90, 180, 3651 ];\n};\n", 2,
     "recency_days is 3651, allowed 0..3650"},
    {"segments = {\n  window_months = 13;\n};\n", 2, "window_months is 13, allowed 1..12"},
    /* the segment table */
    {MAP("    { name = \"a\";\n      r = [ 4, 2 ]; },\n    { name = \"rest\"; }\n"), 4,
     "r is 2, allowed 4..5"},
    {MAP("    { name = \"a\";\n      f = [ 1, 6 ]; },\n    { name = \"rest\"; }\n"), 4,
     "f is 6, allowed 1..5"},
    {MAP("    { name = \"a\";\n      m = [ 0, 5 ]; },\n    { name = \"rest\"; }\n"), 4,
     "m is 0, allowed 1..5"},
    {MAP("    { name = \"a\";\n      r = [ 1, 2, 3 ]; },\n    { name = \"rest\"; }\n"), 4,
     "r must be [lo, hi] with 1 <= lo <= hi <= 5"},
    {MAP("    { name = \"a\"; r = [ 4, 5 ]; },\n    { name = \"rest\";\n"
         "      m = [ 1, 4 ]; }\n"),
     4, "the last segment must catch every score (r, f, m all [1, 5])"},
    {MAP("    { name = \"rest\"; },\n    { name = \"b\";\n      r = [ 2, 5 ]; }\n"), 4,
     "the last segment must catch every score"},
    {MAP("    { name = \"a\"; r = [ 4, 5 ]; },\n    { r = [ 3, 5 ];\n"
         "      name = \"a\"; },\n    { name = \"rest\"; }\n"),
     5, "segment 'a' is defined twice"},
    {MAP("    { name = \"a\";\n      rr = [ 4, 5 ]; },\n    { name = \"rest\"; }\n"), 4,
     "unknown setting 'rr' in a segment"},
    {MAP("    { r = [ 4, 5 ]; },\n    { name = \"rest\"; }\n"), 3, "a segment needs a name"},
    {MAP("    { name = \"big spender\"; },\n    { name = \"rest\"; }\n"), 3,
     "may hold only printable ASCII without spaces"},
    {MAP("    5,\n    { name = \"rest\"; }\n"), 3, "each segment must be a group"},
    {"segments = {\n  map = ( );\n};\n", 2,
     "segments.map must be a list ( {...}, ... ) of 1..16 segments"},
    /* value classes */
    {CLASSES("    { name = \"key\"; share_bp = 5000; },\n    { name = \"growth\";\n"
             "      share_bp = 5000; },\n    { name = \"low\"; }\n"),
     5, "share_bp is 5000, allowed 5001..10000"},
    {CLASSES("    { name = \"key\"; share_bp = 5000; },\n    { name = \"growth\";\n"
             "      share_bp = 4000; },\n    { name = \"low\"; }\n"),
     5, "share_bp is 4000, allowed 5001..10000"},
    {CLASSES("    { name = \"key\"; share_bp = 5000; },\n    { name = \"growth\"; },\n"
             "    { name = \"low\"; }\n"),
     4, "only the last value class may omit share_bp"},
    {CLASSES("    { name = \"key\"; share_bp = 5000; },\n    { share_bp = 9000;\n"
             "      name = \"key\"; },\n    { name = \"low\"; }\n"),
     5, "value class 'key' is defined twice"},
    {CLASSES("    { name = \"key\"; share_bp = 5000; size = 1; },\n    { name = \"low\"; }\n"), 3,
     "a value class is { name = \"...\"; share_bp = N; }"},
    /* stages */
    {"segments = {\n  active_days = 90;\n  lapsed_days = 90;\n};\n", 3,
     "segments: active_days (90) must be below lapsed_days (90)"},
    {"segments = {\n  lapsed_days = 60;\n  new_days = 5;\n};\n", 2,
     "segments: active_days (90) must be below lapsed_days (60)"},
    {"segments = {\n  new_days = 5;\n  active_days = 200;\n};\n", 3,
     "segments: active_days (200) must be below lapsed_days (180)"},
    {"segments = {\n  active_days = 0;\n};\n", 2, "active_days is 0, allowed 1..3650"},
    /* lifetime value and the section itself */
    {"segments = {\n  default_churn_bp = 0;\n};\n", 2, "default_churn_bp is 0, allowed 1..10000"},
    {"segments = {\n  max_years = 0;\n};\n", 2, "max_years is 0, allowed 1..100"},
    {"segments = {\n  margin_bp = 10001;\n};\n", 2, "margin_bp is 10001, allowed 0..10000"},
    {"segments = {\n  window_months = 12;\n  churn = 1;\n};\n", 3, "churn"},
    {"segments = 5;\n", 1, "'segments' must be a group { ... }"},
};

static void bad_sections_are_refused_at_the_line_at_fault(void **state)
{
    (void)state;
    struct loaded *l = malloc(sizeof(*l));
    assert_non_null(l);
    unsigned wrong = 0;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        char prefix[300];
        load_text(l, BAD[i].text);
        snprintf(prefix, sizeof(prefix), "%s:%u: ", l->path, BAD[i].line);
        if (l->rc != -1 || strncmp(l->err.text, prefix, strlen(prefix)) != 0 ||
            strstr(l->err.text, BAD[i].needle) == NULL) {
            print_error("case %zu: rc %d, \"%s\", want \"%s...%s\" for:\n%s\n", i, l->rc,
                        l->err.text, prefix, BAD[i].needle, BAD[i].text);
            wrong++;
        }
    }
    free(l);
    assert_int_equal(wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_conf_enables_the_documented_defaults),
        cmocka_unit_test(absent_section_is_off_and_empty_section_is_on),
        cmocka_unit_test(custom_section_loads_what_it_says),
        cmocka_unit_test(bad_sections_are_refused_at_the_line_at_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
