/* snapfuzz_config.c - see snapfuzz_config.h. */
#include "snapfuzz_config.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "state.h"

_Static_assert(SNAPFUZZ_MEMBERS_MAX * sizeof(struct member) <= 126 * 1024 &&
                   SNAPFUZZ_TXNS_MAX * sizeof(struct txn_rec) <= 126 * 1024,
               "a fresh state per input must stay cheap (snapfuzz_config.h)");

static void add_tier(struct rulebook *rb, const char *name, int64_t threshold,
                     int64_t multiplier_bp, const char *perk)
{
    struct rulebook_tier *t = &rb->tiers[rb->tier_count++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->threshold = threshold;
    t->multiplier_bp = multiplier_bp;
    t->perk_count = perk != NULL;
    if (perk != NULL)
        snprintf(t->perks[0], sizeof(t->perks[0]), "%s", perk);
}

static void add_item(struct rulebook *rb, const char *reward, int64_t cost_points,
                     int64_t stock)
{
    struct rulebook_catalog_item *c = &rb->catalog[rb->catalog_count++];
    snprintf(c->reward, sizeof(c->reward), "%s", reward);
    c->cost_points = cost_points;
    c->stock = stock;
}

static void add_auto(struct rulebook *rb, const char *reward, int64_t every_points)
{
    struct rulebook_auto_reward *a = &rb->auto_rewards[rb->auto_reward_count++];
    snprintf(a->reward, sizeof(a->reward), "%s", reward);
    a->every_points = every_points;
}

void snapfuzz_config(struct config *cfg)
{
    config_defaults(cfg);
    cfg->members_max = SNAPFUZZ_MEMBERS_MAX;
    struct rulebook *rb = &cfg->rules;
    rb->txns_max = SNAPFUZZ_TXNS_MAX;
    rb->expiry_months = 12;
    rb->first_purchase_bonus = 100;
    rb->birthday_bonus = 200;
    rb->referral_bonus = 250;
    rb->grace_months = 1;
    rb->tier_count = 0; /* replaces the default single tier */
    memset(rb->tiers, 0, sizeof(rb->tiers));
    add_tier(rb, "blue", 0, 10000, NULL);
    add_tier(rb, "silver", 500, 12500, "free_delivery");
    add_tier(rb, "gold", 2000, 15000, "priority_service");
    add_tier(rb, "platinum", 10000, 20000, "lounge");
    add_item(rb, "voucher_5", 500, -1);
    add_item(rb, "wine_tasting", 2500, 40);
    /* Two every-N rewards of one name (config_load allows it): a reload
     * once gave the second the first one's counts (state_reindex). */
    add_auto(rb, "voucher_5", 1000);
    add_auto(rb, "gift_card", 5000);
    add_auto(rb, "voucher_5", 2500);
}
