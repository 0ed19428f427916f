/* extras.h - the sparse pool of member extras: fields most members never
 * set, kept out of struct member (members.h).
 *
 * A member's extras record holds what stays zero for most members of a
 * program: the qualification of pending points (only with tiers.qualify_on
 * "release"), the counts of limited campaigns (budgets.h), the day's sent
 * transfers (transfer.h) and a manual status floor (status.h). A member refers to its record by
 * a handle (1-based; 0: none, every field reads as zero). A record is
 * taken from the pool by the first write of a member that has none
 * (extras_edit) and given back when all its fields are zero again
 * (extras_settle), so only members that use one of these features hold
 * one. The pool is reserved once for its worst case, one record per
 * member (reserve.h: resident only as used), with a free list; taking a
 * record allocates nothing.
 *
 * Handles are not state: which record a member holds depends on the order
 * records were taken and given back, which a snapshot does not keep. A
 * snapshot writes the field values; a loaded one takes records afresh.
 * Compare members by value (members_same), never by their bytes.
 */
#ifndef LOYALTY_EXTRAS_H
#define LOYALTY_EXTRAS_H

#include <stdbool.h>
#include <stdint.h>

#include "rulebook.h"

/* Pending points (pending.h): one slot per release day. A sale's release
 * day is rounded up so that the days a member can have pending at once
 * never outnumber the slots (pending_release_day); a rulebook switch to a
 * longer window can still fill them, and then the newest slot takes the
 * new points and the later day. Five keep a member's pending state at 100
 * bytes, and release days of a 30-day window at most 8 days apart. */
#define MEMBERS_PENDING_SLOTS 5

/* The fields, all zero when the member does not use them. Laid out
 * without padding but the explicit `zero`: records are compared as bytes
 * up to `next_free` (extras_settle). */
struct member_extra {
    int64_t pend_qual[MEMBERS_PENDING_SLOTS]; /* qualification waiting (qualify_on release),
                                               * by the slots of members.h pend_day */
    int64_t transfer_points; /* points sent on transfer_day (transfer.h) */
    int64_t manual_until_ts; /* status floor of manual_tier until then; 0: none (status.h) */
    int32_t camp_points[RULEBOOK_LIMITED_CAMPAIGNS_MAX]; /* budgets.h: points each limited
                                                          * campaign gave (saturating) */
    int32_t transfer_day;   /* UTC day of transfer_points */
    uint16_t camp_times[RULEBOOK_LIMITED_CAMPAIGNS_MAX]; /* and the sales it gave any to */
    uint8_t manual_tier;
    uint8_t zero[7];    /* explicit padding, always 0 */
    uint32_t next_free; /* pool link of a free record; 0 in a taken one */
};

_Static_assert(sizeof(struct member_extra) == 96, "member_extra has no hidden padding");

/* The pool: records v[0..max), handle h naming v[h - 1]. */
struct extras {
    struct member_extra *v;
    uint32_t max;       /* records reserved: one per member the store can hold */
    uint32_t high;      /* records ever handed out (v[0..high) have been touched) */
    uint32_t free_head; /* handle of the first free record below high; 0: none */
    uint32_t live;      /* records taken now */
};

/* Reserves a pool of `max` (>= 1) records. Returns 0, or -1 when out of
 * memory. */
int extras_init(struct extras *x, uint32_t max);

/* Frees the pool. */
void extras_free(struct extras *x);

/* The record of handle `h`, read only; a shared all-zero record for 0. */
const struct member_extra *extras_get(const struct extras *x, uint32_t h);

/* The record of *h for writing: when *h is 0, takes a zeroed one and sets
 * *h to it. Allocates nothing; the pool holds a record for every member,
 * so it cannot run out (asserted). */
struct member_extra *extras_edit(struct extras *x, uint32_t *h);

/* Gives record *h back and sets *h to 0 when all its fields are zero;
 * nothing otherwise (or when *h is 0). */
void extras_settle(struct extras *x, uint32_t *h);

/* Sets the fields of *h's record to those of `val`: takes a record when
 * *h is 0 and `val` is not all zero, gives it back when `val` is. */
void extras_put(struct extras *x, uint32_t *h, const struct member_extra *val);

/* Whether `a` and `b` hold the same field values. */
bool extras_same(const struct member_extra *a, const struct member_extra *b);

#endif
