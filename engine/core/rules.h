/* rules.h - the pure core: apply one decoded entry to the state.
 *
 * rules_apply is the only way member state changes. It does no I/O, reads
 * no clock, keeps no globals and allocates nothing. Given the same state,
 * rulebook, id and entry it produces the same new state and the same
 * outputs, which is what replay and recovery rely on.
 *
 * Its verdict and outputs go into an outbox (outbox.h) reserved once with
 * rules_outbox_init: applying allocates nothing (the stores were reserved
 * at state_init, the outputs here).
 */
#ifndef LOYALTY_RULES_H
#define LOYALTY_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "notices.h"
#include "outbox.h"
#include "points.h"
#include "proto.h"
#include "reasons.h"
#include "release.h"
#include "rulebook.h"
#include "segments.h"
#include "state.h"
#include "status.h"
#include "tiers.h"
#include "switchover.h"
#include "versions.h"

/* A tick handles at most RULES_TICK_MEMBERS_MAX due members, each producing
 * at most RULES_TICK_MEMBER_OUTPUTS outputs (expiry, downgrades, segment
 * and stage, a release of pending points, notices); rules_due() tells the
 * shell to append another tick when more are due. RULES_OUTBOX_CAP is what
 * an outbox given to rules_apply must hold: the larger of a tick's budget
 * and any other entry's. */
#define RULES_TICK_MEMBERS_MAX 1000
#define RULES_TICK_MEMBER_OUTPUTS                                               \
    (POINTS_EXPIRE_OUTPUTS + TIERS_REVIEW_OUTPUTS + SEGMENTS_REFRESH_OUTPUTS + \
     STATUS_DUE_OUTPUTS + RELEASE_OUTPUTS + NOTICES_OUTPUTS)
#define RULES_OUTBOX_CAP (RULES_TICK_MEMBERS_MAX * RULES_TICK_MEMBER_OUTPUTS)
_Static_assert(RULES_OUTBOX_CAP >= OUTBOX_ENTRY_OUTPUTS_MAX,
               "the outbox holds any single entry's outputs");

/* The most a purchase appends, the most of any entry but a tick: the
 * member's and the referrer's expiry and release, an enrolment bonus with
 * its every-N rewards (a sale that enrols), the sale (points and bonus), the
 * referral bonus with its every-N rewards, an upgrade, a
 * milestone, every-N rewards, segment and stage, notices. A refund appends
 * fewer (no rewards), a scan one per perk. */
#define RULES_PURCHASE_OUTPUTS                                                   \
    (2 * (POINTS_EXPIRE_OUTPUTS + RELEASE_OUTPUTS) + 1 + REWARDS_AUTO_OUTPUTS + 2 + 1 + \
     REWARDS_AUTO_OUTPUTS + 1 + 1 + REWARDS_AUTO_OUTPUTS + SEGMENTS_REFRESH_OUTPUTS +    \
     NOTICES_OUTPUTS)
_Static_assert(RULES_PURCHASE_OUTPUTS <= OUTBOX_ENTRY_OUTPUTS_MAX &&
                   RULEBOOK_PERKS_MAX <= OUTBOX_ENTRY_OUTPUTS_MAX,
               "OUTBOX_ENTRY_OUTPUTS_MAX bounds every entry but a tick");

/* Reserves `ob` for rules_apply: RULES_OUTBOX_CAP outputs, so applying
 * never allocates. Stops the process when out of memory. */
void rules_outbox_init(struct outbox *ob);

/* True when the last tick stopped at RULES_TICK_MEMBERS_MAX members, so
 * more may be due at the engine clock: the shell appends another tick. */
bool rules_due(const struct state *st);

/* Applies entry `e`, read from the input stream at `id`, to `st` under
 * the rulebook in force (st->ver, versions.h), and fills `*ob`
 * (rules_outbox_init'ed; its previous outputs are dropped). `rt`: for a
 * `rules` entry, the rulebook its text resolved to or the problem (NULL:
 * not found); NULL for every other kind. Before the entry (a scan
 * excepted), a scheduled version whose effective_ts the clock reached
 * takes effect (rules.changed first in `ob`). `id` must be after
 * st->last_id (asserted); it becomes st->last_id. Advances the engine
 * clock to e->ts when later, except for a scan (which changes nothing).
 * Never fails: bad entries are OUTBOX_REJECTED. */
void rules_apply(struct state *st, struct proto_id id, const struct proto_entry *e,
                 const struct rules_text *rt, struct outbox *ob);

/* The purchase step of rules_apply alone, under the rulebook in force,
 * for preview.h: no clock, no version switch, no txn eviction, no
 * counters. `ob` needs room for OUTBOX_ENTRY_OUTPUTS_MAX outputs. */
void rules_purchase(struct state *st, const struct proto_entry *e, struct outbox *ob);

/* The POS-retry check of rules_apply: true when `e`'s txn was applied
 * already (ob says duplicate, or rejected as txn_conflict). */
bool rules_retry(struct state *st, const struct proto_entry *e, struct outbox *ob);

/* Records that the entry at `id` could not be decoded (it goes to the DLQ
 * without reaching the rules), so the state's position still moves past
 * it. `id` must be after st->last_id (asserted). */
void rules_skip(struct state *st, struct proto_id id);

#endif
