/* config_int.h - the parsing framework shared by config.c (the framework,
 * the daemon section, loading) and config_rules.c (the rulebook sections).
 * Not a public interface: only the config module includes it.
 *
 * Settings are described by tables: a field names a setting, its type,
 * where its value goes (an offset from the base the loader writes to) and
 * its allowed range, so that every setting is parsed, range checked and
 * reported the same way. A list of groups ( { ... }, ... ) is a field too:
 * each element is parsed by its own table into one record of an array.
 * Every error names the line of the setting (or list element) at fault.
 */
#ifndef LOYALTY_CONFIG_INT_H
#define LOYALTY_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "config.h"

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

/* A top-level section: its table (offsets in struct config) and, for what
 * a table cannot say, the settings in `extra` (NULL-terminated, or NULL)
 * that `finish` parses after the table's settings are in. */
struct cfg_section {
    const char *name;
    const struct cfg_field *fields;
    size_t field_count;
    const char *const *extra;
    int (*finish)(struct cfg_ctx *c, const config_setting_t *s, struct config *cfg);
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

/* The rulebook sections and their date formats (config_rules.c). */

/* Parses "YYYY-MM-DD" (exact digits, a real day of 1970..9999) into `*ms`,
 * 00:00 UTC of that day. Returns 0, or -1 when `s` is NULL or no such day. */
int cfg_parse_date(const char *s, int64_t *ms);

/* Parses "MM-DD", exact digits, a day every year has (02-29 is refused).
 * Returns 0, or -1 when `s` is NULL or not such a day. */
int cfg_parse_month_day(const char *s, uint8_t *month, uint8_t *day);

extern const struct cfg_section cfg_rule_sections[];
extern const size_t cfg_rule_section_count;

/* The segments section (config_segments.c) and its defaults (a standard
 * RFM segment table and four value classes; segments off). */
extern const struct cfg_section cfg_segments_section;
void cfg_segments_defaults(struct rulebook_segments *sg);

#endif
