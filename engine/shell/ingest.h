/* ingest.h - decode and apply the entries of one stream reply.
 *
 * Takes the entries Redis returned (XREADGROUP or XRANGE form: an array of
 * [id, [field, value, ...]]), decodes each entry's `m` field, applies it
 * to the state through the rules core, and records in the batch what must
 * be committed (outputs, DLQ entries, acks). No I/O: the reply is already
 * in memory.
 */
#ifndef LOYALTY_INGEST_H
#define LOYALTY_INGEST_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "batch.h"
#include "rules.h"
#include "rulebook.h"
#include "state.h"

struct ingest_stats {
    uint32_t entries;  /* entries in the reply */
    uint32_t applied;  /* entries applied, rejected or recognised as retries */
    uint32_t skipped;  /* entries at or before st->last_id (already applied) */
};

/* Applies the entries of `entries` (an array reply) to `st` in order.
 * When `b` is NULL (recovery replay) outputs are discarded: they were
 * published before. Otherwise every entry is added to `b` for
 * acknowledgement, with its outputs or DLQ entry. Entries at or before
 * st->last_id are not applied again (only acknowledged). Returns 0, or -1
 * when the reply is malformed or the batch cannot grow (the caller drops
 * the connection; nothing is lost, the entries stay pending). `scratch`
 * (rules_outbox_init'ed) holds each entry's outputs in turn. */
int ingest_entries(struct state *st, const struct rulebook *rb, const redisReply *entries,
                   struct batch *b, struct outbox *scratch, struct ingest_stats *stats);

/* The benchmark baseline (--bare-consumer): the same reading, batching and
 * commit, but each entry is neither decoded nor applied; it publishes one
 * fixed output per input and moves st->last_id. Same contract otherwise. */
int ingest_bare(struct state *st, const redisReply *entries, struct batch *b,
                struct outbox *scratch, struct ingest_stats *stats);

#endif
