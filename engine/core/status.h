/* status.h - manual status: the input kind `set_tier` (txn, member, tier,
 * optional until_ts, reason) for a status match or a service gesture.
 *
 * set_tier moves the member to `tier` at once (tier.changed reason
 * "manual"; nothing when already there). With until_ts the member holds
 * at least that tier until then: reviews do not take them below it, and
 * upgrades by qualification go on as usual. When until_ts passes (the
 * tick that finds the member due), the floor ends and normal
 * qualification applies: a member above the tier their window qualifies
 * for moves down to it (reason "manual_end"); with tiers.downgrade =
 * "never" not below the highest tier they ever qualified for themselves
 * (earned_tier). Without until_ts it is a plain move: the next review
 * judges it like any tier. A later set_tier replaces the floor.
 * An unknown member is DLQ unknown_member, an unknown tier unknown_tier.
 */
#ifndef LOYALTY_STATUS_H
#define LOYALTY_STATUS_H

#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"

/* Outputs status_due appends at most. */
#define STATUS_DUE_OUTPUTS 1

/* Applies set_tier entry `e` (not a retry: rules.c checked). */
void status_set_tier(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                     struct outbox *ob);

/* Ends member `pos`'s status floor when the engine clock has reached its
 * until_ts (tier.changed reason manual_end when it moves the member). */
void status_due(struct state *st, const struct rulebook *rb, struct outbox *ob, uint32_t pos);

#endif
