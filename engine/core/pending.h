/* pending.h - a member's pending points: what sales earned that cannot be
 * spent yet (earning.pending_days, the return window).
 *
 * Pending points live in a small ring of slots inside the member
 * (members.h: pend_day, pend_points; pend_qual in its extras, extras.h;
 * MEMBERS_PENDING_SLOTS of them), one slot per release day, in ascending day order. The
 * qualification of a sale waits in its slot too when tiers.qualify_on is
 * "release". Nothing here publishes anything or touches the balance:
 * release.h moves points into and out of pending, with their events.
 *
 * Release days. A sale on UTC day D releases at 00:00 UTC on day
 * D + pending_days + 1 (so the whole of the last day of the window is
 * covered), rounded up to a multiple of pending_step_days (days since the
 * epoch). The step, ceil(pending_days / (MEMBERS_PENDING_SLOTS - 1)), is
 * the smallest that makes every release day a member can have pending at
 * once fit the slots: after today (due slots are released first) and up to
 * today + pending_days + step there are at most MEMBERS_PENDING_SLOTS
 * multiples of it. Example: 30 days and 5 slots give a step of
 * ceil(30 / 4) = 8 days, so points wait 31 to 38 days; 4 days or fewer
 * give a step of 1 (exact).
 *
 * At the limit (only after a rulebook switch to a longer window, whose
 * release days do not fit the slots of the old one): new points join the
 * first slot releasing on or after their day, or, later than all, the last
 * slot, whose day moves to theirs. Points are never released earlier than
 * their own day; some wait longer.
 */
#ifndef LOYALTY_PENDING_H
#define LOYALTY_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include "members.h"
#include "rulebook.h"

/* The rounding step of release days for a window of `pending_days` (> 0),
 * in days (see above). */
int32_t pending_step_days(uint32_t pending_days);

/* The UTC day (since the epoch) on which points of a sale at `ts` are
 * released under `rb` (rb->pending_days > 0). */
int32_t pending_release_day(const struct rulebook *rb, int64_t ts);

/* Adds `points` (>= 0) and `qual` (>= 0), not both 0, to the slot of
 * `day` (> 0), or as the limit above says. The caller checked that the
 * sums cannot overflow (points_overflows). */
void pending_add(struct members *ms, struct member *m, int32_t day, int64_t points,
                 int64_t qual);

/* Removes the earliest slot if its day is at or before `today`, into
 * *day, *points and *qual. Returns false (nothing changed) otherwise. */
bool pending_pop_due(struct members *ms, struct member *m, int32_t today, int32_t *day,
                     int64_t *points, int64_t *qual);

/* Takes up to `points` and up to `qual` out of the slot holding points of
 * release day `day` (the first slot releasing on or after it), emptying
 * the slot when nothing is left in it. Returns the points taken (0 when no
 * slot releases that late) and the qualification in *qual_taken. */
int64_t pending_cancel(struct members *ms, struct member *m, int32_t day, int64_t points,
                       int64_t qual, int64_t *qual_taken);

/* The day of the slot pending_cancel(day) would take from, or 0. */
int32_t pending_slot_day(const struct member *m, int32_t day);

/* Qualification waiting in the slots releasing on days from..to. */
int64_t pending_qual_between(const struct members *ms, const struct member *m, int32_t from,
                             int32_t to);

/* Points pending in every slot. */
int64_t pending_total(const struct member *m);

/* 00:00 UTC of the earliest release day, or INT64_MAX when nothing is
 * pending. */
int64_t pending_next_ts(const struct member *m);

/* Slots in use (their data is m->pend_day, pend_points [0..n) and the
 * extras' pend_qual). */
uint32_t pending_count(const struct member *m);

#endif
