/* refunds.h - a refund takes back what its sale gave.
 *
 * A refund names a purchase of the same member still in the txn window
 * (else unknown_sale) and at most what is left of its amount (else
 * refund_exceeds_sale). It takes back:
 *  - points: the sale's purchase and campaign points (after caps) in
 *    proportion to the amount refunded, cumulatively floored, so refunding
 *    in any number of parts never takes more than the sale earned and a
 *    full refund takes exactly that. Points of the sale still pending are
 *    cancelled first (points.pending with negative points); the rest comes
 *    off the balance (points.changed, cause refund): below zero with
 *    refunds.shortfall "negative", written off at zero with "forgive".
 *    Every-N reward counters lose what had been credited.
 *  - bonuses: the refund that makes a full refund also takes back the
 *    first-purchase and birthday bonus the sale gave and the referral
 *    bonus it paid the referrer (from the referrer's pending points
 *    first), unless refunds.keep_bonuses. Bonuses taken back are not given
 *    again by a later purchase.
 *  - qualification: the sale's share in the same proportion (from the
 *    sale's month, or from its pending slot, or its release month, with
 *    tiers.qualify_on "release"). With tiers.refund_downgrade "immediate"
 *    (the default), a member whose tier the window supported before the
 *    refund and no longer does drops at once to the tier it supports, but
 *    never below the tier they held before the sale (tier.changed, reason
 *    "refund"); a tier held on a past year's qualification until the
 *    review is not touched. "review" leaves every downgrade to the review.
 *  - spend: the amount leaves the RFM monetary window, the value class and
 *    the lifetime value (segments.h); the purchase still counts in F.
 */
#ifndef LOYALTY_REFUNDS_H
#define LOYALTY_REFUNDS_H

#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"

/* Applies refund `e` of enrolled member `pos` (see above), or rejects it
 * with nothing changed. */
void refunds_apply(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                   uint32_t pos, struct outbox *ob);

#endif
