/* lconf.c - see lconf.h. One table names every setting, its type, where it
 * goes and its range; one loop applies the file to it. */
#include "lconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "lyassert.h"

enum field_type {
    F_STR,      /* char[size], length min..max */
    F_ENDPOINT, /* struct lconf_endpoint from "HOST:PORT" */
    F_U32,      /* uint32_t in min..max */
    F_PREFIXES, /* the prefixes list */
    F_DATABASE, /* char[size], a URL lconf_check_database accepts */
};

struct field {
    const char *name;
    enum field_type type;
    size_t off;
    size_t size;
    int64_t min, max;
};

#define STR(nm, mb, lo)                                                                  \
    {nm, F_STR, offsetof(struct lconf, mb), sizeof(((struct lconf *)0)->mb), lo,       \
     (int64_t)sizeof(((struct lconf *)0)->mb) - 1}
#define U32(nm, mb, lo, hi) {nm, F_U32, offsetof(struct lconf, mb), 0, lo, hi}

static const struct field FIELDS[] = {
    {"redis", F_ENDPOINT, offsetof(struct lconf, redis), 0, 0, 0},
    STR("redis_user", redis_user, 0),
    STR("redis_password", redis_password, 0),
    STR("redis_password_env", redis_password_env, 0),
    {"prefixes", F_PREFIXES, 0, 0, 1, LCONF_PREFIXES_MAX},
    STR("group", group, 1),
    STR("consumer", consumer, 1),
    {"database", F_DATABASE, offsetof(struct lconf, database), sizeof(((struct lconf *)0)->database),
     1, LCONF_URL_MAX},
    STR("database_env", database_env, 0),
    {"http", F_ENDPOINT, offsetof(struct lconf, http), 0, 0, 0},
    STR("http_token", http_token, 0),
    STR("http_token_env", http_token_env, 0),
    /* A batch is one transaction and one XACK: 10000 entries is ~3 MiB. */
    U32("batch_entries_max", batch_entries_max, 1, 10000),
    U32("block_ms", block_ms, 1, 60000),
    U32("retry_max_ms", retry_max_ms, 100, 600000),
    U32("db_timeout_ms", db_timeout_ms, 100, 600000),
    /* A wallet is ~100 bytes with a few lots: 10M is about 1 GB. */
    U32("wallet_cache_members", wallet_cache_members, 1, 10000000),
};
#define FIELD_COUNT (sizeof FIELDS / sizeof FIELDS[0])

/* Where errors go: the file and the caller's buffer. */
struct ctx {
    const char *path;
    const char *text; /* the file, NUL-terminated */
    struct lconf_error *err;
};

__attribute__((format(printf, 3, 4))) static int fail(const struct ctx *c,
                                                      const config_setting_t *s,
                                                      const char *fmt, ...)
{
    char msg[LCONF_ERROR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err->text, sizeof c->err->text, "%s:%u: %s", c->path,
             s ? config_setting_source_line(s) : 0u, msg);
    return -1;
}

void lconf_defaults(struct lconf *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->redis.host, sizeof cfg->redis.host, "127.0.0.1");
    cfg->redis.port = 6379;
    snprintf(cfg->prefixes[0], sizeof cfg->prefixes[0], "loyalty:");
    cfg->prefix_count = 1;
    snprintf(cfg->group, sizeof cfg->group, "ledger");
    snprintf(cfg->consumer, sizeof cfg->consumer, "ledger-1");
    snprintf(cfg->database, sizeof cfg->database, "sqlite://./ledger.db");
    snprintf(cfg->http.host, sizeof cfg->http.host, "127.0.0.1");
    cfg->http.port = 8091;
    cfg->batch_entries_max = 1000;
    cfg->block_ms = 1000;
    cfg->retry_max_ms = 5000;
    cfg->db_timeout_ms = 2000;
    cfg->wallet_cache_members = 250000;
}

int lconf_parse_endpoint(const char *s, struct lconf_endpoint *ep, struct lconf_error *err)
{
    const char *colon = strrchr(s, ':');
    size_t host_len = colon ? (size_t)(colon - s) : 0;
    char *end = NULL;
    errno = 0;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || host_len == 0 || host_len > LCONF_HOST_MAX ||
        strcspn(s, " \t") < host_len || colon[1] < '1' || colon[1] > '9' || *end != '\0' ||
        errno != 0 || port < 1 || port > 65535) {
        snprintf(err->text, sizeof err->text, "'%.80s' is not HOST:PORT (port 1..65535)", s);
        return -1;
    }
    memcpy(ep->host, s, host_len);
    ep->host[host_len] = '\0';
    ep->port = (int)port;
    return 0;
}

