/* switchover.h - a `rules` entry applied: the switch of the rulebook in
 * force (at once, or held until event time reaches its effective_ts) and
 * the migration of the state that goes with it.
 *
 * At the switch, switchover_migrate migrates the state from the old rulebook
 * to the new one as a pure function of (state, old, new):
 *  - tiers are matched by name; a member of a removed tier goes to the
 *    highest remaining tier whose threshold is at or below the removed
 *    one's; a member whose window now qualifies for a higher tier moves up
 *    at once; both publish tier.changed with reason "rules". A member
 *    whose tier kept its name stays (a higher threshold waits for the
 *    review, as any shortfall does);
 *  - segments are matched by name (a removed one: the last segment, the
 *    catch-all) and every member is reclassified on the next tick(s);
 *  - reward counters move with their reward's name (state_reindex);
 *  - expiry lots keep the months they expire in: a new expiry.months dates
 *    only points earned from the switch on; a version that turns expiry on
 *    dates each positive balance as if earned at the switch, one that turns
 *    it off drops the lots (wallet.h). A version whose expiry.months is
 *    over the daemon's expiry_months_max (the lots per member, fixed at
 *    state_init) is refused as bad_rulebook, as is one that changes
 *    idempotency.max_txns (it sizes the txn window).
 */
#ifndef LOYALTY_SWITCHOVER_H
#define LOYALTY_SWITCHOVER_H

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"
#include "versions.h"

/* Outputs a switch appends at most before member migration. */
#define SWITCHOVER_OUTPUTS 1

/* Applies rules entry `e` (read at `id`): rejects it as bad_rulebook when
 * `rt` has no rulebook; switches at once when it has no effective_ts or
 * that time is reached by the engine clock; otherwise holds it as the
 * scheduled version (replacing any scheduled one). */
void switchover_apply(struct state *st, struct proto_id id, const struct proto_entry *e,
                    const struct rules_text *rt, struct outbox *ob);

/* Switches to the scheduled version when the engine clock has reached its
 * effective_ts; called before each entry. Its outputs stand even if the
 * entry is then rejected (ob->kept). */
void switchover_due(struct state *st, struct proto_id id, struct outbox *ob);

/* Migrates `st` from `old` to `new` (see above), stamping outputs `ts`.
 * Pure; appends one tier.changed per member whose tier changes while
 * `ob` has room. */
void switchover_migrate(struct state *st, const struct rulebook *old, const struct rulebook *new,
                      int64_t ts, struct outbox *ob);

#endif
