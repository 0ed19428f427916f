/* dlqring.c - see dlqring.h. */
#include "dlqring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

struct dlqring *dlqring_new(void)
{
    return calloc(1, sizeof(struct dlqring));
}

void dlqring_free(struct dlqring *r)
{
    free(r);
}

static void add(struct dlqring *r, const struct batch *b, const struct batch_dlq *d)
{
    struct dlqring_entry *e = &r->entries[r->next];
    memset(e, 0, sizeof(*e));
    snprintf(e->src, sizeof(e->src), "%s", d->src);
    e->reason = d->reason;
    snprintf(e->detail, sizeof(e->detail), "%s", d->detail);
    e->m_bytes = d->m.len;
    e->head_len = d->m.len < DLQRING_HEAD_BYTES ? d->m.len : DLQRING_HEAD_BYTES;
    LY_ASSERT((size_t)d->m.off + d->m.len <= b->buf.size);
    if (e->head_len > 0)
        memcpy(e->head, b->buf.data + d->m.off, e->head_len);
    r->next = (r->next + 1) % DLQRING_ENTRIES_MAX;
    if (r->count < DLQRING_ENTRIES_MAX)
        r->count++;
    r->committed++;
}

void dlqring_add_batch(struct dlqring *r, const struct batch *b)
{
    for (uint32_t i = 0; i < b->dlq_count; i++)
        add(r, b, &b->dlq[i]);
}

void dlqring_clear(struct dlqring *r)
{
    r->next = 0;
    r->count = 0;
    r->committed = 0;
}

static json_t *entry_json(const struct dlqring_entry *e)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * DLQRING_HEAD_BYTES + 1];
    for (uint32_t i = 0; i < e->head_len; i++) {
        hex[2 * i] = digits[e->head[i] >> 4];
        hex[2 * i + 1] = digits[e->head[i] & 15];
    }
    hex[2 * e->head_len] = '\0';
    return json_pack("{s:s, s:s, s:s, s:I, s:s}", "src", e->src, "reason", e->reason, "detail",
                     e->detail, "m_bytes", (json_int_t)e->m_bytes, "m_head_hex", hex);
}

json_t *dlqring_json(const struct dlqring *r, uint32_t limit)
{
    json_t *list = json_array();
    uint32_t n = limit < r->count ? limit : r->count;
    for (uint32_t i = 0; list != NULL && i < n; i++) {
        uint32_t slot = (r->next + DLQRING_ENTRIES_MAX - 1 - i) % DLQRING_ENTRIES_MAX;
        if (json_array_append_new(list, entry_json(&r->entries[slot])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (list == NULL)
        return NULL;
    return json_pack("{s:o, s:I, s:I, s:I}", "entries", list, "held", (json_int_t)r->count,
                     "capacity", (json_int_t)DLQRING_ENTRIES_MAX, "committed",
                     (json_int_t)r->committed);
}
