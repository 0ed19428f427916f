/* config.c - see config.h. Scalar settings are described by tables (name,
 * type, where it goes, allowed range) so that every one is parsed, range
 * checked and reported the same way; tier levels have their own parser. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "caltime.h"

enum field_type { F_STRING, F_ENDPOINT, F_U32, F_U64, F_I64, F_BOOL, F_DAYS_MS };

struct field {
    const char *name;
    enum field_type type;
    size_t off;  /* offset in struct config */
    size_t size; /* F_STRING: buffer size */
    int64_t min, max;
};

#define CFG(member) offsetof(struct config, member)
#define STR(member) F_STRING, CFG(member), sizeof(((struct config *)0)->member)

static const struct field daemon_fields[] = {
    {"redis", F_ENDPOINT, CFG(redis), 0, 0, 0},
    {"http", F_ENDPOINT, CFG(http), 0, 0, 0},
    {"data_dir", STR(data_dir), 1, CONFIG_PATH_MAX},
    {"prefix", STR(prefix), 1, CONFIG_KEY_MAX},
    {"group", STR(group), 1, CONFIG_KEY_MAX},
    {"consumer", STR(consumer), 1, CONFIG_KEY_MAX},
    {"batch_entries_max", F_U32, CFG(batch_entries_max), 0, 1, 10000},
    {"block_ms", F_U32, CFG(block_ms), 0, 1, 60000},
    {"tick_interval_ms", F_U32, CFG(tick_interval_ms), 0, 0, 86400000},
    {"out_maxlen", F_U64, CFG(out_maxlen), 0, 0, INT64_MAX},
    {"members_max", F_U32, CFG(members_max), 0, 1, 1000000000},
    {"reconnect_max_ms", F_U32, CFG(reconnect_max_ms), 0, 100, 600000},
    {"snapshot_every_entries", F_U32, CFG(snapshot_every_entries), 0, 0, 1000000000},
    {"snapshot_every_ms", F_U32, CFG(snapshot_every_ms), 0, 0, 86400000},
    {"snapshot_keep", F_U32, CFG(snapshot_keep), 0, 1, 100},
    {"trim_input", F_BOOL, CFG(trim_input), 0, 0, 1},
};

static const struct field earning_fields[] = {
    {"minor_per_unit", F_I64, CFG(rules.minor_per_unit), 0, 1, RULEBOOK_MINOR_PER_UNIT_MAX},
    {"points_per_unit", F_I64, CFG(rules.points_per_unit), 0, 0,
     RULEBOOK_POINTS_PER_UNIT_MAX},
    {"require_enrollment", F_BOOL, CFG(rules.require_enrollment), 0, 0, 1},
};

static const struct field idempotency_fields[] = {
    {"window_days", F_DAYS_MS, CFG(rules.txn_window_ms), 0, 1, 3650},
    {"max_txns", F_U32, CFG(rules.txns_max), 0, 1, 1000000000},
};

/* Where errors go: the file being read and the caller's error buffer. */
struct ctx {
    const char *path;
    struct config_error *err;
};

static int fail(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
    char msg[CONFIG_ERROR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err->text, sizeof(c->err->text), "%s:%u: %s", c->path,
             s ? config_setting_source_line(s) : 0u, msg);
    return -1;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->redis.host, sizeof(cfg->redis.host), "127.0.0.1");
    cfg->redis.port = 6379;
    snprintf(cfg->http.host, sizeof(cfg->http.host), "127.0.0.1");
    cfg->http.port = 8080;
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./data");
    snprintf(cfg->prefix, sizeof(cfg->prefix), "loyalty:");
    snprintf(cfg->group, sizeof(cfg->group), "loyaltyd");
    snprintf(cfg->consumer, sizeof(cfg->consumer), "loyaltyd-1");
    cfg->batch_entries_max = 512;
    cfg->block_ms = 1000;
    cfg->tick_interval_ms = 60000;
    cfg->out_maxlen = 10000000;
    cfg->members_max = 20000000;
    cfg->reconnect_max_ms = 5000;
    cfg->snapshot_every_entries = 1000000;
    cfg->snapshot_every_ms = 300000;
    cfg->snapshot_keep = 3;
    cfg->trim_input = true;

    struct rulebook *rb = &cfg->rules;
    rb->minor_per_unit = 100;
    rb->points_per_unit = 1;
    rb->require_enrollment = true;
    rb->basis = RULEBOOK_BASIS_POINTS;
    rb->window_months = 12;
    rb->tier_count = 1;
    snprintf(rb->tiers[0].name, sizeof(rb->tiers[0].name), "member");
    rb->tiers[0].multiplier_bp = 10000;
    rb->txn_window_ms = 35 * CALTIME_DAY_MS;
    rb->txns_max = 5000000;
}

int config_parse_endpoint(const char *s, struct config_endpoint *ep,
                          struct config_error *err)
{
    const char *colon = strrchr(s, ':');
    size_t host_len = colon ? (size_t)(colon - s) : 0;
    char *end = NULL;
    errno = 0;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || host_len == 0 || host_len > CONFIG_HOST_MAX || errno != 0 ||
        end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
        snprintf(err->text, sizeof(err->text),
                 "'%.64s' is not HOST:PORT (port 1..65535)", s);
        return -1;
    }
    memcpy(ep->host, s, host_len);
    ep->host[host_len] = '\0';
    ep->port = (int)port;
    return 0;
}

