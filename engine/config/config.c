/* config.c - see config.h. The daemon section, the defaults and the
 * loading of a file: the parsing framework is cfgparse.c, the rulebook
 * sections config_rules.c. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "caltime.h"
#include "cfgparse.h"
#include "config_rules.h"
#include "lyassert.h"

#define STR(nm, mb, lo, hi)                                                             \
    {.name = (nm), .type = CFG_STRING, .off = offsetof(struct config, mb),             \
     .aux = sizeof(((struct config *)0)->mb), .min = (lo), .max = (hi)}
#define DAEMON(nm, ty, mb, lo, hi) CFG_FIELD(nm, ty, struct config, mb, lo, hi)

static const struct cfg_field daemon_fields[] = {
    DAEMON("redis", CFG_ENDPOINT, redis, 0, 0),
    DAEMON("http", CFG_ENDPOINT, http, 0, 0),
    STR("data_dir", data_dir, 1, CONFIG_PATH_MAX),
    STR("prefix", prefix, 1, CONFIG_KEY_MAX),
    STR("group", group, 1, CONFIG_KEY_MAX),
    STR("consumer", consumer, 1, CONFIG_KEY_MAX),
    DAEMON("batch_entries_max", CFG_U32, batch_entries_max, 1, 10000),
    DAEMON("batches_in_flight", CFG_U32, batches_in_flight, 1, CONFIG_BATCHES_IN_FLIGHT_MAX),
    DAEMON("block_ms", CFG_U32, block_ms, 1, 60000),
    DAEMON("tick_interval_ms", CFG_U32, tick_interval_ms, 0, 86400000),
    DAEMON("out_maxlen", CFG_U64, out_maxlen, 0, INT64_MAX),
    DAEMON("members_max", CFG_U32, members_max, 1, 1000000000),
    DAEMON("reconnect_max_ms", CFG_U32, reconnect_max_ms, 100, 600000),
    DAEMON("snapshot_every_entries", CFG_U32, snapshot_every_entries, 0, 1000000000),
    DAEMON("snapshot_every_ms", CFG_U32, snapshot_every_ms, 0, 86400000),
    DAEMON("snapshot_keep", CFG_U32, snapshot_keep, 1, 100),
    DAEMON("snapshot_deadline_ms", CFG_U32, snapshot_deadline_ms, 0, 86400000),
    DAEMON("snapshot_write_delay_ms", CFG_U32, snapshot_write_delay_ms, 0, 60000),
    DAEMON("trim_input", CFG_BOOL, trim_input, 0, 1),
    DAEMON("expiry_months_max", CFG_U32, expiry_months_max, 0, RULEBOOK_EXPIRY_MONTHS_MAX),
    DAEMON("append_file_rulebook", CFG_BOOL, append_file_rulebook, 0, 1),
    DAEMON("archive", CFG_BOOL, archive, 0, 1),
    DAEMON("archive_keep_days", CFG_U32, archive_keep_days, 0, 36500),
    DAEMON("archive_keep_bytes", CFG_U64, archive_keep_bytes, 0, INT64_MAX),
    STR("redis_user", redis_user, 0, CONFIG_KEY_MAX),
    STR("redis_password", redis_password, 0, CONFIG_SECRET_MAX),
    STR("redis_password_env", redis_password_env, 0, CONFIG_KEY_MAX),
    STR("http_token", http_token, 0, CONFIG_SECRET_MAX),
    STR("http_token_env", http_token_env, 0, CONFIG_KEY_MAX),
    DAEMON("partitions", CFG_U32, partitions, 1, PARTITION_COUNT_MAX),
    DAEMON("cluster", CFG_BOOL, cluster, 0, 1),
    DAEMON("wait_replicas", CFG_U32, wait_replicas, 0, 16),
    DAEMON("wait_timeout_ms", CFG_U32, wait_timeout_ms, 1, 60000),
    DAEMON("ledger", CFG_ENDPOINT, ledger, 0, 0),
    STR("ledger_token", ledger_token, 0, CONFIG_SECRET_MAX),
    STR("ledger_token_env", ledger_token_env, 0, CONFIG_KEY_MAX),
    DAEMON("liability_value_minor", CFG_U64, liability_value_minor, 0, CONFIG_VALUE_MINOR_MAX),
    DAEMON("liability_value_points", CFG_U32, liability_value_points, 1, 1000000),
    STR("liability_currency", liability_currency, 0, CONFIG_CURRENCY_MAX),
};

/* Settings the daemon section parses itself (daemon_finish). */
static const char *const daemon_extra[] = {"serve", "snapshot_priority", NULL};

