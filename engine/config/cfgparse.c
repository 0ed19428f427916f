/* cfgparse.c - see cfgparse.h. */
#include "cfgparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "lyassert.h"

int cfg_fail(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
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

int cfg_parse_endpoint(const char *s, struct config_endpoint *ep,
                       struct config_error *err)
{
    const char *colon = strrchr(s, ':');
    size_t host_len = colon ? (size_t)(colon - s) : 0;
    long port = 0;
    int ok = colon != NULL && host_len > 0 && host_len <= CONFIG_HOST_MAX &&
             strcspn(s, " \t") >= host_len && colon[1] >= '1' && colon[1] <= '9' &&
             strlen(colon + 1) <= 5 && strspn(colon + 1, "0123456789") == strlen(colon + 1);
    if (ok)
        port = strtol(colon + 1, NULL, 10);
    if (!ok || port < 1 || port > 65535) {
        snprintf(err->text, sizeof(err->text),
                 "'%.64s' is not HOST:PORT (port 1..65535)", s);
        return -1;
    }
    memcpy(ep->host, s, host_len);
    ep->host[host_len] = '\0';
    ep->port = (int)port;
    return 0;
}

int cfg_get_choice(struct cfg_ctx *c, const config_setting_t *s, const char *what,
                   const char *const *choices, uint32_t *index)
{
    const char *v = config_setting_get_string(s);
    uint32_t n = 0;
    for (; choices[n] != NULL; n++) {
        if (v != NULL && strcmp(v, choices[n]) == 0) {
            *index = n;
            return 0;
        }
    }
    char list[128] = "";
    size_t len = 0;
    for (uint32_t i = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
                                i == 0 ? "" : (i + 1 == n ? " or " : ", "), choices[i]);
    return cfg_fail(c, s, "%s must be %s", what, list);
}

int cfg_get_int(struct cfg_ctx *c, const config_setting_t *s, const char *what,
                   int64_t min, int64_t max, int64_t *out)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return cfg_fail(c, s, "%s must be an integer", what);
    long long v = config_setting_get_int64(s);
    if (v < min || v > max)
        return cfg_fail(c, s, "%s is %lld, allowed %lld..%lld", what, v, (long long)min,
                        (long long)max);
    *out = v;
    return 0;
}

/* A name used on the wire (tier, perk, category, store, campaign, reward):
 * 1..RULEBOOK_NAME_MAX bytes of printable ASCII without spaces, as the
 * decoder requires of the names in entries, so that a configured name can
 * match them. */
int cfg_check_name(struct cfg_ctx *c, const config_setting_t *s, const char *what,
                      char *dst)
{
    const char *name = config_setting_get_string(s);
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > RULEBOOK_NAME_MAX)
        return cfg_fail(c, s, "%s: a name must be a string of 1..%d bytes", what,
                        RULEBOOK_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e)
            return cfg_fail(c, s, "%s: '%s' may hold only printable ASCII without spaces",
                            what, name);
    memcpy(dst, name, len + 1);
    return 0;
}

/* A list of names [ "a", "b" ] into a CFG_NAMES field. */
static int load_names(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_field *f,
                      char *base, const char *owner)
{
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return cfg_fail(c, s, "%s must be a list of names [ \"a\", \"b\" ]", f->name);
    int n = config_setting_length(s);
    if (n > f->max)
        return cfg_fail(c, s, "%s has at most %lld %s", owner, (long long)f->max, f->name);
    char(*names)[RULEBOOK_NAME_MAX + 1] = (void *)(base + f->off);
    for (int i = 0; i < n; i++)
        if (cfg_check_name(c, config_setting_get_elem(s, (unsigned)i), f->name, names[i]) != 0)
            return -1;
    *(uint32_t *)(void *)(base + f->aux) = (uint32_t)n;
    return 0;
}

