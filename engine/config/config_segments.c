/* config_segments.c - the `segments` section: RFM cut points, the segment
 * table, value classes, lifecycle thresholds, lifetime-value inputs (see
 * segments.h for what they mean). Present means enabled; every part has a
 * default but the section must make sense as a whole: cut points
 * ascending, the last segment catching every score, stage thresholds in
 * order. */
#include <string.h>

#include "config_segments.h"

#define SEG(nm, ty, mb, lo, hi) CFG_FIELD(nm, ty, struct rulebook, seg.mb, lo, hi)
#define SEG_DAYS_MAX 3650 /* ten years */

static const struct cfg_field seg_fields[] = {
    SEG("window_months", CFG_U32, window_months, 1, RULEBOOK_RFM_MONTHS_MAX),
    SEG("new_days", CFG_I64, new_days, 0, SEG_DAYS_MAX),
    SEG("active_days", CFG_I64, active_days, 1, SEG_DAYS_MAX),
    SEG("lapsed_days", CFG_I64, lapsed_days, 1, SEG_DAYS_MAX),
    SEG("reactivated_days", CFG_I64, reactivated_days, 0, SEG_DAYS_MAX),
    SEG("margin_bp", CFG_I64, margin_bp, 0, 10000),
    SEG("acquisition_cost", CFG_I64, acquisition_cost, 0, PROTO_AMOUNT_MAX),
    SEG("default_churn_bp", CFG_I64, default_churn_bp, 1, 10000),
    SEG("min_sample", CFG_I64, min_sample, 0, 1000000000),
    SEG("max_years", CFG_I64, max_years, 1, 100),
    SEG("retention_cost", CFG_I64, retention_cost, 0, PROTO_AMOUNT_MAX),
    SEG("retention_churn_bp", CFG_I64, retention_churn_bp, 1, 10000),
};

static const char *const seg_extra[] = {"recency_days", "frequency", "monetary", "map",
                                        "value_classes", NULL};

/* Four ascending cut points [a, b, c, d] into cuts[]. */
static int load_cuts(struct cfg_ctx *c, const config_setting_t *s, const char *what,
                     int64_t max, int64_t *cuts)
{
    if (s == NULL)
        return 0; /* the defaults stay */
    if (!config_setting_is_array(s) || config_setting_length(s) != RULEBOOK_RFM_CUTS)
        return cfg_fail(c, s, "segments.%s must be [a, b, c, d]: 4 ascending integers", what);
    for (int i = 0; i < RULEBOOK_RFM_CUTS; i++) {
        if (cfg_get_int(c, config_setting_get_elem(s, (unsigned)i), what, 0, max, &cuts[i]))
            return -1;
        if (i > 0 && cuts[i] <= cuts[i - 1])
            return cfg_fail(c, s, "segments.%s must be ascending", what);
    }
    return 0;
}

/* r = [lo, hi] and the like: a score range 1..5. */
static int load_range(struct cfg_ctx *c, const config_setting_t *e, const char *key,
                      uint8_t *lo, uint8_t *hi)
{
    const config_setting_t *s = config_setting_get_member(e, key);
    int64_t a = 1, b = 5;
    if (s == NULL) {
        *lo = 1, *hi = 5; /* absent: any score */
        return 0;
    }
    if (!config_setting_is_array(s) || config_setting_length(s) != 2)
        return cfg_fail(c, s, "%s must be [lo, hi] with 1 <= lo <= hi <= 5", key);
    if (cfg_get_int(c, config_setting_get_elem(s, 0), key, 1, 5, &a) != 0 ||
        cfg_get_int(c, config_setting_get_elem(s, 1), key, a, 5, &b) != 0)
        return -1;
    *lo = (uint8_t)a, *hi = (uint8_t)b;
    return 0;
}

static int load_segment(struct cfg_ctx *c, const config_setting_t *e,
                        struct rulebook_segments *sg, uint32_t i)
{
    static const char *const keys[] = {"name", "r", "f", "m", NULL};
    struct rulebook_segment *seg = &sg->segments[i];
    if (!config_setting_is_group(e))
        return cfg_fail(c, e, "each segment must be a group { name = ...; r = [1, 5]; ... }");
    for (int k = 0; k < config_setting_length(e); k++) {
        const config_setting_t *s = config_setting_get_elem(e, (unsigned)k);
        size_t j = 0;
        while (keys[j] && strcmp(keys[j], config_setting_name(s)) != 0)
            j++;
        if (keys[j] == NULL)
            return cfg_fail(c, s, "unknown setting '%s' in a segment", config_setting_name(s));
    }
    const config_setting_t *name = config_setting_get_member(e, "name");
    if (name == NULL)
        return cfg_fail(c, e, "a segment needs a name");
    if (cfg_check_name(c, name, "segment", seg->name) != 0 ||
        load_range(c, e, "r", &seg->lo[0], &seg->hi[0]) != 0 ||
        load_range(c, e, "f", &seg->lo[1], &seg->hi[1]) != 0 ||
        load_range(c, e, "m", &seg->lo[2], &seg->hi[2]) != 0)
        return -1;
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(sg->segments[j].name, seg->name) == 0)
            return cfg_fail(c, name, "segment '%s' is defined twice", seg->name);
    return 0;
}

