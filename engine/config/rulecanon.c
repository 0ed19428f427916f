/* rulecanon.c - see rulecanon.h. The writer walks the same tables the
 * parser reads (config_rules_section), so a setting added to a table is
 * written without a change here; what a table does not describe (the
 * `extra` settings a section's finish parses) is written by hand below. */
#include "rulecanon.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <xxhash.h>

#include "caltime.h"
#include "config_rules.h"
#include "lyassert.h"

/* The rule sections in the order the canonical text writes them. */
static const char *const canon_sections[] = {"earning",  "tiers",       "rewards",
                                             "expiry",   "refunds",     "notices",
                                             "segments", "idempotency", "transfers"};

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_date(FILE *f, int64_t ms)
{
    struct caltime_date d = caltime_date(ms);
    fprintf(f, "\"%04d-%02u-%02u\"", (int)d.year, (unsigned)d.month, (unsigned)d.day);
}

static void put_fields(FILE *f, const struct cfg_field *fields, size_t n, const char *base,
                       const char *init, int depth);

/* Whether field `fl` of record `rec` holds what leaving it out gives
 * (the value in `init`). */
static bool as_absent(const struct cfg_field *fl, const char *rec, const char *init)
{
    switch (fl->type) {
    case CFG_U32:
        return *(const uint32_t *)(const void *)(rec + fl->off) ==
               *(const uint32_t *)(const void *)(init + fl->off);
    case CFG_BOOL:
        return *(const bool *)(const void *)(rec + fl->off) ==
               *(const bool *)(const void *)(init + fl->off);
    case CFG_I64:
    case CFG_DAYS_MS:
    case CFG_DATE_MS:
        return *(const int64_t *)(const void *)(rec + fl->off) ==
               *(const int64_t *)(const void *)(init + fl->off);
    case CFG_NAME:
        return strcmp(rec + fl->off, init + fl->off) == 0;
    case CFG_NAMES:
    case CFG_LIST:
        return *(const uint32_t *)(const void *)(rec + fl->aux) == 0;
    default:
        return false;
    }
}

static void put_list(FILE *f, const struct cfg_field *fl, const char *base, int depth)
{
    const struct cfg_list *l = fl->list;
    uint32_t n = *(const uint32_t *)(const void *)(base + fl->aux);
    char *zero = calloc(1, l->stride);
    LY_ASSERT(zero != NULL);
    const char *init = l->init ? l->init : zero;
    fputs("(", f);
    for (uint32_t i = 0; i < n; i++) {
        fprintf(f, "%s\n%*s{\n", i ? "," : "", 2 * (depth + 1), "");
        put_fields(f, l->fields, l->field_count, base + fl->off + (size_t)i * l->stride, init,
                   depth + 2);
        fprintf(f, "%*s}", 2 * (depth + 1), "");
    }
    if (n > 0)
        fprintf(f, "\n%*s", 2 * depth, "");
    fputc(')', f);
    free(zero);
}

static void put_value(FILE *f, const struct cfg_field *fl, const char *base, int depth)
{
    const char *at = base + fl->off;
    switch (fl->type) {
    case CFG_NAME:
        put_string(f, at);
        return;
    case CFG_NAMES: {
        uint32_t n = *(const uint32_t *)(const void *)(base + fl->aux);
        fputs("[", f);
        for (uint32_t i = 0; i < n; i++) {
            fputs(i ? ", " : " ", f);
            put_string(f, at + (size_t)i * (RULEBOOK_NAME_MAX + 1));
        }
        fputs(n ? " ]" : "]", f);
        return;
    }
    case CFG_LIST:
        put_list(f, fl, base, depth);
        return;
    case CFG_BOOL:
        fputs(*(const bool *)(const void *)at ? "true" : "false", f);
        return;
    case CFG_U32:
        fprintf(f, "%u", (unsigned)*(const uint32_t *)(const void *)at);
        return;
    case CFG_I64:
        fprintf(f, "%lld", (long long)*(const int64_t *)(const void *)at);
        return;
    case CFG_DAYS_MS:
        fprintf(f, "%lld", (long long)(*(const int64_t *)(const void *)at / CALTIME_DAY_MS));
        return;
    case CFG_DATE_MS:
        put_date(f, *(const int64_t *)(const void *)at);
        return;
    default:
        LY_ASSERT(!"not a rulebook setting type");
    }
}

/* Writes every field of `fields` at `base`; in a list element (`init`
 * not NULL) an optional field equal to `init` is left out. */
static void put_fields(FILE *f, const struct cfg_field *fields, size_t n, const char *base,
                       const char *init, int depth)
{
    for (size_t k = 0; k < n; k++) {
        const struct cfg_field *fl = &fields[k];
        if (init != NULL && !fl->required && as_absent(fl, base, init))
            continue;
        fprintf(f, "%*s%s = ", 2 * depth, "", fl->name);
        put_value(f, fl, base, depth);
        fputs(";\n", f);
    }
}

static void put_cuts(FILE *f, const char *name, const int64_t *cuts)
{
    fprintf(f, "  %s = [", name);
    for (int i = 0; i < RULEBOOK_RFM_CUTS; i++)
        fprintf(f, "%s%lld", i ? ", " : " ", (long long)cuts[i]);
    fputs(" ];\n", f);
}

