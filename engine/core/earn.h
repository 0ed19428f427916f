/* earn.h - what a sale earns: base rate, category and campaign multipliers,
 * fixed campaign bonuses. Pure arithmetic on the rulebook and the entry.
 *
 * The one rounding rule: every multiplier of a line is applied exactly
 * (128-bit integers), summed over the lines, and floored once:
 *   points = floor( sum over lines of amount * category_bp * campaign_bp
 *                   * points_per_unit * tier_bp
 *                   / (minor_per_unit * 10000^3) )
 * A sale without lines is one line of its whole amount and no category.
 * Campaign multipliers do not stack: each line gets the best multiplier of
 * the campaigns that match it (store, category, time window by the sale's
 * own ts, min_amount); fixed campaign bonuses all stack, each once per
 * matching sale. Caps (per sale, per day) are applied by the caller.
 *
 * Each campaign's part is kept apart for budgets (budgets.h): the base is
 * the sum with no campaign multiplier, floored; a multiplier campaign's
 * part is what its lines add, floored cumulatively in campaign order
 *   part[c] = floor((base_raw + raw[0..c]) * k / den)
 *             - floor((base_raw + raw[0..c-1]) * k / den)
 * so the parts add up to exactly the total above. A sale below the
 * rulebook's min_amount earns no base (base_raw = 0); campaigns judge it
 * by their own min_amount.
 */
#ifndef LOYALTY_EARN_H
#define LOYALTY_EARN_H

#include <stdint.h>

#include "proto.h"
#include "rulebook.h"

struct earn_result {
    int64_t points;         /* base points with every multiplier */
    int64_t campaign_bonus; /* fixed bonuses of matching campaigns */
    int64_t base;           /* of points: without campaign multipliers */
    /* Each campaign's part: a multiplier campaign's share of points (they
     * and base add up to points), a fixed-bonus campaign's bonus (they add
     * up to campaign_bonus); 0 for campaigns that do not apply. */
    int64_t by_campaign[RULEBOOK_CAMPAIGNS_MAX];
};

/* Computes what purchase `e` earns at `tier_bp`. Returns 0, or -1 with
 * `rej` set when the line items do not add up to the amount. */
int earn_purchase(const struct rulebook *rb, const struct proto_entry *e, int64_t tier_bp,
                  struct earn_result *out, struct proto_reject *rej);

/* Points a purchase of `amount` earns at `multiplier_bp` under `rb`:
 * floor(amount * points_per_unit * multiplier_bp / (minor_per_unit *
 * 10000)). Inputs within the decoder's and config's limits (asserted). */
int64_t earn_points(const struct rulebook *rb, int64_t amount, int64_t multiplier_bp);

/* The multiplier of category `cat` (10000 when it has none). */
int64_t earn_category_bp(const struct rulebook *rb, const char *cat);

#endif