int lconf_check_database(const char *url, struct lconf_error *err)
{
    static const char *const PG[] = {"postgresql://", "postgres://"};
    if (strncmp(url, "sqlite://", 9) == 0) {
        size_t n = strlen(url + 9);
        if (n > 0 && n <= LCONF_PATH_MAX && strchr(url + 9, '?') == NULL)
            return 0;
        snprintf(err->text, sizeof err->text,
                 "'%.80s': sqlite:// takes a file path (sqlite:///abs/path or "
                 "sqlite://rel/path), without options", url);
        return -1;
    }
    for (size_t i = 0; i < sizeof PG / sizeof PG[0]; i++)
        if (strncmp(url, PG[i], strlen(PG[i])) == 0)
            return 0;
    snprintf(err->text, sizeof err->text,
             "'%.40s...' is not a database URL: use sqlite:///path/ledger.db or "
             "postgresql://user@host:port/dbname", url);
    return -1;
}

/* libconfig 1.5 reads an integer beyond 32 bits without an L suffix
 * wrapped (4294968296 becomes 1000). The literal on the setting's line is
 * read again here and must be the value libconfig saw. */
static int check_literal(const struct ctx *c, const config_setting_t *s, long long got)
{
    const char *line = c->text;
    for (unsigned n = config_setting_source_line(s); n > 1 && line; n--) {
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    const char *at = line ? strstr(line, config_setting_name(s)) : NULL;
    at = at ? at + strcspn(at, "=:\n") : NULL;
    if (at == NULL || (*at != '=' && *at != ':'))
        return 0; /* not on one line: libconfig's value stands */
    at += 1 + strspn(at + 1, " \t");
    int base = at[0] == '0' && (at[1] == 'x' || at[1] == 'X') ? 16 : 10;
    errno = 0;
    long long literal = strtoll(at, NULL, base);
    if (errno != 0 || literal != got)
        return fail(c, s, "%s: the number is out of range", config_setting_name(s));
    return 0;
}

static int apply_u32(const struct ctx *c, const config_setting_t *s, const struct field *f,
                     struct lconf *cfg)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return fail(c, s, "%s: expected an integer", f->name);
    long long v = config_setting_get_int64(s);
    if (check_literal(c, s, v) != 0)
        return -1;
    if (v < f->min || v > f->max)
        return fail(c, s, "%s: %lld is outside %lld..%lld", f->name, v, (long long)f->min,
                    (long long)f->max);
    uint32_t u = (uint32_t)v;
    memcpy((char *)cfg + f->off, &u, sizeof u);
    return 0;
}

static int copy_str(const struct ctx *c, const config_setting_t *s, const char *name,
                    const char *v, char *dst, size_t size, int64_t min)
{
    size_t n = strlen(v);
    if ((int64_t)n < min || n >= size)
        return fail(c, s, "%s: %zu bytes, expected %lld..%zu", name, n, (long long)min,
                    size - 1);
    memcpy(dst, v, n + 1);
    return 0;
}

static int apply_prefixes(const struct ctx *c, const config_setting_t *s, struct lconf *cfg)
{
    int n = config_setting_length(s);
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY || n < 1 || n > LCONF_PREFIXES_MAX)
        return fail(c, s, "prefixes: expected [ \"prefix\", ... ] with 1..%d strings",
                    LCONF_PREFIXES_MAX);
    for (int i = 0; i < n; i++) {
        const char *v = config_setting_get_string_elem(s, i);
        if (v == NULL)
            return fail(c, s, "prefixes: element %d is not a string", i + 1);
        if (copy_str(c, s, "prefixes", v, cfg->prefixes[i], sizeof cfg->prefixes[i], 1) != 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(cfg->prefixes[j], v) == 0)
                return fail(c, s, "prefixes: '%s' is given twice", v);
    }
    cfg->prefix_count = (uint32_t)n;
    return 0;
}

static int apply(const struct ctx *c, const config_setting_t *s, const struct field *f,
                 struct lconf *cfg)
{
    if (f->type == F_U32)
        return apply_u32(c, s, f, cfg);
    if (f->type == F_PREFIXES)
        return apply_prefixes(c, s, cfg);
    const char *v = config_setting_get_string(s);
    if (v == NULL)
        return fail(c, s, "%s: expected a string", f->name);
    struct lconf_error e;
    if (f->type == F_ENDPOINT) {
        if (lconf_parse_endpoint(v, (struct lconf_endpoint *)((char *)cfg + f->off), &e) != 0)
            return fail(c, s, "%s: %s", f->name, e.text);
        return 0;
    }
    if (f->type == F_DATABASE && lconf_check_database(v, &e) != 0)
        return fail(c, s, "%s: %s", f->name, e.text);
    return copy_str(c, s, f->name, v, (char *)cfg + f->off, f->size, f->min);
}