static int set_string(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_field *f,
                      char *dst)
{
    const char *str = config_setting_get_string(s);
    if (str == NULL)
        return cfg_fail(c, s, "'%s' must be a string", f->name);
    if (f->type == CFG_ENDPOINT) {
        struct config_error e;
        if (cfg_parse_endpoint(str, (struct config_endpoint *)(void *)dst, &e) != 0)
            return cfg_fail(c, s, "'%s': %s", f->name, e.text);
        return 0;
    }
    if (f->type == CFG_DATE_MS) {
        if (cfg_parse_date(str, (int64_t *)(void *)dst) != 0)
            return cfg_fail(c, s, "%s '%s' is not a day \"YYYY-MM-DD\" of 1970..9999",
                            f->name, str);
        return 0;
    }
    size_t len = strlen(str);
    if (len < (size_t)f->min || len > (size_t)f->max)
        return cfg_fail(c, s, "'%s' must be %lld..%lld bytes long", f->name,
                        (long long)f->min, (long long)f->max);
    memcpy(dst, str, len + 1);
    return 0;
}

static int set_int(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_field *f,
                   char *dst)
{
    int64_t v = 0;
    if (cfg_get_int(c, s, f->name, f->min, f->max, &v) != 0)
        return -1;
    if (f->type == CFG_U32)
        *(uint32_t *)(void *)dst = (uint32_t)v;
    else if (f->type == CFG_U64)
        *(uint64_t *)(void *)dst = (uint64_t)v;
    else if (f->type == CFG_I64)
        *(int64_t *)(void *)dst = v;
    else
        *(int64_t *)(void *)dst = v * CALTIME_DAY_MS;
    return 0;
}

static int load_list(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_field *f,
                     char *base);

/* Sets field `f` at `base` from setting `s`. `in`: the list whose element
 * holds `s`, NULL in a section. */
static int set_field(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_field *f,
                     char *base, const struct cfg_list *in)
{
    char *dst = base + f->off;
    switch (f->type) {
    case CFG_STRING:
    case CFG_ENDPOINT:
    case CFG_DATE_MS:
        return set_string(c, s, f, dst);
    case CFG_NAME:
        return cfg_check_name(c, s, f->name, dst);
    case CFG_NAMES:
        return load_names(c, s, f, base, in ? in->owner : "a section");
    case CFG_LIST:
        return load_list(c, s, f, base);
    case CFG_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return cfg_fail(c, s, "'%s' must be true or false", f->name);
        *(bool *)(void *)dst = config_setting_get_bool(s) != 0;
        return 0;
    case CFG_U32:
    case CFG_U64:
    case CFG_I64:
    case CFG_DAYS_MS:
        return set_int(c, s, f, dst);
    }
    LY_ASSERT(!"field type out of range");
    return -1;
}

/* Applies every setting of group `s` through `fields` at `base`; `extra`
 * names settings the caller parses itself. Unknown settings are errors.
 * `in`: the list `s` is an element of, NULL for a section. */
static int load_settings(struct cfg_ctx *c, const config_setting_t *s,
                         const struct cfg_field *fields, size_t n, const char *const *extra,
                         char *base, const struct cfg_list *in)
{
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *child = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(child);
        const struct cfg_field *f = NULL;
        for (size_t k = 0; k < n && f == NULL; k++)
            if (strcmp(fields[k].name, name) == 0)
                f = &fields[k];
        bool known = f != NULL;
        for (size_t k = 0; extra && extra[k] && !known; k++)
            known = strcmp(extra[k], name) == 0;
        if (!known && in != NULL)
            return cfg_fail(c, child, "unknown setting '%s' in %s", name, in->elem);
        if (!known)
            return cfg_fail(c, child, "unknown setting '%s.%s'", config_setting_name(s), name);
        if (f != NULL && set_field(c, child, f, base, in) != 0)
            return -1;
    }
    return 0;
}

