/* reasons.h - the stable codes the core gives: why an entry was rejected
 * (they go to the DLQ as `reason`) and why a redemption failed (they go
 * out in redeem.result as `error`). Part of the public contract: the
 * README's DLQ table lists them; they never change meaning.
 */
#ifndef LOYALTY_REASONS_H
#define LOYALTY_REASONS_H

/* Rule reason codes (DLQ `reason`). */
#define RULES_R_UNKNOWN_MEMBER "unknown_member"
#define RULES_R_MEMBER_EXISTS "member_exists"
#define RULES_R_MEMBERS_FULL "members_full"
#define RULES_R_TXN_CONFLICT "txn_conflict"
#define RULES_R_UNKNOWN_SALE "unknown_sale"
#define RULES_R_REFUND_EXCEEDS_SALE "refund_exceeds_sale"
#define RULES_R_POINTS_OVERFLOW "points_overflow"
#define RULES_R_UNKNOWN_REFERRER "unknown_referrer"
#define RULES_R_LINES_MISMATCH "lines_mismatch"
#define RULES_R_BAD_RULEBOOK "bad_rulebook" /* a rules entry whose text is missing or bad */
#define RULES_R_UNKNOWN_TIER "unknown_tier"   /* a set_tier naming no tier of the rulebook */

/* redeem.result error codes. */
#define RULES_E_INSUFFICIENT_POINTS "insufficient_points"
#define RULES_E_UNKNOWN_REWARD "unknown_reward"
#define RULES_E_OUT_OF_STOCK "out_of_stock"
#define RULES_REDEEM_ERRORS 4 /* txn_rec.error is below this: 0 (ok) and the three above */

/* transfer.result error codes (insufficient_points too). */
#define RULES_E_TRANSFERS_DISABLED "transfers_disabled"
#define RULES_E_DAILY_LIMIT "daily_limit"
#define RULES_TRANSFER_ERRORS 4 /* a transfer's txn_rec.error: 0 (ok), insufficient_points,
                                 * the two above */

#endif