static int load_map(struct cfg_ctx *c, const config_setting_t *s, struct rulebook_segments *sg)
{
    int n = s ? config_setting_length(s) : 0;
    if (s == NULL || !config_setting_is_list(s) || n < 1 || n > RULEBOOK_SEGMENTS_MAX)
        return cfg_fail(c, s, "segments.map must be a list ( {...}, ... ) of 1..%d segments",
                        RULEBOOK_SEGMENTS_MAX);
    memset(sg->segments, 0, sizeof(sg->segments));
    for (int i = 0; i < n; i++)
        if (load_segment(c, config_setting_get_elem(s, (unsigned)i), sg, (uint32_t)i) != 0)
            return -1;
    const struct rulebook_segment *last = &sg->segments[n - 1];
    for (int d = 0; d < 3; d++)
        if (last->lo[d] != 1 || last->hi[d] != 5)
            return cfg_fail(c, config_setting_get_elem(s, (unsigned)(n - 1)),
                            "the last segment must catch every score (r, f, m all [1, 5])");
    sg->segment_count = (uint32_t)n;
    return 0;
}

static int load_classes(struct cfg_ctx *c, const config_setting_t *s,
                        struct rulebook_segments *sg)
{
    int n = config_setting_length(s);
    if (!config_setting_is_list(s) || n < 1 || n > RULEBOOK_VALUE_CLASSES_MAX)
        return cfg_fail(c, s, "segments.value_classes must be a list of 1..%d classes",
                        RULEBOOK_VALUE_CLASSES_MAX);
    memset(sg->value_classes, 0, sizeof(sg->value_classes));
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct rulebook_value_class *vc = &sg->value_classes[i];
        const config_setting_t *name = config_setting_get_member(e, "name");
        const config_setting_t *share = config_setting_get_member(e, "share_bp");
        int64_t prev = i > 0 ? sg->value_classes[i - 1].share_bp : 0;
        if (!config_setting_is_group(e) || name == NULL ||
            config_setting_length(e) != 1 + (share != NULL))
            return cfg_fail(c, e, "a value class is { name = \"...\"; share_bp = N; }");
        if (cfg_check_name(c, name, "value class", vc->name) != 0)
            return -1;
        if (share == NULL && i + 1 < n)
            return cfg_fail(c, e, "only the last value class may omit share_bp");
        if (share != NULL && cfg_get_int(c, share, "share_bp", prev + 1, 10000, &vc->share_bp))
            return -1;
        if (share == NULL)
            vc->share_bp = 10000;
        for (int j = 0; j < i; j++)
            if (strcmp(sg->value_classes[j].name, vc->name) == 0)
                return cfg_fail(c, name, "value class '%s' is defined twice", vc->name);
    }
    sg->value_class_count = (uint32_t)n;
    return 0;
}

static int seg_finish(struct cfg_ctx *c, const config_setting_t *s, void *base)
{
    struct rulebook_segments *sg = &((struct rulebook *)base)->seg;
    const config_setting_t *map = config_setting_get_member(s, "map");
    const config_setting_t *classes = config_setting_get_member(s, "value_classes");
    if (load_cuts(c, config_setting_get_member(s, "recency_days"), "recency_days",
                  SEG_DAYS_MAX, sg->recency_days) != 0 ||
        load_cuts(c, config_setting_get_member(s, "frequency"), "frequency", 1000000,
                  sg->frequency) != 0 ||
        load_cuts(c, config_setting_get_member(s, "monetary"), "monetary", PROTO_AMOUNT_MAX,
                  sg->monetary) != 0 ||
        (map != NULL && load_map(c, map, sg) != 0) ||
        (classes != NULL && load_classes(c, classes, sg) != 0))
        return -1;
    if (sg->active_days >= sg->lapsed_days) {
        /* At the upper bound when given (like a campaign's end), else at
         * the one given; the other may be an earlier file's or a default. */
        const config_setting_t *at = config_setting_get_member(s, "lapsed_days");
        if (at == NULL)
            at = config_setting_get_member(s, "active_days");
        return cfg_fail(c, at ? at : s,
                        "segments: active_days (%lld) must be below lapsed_days (%lld)",
                        (long long)sg->active_days, (long long)sg->lapsed_days);
    }
    sg->enabled = true; /* the section is there: segments are on */
    return 0;
}

const struct cfg_section config_segments_section = {
    "segments", seg_fields, CFG_COUNT(seg_fields), seg_extra, seg_finish};

void config_segments_defaults(struct rulebook_segments *sg)
{
    static const struct rulebook_segment map[] = {
        {"champions", {4, 4, 4}, {5, 5, 5}},   {"loyal", {3, 3, 1}, {5, 5, 5}},
        {"new", {4, 1, 1}, {5, 1, 5}},          {"potential", {3, 1, 1}, {5, 2, 5}},
        {"cannot_lose", {1, 4, 4}, {2, 5, 5}},  {"at_risk", {2, 2, 1}, {2, 5, 5}},
        {"hibernating", {1, 1, 1}, {2, 2, 5}}, {"lost", {1, 1, 1}, {5, 5, 5}},
    };
    static const struct rulebook_value_class classes[] = {
        {"key", 5000}, {"growth", 8000}, {"regular", 9500}, {"low", 10000}};
    static const struct rulebook_segments d = {
        .enabled = false, .window_months = 12,
        .recency_days = {30, 90, 180, 365}, .frequency = {2, 4, 8, 16},
        .monetary = {10000, 50000, 100000, 500000},
        .new_days = 30, .active_days = 90, .lapsed_days = 180, .reactivated_days = 90,
        .margin_bp = 3000, .acquisition_cost = 2000, .default_churn_bp = 3000,
        .min_sample = 100, .max_years = 10, .retention_cost = 0, .retention_churn_bp = 10000};
    memcpy(sg, &d, sizeof(d)); /* bytes: the rulebook is hashed into snapshots */
    memcpy(sg->segments, map, sizeof(map));
    sg->segment_count = sizeof(map) / sizeof(map[0]);
    memcpy(sg->value_classes, classes, sizeof(classes));
    sg->value_class_count = sizeof(classes) / sizeof(classes[0]);
}