/* Parses element `e` of list `l` into record `i` of `recs`. */
static int load_record(struct cfg_ctx *c, const config_setting_t *e, const struct cfg_list *l,
                       char *recs, uint32_t i)
{
    char *rec = recs + (size_t)i * l->stride;
    if (l->init != NULL)
        memcpy(rec, l->init, l->stride);
    else
        memset(rec, 0, l->stride);
    if (!config_setting_is_group(e))
        return cfg_fail(c, e, "%s must be a group { ... }", l->elem);
    if (load_settings(c, e, l->fields, l->field_count, NULL, rec, l) != 0)
        return -1;
    for (size_t k = 0; k < l->field_count; k++)
        if (l->fields[k].required && config_setting_get_member(e, l->fields[k].name) == NULL)
            return cfg_fail(c, e, "%s needs '%s'", l->elem, l->fields[k].name);
    if (l->unique != NULL) {
        const struct cfg_field *key = &l->fields[0];
        LY_ASSERT(key->type == CFG_NAME && key->required);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(recs + (size_t)j * l->stride + key->off, rec + key->off) == 0)
                return cfg_fail(c, config_setting_get_member(e, key->name),
                                "%s '%s' is defined twice", l->unique, rec + key->off);
    }
    return l->check ? l->check(c, e, recs, i) : 0;
}

/* A list of groups ( { ... }, ... ) into a CFG_LIST field. */
static int load_list(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_field *f,
                     char *base)
{
    const struct cfg_list *l = f->list;
    const char *group = config_setting_name(config_setting_parent(s));
    int n = config_setting_length(s);
    if (!config_setting_is_list(s) || n < f->min || n > f->max)
        return cfg_fail(c, s, "%s%s%s must be a list ( {...}, ... ) of %lld..%lld %s",
                        group ? group : "", group ? "." : "", f->name, (long long)f->min,
                        (long long)f->max, l->plural);
    for (int i = 0; i < n; i++)
        if (load_record(c, config_setting_get_elem(s, (unsigned)i), l, base + f->off,
                        (uint32_t)i) != 0)
            return -1;
    *(uint32_t *)(void *)(base + f->aux) = (uint32_t)n;
    return 0;
}

int cfg_load_section(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_section *sec,
                     void *base)
{
    if (!config_setting_is_group(s))
        return cfg_fail(c, s, "'%s' must be a group { ... }", sec->name);
    if (load_settings(c, s, sec->fields, sec->field_count, sec->extra, (char *)base, NULL))
        return -1;
    return sec->finish ? sec->finish(c, s, base) : 0;
}

static size_t skip_quoted(const char *t, size_t i, size_t n)
{
    for (i++; i < n && t[i] != '"'; i++)
        if (t[i] == '\\' && i + 1 < n)
            i++;
    return i + 1;
}

static size_t skip_comment(const char *t, size_t i, size_t n)
{
    if (t[i] == '#' || t[i + 1] == '/') {
        while (i < n && t[i] != '\n')
            i++;
        return i;
    }
    for (i += 2; i + 1 < n && !(t[i] == '*' && t[i + 1] == '/'); i++)
        ;
    return i + 2;
}

static bool starts_comment(const char *t, size_t i, size_t n)
{
    return t[i] == '#' || (t[i] == '/' && i + 1 < n && (t[i + 1] == '/' || t[i + 1] == '*'));
}

/* A digit that begins a token (not inside a name or after a decimal point). */
static bool starts_number(const char *t, size_t i)
{
    if (!isdigit((unsigned char)t[i]))
        return false;
    return i == 0 || !(isalnum((unsigned char)t[i - 1]) || t[i - 1] == '_' || t[i - 1] == '.');
}

/* Copies `t` to `out`, adding the L suffix to decimal integers outside the
 * 32-bit range that lack it: libconfig 1.5 reads those as 32-bit and wraps
 * them silently (4294968296 became 1000). Strings and comments are copied
 * as they are; line numbers do not change. `out` holds 2 * n + 1 bytes. */
static void widen_integers(const char *t, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t from = i;
        if (t[i] == '"') {
            i = skip_quoted(t, i, n);
        } else if (starts_comment(t, i, n)) {
            i = skip_comment(t, i, n);
        } else if (starts_number(t, i)) {
            while (i < n && isalnum((unsigned char)t[i]))
                i++;
            size_t len = i - from;
            int plain = strspn(t + from, "0123456789") == len && (i >= n || t[i] != '.');
            memcpy(out + o, t + from, len);
            o += len;
            if (plain && (len > 10 || (len == 10 && strncmp(t + from, "2147483647", 10) > 0)))
                out[o++] = 'L';
            continue;
        } else {
            i++;
        }
        if (i > n)
            i = n;
        memcpy(out + o, t + from, i - from);
        o += i - from;
    }
    out[o] = '\0';
}

