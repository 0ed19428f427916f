/* tiers.h - VIP levels: immediate upgrades, yearly reviews, grace.
 *
 * A member moves up as soon as the qualifying total of the rolling window
 * reaches a higher threshold. Moving down happens only at a review: on the
 * anniversary of enrolment, or every year on a fixed MM-DD (the first one
 * at least a year after enrolment). A review that finds the member below
 * their tier moves them down one level, or, with grace_months, first waits
 * that long and moves them down only if they still fall short then. Each
 * move publishes tier.changed. With tiers.downgrade = "never" (lifetime
 * tiers) reviews move nobody down; a manual status floor (status.h) holds
 * a member at or above its tier until it ends.
 */
#ifndef LOYALTY_TIERS_H
#define LOYALTY_TIERS_H

#include <stdint.h>

#include "outbox.h"
#include "rulebook.h"
#include "state.h"

/* Outputs tiers_review_due appends at most: one downgrade per level. */
#define TIERS_REVIEW_OUTPUTS (RULEBOOK_TIERS_MAX - 1)

/* The highest tier whose threshold `qualifying` reaches. */
uint8_t tiers_for(const struct rulebook *rb, int64_t qualifying);

/* The first review of a member enrolled at `enrolled_ts`. */
int64_t tiers_first_review(const struct rulebook *rb, int64_t enrolled_ts);

/* Moves member `pos` up to the tier its window qualifies for, if higher
 * (tier.changed reason upgrade, stamped `ts`); cancels a pending grace. */
void tiers_upgrade(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                   uint32_t pos);

/* Moves member `m` to tier `to` (!= its tier), publishing tier.changed
 * with `reason` (a static string: "upgrade", "review", "refund"...)
 * stamped `ts`, and keeps the tier counts. */
void tiers_move(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                struct member *m, uint8_t to, const char *reason);

/* Handles the grace end and every review of member `pos` due by the
 * engine clock (tier.changed reason review). */
void tiers_review_due(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      uint32_t pos);

#endif