static void put_segments_extra(FILE *f, const struct rulebook_segments *sg)
{
    static const char *const dims[] = {"r", "f", "m"};
    put_cuts(f, "recency_days", sg->recency_days);
    put_cuts(f, "frequency", sg->frequency);
    put_cuts(f, "monetary", sg->monetary);
    fputs("  map = (", f);
    for (uint32_t i = 0; i < sg->segment_count; i++) {
        const struct rulebook_segment *s = &sg->segments[i];
        fprintf(f, "%s\n    { name = ", i ? "," : "");
        put_string(f, s->name);
        for (int d = 0; d < 3; d++)
            fprintf(f, "; %s = [ %u, %u ]", dims[d], (unsigned)s->lo[d], (unsigned)s->hi[d]);
        fputs("; }", f);
    }
    fputs("\n  );\n  value_classes = (", f);
    for (uint32_t i = 0; i < sg->value_class_count; i++) {
        fprintf(f, "%s\n    { name = ", i ? "," : "");
        put_string(f, sg->value_classes[i].name);
        fprintf(f, "; share_bp = %lld; }", (long long)sg->value_classes[i].share_bp);
    }
    fputs("\n  );\n", f);
}

/* The settings section `name` parses itself (its cfg_section's extra). */
static void put_extra(FILE *f, const char *name, const struct rulebook *rb)
{
    if (strcmp(name, "tiers") == 0) {
        fprintf(f, "  basis = \"%s\";\n",
                rb->basis == RULEBOOK_BASIS_SPEND ? "spend" : "points");
        fprintf(f, "  review = \"%s\";\n",
                rb->review == RULEBOOK_REVIEW_FIXED ? "fixed" : "anniversary");
        if (rb->review == RULEBOOK_REVIEW_FIXED)
            fprintf(f, "  review_date = \"%02u-%02u\";\n", (unsigned)rb->review_month,
                    (unsigned)rb->review_day);
        fprintf(f, "  refund_downgrade = \"%s\";\n",
                rb->refund_downgrade == RULEBOOK_REFUND_REVIEW ? "review" : "immediate");
        fprintf(f, "  qualify_on = \"%s\";\n",
                rb->qualify_on == RULEBOOK_QUALIFY_RELEASE ? "release" : "earn");
        fprintf(f, "  downgrade = \"%s\";\n",
                rb->downgrade == RULEBOOK_DOWNGRADE_NEVER ? "never" : "review");
    } else if (strcmp(name, "expiry") == 0) {
        static const char *const modes[] = {"months", "days", "end_of_year", "never"};
        LY_ASSERT((unsigned)rb->expiry_mode < sizeof(modes) / sizeof(modes[0]));
        fprintf(f, "  mode = \"%s\";\n", modes[rb->expiry_mode]);
    } else if (strcmp(name, "refunds") == 0) {
        fprintf(f, "  shortfall = \"%s\";\n",
                rb->shortfall == RULEBOOK_SHORTFALL_FORGIVE ? "forgive" : "negative");
    } else if (strcmp(name, "segments") == 0) {
        put_segments_extra(f, &rb->seg);
    }
}

char *rulecanon_text(const struct rulebook *rb)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    fputs("# loyaltyd rulebook, canonical form\n", f);
    for (size_t k = 0; k < sizeof(canon_sections) / sizeof(canon_sections[0]); k++) {
        const struct cfg_section *sec = config_rules_section(canon_sections[k]);
        LY_ASSERT(sec != NULL);
        if (strcmp(sec->name, "segments") == 0 && !rb->seg.enabled)
            continue; /* absent means off */
        fprintf(f, "%s = {\n", sec->name);
        put_fields(f, sec->fields, sec->field_count, (const char *)rb, NULL, 1);
        put_extra(f, sec->name, rb);
        fputs("};\n", f);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void rulecanon_hash_text(const char *text, char *hex)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(text, strlen(text)));
    for (size_t i = 0; i < sizeof(c.digest); i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned)c.digest[i]);
}

int rulecanon_hash(const struct rulebook *rb, char *hex)
{
    char *text = rulecanon_text(rb);
    if (text == NULL)
        return -1;
    rulecanon_hash_text(text, hex);
    free(text);
    return 0;
}

static int parse_root(struct cfg_ctx *c, const config_setting_t *root, void *arg)
{
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const struct cfg_section *sec = config_rules_section(config_setting_name(s));
        if (sec == NULL)
            return cfg_fail(c, s, "unknown section '%s' in a rulebook (expected %s)",
                            config_setting_name(s), CONFIG_RULES_SECTIONS);
        if (cfg_load_section(c, s, sec, arg) != 0)
            return -1;
    }
    return 0;
}

int rulecanon_parse(const char *text, const char *what, struct rulebook *rb,
                    struct config_error *err)
{
    config_rules_defaults(rb);
    return cfg_parse_text(text, what, parse_root, rb, err);
}

int rulecanon_verify(const char *text, const char *hash, struct rulebook *rb,
                     struct config_error *err)
{
    char what[32 + RULECANON_HASH_LEN];
    char got[RULECANON_HASH_LEN + 1];
    snprintf(what, sizeof(what), "rulebook %.*s", RULECANON_SHORT_LEN, hash);
    if (rulecanon_parse(text, what, rb, err) != 0)
        return -1;
    /* The bytes as stored, not a canonical form made again: a text written
     * by an older build (without a setting added since) still verifies, and
     * parses with the new setting at its default. */
    rulecanon_hash_text(text, got);
    if (strcmp(got, hash) != 0) {
        snprintf(err->text, sizeof(err->text), "%s: the text hashes to %s, not %s", what, got,
                 hash);
        return -1;
    }
    return 0;
}

static int codec_parse(const char *text, struct rulebook *rb, char *err, size_t cap)
{
    struct config_error cerr;
    if (rulecanon_parse(text, "rulebook", rb, &cerr) == 0)
        return 0;
    snprintf(err, cap, "%s", cerr.text);
    return -1;
}

const struct rulebook_codec *rulecanon_codec(void)
{
    static const struct rulebook_codec codec = {rulecanon_text, codec_parse};
    return &codec;
}
