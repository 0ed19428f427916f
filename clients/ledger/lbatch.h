/* lbatch.h - one batch of out-stream entries on its way into the database.
 *
 * Two steps. lbatch_build turns the entries into rows without touching the
 * database: each is decoded (proto_out.h; an entry that is not a valid
 * output event is still stored, with its problem, and changes no points),
 * stamped with the rulebook version in force (the last rules.changed of
 * its stream) and the month of the engine clock (the newest event time of
 * its stream, perk.triggered excepted: scans do not move the daemon's
 * clock). Entries at or below a stream's watermark were written before
 * and are skipped. lbatch_write then stores the rows in one transaction:
 * the events not stored yet (by key), and for those only the wallets and
 * cohort flows their points.changed make (cohort.h), and the streams'
 * progress. A failed write rolls back and can be retried as it is: what
 * is stored decides what is applied, so nothing counts twice.
 */
#ifndef LOYALTY_LEDGER_LBATCH_H
#define LOYALTY_LEDGER_LBATCH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "wcache.h"

#define LBATCH_STREAMS_MAX 64 /* lconf.h's LCONF_PREFIXES_MAX */

/* One stream entry as read from Redis. */
struct lb_entry {
    uint32_t stream; /* index into the streams given to lbatch_build */
    struct proto_id id;
    const char *m;   /* the bytes of its `m` field; NULL when it has none */
    size_t m_len;
};

/* What batches did, added up by lbatch_write. */
struct lbatch_counts {
    uint64_t written;    /* rows inserted */
    uint64_t duplicates; /* entries stored before (by watermark or by key) */
    uint64_t problems;   /* rows stored with a problem (not a valid output event) */
    uint64_t reconciled; /* wallets corrected before a change (cohort.h) */
};

struct lbatch;

/* A batch of at most entries_max entries. Aborts when out of memory. */
struct lbatch *lbatch_new(uint32_t entries_max);

void lbatch_free(struct lbatch *b);

/* Builds rows from entries[0..n) (n <= entries_max), starting from the
 * committed states streams[0..ns). The entries' bytes must stay valid
 * until the batch is written. */
void lbatch_build(struct lbatch *b, const struct lb_entry *entries, uint32_t n,
                  const struct db_stream *streams, uint32_t ns);

/* Writes the built batch in one transaction and adds what it did to
 * *counts. Wallets come from `cache` where it holds them (NULL: always from
 * the database) and go into it after the COMMIT. Returns 0, or -1 with err
 * set after rolling back (nothing of the batch is stored, or all of it if
 * the COMMIT's answer was lost; the cache is cleared, and the batch may be
 * written again as it is). */
int lbatch_write(struct lbatch *b, struct db *db, struct wcache *cache,
                 struct lbatch_counts *counts, struct db_error *err);

/* The streams' states after the batch; what is committed once
 * lbatch_write succeeded. */
const struct db_stream *lbatch_streams(const struct lbatch *b);

/* Rows the batch holds (entries not skipped as written before). */
uint32_t lbatch_rows(const struct lbatch *b);

/* The built rows, lbatch_rows() of them, valid until the next build: for
 * benchmarks that insert the very rows the ledger writes. */
const struct db_event *lbatch_events(const struct lbatch *b);

#endif
