/* cfgparse.h - the table-driven parsing framework of the config layer,
 * used by config.c (the daemon section, loading a file) and by
 * config_rules.c and config_segments.c (the rulebook sections). A leaf: it
 * knows no section and calls back nobody but the `finish` and `check`
 * functions a table names.
 *
 * Settings are described by tables: a field names a setting, its type,
 * where its value goes (an offset from the base the loader writes to) and
 * its allowed range, so that every setting is parsed, range checked and
 * reported the same way. A list of groups ( { ... }, ... ) is a field too:
 * each element is parsed by its own table into one record of an array.
 * Every error names the line of the setting (or list element) at fault.
 */
#ifndef LOYALTY_CFGPARSE_H
#define LOYALTY_CFGPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "rulebook.h"

#define CONFIG_HOST_MAX 255
#define CONFIG_ERROR_MAX 512
/* The largest configuration or rulebook text read: a rulebook is a few KiB. */
#define CONFIG_FILE_MAX (1 << 20)

struct config_error {
    char text[CONFIG_ERROR_MAX]; /* "FILE:LINE: problem" */
};

struct config_endpoint {
    char host[CONFIG_HOST_MAX + 1];
    int port; /* 1..65535 */
};

/* Where errors go: the file being read and the caller's error buffer. */
struct cfg_ctx {
    const char *path;
    struct config_error *err;
};

enum cfg_type {
    CFG_STRING,   /* char[aux], length min..max */
    CFG_ENDPOINT, /* struct config_endpoint from "HOST:PORT" */
    CFG_NAME,     /* char[RULEBOOK_NAME_MAX + 1], a wire name (printable ASCII) */
    CFG_NAMES,    /* char[max][RULEBOOK_NAME_MAX + 1] from [ "a", ... ]; count at aux */
    CFG_U32,
    CFG_U64,
    CFG_I64,
    CFG_BOOL,
    CFG_DAYS_MS,  /* int64 ms from a number of days */
    CFG_DATE_MS,  /* int64 ms of 00:00 UTC from "YYYY-MM-DD" */
    CFG_LIST      /* records from ( { ... }, ... ), see struct cfg_list; count at aux */
};

struct cfg_list;

struct cfg_field {
    const char *name;
    enum cfg_type type;
    size_t off;        /* where the value goes, from the loader's base */
    size_t aux;        /* CFG_STRING: buffer size; CFG_NAMES, CFG_LIST: offset of
                        * the uint32_t element count */
    int64_t min, max;  /* integers: range; CFG_STRING: length; CFG_NAMES,
                        * CFG_LIST: element count */
    bool required;     /* in a list element: the setting must be given */
    const struct cfg_list *list; /* CFG_LIST: how each element is parsed */
};

/* Table entries. `base` is the struct the offsets are taken in. */
#define CFG_FIELD(nm, ty, base, mb, lo, hi) \
    {.name = (nm), .type = (ty), .off = offsetof(base, mb), .min = (lo), .max = (hi)}
#define CFG_NEED(nm, ty, base, mb, lo, hi)                                              \
    {.name = (nm), .type = (ty), .off = offsetof(base, mb), .min = (lo), .max = (hi), \
     .required = true}
#define CFG_NAMES_OF(nm, base, mb, count_mb, hi)                                       \
    {.name = (nm), .type = CFG_NAMES, .off = offsetof(base, mb),                     \
     .aux = offsetof(base, count_mb), .min = 0, .max = (hi)}
#define CFG_LIST_OF(nm, base, mb, count_mb, lo, hi, l)                                 \
    {.name = (nm), .type = CFG_LIST, .off = offsetof(base, mb),                      \
     .aux = offsetof(base, count_mb), .min = (lo), .max = (hi), .list = (l)}
#define CFG_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* How the elements of a CFG_LIST are parsed and checked. Each record is
 * reset to `init` (zeros when NULL) before its element is parsed, so no
 * value of an earlier file or of the defaults leaks into it. */
