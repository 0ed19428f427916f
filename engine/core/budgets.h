/* budgets.h - campaign budgets and per-member campaign limits.
 *
 * A campaign (rulebook.h) may give at most budget_points over all members:
 * a sale gets min(its campaign part, what is left), so the campaign gives
 * exactly its budget when it runs out, the sale that reaches it getting
 * the rest, and nothing after. campaign.exhausted is published once, with
 * the sale that used the last point (or, when that sale had no room left
 * for it, with the next purchase). Per member, member_limit_points caps
 * the points one member gets from the campaign and member_limit_times the
 * sales that get any; both count over the campaign's life.
 *
 * What counts is what a campaign actually gave: a campaign part cut by the
 * per-sale or per-day cap (rules.c) is not charged (caps cut fixed
 * bonuses first, then multiplier parts, the last configured first).
 * Refunds do not give budget back.
 *
 * Partitions (README "Scaling out"): each partition's state spends only
 * its share of a budget, budgets_share(): floor(budget / P), plus one
 * point for each of the first (budget mod P) partitions. The shares add up
 * to the budget exactly and are a pure function of the rulebook and the
 * partition number, so a replay gives the same answer; the price is that
 * a partition can run out while others still have budget left. Every
 * function below takes the state's place `pl` (partition.h).
 *
 * State: points given per campaign (kept by name, so a rulebook switch or
 * a restart under a reordered campaign list keeps each count with its
 * campaign) and, per member, a counter slot for each of at most
 * RULEBOOK_LIMITED_CAMPAIGNS_MAX campaigns with a member limit
 * (its extras, extras.h: camp_times, camp_points).
 */
#ifndef LOYALTY_BUDGETS_H
#define LOYALTY_BUDGETS_H

#include <stdint.h>

#include "earn.h"
#include "members.h"
#include "outbox.h"
#include "partition.h"
#include "rulebook.h"

/* Outputs a purchase still needs after budgets_charge: the referrer's
 * expiry (2), release (6) and bonus with its every-N rewards (5), segment
 * and stage (2), an upgrade, a milestone, every-N rewards (4), notices (2);
 * rules.c checks the sum against those modules' bounds. Exhausted
 * campaigns beyond the room that leaves wait for the next purchase. */
#define BUDGETS_OUTPUT_RESERVE 23

struct budgets {
    int64_t given[RULEBOOK_CAMPAIGNS_MAX]; /* points each campaign gave, by index */
    char names[RULEBOOK_CAMPAIGNS_MAX][RULEBOOK_NAME_MAX + 1]; /* of given[]'s campaigns */
    /* The limited campaigns members' counter slots count, by slot. */
    char slot_names[RULEBOOK_LIMITED_CAMPAIGNS_MAX][RULEBOOK_NAME_MAX + 1];
    uint8_t exhausted[RULEBOOK_CAMPAIGNS_MAX]; /* campaign.exhausted published */
    uint8_t pad[4];
};

/* Cuts the campaign parts of `er` (earn_purchase of a sale by member `m`;
 * NULL: a member enrolled by this sale) to what budgets and member limits
 * leave, and lowers its points and campaign_bonus to match. Changes
 * nothing else. */
void budgets_limit(const struct budgets *b, const struct rulebook *rb,
                   const struct partition_place *pl, const struct members *ms,
                   const struct member *m, struct earn_result *er);

/* Charges what the sale gave: the parts of `er` (budgets_limit'ed) less
 * `cut` points the caps took, to the campaigns and to member `m`'s
 * counters; publishes campaign.exhausted (stamped `ts`) for every
 * campaign whose budget is used up and not yet announced, while the
 * outbox keeps BUDGETS_OUTPUT_RESERVE room. */
void budgets_charge(struct budgets *b, const struct rulebook *rb,
                    const struct partition_place *pl, struct members *ms, struct member *m,
                    struct outbox *ob, int64_t ts, const struct earn_result *er, int64_t cut);

/* Partition `partition`'s share (of `partitions` >= 1) of `budget` > 0
 * points: floor(budget / partitions), plus 1 when partition < budget mod
 * partitions. Over all partitions the shares add up to `budget`. */
int64_t budgets_share(int64_t budget, uint32_t partition, uint32_t partitions);

/* Points campaign `c` of `rb` can still give in partition `pl` (of its
 * share): -1 when it has no budget. */
int64_t budgets_remaining(const struct budgets *b, const struct rulebook *rb,
                          const struct partition_place *pl, uint32_t c);

/* Re-indexes the counts to `rb`'s campaigns by name (a new rulebook, or a
 * snapshot loaded): counts move with their campaign, a removed campaign's
 * are dropped, a new one starts at zero; `exhausted` is re-judged against
 * the budget now configured. Members' slots move likewise. */
void budgets_reindex(struct budgets *b, struct members *ms, const struct rulebook *rb,
                     const struct partition_place *pl);

#endif
