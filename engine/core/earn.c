/* earn.c - see earn.h. */
#include "earn.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lyassert.h"
#include "reasons.h"

#define BP 10000

int64_t earn_points(const struct rulebook *rb, int64_t amount, int64_t multiplier_bp)
{
    LY_ASSERT(amount >= 0 && amount <= PROTO_AMOUNT_MAX);
    LY_ASSERT(multiplier_bp >= 0 && multiplier_bp <= RULEBOOK_MULTIPLIER_BP_MAX);
    LY_ASSERT(rb->minor_per_unit >= 1);
    /* Fits: see the _Static_assert in rulebook.h. */
    return amount * rb->points_per_unit * multiplier_bp / (rb->minor_per_unit * 10000);
}

int64_t earn_category_bp(const struct rulebook *rb, const char *cat)
{
    for (uint32_t i = 0; i < rb->category_count; i++)
        if (strcmp(rb->categories[i].cat, cat) == 0)
            return rb->categories[i].multiplier_bp;
    return BP;
}

static bool in_list(const char list[][RULEBOOK_NAME_MAX + 1], uint32_t n, const char *s)
{
    if (n == 0)
        return true; /* no filter: everything matches */
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* Whether campaign `c` applies to sale `e` at all (time, store, size). */
static bool campaign_active(const struct rulebook_campaign *c, const struct proto_entry *e)
{
    return e->ts >= c->start_ms && e->ts < c->end_ms && e->amount >= c->min_amount &&
           in_list(c->stores, c->store_count, e->store);
}

/* The multiplier campaign that gives line category `cat` of sale `e` the
 * best multiplier (the first configured of equals), or -1 when none beats
 * the base rate. */
static int best_campaign(const struct rulebook *rb, const struct proto_entry *e,
                         const char *cat)
{
    int64_t best = BP;
    int which = -1;
    for (uint32_t i = 0; i < rb->campaign_count; i++) {
        const struct rulebook_campaign *c = &rb->campaigns[i];
        if (c->multiplier_bp > best && campaign_active(c, e) &&
            in_list(c->cats, c->cat_count, cat)) {
            best = c->multiplier_bp;
            which = (int)i;
        }
    }
    return which;
}

static int64_t fixed_bonuses(const struct rulebook *rb, const struct proto_entry *e,
                             int64_t *by_campaign)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < rb->campaign_count; i++) {
        const struct rulebook_campaign *c = &rb->campaigns[i];
        if (c->multiplier_bp != 0 || !campaign_active(c, e))
            continue;
        bool match = c->cat_count == 0;
        for (uint32_t l = 0; l < e->line_count && !match; l++)
            match = in_list(c->cats, c->cat_count, e->lines[l].cat);
        if (match) {
            sum += c->bonus_points; /* <= CAMPAIGNS_MAX * BONUS_MAX: no overflow */
            by_campaign[i] = c->bonus_points;
        }
    }
    return sum;
}

/* Adds line `amount` of category `cat` to the raw sums: the base and the
 * extra of its best multiplier campaign. */
static void add_line(const struct rulebook *rb, const struct proto_entry *e, const char *cat,
                     int64_t cat_bp, int64_t amount, __int128 *base, __int128 *extra)
{
    int c = best_campaign(rb, e, cat);
    *base += (__int128)amount * cat_bp * BP;
    if (c >= 0)
        extra[c] += (__int128)amount * cat_bp * (rb->campaigns[c].multiplier_bp - BP);
}

/* Floors the raw sums into base, each campaign's part and their total
 * (see earn.h). raw <= 1e10 * 1e5 * 1e5 = 1e20; times ppu (1e3) and tier
 * (1e5): 1e28, well inside 128 bits. The quotients fit int64 for any
 * valid entry. */
static void split(const struct rulebook *rb, int64_t tier_bp, __int128 base,
                  const __int128 *extra, struct earn_result *out)
{
    __int128 k = (__int128)rb->points_per_unit * tier_bp;
    __int128 den = (__int128)rb->minor_per_unit * BP * BP * BP;
    __int128 acc = base;
    __int128 prev = acc * k / den;
    LY_ASSERT(prev >= 0 && prev <= INT64_MAX);
    out->base = (int64_t)prev;
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        if (extra[c] == 0)
            continue;
        acc += extra[c];
        __int128 now = acc * k / den;
        LY_ASSERT(now >= prev && now <= INT64_MAX);
        out->by_campaign[c] = (int64_t)(now - prev);
        prev = now;
    }
    out->points = (int64_t)prev;
}

int earn_purchase(const struct rulebook *rb, const struct proto_entry *e, int64_t tier_bp,
                  struct earn_result *out, struct proto_reject *rej)
{
    __int128 base = 0; /* sum of amount * category_bp * 10000 */
    __int128 extra[RULEBOOK_CAMPAIGNS_MAX]; /* what each campaign's multiplier adds */
    memset(extra, 0, rb->campaign_count * sizeof(extra[0])); /* only these are read */
    memset(out, 0, sizeof(*out));
    if (e->line_count == 0) {
        add_line(rb, e, "", BP, e->amount, &base, extra);
    } else {
        __int128 total = 0;
        for (uint32_t l = 0; l < e->line_count; l++) {
            const struct proto_line *ln = &e->lines[l];
            total += ln->amount;
            add_line(rb, e, ln->cat, earn_category_bp(rb, ln->cat), ln->amount, &base, extra);
        }
        if (total != e->amount) {
            rej->code = RULES_R_LINES_MISMATCH;
            snprintf(rej->detail, sizeof(rej->detail), "lines add up to %lld, amount is %lld",
                     (long long)total, (long long)e->amount);
            return -1;
        }
    }
    if (e->amount < rb->min_amount)
        base = 0; /* below the minimum basket: campaigns only */
    split(rb, tier_bp, base, extra, out);
    out->campaign_bonus = fixed_bonuses(rb, e, out->by_campaign);
    return 0;
}
