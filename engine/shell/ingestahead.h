/* ingestahead.h - decode a reply's entries a few ahead of applying them,
 * and hint their members into the cache.
 *
 * At a million members and more, applying a purchase waits on memory: the
 * member index slot, then the member record and its expiry lots, each a
 * trip that depends on the one before (prefetch.h). The daemon's batch
 * loop (ingest_entries with ingest_apply_rules) therefore decodes entry
 * i + INGEST_AHEAD before it applies entry i, and hints prefetch_slot for
 * entry i + 2 and prefetch_member for entry i + 1, so those trips overlap
 * with the work on entry i.
 *
 * Decoding is pure (the bytes alone decide the entry or its rejection),
 * so decoding earlier changes no answer; a hint changes no state, never
 * faults and allocates nothing. Outputs, DLQ entries and their order are
 * the same with or without the window. The window lives for one
 * ingest_entries call (a reply may be freed between calls): it holds
 * INGEST_AHEAD_SLOTS decoded entries, about 7 KiB each, reserved once.
 */
#ifndef LOYALTY_INGESTAHEAD_H
#define LOYALTY_INGESTAHEAD_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "proto.h"
#include "state.h"

/* Entries decoded ahead of the one applied: two, one per prefetch stage
 * (the slot for i + 2, the member for i + 1), as bench_core measured it
 * (--member-prefetch). More would only add decoded entries to L1. */
#define INGEST_AHEAD 2u
#define INGEST_AHEAD_SLOTS (INGEST_AHEAD + 1u)

/* One entry's field `m`, decoded. */
struct ingest_decoded {
    const redisReply *m;      /* the entry's field m; NULL when it has none */
    int rc;                   /* 0: `e` holds the entry; -1: rejected, `rej` says why */
    struct proto_reject rej;
    struct proto_entry e;
};

/* The decoded entries of one reply from the entry being applied on. */
struct ingest_ahead {
    const redisReply *entries; /* the reply (an array of [id, fields]) */
    size_t next;               /* the first entry not decoded yet */
    struct ingest_decoded slot[INGEST_AHEAD_SLOTS]; /* entry k in slot k % SLOTS */
};

/* The value of field `m` among an entry's [field, value, ...] (a string
 * reply), or NULL when there is none (or `fields` is not an array). */
const redisReply *ingest_field_m(const redisReply *fields);

/* Decodes the field `m` of `fields` (an entry's [field, value, ...] reply;
 * NULL or not an array when the entry was deleted) into `d`, with the
 * event loop's decoder (it allocates nothing once reserved). A missing
 * field, a deleted entry or bytes the contract refuses leave d->rc = -1
 * and the reason in d->rej. Event loop only. */
void ingest_decode_fields(const redisReply *fields, struct ingest_decoded *d);

/* Starts a window over `entries` (an array reply) with nothing decoded
 * before entry `pos`. */
void ingest_ahead_start(struct ingest_ahead *a, const redisReply *entries, size_t pos);

/* Entry `pos` of the window's reply, decoded (pos at or after the last
 * one taken, and less than the reply's element count). Decodes the entries
 * up to pos + INGEST_AHEAD not decoded yet (an entry that is not
 * [id, fields] is decoded as deleted: the caller rejects the reply when it
 * reaches it) and hints the members of pos + 1 and pos + 2 into the cache
 * for `st` (prefetch.h). The answer stays valid until the next call. */
const struct ingest_decoded *ingest_ahead_take(struct ingest_ahead *a, const struct state *st,
                                               size_t pos);

#endif
