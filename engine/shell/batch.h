/* batch.h - what one batch of input entries produces, ready to commit.
 *
 * The consumer decodes and applies each entry of a batch read from Redis
 * and records here what must reach Redis for it: encoded output events,
 * DLQ entries (original bytes + reason), how many entries it holds and the
 * last id (the progress marker). commit.c formats all of it into one
 * fenced call (fenced.h) in the batch's command buffer. A batch is kept
 * until its commit is confirmed, so that it can be sent again after a
 * reconnect without applying anything twice.
 *
 * Relay entries (outbox.h: a transfer's credit or return for another
 * partition's input) are encoded as input entries, at most one per entry;
 * the commit puts them in the partition's xfer stream for the relay
 * (xrelay.h).
 *
 * Bounds: at most `entries_max` entries, each with at most
 * OUTBOX_ENTRY_OUTPUTS_MAX outputs of a few hundred bytes (a tick: a few per due
 * member, at most RULES_TICK_MEMBERS_MAX members), or one DLQ entry that
 * keeps at most BATCH_DLQ_BYTES_MAX of the original bytes.
 */
#ifndef LOYALTY_BATCH_H
#define LOYALTY_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto.h"
#include "rules.h"

/* Original bytes a DLQ entry keeps: 8x the largest valid entry, so any
 * entry rejected for a rule is kept whole. */
#define BATCH_DLQ_BYTES_MAX (8 * PROTO_ENTRY_BYTES_MAX)

struct batch_span {
    uint32_t off, len; /* in the batch's byte buffer */
};

struct batch_dlq {
    struct batch_span m; /* original bytes of `m`, at most BATCH_DLQ_BYTES_MAX */
    char src[PROTO_ID_STR_MAX];
    const char *reason;
    char detail[PROTO_DETAIL_MAX];
};

struct batch_relay {
    struct batch_span m; /* the encoded input entry */
    uint32_t partition;  /* whose input it goes to */
};

struct batch {
    uint32_t entries_max;
    msgpack_sbuffer buf; /* encoded outputs and copied DLQ bytes */
    struct batch_span *outs;
    uint32_t out_count, out_cap;
    uint32_t out_by_kind[PROTO_OUT_KIND_COUNT];
    struct batch_dlq *dlq;
    uint32_t dlq_count;
    struct batch_relay *relays; /* entries_max of them */
    uint32_t relay_count;
    uint32_t entry_count;
    struct proto_id last_id;
    char last_id_str[PROTO_ID_STR_MAX];
    char expect_str[PROTO_ID_STR_MAX]; /* the marker its commit expects ("": none) */
    uint64_t started_us; /* monotonic time the batch arrived */
    char *cmd;           /* the commit call in RESP (commit_format), reused */
    size_t cmd_len, cmd_cap;
};

/* Allocates a batch for up to `entries_max` entries. Returns 0, or -1 when
 * out of memory. */
int batch_init(struct batch *b, uint32_t entries_max);

/* Frees the batch's memory. */
void batch_free(struct batch *b);

/* Empties the batch for reuse (keeps its memory). */
void batch_reset(struct batch *b);

/* True when the batch holds nothing to commit. */
bool batch_empty(const struct batch *b);

/* Records input entry `id` (string form `id_str`): it is counted and, when
 * `advance`, becomes the progress marker (an entry applied before, read
 * again, is only counted: the marker never moves back). At most
 * entries_max (asserted). */
void batch_add_entry(struct batch *b, struct proto_id id, const char *id_str, bool advance);

/* Encodes the outputs of `res` produced by the entry at `src`. Returns 0,
 * or -1 when out of memory. */
int batch_add_outputs(struct batch *b, struct proto_id src, const struct outbox *res);

/* Encodes the relay entry of `res` (res->has_relay). Returns 0, or -1
 * when out of memory. */
int batch_add_relay(struct batch *b, const struct outbox *res);

/* Records a DLQ entry for the entry at `src` with original bytes
 * `m[0..len)` (m may be NULL when the entry had no `m` field). Returns 0,
 * or -1 when out of memory. */
int batch_add_dlq(struct batch *b, const char *src, const char *m, size_t len,
                  const struct proto_reject *rej);

#endif
