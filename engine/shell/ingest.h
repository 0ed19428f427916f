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
#include "ingestahead.h" /* ingest_field_m */
#include "rules.h"
#include "rulebook.h"
#include "state.h"
#include "versions.h"

/* What ingest_entries reports. The caller zeroes it; a batch applied in
 * parts (a pause for a rulebook text) adds up over the parts. */
struct ingest_stats {
    uint32_t entries;  /* entries looked at */
    uint32_t applied;  /* entries applied, rejected or recognised as retries */
    uint32_t skipped;  /* entries at or before st->last_id (already applied) */
};

/* What a resolver knows of the text a rules entry names. */
enum ingest_text {
    INGEST_TEXT_KNOWN,   /* `rt` filled: the verified rulebook, or the problem */
    INGEST_TEXT_UNKNOWN  /* not fetched yet: apply nothing, fetch it first */
};

/* Finds the rulebook named `hash` for a rules entry about to be applied to
 * `st` (rulesync.h is the daemon's). Its answer stays valid until the
 * entry is applied; when it answers UNKNOWN it remembers the hash, to
 * fetch it. */
typedef enum ingest_text ingest_resolve_fn(void *ctx, const struct state *st,
                                           const char *hash, struct rules_text *rt);

/* The apply argument of ingest_apply_rules: the resolver, and which
 * partition of how many the entries come from (partition.h). */
struct ingest_rules {
    ingest_resolve_fn *resolve;
    void *ctx;
    uint32_t partition, partitions;
};

/* ingest_apply_fn's answer when the entry waits for a rulebook text. */
#define INGEST_NEED_TEXT 1

/* Applies one entry not applied before (its id is after st->last_id) to
 * `st`: entry `id` (its string reply `idr`, its [field, value, ...] reply
 * `fields`, NULL or not an array when the entry was deleted), with what it
 * produces added to `b` (NULL: a recovery replay, outputs discarded) by way
 * of `res`. `arg` is the apply function's own. Moves st->last_id to `id`.
 * Returns 0; -1 when the batch cannot grow; or INGEST_NEED_TEXT, with
 * nothing applied, when it is a rules entry whose text must be fetched
 * first (the resolver knows which). */
typedef int ingest_apply_fn(const void *arg, struct state *st, struct proto_id id,
                            const redisReply *idr, const redisReply *fields, struct batch *b,
                            struct outbox *res);

/* The daemon's apply function: decodes the entry's `m` field and applies
 * it with the rulebook in force (st->ver); a rules entry's text comes from
 * `arg` (a const struct ingest_rules *). An entry that does not decode,
 * that names a member of another partition (`wrong_partition`), or that
 * the rules reject, goes to the DLQ. */
int ingest_apply_rules(const void *arg, struct state *st, struct proto_id id,
                       const redisReply *idr, const redisReply *fields, struct batch *b,
                       struct outbox *res);

/* Applies the entries of `entries` (an array reply) from index *pos on to
 * `st` in order, each with `apply(arg, ...)`. When `b` is NULL (recovery
 * replay) outputs are discarded: they were published before. Otherwise
 * every entry is added to `b` for acknowledgement, with its outputs or DLQ
 * entry. Entries at or before st->last_id are not applied again (only
 * acknowledged). Returns 0 when all are done; INGEST_NEED_TEXT when it
 * stopped before entry *pos, which waits for a rulebook text (not added
 * to `b`: apply from *pos again once the text is at hand); -1 when the
 * reply is malformed or the batch cannot grow (the caller drops the
 * connection; nothing is lost, the entries stay pending). `scratch`
 * (rules_outbox_init'ed) holds each entry's outputs in turn. */
int ingest_entries(ingest_apply_fn *apply, const void *arg, struct state *st,
                   const redisReply *entries, size_t *pos, struct batch *b,
                   struct outbox *scratch, struct ingest_stats *stats);

#endif