/* snapshot_priority: "idle", "low" or "normal". */
static int snapshot_priority(struct cfg_ctx *c, const config_setting_t *s, struct config *cfg)
{
    static const char *const names[] = {"idle", "low", "normal"};
    const config_setting_t *p = config_setting_get_member(s, "snapshot_priority");
    if (p == NULL)
        return 0;
    for (size_t i = 0; config_setting_type(p) == CONFIG_TYPE_STRING && i < 3; i++)
        if (strcmp(config_setting_get_string(p), names[i]) == 0) {
            cfg->snapshot_priority = (enum config_snap_priority)i;
            return 0;
        }
    return cfg_fail(c, p, "'snapshot_priority' must be \"idle\", \"low\" or \"normal\"");
}

/* `serve` is read once `partitions` is in, whatever the order in the file. */
static int daemon_finish(struct cfg_ctx *c, const config_setting_t *s, void *base)
{
    struct config *cfg = base;
    const config_setting_t *serve = config_setting_get_member(s, "serve");
    char why[160];
    cfg->serve_count = 0; /* every partition, resolved by config_finish */
    if (snapshot_priority(c, s, cfg) != 0)
        return -1;
    if (serve == NULL)
        return 0;
    if (config_setting_type(serve) != CONFIG_TYPE_STRING)
        return cfg_fail(c, serve, "'serve' must be a string such as \"0-7,12\" or \"all\"");
    if (strcmp(config_setting_get_string(serve), "all") != 0 &&
        config_parse_serve(config_setting_get_string(serve), cfg->partitions, cfg->serve,
                           &cfg->serve_count, why, sizeof(why)) != 0)
        return cfg_fail(c, serve, "serve: %s", why);
    return 0;
}

static const struct cfg_section daemon_section = {
    "daemon", daemon_fields, CFG_COUNT(daemon_fields), daemon_extra, daemon_finish};

/* One number of a serve list at *p (advanced past it): 0..limit-1. */
static int serve_number(const char **p, uint32_t limit, uint32_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9' && v <= PARTITION_COUNT_MAX)
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (v >= limit)
        return -1;
    *out = (uint32_t)v;
    *p = s;
    return 0;
}

int config_parse_serve(const char *text, uint32_t partitions, uint16_t *out, uint32_t *count,
                       char *why, size_t cap)
{
    bool seen[PARTITION_COUNT_MAX] = {false};
    LY_ASSERT(partitions >= 1 && partitions <= PARTITION_COUNT_MAX);
    const char *p = text;
    if (strcmp(text, "all") == 0) {
        for (uint32_t i = 0; i < partitions; i++)
            out[i] = (uint16_t)i;
        *count = partitions;
        return 0;
    }
    while (*p) {
        uint32_t lo, hi;
        if (serve_number(&p, partitions, &lo) != 0)
            goto bad;
        hi = lo;
        if (*p == '-' && (p++, serve_number(&p, partitions, &hi) != 0 || hi < lo))
            goto bad;
        for (uint32_t i = lo; i <= hi; i++)
            seen[i] = true;
        if (*p == ',' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            goto bad;
    }
    *count = 0;
    for (uint32_t i = 0; i < partitions; i++)
        if (seen[i])
            out[(*count)++] = (uint16_t)i;
    if (*count > 0)
        return 0;
bad:
    snprintf(why, cap, "'%.40s' is not a set of partitions 0..%u such as \"0-7,12\" or \"all\"",
             text, partitions - 1);
    return -1;
}

void config_partition_prefix(const struct config *cfg, uint32_t p, char *buf, size_t cap)
{
    LY_ASSERT(p < cfg->partitions);
    if (cfg->partitions == 1)
        snprintf(buf, cap, "%s", cfg->prefix);
    else
        snprintf(buf, cap, "%s{%u}:", cfg->prefix, p);
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
    cfg->batch_entries_max = 1024;
    cfg->batches_in_flight = 2;
    cfg->block_ms = 1000;
    cfg->tick_interval_ms = 60000;
    cfg->out_maxlen = 10000000;
    cfg->members_max = 20000000;
    cfg->reconnect_max_ms = 5000;
    cfg->snapshot_every_entries = 1000000;
    cfg->snapshot_every_ms = 300000;
    cfg->snapshot_keep = 3;
    cfg->snapshot_priority = CONFIG_SNAP_LOW;
    cfg->snapshot_deadline_ms = 120000;
    cfg->trim_input = true;
    cfg->partitions = 1;
    cfg->wait_timeout_ms = 1000;
    cfg->expiry_months_max = CONFIG_EXPIRY_MONTHS_MAX_DEFAULT;
    cfg->append_file_rulebook = true;
    cfg->liability_value_points = 1;
    cfg->archive = true; /* the whole history stays replayable (archiver.h) */

    config_rules_defaults(&cfg->rules);
}

static int load_root(struct cfg_ctx *c, const config_setting_t *root, void *arg)
{
    struct config *cfg = arg;
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int rc;
        if (strcmp(name, daemon_section.name) == 0)
            rc = cfg_load_section(c, s, &daemon_section, cfg);
        else if (config_rules_section(name) != NULL)
            rc = cfg_load_section(c, s, config_rules_section(name), &cfg->rules);
        else
            rc = cfg_fail(c, s, "unknown section '%s' (expected daemon, %s)", name,
                          CONFIG_RULES_SECTIONS);
        if (rc != 0)
            return -1;
    }
    /* The daemon's limit sizes the state: a rulebook over it never applies. */
    if (cfg->rules.expiry_months > cfg->expiry_months_max) {
        const config_setting_t *s = config_setting_lookup((config_setting_t *)root,
                                                          "expiry.months");
        return cfg_fail(c, s ? s : root, "expiry.months is %u, more than "
                        "daemon.expiry_months_max (%u), which sizes every member's expiry "
                        "lots: raise it", cfg->rules.expiry_months, cfg->expiry_months_max);
    }
    return 0;
}