/* The 1-based line of byte `at` in `text`. */
static unsigned line_of(const char *text, size_t at)
{
    unsigned line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

char *cfg_read_file(const char *path, struct config_error *err)
{
    FILE *f = fopen(path, "rb");
    char *raw = f ? malloc(CONFIG_FILE_MAX + 1) : NULL;
    size_t n = raw ? fread(raw, 1, CONFIG_FILE_MAX + 1, f) : 0;
    if (f == NULL)
        snprintf(err->text, sizeof(err->text), "%s: cannot read: %s", path, strerror(errno));
    else if (raw == NULL)
        snprintf(err->text, sizeof(err->text), "%s: out of memory", path);
    else if (n > CONFIG_FILE_MAX)
        snprintf(err->text, sizeof(err->text), "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
    else if (memchr(raw, '\0', n) != NULL)
        snprintf(err->text, sizeof(err->text), "%s:%u: a NUL byte (not a text file?)", path,
                 line_of(raw, (size_t)((const char *)memchr(raw, '\0', n) - raw)));
    else
        raw[n] = '\0';
    if (f)
        fclose(f);
    if (f == NULL || raw == NULL || n > CONFIG_FILE_MAX || memchr(raw, '\0', n) != NULL) {
        free(raw);
        return NULL;
    }
    return raw;
}

/* Reads exactly `n` decimal digits at `s`: no sign, no space, no fewer. */
static bool digits(const char *s, int n, int32_t *out)
{
    int32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Whether y-m-d is a day of the calendar in 1970..9999 (the event times
 * the decoder accepts); puts 00:00 UTC of it in `*ms`. */
static bool real_day(int32_t y, int32_t m, int32_t d, int64_t *ms)
{
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > caltime_month_days(y, m))
        return false;
    struct caltime_date day = {y, (uint8_t)m, (uint8_t)d};
    *ms = caltime_ts(day);
    return true;
}

/* See cfgparse.h. */
int cfg_parse_date(const char *s, int64_t *ms)
{
    int32_t y, m, d;
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
        !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
        return -1;
    return real_day(y, m, d, ms) ? 0 : -1;
}

int cfg_parse_month_day(const char *s, uint8_t *month, uint8_t *day)
{
    int32_t m, d;
    int64_t ms;
    /* Checked in 2023, not a leap year: a yearly date must exist every year. */
    if (s == NULL || strlen(s) != 5 || s[2] != '-' || !digits(s, 2, &m) ||
        !digits(s + 3, 2, &d) || !real_day(2023, m, d, &ms))
        return -1;
    *month = (uint8_t)m;
    *day = (uint8_t)d;
    return 0;
}

/* ---- earning ------------------------------------------------------------ */

int cfg_parse_text(const char *text, const char *path, cfg_root_fn *root, void *arg,
                   struct config_error *err)
{
    struct cfg_ctx c = {path, err};
    size_t n = strlen(text);
    if (n > CONFIG_FILE_MAX) {
        snprintf(err->text, sizeof(err->text), "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
        return -1;
    }
    char *wide = malloc(2 * n + 1);
    if (wide == NULL) {
        snprintf(err->text, sizeof(err->text), "%s: out of memory", path);
        return -1;
    }
    widen_integers(text, n, wide);
    config_t lc;
    config_init(&lc);
    config_set_options(&lc, 0); /* no int<->float autoconversion */
    int rc = -1;
    if (config_read_string(&lc, wide) != CONFIG_TRUE)
        snprintf(err->text, sizeof(err->text), "%s:%d: %s", path, config_error_line(&lc),
                 config_error_text(&lc));
    else
        rc = root(&c, config_root_setting(&lc), arg);
    config_destroy(&lc);
    free(wide);
    return rc;
}
