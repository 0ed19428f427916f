/* schedule.h - members ordered by when they are next due.
 *
 * Time-driven work (expiry, tier reviews, lifecycle stages) is found
 * through this min-heap of (due time, member position), never by scanning
 * all members, so a tick costs in proportion to the members that are due.
 * Ties are broken by position, so the order in which due members are
 * handled is defined. Entries may go stale (a member's due time moved
 * later): the owner compares an entry with the member's own sched_ts and
 * skips stale ones; a new entry is pushed only when a due time moves
 * earlier, so the heap holds about one entry per member. The heap is
 * reserved once (its owner passes twice the members it can hold); when it
 * fills up with stale entries the owner rebuilds it from the members' own
 * due times (schedule_clear, then one push per scheduled member), so it
 * never grows.
 */
#ifndef LOYALTY_SCHEDULE_H
#define LOYALTY_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

struct schedule_entry {
    int64_t due_ms;
    uint32_t pos;
    uint32_t zero; /* explicit padding, always 0: entries compare as bytes */
};

struct schedule {
    struct schedule_entry *heap;
    uint32_t count, cap;
    uint64_t rebuilds; /* schedule_clear calls: a statistic, not state */
};

/* Initialises an empty schedule of at most `cap` (>= 1) entries. Returns 0,
 * or -1 when out of memory. */
int schedule_init(struct schedule *s, uint32_t cap);

/* Frees the heap. */
void schedule_free(struct schedule *s);

/* True when no entry can be pushed before a rebuild. */
bool schedule_full(const struct schedule *s);

/* Drops every entry (for a rebuild). */
void schedule_clear(struct schedule *s);

/* Adds (due_ms, pos); the schedule must not be full (asserted). */
void schedule_push(struct schedule *s, int64_t due_ms, uint32_t pos);

/* Removes the earliest entry into *out if it is due at or before now_ms;
 * returns false (and leaves the heap unchanged) otherwise. */
bool schedule_pop_due(struct schedule *s, int64_t now_ms, struct schedule_entry *out);

/* Adds (due_ms, pos) at the end without ordering it (a loader: one
 * schedule_heapify after the last); not full (asserted). */
void schedule_append(struct schedule *s, int64_t due_ms, uint32_t pos);

/* Orders the entries into a heap in O(count) (Floyd's bottom-up). */
void schedule_heapify(struct schedule *s);

#endif
