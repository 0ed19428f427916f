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

static int64_t best_multiplier(const struct rulebook *rb, const struct proto_entry *e,
                               const char *cat)
{
    int64_t best = BP;
    for (uint32_t i = 0; i < rb->campaign_count; i++) {
        const struct rulebook_campaign *c = &rb->campaigns[i];
        if (c->multiplier_bp > best && campaign_active(c, e) &&
            in_list(c->cats, c->cat_count, cat))
            best = c->multiplier_bp;
    }
    return best;
}

static int64_t fixed_bonuses(const struct rulebook *rb, const struct proto_entry *e)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < rb->campaign_count; i++) {
        const struct rulebook_campaign *c = &rb->campaigns[i];
        if (c->multiplier_bp != 0 || !campaign_active(c, e))
            continue;
        bool match = c->cat_count == 0;
        for (uint32_t l = 0; l < e->line_count && !match; l++)
            match = in_list(c->cats, c->cat_count, e->lines[l].cat);
        if (match)
            sum += c->bonus_points; /* <= CAMPAIGNS_MAX * BONUS_MAX: no overflow */
    }
    return sum;
}

int earn_purchase(const struct rulebook *rb, const struct proto_entry *e, int64_t tier_bp,
                  struct earn_result *out, struct proto_reject *rej)
{
    __int128 raw = 0; /* sum of amount * category_bp * campaign_bp */
    if (e->line_count == 0) {
        raw = (__int128)e->amount * BP * best_multiplier(rb, e, "");
    } else {
        __int128 total = 0;
        for (uint32_t l = 0; l < e->line_count; l++) {
            const struct proto_line *ln = &e->lines[l];
            total += ln->amount;
            raw += (__int128)ln->amount * earn_category_bp(rb, ln->cat) *
                   best_multiplier(rb, e, ln->cat);
        }
        if (total != e->amount) {
            rej->code = RULES_R_LINES_MISMATCH;
            snprintf(rej->detail, sizeof(rej->detail), "lines add up to %lld, amount is %lld",
                     (long long)total, (long long)e->amount);
            return -1;
        }
    }
    /* raw <= 1e10 * 1e5 * 1e5 = 1e20; times ppu (1e3) and tier (1e5): 1e28,
     * well inside 128 bits. The quotient fits int64 for any valid entry. */
    __int128 num = raw * rb->points_per_unit * tier_bp;
    __int128 den = (__int128)rb->minor_per_unit * BP * BP * BP;
    __int128 pts = num / den;
    LY_ASSERT(pts >= 0 && pts <= INT64_MAX);
    out->points = (int64_t)pts;
    out->campaign_bonus = fixed_bonuses(rb, e);
    return 0;
}