static int load_root(const struct ctx *c, const config_setting_t *root, struct lconf *cfg)
{
    const config_setting_t *sec = NULL;
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        if (strcmp(config_setting_name(s), "ledger") != 0 ||
            config_setting_type(s) != CONFIG_TYPE_GROUP)
            return fail(c, s, "unknown setting '%s': the file holds one group, "
                        "ledger = { ... };", config_setting_name(s));
        sec = s;
    }
    for (int i = 0; sec && i < config_setting_length(sec); i++) {
        const config_setting_t *s = config_setting_get_elem(sec, (unsigned)i);
        const struct field *f = NULL;
        for (size_t k = 0; k < FIELD_COUNT && f == NULL; k++)
            if (strcmp(FIELDS[k].name, config_setting_name(s)) == 0)
                f = &FIELDS[k];
        if (f == NULL)
            return fail(c, s, "unknown setting 'ledger.%s'", config_setting_name(s));
        if (apply(c, s, f, cfg) != 0)
            return -1;
    }
    return 0;
}

/* Reads `path` whole into a NUL-terminated buffer of at most LCONF_FILE_MAX. */
static char *read_text(const char *path, struct lconf_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(LCONF_FILE_MAX + 1) : NULL;
    size_t n = buf ? fread(buf, 1, LCONF_FILE_MAX + 1, f) : 0;
    if (f == NULL)
        snprintf(err->text, sizeof err->text, "%s: cannot read: %s", path, strerror(errno));
    else if (buf == NULL)
        snprintf(err->text, sizeof err->text, "%s: out of memory", path);
    else if (n > LCONF_FILE_MAX || ferror(f))
        snprintf(err->text, sizeof err->text, "%s: %s", path,
                 ferror(f) ? "read error" : "larger than 1 MiB");
    if (f)
        fclose(f);
    if (f == NULL || buf == NULL || n > LCONF_FILE_MAX || err->text[0] != '\0') {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        snprintf(err->text, sizeof err->text, "%s: holds a NUL byte", path);
        free(buf);
        return NULL;
    }
    return buf;
}

int lconf_load(struct lconf *cfg, const char *path, struct lconf_error *err)
{
    err->text[0] = '\0';
    char *text = read_text(path, err);
    if (text == NULL)
        return -1;
    struct ctx c = {path, text, err};
    config_t lc;
    config_init(&lc);
    config_set_options(&lc, 0); /* no int<->float autoconversion */
    int rc = -1;
    if (config_read_string(&lc, text) != CONFIG_TRUE)
        snprintf(err->text, sizeof err->text, "%s:%d: %s", path, config_error_line(&lc),
                 config_error_text(&lc));
    else
        rc = load_root(&c, config_root_setting(&lc), cfg);
    config_destroy(&lc);
    free(text);
    return rc;
}

/* Copies environment variable `name` (1..size-1 bytes) into dst[size]. */
static int from_env(const char *name, const char *what, char *dst, size_t size,
                    struct lconf_error *err)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0' || strlen(v) >= size) {
        snprintf(err->text, sizeof err->text,
                 "environment variable %s must hold the %s (1..%zu bytes)", name, what,
                 size - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static bool is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

int lconf_finish(struct lconf *cfg, struct lconf_error *err)
{
    if ((cfg->redis_password_env[0] &&
         from_env(cfg->redis_password_env, "Redis password", cfg->redis_password,
                  sizeof cfg->redis_password, err) != 0) ||
        (cfg->http_token_env[0] && from_env(cfg->http_token_env, "HTTP token", cfg->http_token,
                                            sizeof cfg->http_token, err) != 0) ||
        (cfg->database_env[0] && from_env(cfg->database_env, "database URL", cfg->database,
                                          sizeof cfg->database, err) != 0))
        return -1;
    if (lconf_check_database(cfg->database, err) != 0)
        return -1;
    if (cfg->redis_user[0] != '\0' && cfg->redis_password[0] == '\0') {
        snprintf(err->text, sizeof err->text,
                 "ledger.redis_user needs a redis_password (or redis_password_env)");
        return -1;
    }
    if (!is_loopback(cfg->http.host) && cfg->http_token[0] == '\0') {
        snprintf(err->text, sizeof err->text,
                 "HTTP on %.64s is reachable beyond this machine: set ledger.http_token (or "
                 "http_token_env), or bind 127.0.0.1 behind a TLS proxy", cfg->http.host);
        return -1;
    }
    return 0;
}
