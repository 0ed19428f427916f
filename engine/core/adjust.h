/* adjust.h - a manual correction of a member's points is not earning.
 *
 * An `adjust` moves the balance by its points (points.changed, cause
 * adjust; a debit may take it below zero). It is not earned: it counts
 * toward neither lifetime points nor every-N rewards, so a goodwill or
 * migration credit mints no rewards, unless earning.adjust_earns says it
 * does (then a credit counts as earned and a debit lowers the every-N
 * count). With `qualifying: true` its points also count toward tier
 * qualification in the month of its ts (a credit may upgrade at once;
 * a debit waits for the review).
 */
#ifndef LOYALTY_ADJUST_H
#define LOYALTY_ADJUST_H

#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"

/* Applies adjustment `e` to enrolled member `pos` (see above), or rejects
 * it (points_overflow) with nothing changed. */
void adjust_apply(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                  uint32_t pos, struct outbox *ob);

#endif
