/* release.h - points moving into and out of pending, each move published.
 *
 * With earning.pending_days > 0 the points a purchase earns (purchase,
 * campaign and personal bonuses) and the referral bonus it triggers wait
 * in the member's pending slots (pending.h) until their release day:
 * visible in the lookup, not in the balance, so they cannot be spent, and
 * not yet earned (lifetime points and every-N rewards count them at
 * release). Holding publishes points.pending (points, pending, release_ts);
 * a refund inside the window cancels pending points first and publishes
 * points.pending with negative points. The first entry of the member at or
 * after the release day, a tick through the schedule (state.h) or any
 * other, releases them: points.changed with cause "release". With
 * tiers.qualify_on = "release" a sale's qualification waits with its
 * points and counts in the month of its release day.
 * With pending_days = 0, or for a late sale whose release day has passed,
 * points are credited at once as before (causes purchase and bonus).
 */
#ifndef LOYALTY_RELEASE_H
#define LOYALTY_RELEASE_H

#include <stdint.h>

#include "outbox.h"
#include "rewards.h"
#include "rulebook.h"
#include "state.h"
#include "txns.h"

/* Outputs release_due appends at most: the release, an upgrade and the
 * every-N rewards. */
#define RELEASE_OUTPUTS (2 + REWARDS_AUTO_OUTPUTS)

/* Releases what member `pos` has pending up to the engine clock's day
 * (wallet_expire'd to its month): one points.changed (cause release,
 * counted as earned), qualification waiting with it added to the months of
 * the release days, then an upgrade and every-N rewards (stamped `ts`). */
void release_due(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                 uint32_t pos);

/* What purchase `r` of member `pos` earned: `points` (cause purchase) and
 * `bonus` (cause bonus), held until the sale's release day or credited at
 * once (see above). Records the release day in `r`, and whether its
 * qualification (r->qual) waits with them (r->qual_released): the caller
 * adds it to the sale's month otherwise. */
void release_sale(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                  uint32_t pos, struct txn_rec *r, int64_t points, int64_t bonus);

/* The referral bonus sale `r` pays referrer `rpos` (expired and released
 * to the clock): held with the sale's release day, or credited (cause
 * bonus) with the every-N rewards it brings. Records it in r->referral. */
void release_referral(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      int64_t ts, uint32_t rpos, struct txn_rec *r, int64_t bonus);

/* Cancels up to `points` and `qual` pending for release day `day` of
 * member `pos` when that day is still ahead (else nothing: the points were
 * released), publishing points.pending with the negative points. Returns
 * the points cancelled; the qualification cancelled goes to *qual_taken. */
int64_t release_cancel(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                       int32_t day, int64_t points, int64_t qual, int64_t *qual_taken);

#endif
