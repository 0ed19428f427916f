/* rules.h - the pure core: apply one decoded entry to the state.
 *
 * rules_apply is the only way member state changes. It does no I/O, reads
 * no clock, keeps no globals and allocates only inside the state's bounded
 * stores. Given the same state, rulebook, id and entry it produces the same
 * new state and the same outputs, which is what replay and recovery rely
 * on.
 *
 * Verdicts:
 *  - RULES_APPLIED: the entry took effect; `out[0..count)` are its outputs
 *    (possibly none, e.g. a tick with nothing due).
 *  - RULES_DUPLICATE: a POS retry of a txn already applied; state is
 *    unchanged except the clock, and `out` repeats the answer the POS is
 *    waiting for (a redeem's redeem.result), nothing else.
 *  - RULES_REJECTED: the entry breaks a rule; state is unchanged except
 *    the clock; `reject` says why (it goes to the DLQ).
 */
#ifndef LOYALTY_RULES_H
#define LOYALTY_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "rulebook.h"
#include "state.h"

/* Outputs of one entry other than a tick are few (a scan: one per perk; a
 * purchase: points, bonus, expiry, the referrer's bonus, tier, rewards);
 * RULES_OUTPUTS_MAX bounds them, and every-N rewards beyond it wait for
 * the member's next entry. A tick handles at most RULES_TICK_MEMBERS_MAX
 * due members (a few outputs each); rules_due() tells the shell to append
 * another tick when more are due. */
#define RULES_OUTPUTS_MAX (RULEBOOK_PERKS_MAX + 16)
#define RULES_TICK_MEMBERS_MAX 1000

/* Rule reason codes (stable, part of the DLQ contract). */
#define RULES_R_UNKNOWN_MEMBER "unknown_member"
#define RULES_R_MEMBER_EXISTS "member_exists"
#define RULES_R_MEMBERS_FULL "members_full"
#define RULES_R_TXN_CONFLICT "txn_conflict"
#define RULES_R_UNKNOWN_SALE "unknown_sale"
#define RULES_R_REFUND_EXCEEDS_SALE "refund_exceeds_sale"
#define RULES_R_POINTS_OVERFLOW "points_overflow"
#define RULES_R_UNKNOWN_REFERRER "unknown_referrer"
#define RULES_R_LINES_MISMATCH "lines_mismatch"

/* redeem.result error codes (stable). */
#define RULES_E_INSUFFICIENT_POINTS "insufficient_points"
#define RULES_E_UNKNOWN_REWARD "unknown_reward"
#define RULES_E_OUT_OF_STOCK "out_of_stock"
#define RULES_REDEEM_ERRORS 4 /* txn_rec.error is below this: 0 (ok) and the three above */

enum rules_verdict { RULES_APPLIED, RULES_DUPLICATE, RULES_REJECTED };

struct rules_result {
    enum rules_verdict verdict;
    struct proto_reject reject; /* when RULES_REJECTED */
    uint32_t count;
    uint32_t cap;
    struct proto_output *out; /* out[0..count); grows for ticks */
};

/* Prepares an empty result. Stops the daemon when out of memory. */
void rules_result_init(struct rules_result *res);

/* Frees the result's outputs. */
void rules_result_free(struct rules_result *res);

/* True when the last tick stopped at RULES_TICK_MEMBERS_MAX members, so
 * more may be due at the engine clock: the shell appends another tick. */
bool rules_due(const struct state *st);

/* Applies entry `e`, read from the input stream at `id`, to `st` under
 * `rb`, and fills `*res` (initialised; its previous outputs are dropped). `id` must be after
 * st->last_id (asserted); it becomes st->last_id. Advances the engine clock
 * to e->ts when later, except for a scan (which changes nothing). Never
 * fails: bad entries are RULES_REJECTED. */
void rules_apply(struct state *st, const struct rulebook *rb, struct proto_id id,
                 const struct proto_entry *e, struct rules_result *res);

/* Records that the entry at `id` could not be decoded (it goes to the DLQ
 * without reaching the rules), so the state's position still moves past
 * it. `id` must be after st->last_id (asserted). */
void rules_skip(struct state *st, struct proto_id id);

/* Points a purchase of `amount` earns at `multiplier_bp` under `rb`:
 * floor(amount * points_per_unit * multiplier_bp / (minor_per_unit *
 * 10000)). Inputs within the decoder's and config's limits (asserted). */
int64_t rules_earn_points(const struct rulebook *rb, int64_t amount,
                          int64_t multiplier_bp);

/* The highest tier whose threshold `qualifying` reaches. */
uint8_t rules_tier_for(const struct rulebook *rb, int64_t qualifying);

#endif