int config_load(struct config *cfg, const char *path, struct config_error *err)
{
    char *text = cfg_read_file(path, err);
    if (text == NULL)
        return -1;
    int rc = cfg_parse_text(text, path, load_root, cfg, err);
    free(text);
    return rc;
}

bool config_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* Copies environment variable `name` into dst[CONFIG_SECRET_MAX + 1]. */
static int secret_from_env(const char *name, char *dst, struct config_error *err)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0' || strlen(v) > CONFIG_SECRET_MAX) {
        snprintf(err->text, sizeof(err->text),
                 "environment variable %s must hold a secret of 1..%d bytes", name,
                 CONFIG_SECRET_MAX);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int config_finish(struct config *cfg, struct config_error *err)
{
    if (cfg->redis_password_env[0] != '\0' &&
        secret_from_env(cfg->redis_password_env, cfg->redis_password, err) != 0)
        return -1;
    if (cfg->http_token_env[0] != '\0' &&
        secret_from_env(cfg->http_token_env, cfg->http_token, err) != 0)
        return -1;
    if (cfg->ledger_token_env[0] != '\0' &&
        secret_from_env(cfg->ledger_token_env, cfg->ledger_token, err) != 0)
        return -1;
    if (cfg->redis_user[0] != '\0' && cfg->redis_password[0] == '\0') {
        snprintf(err->text, sizeof(err->text), "daemon.redis_user needs a redis_password "
                                               "(or redis_password_env)");
        return -1;
    }
    if (cfg->cluster && cfg->partitions == 1 && strchr(cfg->prefix, '{') == NULL) {
        snprintf(err->text, sizeof(err->text),
                 "daemon.cluster needs daemon.partitions >= 2 (keys <prefix>{p}:...) or a "
                 "hash-tagged prefix such as \"loyalty:{0}:\", so that one partition's keys "
                 "share one slot");
        return -1;
    }
    if (cfg->serve_count == 0) { /* not set: every partition */
        char why[8];
        int rc = config_parse_serve("all", cfg->partitions, cfg->serve, &cfg->serve_count,
                                    why, sizeof(why));
        LY_ASSERT(rc == 0);
    }
    if (!config_is_loopback(cfg->http.host) && cfg->http_token[0] == '\0') {
        snprintf(err->text, sizeof(err->text),
                 "HTTP on %.64s is reachable beyond this machine: set daemon.http_token (or "
                 "http_token_env), or bind 127.0.0.1 behind a TLS proxy", cfg->http.host);
        return -1;
    }
    return 0;
}