static int get_int(struct ctx *c, const config_setting_t *s, const char *what,
                   int64_t min, int64_t max, int64_t *out)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return fail(c, s, "%s must be an integer", what);
    long long v = config_setting_get_int64(s);
    if (v < min || v > max)
        return fail(c, s, "%s is %lld, allowed %lld..%lld", what, v, (long long)min,
                    (long long)max);
    *out = v;
    return 0;
}

static int set_field(struct ctx *c, const config_setting_t *s, const struct field *f,
                     struct config *cfg)
{
    char *dst = (char *)cfg + f->off;
    const char *name = config_setting_name(s);
    int64_t v = 0;
    if (f->type == F_STRING || f->type == F_ENDPOINT) {
        const char *str = config_setting_get_string(s);
        if (str == NULL)
            return fail(c, s, "'%s' must be a string", name);
        if (f->type == F_ENDPOINT) {
            struct config_error e;
            if (config_parse_endpoint(str, (struct config_endpoint *)(void *)dst, &e) != 0)
                return fail(c, s, "'%s': %s", name, e.text);
            return 0;
        }
        size_t len = strlen(str);
        if (len < (size_t)f->min || len > (size_t)f->max)
            return fail(c, s, "'%s' must be %lld..%lld bytes long", name,
                        (long long)f->min, (long long)f->max);
        memcpy(dst, str, len + 1);
        return 0;
    }
    if (f->type == F_BOOL) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return fail(c, s, "'%s' must be true or false", name);
        *(bool *)(void *)dst = config_setting_get_bool(s) != 0;
        return 0;
    }
    if (get_int(c, s, name, f->min, f->max, &v) != 0)
        return -1;
    if (f->type == F_U32)
        *(uint32_t *)(void *)dst = (uint32_t)v;
    else if (f->type == F_U64)
        *(uint64_t *)(void *)dst = (uint64_t)v;
    else if (f->type == F_I64)
        *(int64_t *)(void *)dst = v;
    else
        *(int64_t *)(void *)dst = v * CALTIME_DAY_MS;
    return 0;
}

/* Applies every setting of group `s` through `fields`; `extra` names
 * settings the caller parses itself. Unknown settings are errors. */
static int load_group(struct ctx *c, const config_setting_t *s, const struct field *fields,
                      size_t n, const char *const *extra, struct config *cfg)
{
    if (!config_setting_is_group(s))
        return fail(c, s, "'%s' must be a group { ... }", config_setting_name(s));
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *child = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(child);
        const struct field *f = NULL;
        for (size_t k = 0; k < n && f == NULL; k++)
            if (strcmp(fields[k].name, name) == 0)
                f = &fields[k];
        int known = f != NULL;
        for (size_t k = 0; extra && extra[k] && !known; k++)
            known = strcmp(extra[k], name) == 0;
        if (!known)
            return fail(c, child, "unknown setting '%s.%s'", config_setting_name(s), name);
        if (f != NULL && set_field(c, child, f, cfg) != 0)
            return -1;
    }
    return 0;
}

/* A name used on the wire (tier, perk): printable ASCII, no spaces. */
static int check_name(struct ctx *c, const config_setting_t *s, const char *what,
                      const char *name, char *dst)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > RULEBOOK_NAME_MAX)
        return fail(c, s, "%s must be a string of 1..%d bytes", what, RULEBOOK_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e)
            return fail(c, s, "%s '%s' may hold only printable ASCII without spaces",
                        what, name);
    memcpy(dst, name, len + 1);
    return 0;
}

static int load_perks(struct ctx *c, const config_setting_t *lvl, struct rulebook_tier *t)
{
    const config_setting_t *p = config_setting_get_member(lvl, "perks");
    t->perk_count = 0;
    if (p == NULL)
        return 0;
    if (!config_setting_is_array(p) && !config_setting_is_list(p))
        return fail(c, p, "perks must be a list of names [ \"a\", \"b\" ]");
    if (config_setting_length(p) > RULEBOOK_PERKS_MAX)
        return fail(c, p, "a tier has at most %d perks", RULEBOOK_PERKS_MAX);
    for (int i = 0; i < config_setting_length(p); i++) {
        const config_setting_t *e = config_setting_get_elem(p, (unsigned)i);
        if (check_name(c, e, "a perk", config_setting_get_string(e), t->perks[i]) != 0)
            return -1;
        t->perk_count++;
    }
    return 0;
}

