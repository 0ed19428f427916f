/* ingest.h - decode and apply the entries of one stream reply.
 *
 * Takes the entries Redis returned (XREAD or XRANGE form: an array of
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

/* The value of field `m` among an entry's [field, value, ...] (a string
 * reply), or NULL when there is none (or `fields` is not an array). */
const redisReply *ingest_field_m(const redisReply *fields);

/* Applies one entry not applied before (its id is after st->last_id) to
 * `st`: entry `id` (its string reply `idr`, its [field, value, ...] reply
 * `fields`, NULL or not an array when the entry was deleted), with what it
 * produces added to `b` (NULL: a recovery replay, outputs discarded) by way
 * of `res`. `arg` is the apply function's own. Moves st->last_id to `id`.
 * Returns 0, or -1 when the batch cannot grow. */
typedef int ingest_apply_fn(const void *arg, struct state *st, struct proto_id id,
                            const redisReply *idr, const redisReply *fields, struct batch *b,
                            struct outbox *res);

/* What the daemon's apply function needs: the rules, and which partition
 * of how many the entries come from (partition.h). */
struct ingest_rules {
    const struct rulebook *rb;
    uint32_t partition, partitions;
};

/* The daemon's apply function: decodes the entry's `m` field and applies
 * it with the rules of `rules` (a const struct ingest_rules *); an entry
 * that does not decode, that names a member of another partition
 * (`wrong_partition`), or that the rules reject, goes to the DLQ. */
int ingest_apply_rules(const void *rules, struct state *st, struct proto_id id,
                       const redisReply *idr, const redisReply *fields, struct batch *b,
                       struct outbox *res);

/* Applies the entries of `entries` (an array reply) to `st` in order, each
 * with `apply(arg, ...)`. When `b` is NULL (recovery replay) outputs are
 * discarded: they were published before. Otherwise every entry is added to
 * `b` for acknowledgement, with its outputs or DLQ entry. Entries at or
 * before st->last_id are not applied again (only acknowledged). Returns 0,
 * or -1 when the reply is malformed or the batch cannot grow (the caller
 * drops the connection; nothing is lost, the entries stay pending).
 * `scratch` (rules_outbox_init'ed) holds each entry's outputs in turn. */
int ingest_entries(ingest_apply_fn *apply, const void *arg, struct state *st,
                   const redisReply *entries, struct batch *b, struct outbox *scratch,
                   struct ingest_stats *stats);

#endif