struct cfg_list {
    const char *plural; /* "levels": "... must be a list of 1..8 levels" */
    const char *elem;   /* "a tier level": "unknown setting 'x' in a tier level" */
    const char *owner;  /* "a tier": "a tier has at most 8 perks" */
    const char *unique; /* "tier": "tier 'x' is defined twice" (the first field
                         * is a CFG_NAME); NULL: names may repeat */
    const struct cfg_field *fields;
    size_t field_count;
    size_t stride;      /* sizeof one record */
    const void *init;   /* record template, or NULL */
    /* Checks record `i` of the array `recs` (parsed from `elem`) against
     * itself and records 0..i-1; NULL when the table says it all. */
    int (*check)(struct cfg_ctx *c, const config_setting_t *elem, const void *recs,
                 uint32_t i);
};

/* A top-level section: its table (offsets in the struct the section fills:
 * struct config for the daemon section, struct rulebook for the rule
 * sections) and, for what a table cannot say, the settings in `extra`
 * (NULL-terminated, or NULL) that `finish` parses after the table's
 * settings are in, given the same base. */
struct cfg_section {
    const char *name;
    const struct cfg_field *fields;
    size_t field_count;
    const char *const *extra;
    int (*finish)(struct cfg_ctx *c, const config_setting_t *s, void *base);
};

/* Formats "PATH:LINE: message" into c->err (LINE: the line of `s`, 0 when
 * NULL) and returns -1. */
int cfg_fail(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Stores in `*index` which of `choices` (NULL-terminated, >= 2) string
 * setting `s` names. Returns 0, or -1 with "WHAT must be "a" or "b"". */
int cfg_get_choice(struct cfg_ctx *c, const config_setting_t *s, const char *what,
                   const char *const *choices, uint32_t *index);

/* Stores integer setting `s` (named `what` in errors) in `*out` when it
 * lies in min..max. Returns 0, or -1 with the range in the message. */
int cfg_get_int(struct cfg_ctx *c, const config_setting_t *s, const char *what, int64_t min,
                int64_t max, int64_t *out);

/* Copies wire name `s` (1..RULEBOOK_NAME_MAX printable ASCII bytes, no
 * spaces) into dst[RULEBOOK_NAME_MAX + 1]. Returns 0, or -1. */
int cfg_check_name(struct cfg_ctx *c, const config_setting_t *s, const char *what, char *dst);

/* Parses "YYYY-MM-DD" (exact digits, a real day of 1970..9999) into `*ms`,
 * 00:00 UTC of that day. Returns 0, or -1 when `s` is NULL or no such day. */
int cfg_parse_date(const char *s, int64_t *ms);

/* Parses "MM-DD", exact digits, a day every year has (02-29 is refused).
 * Returns 0, or -1 when `s` is NULL or not such a day. */
int cfg_parse_month_day(const char *s, uint8_t *month, uint8_t *day);

/* Parses "HOST:PORT" into `*ep`. Returns 0, or -1 with err->text set. */
int cfg_parse_endpoint(const char *s, struct config_endpoint *ep, struct config_error *err);

/* Applies group `s` to `base` through section `sec`: every setting parsed
 * and range checked by the table, unknown ones refused, then `finish`.
 * Returns 0, or -1 with c->err set. */
int cfg_load_section(struct cfg_ctx *c, const config_setting_t *s, const struct cfg_section *sec,
                     void *base);

/* Reads the text of `path` (at most CONFIG_FILE_MAX bytes, no NUL byte)
 * into a malloc'd NUL-terminated buffer the caller frees. Returns NULL
 * with err->text = "PATH: problem". */
char *cfg_read_file(const char *path, struct config_error *err);

/* Called with the root group of a parsed text; returns 0 or -1. */
typedef int cfg_root_fn(struct cfg_ctx *c, const config_setting_t *root, void *arg);

/* Parses libconfig `text` (integers of any size are read as 64-bit) and
 * hands its root to `root`. Errors name `path` (a file name, or what the
 * text is, e.g. "rulebook 3fa4...") and the line. Returns 0, or -1 with
 * err->text = "PATH:LINE: problem". */
int cfg_parse_text(const char *text, const char *path, cfg_root_fn *root, void *arg,
                   struct config_error *err);

#endif