static int load_level(struct ctx *c, const config_setting_t *lvl, struct rulebook_tier *t)
{
    static const char *const keys[] = {"name", "threshold", "multiplier_bp", "perks"};
    if (!config_setting_is_group(lvl))
        return fail(c, lvl, "each tier level must be a group { name = ...; }");
    for (int i = 0; i < config_setting_length(lvl); i++) {
        const config_setting_t *k = config_setting_get_elem(lvl, (unsigned)i);
        size_t j = 0;
        while (j < 4 && strcmp(keys[j], config_setting_name(k)) != 0)
            j++;
        if (j == 4)
            return fail(c, k, "unknown setting '%s' in a tier level", config_setting_name(k));
    }
    const config_setting_t *name = config_setting_get_member(lvl, "name");
    const config_setting_t *thr = config_setting_get_member(lvl, "threshold");
    const config_setting_t *mul = config_setting_get_member(lvl, "multiplier_bp");
    if (name == NULL || thr == NULL || mul == NULL)
        return fail(c, lvl, "a tier level needs name, threshold and multiplier_bp");
    if (check_name(c, name, "a tier name", config_setting_get_string(name), t->name) != 0 ||
        get_int(c, thr, "threshold", 0, INT64_MAX / 2, &t->threshold) != 0 ||
        get_int(c, mul, "multiplier_bp", 0, RULEBOOK_MULTIPLIER_BP_MAX, &t->multiplier_bp))
        return -1;
    return load_perks(c, lvl, t);
}

static int load_levels(struct ctx *c, const config_setting_t *levels, struct rulebook *rb)
{
    int n = config_setting_length(levels);
    if (!config_setting_is_list(levels) || n < 1 || n > RULEBOOK_TIERS_MAX)
        return fail(c, levels, "tiers.levels must be a list ( {...}, ... ) of 1..%d levels",
                    RULEBOOK_TIERS_MAX);
    for (int i = 0; i < n; i++) {
        const config_setting_t *lvl = config_setting_get_elem(levels, (unsigned)i);
        struct rulebook_tier *t = &rb->tiers[i];
        if (load_level(c, lvl, t) != 0)
            return -1;
        if (i == 0 && t->threshold != 0)
            return fail(c, lvl, "the first tier must have threshold 0 (everyone starts there)");
        if (i > 0 && t->threshold <= rb->tiers[i - 1].threshold)
            return fail(c, lvl, "tier '%s': thresholds must increase", t->name);
        for (int j = 0; j < i; j++)
            if (strcmp(rb->tiers[j].name, t->name) == 0)
                return fail(c, lvl, "tier '%s' is defined twice", t->name);
    }
    rb->tier_count = (uint32_t)n;
    return 0;
}

static int load_tiers(struct ctx *c, const config_setting_t *s, struct config *cfg)
{
    static const char *const extra[] = {"basis", "window_months", "levels", NULL};
    struct rulebook *rb = &cfg->rules;
    if (load_group(c, s, NULL, 0, extra, cfg) != 0)
        return -1;
    const config_setting_t *basis = config_setting_get_member(s, "basis");
    if (basis != NULL) {
        const char *b = config_setting_get_string(basis);
        if (b != NULL && strcmp(b, "points") == 0)
            rb->basis = RULEBOOK_BASIS_POINTS;
        else if (b != NULL && strcmp(b, "spend") == 0)
            rb->basis = RULEBOOK_BASIS_SPEND;
        else
            return fail(c, basis, "tiers.basis must be \"points\" or \"spend\"");
    }
    const config_setting_t *w = config_setting_get_member(s, "window_months");
    int64_t months = rb->window_months;
    if (w != NULL && get_int(c, w, "window_months", 1, RULEBOOK_WINDOW_MONTHS_MAX, &months))
        return -1;
    rb->window_months = (uint32_t)months;
    const config_setting_t *levels = config_setting_get_member(s, "levels");
    return levels ? load_levels(c, levels, rb) : 0;
}

static int load_root(struct ctx *c, const config_setting_t *root, struct config *cfg)
{
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int rc;
        if (strcmp(name, "daemon") == 0)
            rc = load_group(c, s, daemon_fields, sizeof(daemon_fields) / sizeof(daemon_fields[0]),
                            NULL, cfg);
        else if (strcmp(name, "earning") == 0)
            rc = load_group(c, s, earning_fields,
                            sizeof(earning_fields) / sizeof(earning_fields[0]), NULL, cfg);
        else if (strcmp(name, "idempotency") == 0)
            rc = load_group(c, s, idempotency_fields,
                            sizeof(idempotency_fields) / sizeof(idempotency_fields[0]), NULL,
                            cfg);
        else if (strcmp(name, "tiers") == 0)
            rc = load_tiers(c, s, cfg);
        else
            rc = fail(c, s, "unknown section '%s' (expected daemon, earning, tiers, "
                            "idempotency)", name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int config_load(struct config *cfg, const char *path, struct config_error *err)
{
    struct ctx c = {path, err};
    config_t lc;
    config_init(&lc);
    config_set_options(&lc, 0); /* no int<->float autoconversion */
    int rc = -1;
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            snprintf(err->text, sizeof(err->text), "%s: cannot read: %s", path,
                     strerror(errno ? errno : ENOENT));
        else
            snprintf(err->text, sizeof(err->text), "%s:%d: %s", path, config_error_line(&lc),
                     config_error_text(&lc));
        goto done;
    }
    rc = load_root(&c, config_root_setting(&lc), cfg);
done:
    config_destroy(&lc);
    return rc;
}
