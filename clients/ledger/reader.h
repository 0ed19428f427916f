/* reader.h - the ledger's side of Redis: a consumer group on each out
 * stream, read in order, acknowledged after the database commit.
 *
 * Blocking hiredis in the writer thread (see writer.h for why). On every
 * (re)connection each stream's group is created if missing and set to the
 * stream's watermark (the last entry the database holds), so the database,
 * not Redis, decides where reading resumes: nothing committed is read as
 * new, nothing uncommitted is skipped, even after a database restored from
 * a backup. Then the consumer's pending entries (delivered before, not
 * acknowledged: XREADGROUP with id 0) are read first, then new ones (>).
 * An entry deleted while pending is acknowledged at once and counted: it
 * has nothing left to store. Replies are checked for shape; a reply of the
 * wrong shape is an error, never a crash.
 */
#ifndef LOYALTY_LEDGER_READER_H
#define LOYALTY_LEDGER_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "lbatch.h"
#include "lconf.h"

#define READER_ERROR_MAX 512

struct reader_error {
    char text[READER_ERROR_MAX];
};

struct reader;

/* A reader for cfg's streams (`<prefix>out` for each prefix). `cfg` must
 * outlive it. Not connected yet. Aborts when out of memory. */
struct reader *reader_new(const struct lconf *cfg);

void reader_free(struct reader *r);

/* The key of stream i ("<prefix>out"). */
const char *reader_key(const struct reader *r, uint32_t i);

/* Connects (AUTH when configured) and prepares each stream's group at the
 * watermark streams[i].last. Returns 0, or -1 with err set (disconnected). */
int reader_connect(struct reader *r, const struct db_stream *streams, struct reader_error *err);

/* Whether a connection is up. */
bool reader_connected(const struct reader *r);

/* Drops the connection (the next call must be reader_connect). */
void reader_disconnect(struct reader *r);

/* Reads up to `max` entries into out[0..*n): pending ones first, then new
 * ones, waiting up to block_ms for those. The entries' bytes stay valid
 * until the next reader_read or reader_disconnect. `*gone` counts pending
 * entries found deleted (acknowledged here). Returns 0, or -1 with err set
 * (disconnected). */
int reader_read(struct reader *r, struct lb_entry *out, uint32_t max, uint32_t *n,
                uint64_t *gone, struct reader_error *err);

/* Acknowledges entries[0..n). Returns 0, or -1 with err set
 * (disconnected; the entries stay pending and come back after
 * reconnecting). */
int reader_ack(struct reader *r, const struct lb_entry *entries, uint32_t n,
               struct reader_error *err);

/* Whether entries after `watermark` were deleted from stream i before the
 * ledger read them (the stream's max-deleted-entry-id is newer): a gap in
 * the ledger that only a longer out stream (out_maxlen) avoids. Sets *gap.
 * Returns 0, or -1 with err set (disconnected). */
int reader_check_gap(struct reader *r, uint32_t i, struct proto_id watermark, bool *gap,
                     struct proto_id *deleted, struct reader_error *err);

#endif
