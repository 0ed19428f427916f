/* snaprec.h - the records of a snapshot, field by field.
 *
 * Format 3's body, every integer little-endian and every array behind its
 * length, so that no C struct layout, compiler or machine shows in it:
 *   versions  the rulebook versions of the state (versions.h): the switch
 *             points, then the canonical texts of the version in force and
 *             of the scheduled one, so that recovery never needs Redis to
 *             still hold an old text;
 *   globals   counters that belong to no member;
 *   members   each member's fields, then its expiry lots as (month,
 *             points) pairs;
 *   txns      the idempotency window, oldest first (format 5: each txn's
 *             XXH3-128 key, txns.h; format 4: its id);
 *   liability the points liability (snapliab.h; absent before it existed).
 * Loading checks every record against the state's limits and the rules'
 * invariants, whatever format the record came in (snapv2.h reads format
 * 2 into the same checks), and tells a snapshot this build cannot take
 * (FOREIGN: another build, another daemon configuration) from one that is
 * damaged.
 */
#ifndef LOYALTY_SNAPREC_H
#define LOYALTY_SNAPREC_H

#include <stdint.h>

#include "lebuf.h"
#include "state.h"
#include "versions.h"

#define SNAPSHOT_ERROR_MAX 256

/* What loading a snapshot found. */
enum snapshot_status {
    SNAPSHOT_DAMAGED = -1, /* checksum, truncation, a malformed record: set aside */
    SNAPSHOT_OK = 0,
    SNAPSHOT_FOREIGN = 1   /* written by another build or for another configuration
                            * (format version, byte order, a limit this daemon
                            * has lower, a text this build cannot parse): skipped,
                            * kept as it is */
};

struct snapshot_error {
    char text[SNAPSHOT_ERROR_MAX];
};

/* Fills err with the message and returns `status`. */
enum snapshot_status snaprec_fail(struct snapshot_error *err, enum snapshot_status status,
                                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Both formats' headers hold, from some offset on, eight u64 each: the
 * last entry id (ms, seq), the engine clock, then entries applied,
 * rejected, duplicate and txns evicted early. Sets them on `st` from
 * `head` (the first of them); DAMAGED when the clock is out of range. */
enum snapshot_status snaprec_read_head(struct state *st, const char *head,
                                       struct snapshot_error *err);

/* Writes the body of `st` (see above), the texts made by `codec`. Returns
 * 0, or -1 when out of memory or the sink failed. */
int snaprec_write_body(struct lebuf_out *o, const struct state *st,
                       const struct rulebook_codec *codec);

/* Reads a body written by snaprec_write_body (format 5) or by the builds
 * that wrote format 4 (`format`: the header's) into `st` (initialised and
 * empty, its clock already the snapshot's), holding `members` members and
 * `txns` txns (the header's counts). */
enum snapshot_status snaprec_read_body(struct lebuf_in *in, uint32_t format, uint32_t members,
                                       uint32_t txns, const struct rulebook_codec *codec,
                                       struct state *st, struct snapshot_error *err);

/* A lot of a member being restored: the points expiring in `month`. */
struct snaprec_lot {
    int64_t key; /* the ring: the month the lot expires in; keyed lots: its expiry (ms) */
    int64_t points;
};

/* Checks member `m` with extras `x`, record `i` of `n`, with its `nlots`
 * lots, against the state's limits, the version in force and the engine
 * clock, and appends it to `st` (and its due time to the schedule,
 * unordered: the caller calls schedule_heapify after the last member). */
enum snapshot_status snaprec_restore_member(struct state *st, const struct member *m,
                                            const struct member_extra *x,
                                            const struct snaprec_lot *lots, uint32_t nlots,
                                            uint32_t i, uint32_t n,
                                            struct snapshot_error *err);

/* Checks txn record `r` (record `i`; `*prev_ms`: the previous record's
 * applied_ms, updated) and appends it to `st`'s window. `txn`: the id of
 * a record of a format that kept ids (its key is then set from it), or
 * NULL when r->key is the record's. */
enum snapshot_status snaprec_restore_txn(struct state *st, struct txn_rec *r, const char *txn,
                                         uint32_t i, int64_t *prev_ms,
                                         struct snapshot_error *err);

#endif
