/* notices.h - telling members ahead of time what they are about to lose.
 *
 * tier.at_risk (tier, review_ts, needed): notices.tier_days before the
 * member's next review (or the end of a grace period, when one runs), if
 * the qualification that will still count then falls short of the tier's
 * threshold; `needed` is what is missing. Published once when the notice
 * window opens (or on the first entry of the member inside it), again
 * whenever the need has moved by notices.need_step or more since the last
 * notice (0: never again), and never again for that review once the member
 * is seen qualified inside the window. A new review starts afresh.
 *
 * points.expiring (points, expire_ts, balance): notices.expiry_days before
 * an expiry lot (the points earned in one month, expiry.months) expires,
 * once per lot, with what is left of it then.
 *
 * Both are found through the due-time schedule (state.h): each member
 * stores when its next notice can fall due (notice_due_ts), so a tick
 * costs in proportion to the members due. 0 days turns a notice off.
 */
#ifndef LOYALTY_NOTICES_H
#define LOYALTY_NOTICES_H

#include <stdbool.h>
#include <stdint.h>

#include "outbox.h"
#include "rulebook.h"
#include "state.h"

/* Outputs notices_check appends at most: one of each kind. */
#define NOTICES_OUTPUTS 2

/* Publishes the notices due for member `pos` at the engine clock (stamped
 * `ts`) and stores when the next one can be due. Call after anything that
 * changes the member's qualification, tier, review or lots. Returns
 * wallet_next_expiry of the member when the expiry notice asked it on the
 * way, else STATE_EXPIRY_UNASKED: for state_reschedule_next, so that the
 * ring is scanned once for both. */
int64_t notices_check(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                      uint32_t pos);

/* Whether member `pos` would lose its tier at its next review (or grace
 * end) with the qualification that counts then, as it stands at the
 * engine clock: if so, true with that review's time in *review_ts and the
 * qualification missing in *needed (> 0). Tier 0 is never at risk. */
bool notices_at_risk(const struct state *st, const struct rulebook *rb, uint32_t pos,
                     int64_t *review_ts, int64_t *needed);

#endif
