/* batch.c - see batch.h. */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"
#include "xfer.h"

int batch_init(struct batch *b, uint32_t entries_max)
{
    memset(b, 0, sizeof(*b));
    b->entries_max = entries_max;
    b->out_cap = entries_max * OUTBOX_ENTRY_OUTPUTS_MAX;
    msgpack_sbuffer_init(&b->buf);
    b->outs = calloc(b->out_cap, sizeof(b->outs[0]));
    b->dlq = calloc(entries_max, sizeof(b->dlq[0]));
    b->relays = calloc(entries_max, sizeof(b->relays[0]));
    if (b->outs == NULL || b->dlq == NULL || b->relays == NULL) {
        batch_free(b);
        return -1;
    }
    return 0;
}

void batch_free(struct batch *b)
{
    msgpack_sbuffer_destroy(&b->buf);
    free(b->outs);
    free(b->dlq);
    free(b->relays);
    free(b->cmd);
    memset(b, 0, sizeof(*b));
}

void batch_reset(struct batch *b)
{
    msgpack_sbuffer_clear(&b->buf);
    b->out_count = 0;
    b->dlq_count = 0;
    b->relay_count = 0;
    b->entry_count = 0;
    memset(b->out_by_kind, 0, sizeof(b->out_by_kind));
    b->last_id_str[0] = '\0';
    b->expect_str[0] = '\0';
    b->cmd_len = 0;
    memset(&b->last_id, 0, sizeof(b->last_id));
    b->started_us = 0;
}

bool batch_empty(const struct batch *b) { return b->entry_count == 0; }

void batch_add_entry(struct batch *b, struct proto_id id, const char *id_str, bool advance)
{
    LY_ASSERT(b->entry_count < b->entries_max);
    size_t len = strlen(id_str);
    LY_ASSERT(len < PROTO_ID_STR_MAX);
    b->entry_count++;
    if (!advance)
        return;
    memcpy(b->last_id_str, id_str, len + 1);
    b->last_id = id;
}

int batch_add_outputs(struct batch *b, struct proto_id src, const struct outbox *res)
{
    if (b->out_count + res->count > b->out_cap) { /* a tick with many members due */
        size_t cap = (size_t)b->out_cap * 2 + res->count;
        struct batch_span *outs = realloc(b->outs, cap * sizeof(*outs));
        if (outs == NULL)
            return -1;
        b->outs = outs;
        b->out_cap = (uint32_t)cap;
    }
    for (uint32_t i = 0; i < res->count; i++) {
        size_t off = b->buf.size;
        if (proto_encode_output(&b->buf, &res->out[i], src, i) != 0)
            return -1;
        b->outs[b->out_count].off = (uint32_t)off;
        b->outs[b->out_count].len = (uint32_t)(b->buf.size - off);
        b->out_count++;
        b->out_by_kind[res->out[i].kind]++;
    }
    return 0;
}

int batch_add_relay(struct batch *b, const struct outbox *res)
{
    LY_ASSERT(res->has_relay && b->relay_count < b->entries_max);
    struct proto_entry e; /* ~7 KiB, as ingest's */
    xfer_entry(&res->relay.e, &e);
    struct batch_relay *r = &b->relays[b->relay_count];
    r->m.off = (uint32_t)b->buf.size;
    if (proto_encode_entry(&b->buf, &e) != 0)
        return -1;
    r->m.len = (uint32_t)(b->buf.size - r->m.off);
    r->partition = res->relay.partition;
    b->relay_count++;
    return 0;
}

int batch_add_dlq(struct batch *b, const char *src, const char *m, size_t len,
                  const struct proto_reject *rej)
{
    LY_ASSERT(b->dlq_count < b->entries_max);
    struct batch_dlq *d = &b->dlq[b->dlq_count];
    /* Keep the original bytes up to BATCH_DLQ_BYTES_MAX; a larger entry
     * keeps its head and says so in its detail (the whole entry stays in
     * the input stream), so a flood of huge entries cannot balloon a
     * batch. */
    size_t keep = len > BATCH_DLQ_BYTES_MAX ? BATCH_DLQ_BYTES_MAX : len;
    d->m.off = (uint32_t)b->buf.size;
    d->m.len = (uint32_t)keep;
    if (keep > 0 && msgpack_sbuffer_write(&b->buf, m, keep) != 0)
        return -1;
    snprintf(d->src, sizeof(d->src), "%s", src);
    d->reason = rej->code;
    if (keep < len)
        snprintf(d->detail, sizeof(d->detail), "%.100s; DLQ keeps %zu of %zu bytes",
                 rej->detail, keep, len);
    else
        snprintf(d->detail, sizeof(d->detail), "%s", rej->detail);
    b->dlq_count++;
    return 0;
}
