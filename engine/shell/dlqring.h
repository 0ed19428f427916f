/* dlqring.h - the last rejections this daemon committed to <prefix>dlq,
 * kept in memory for GET /v1/dlq and the dashboard.
 *
 * Fed with each batch whose commit Redis confirmed, so it shows exactly
 * what reached <prefix>dlq, in stream order: the reason code, the detail
 * and the head of the original bytes of each. Bounded: the newest
 * DLQRING_ENTRIES_MAX stay; <prefix>dlq itself has them all. It starts
 * empty (rejections of earlier runs are only in Redis) and is emptied when
 * the state is rebuilt from a snapshot, since its entries are then applied,
 * and committed, again.
 */
#ifndef LOYALTY_DLQRING_H
#define LOYALTY_DLQRING_H

#include <stdint.h>

#include <jansson.h>

#include "batch.h"

/* Enough for a screen of recent rejections; older ones are in Redis. */
#define DLQRING_ENTRIES_MAX 256
/* Original bytes kept per entry: enough to see the kind and the member of
 * a msgpack entry (a preview, not the entry: that is in <prefix>dlq). */
#define DLQRING_HEAD_BYTES 48

struct dlqring_entry {
    char src[PROTO_ID_STR_MAX];
    const char *reason; /* a static reason code (proto_reject.code) */
    char detail[PROTO_DETAIL_MAX];
    uint32_t m_bytes;   /* size of the original bytes the DLQ entry holds */
    uint32_t head_len;  /* min(m_bytes, DLQRING_HEAD_BYTES) */
    uint8_t head[DLQRING_HEAD_BYTES];
};

struct dlqring {
    struct dlqring_entry entries[DLQRING_ENTRIES_MAX];
    uint32_t next;       /* slot the next entry goes to */
    uint32_t count;      /* entries held, <= DLQRING_ENTRIES_MAX */
    uint64_t committed;  /* entries added since start or the last clear */
};

/* Allocates an empty ring. Returns NULL when out of memory. */
struct dlqring *dlqring_new(void);

/* Frees the ring (NULL is fine). */
void dlqring_free(struct dlqring *r);

/* Adds the DLQ entries of `b`, a batch whose commit Redis confirmed, in
 * order; the oldest entries of the ring make room. */
void dlqring_add_batch(struct dlqring *r, const struct batch *b);

/* Forgets every entry (the state was rebuilt). */
void dlqring_clear(struct dlqring *r);

/* {"entries": [newest first, at most `limit`], "held": n, "capacity": N,
 * "committed": n} with each entry {"src", "reason", "detail", "m_bytes",
 * "m_head_hex"}. Returns NULL when out of memory. */
json_t *dlqring_json(const struct dlqring *r, uint32_t limit);

#endif
