/* rulebook.h - the rules a retailer configures, as plain data.
 *
 * Filled by config_load (config.h), read by the rules core (rules.h). The
 * core never changes it; it outlives every state and every output, so
 * outputs may point at its strings. All amounts are integers: money in
 * minor units, multipliers in basis points (10000 = x1).
 */
#ifndef LOYALTY_RULEBOOK_H
#define LOYALTY_RULEBOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#define RULEBOOK_TIERS_MAX 8          /* VIP levels: retailers use 3..6 */
#define RULEBOOK_PERKS_MAX 8          /* perks of one tier: one scan event each */
#define RULEBOOK_NAME_MAX PROTO_NAME_MAX
#define RULEBOOK_WINDOW_MONTHS_MAX 12 /* tier qualification window: a year */
#define RULEBOOK_MULTIPLIER_BP_MAX 100000 /* x10 */
#define RULEBOOK_POINTS_PER_UNIT_MAX 1000
#define RULEBOOK_MINOR_PER_UNIT_MAX 1000

/* The largest intermediate of the earn formula must fit in int64. */
_Static_assert((__int128)PROTO_AMOUNT_MAX * RULEBOOK_POINTS_PER_UNIT_MAX *
                       RULEBOOK_MULTIPLIER_BP_MAX <
                   (__int128)INT64_MAX,
               "earn formula overflows int64");

enum rulebook_basis {
    RULEBOOK_BASIS_POINTS, /* qualify on points earned by purchases */
    RULEBOOK_BASIS_SPEND   /* qualify on money spent (minor units) */
};

struct rulebook_tier {
    char name[RULEBOOK_NAME_MAX + 1];
    int64_t threshold;     /* qualifying points or spend over the window */
    int64_t multiplier_bp; /* earn multiplier, 10000 = x1 */
    uint32_t perk_count;
    char perks[RULEBOOK_PERKS_MAX][RULEBOOK_NAME_MAX + 1];
};

struct rulebook {
    /* Earning: points = floor(amount * points_per_unit * multiplier_bp /
     * (minor_per_unit * 10000)). One rounding rule, floor, everywhere. */
    int64_t minor_per_unit;  /* minor units in one currency unit (100) */
    int64_t points_per_unit; /* base points per currency unit */
    bool require_enrollment; /* purchases of unknown members go to the DLQ */

    /* Tiers, ordered by threshold; tiers[0] has threshold 0 and is where
     * every member starts. */
    enum rulebook_basis basis;
    uint32_t window_months; /* current month and the previous N-1 */
    uint32_t tier_count;
    struct rulebook_tier tiers[RULEBOOK_TIERS_MAX];

    /* Idempotency: a txn applied within window_ms of event time is
     * recognised as a retry; at most txns_max are remembered. */
    int64_t txn_window_ms;
    uint32_t txns_max;
};

#endif
