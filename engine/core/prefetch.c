/* prefetch.c - see prefetch.h. */
#include "prefetch.h"

#include <string.h>

#include "hindex.h"
#include "txns.h"

#define CACHE_LINE 64u

static void lines(const void *p, size_t bytes)
{
    const char *c = p;
    for (size_t off = 0; off < bytes; off += CACHE_LINE)
        __builtin_prefetch(c + off, 1, 3); /* written soon, keep */
}

/* The first slot the lookup of e->member probes. */
static const uint64_t *first_slot(const struct state *st, const struct proto_entry *e,
                                  uint32_t *hash)
{
    const struct hindex *ix = &st->members.ix;
    size_t len = strnlen(e->member, sizeof(e->member));
    *hash = hindex_hash(e->member, len);
    return &ix->slots[*hash & ix->mask];
}

void prefetch_slot(const struct state *st, const struct proto_entry *e)
{
    uint32_t hash;
    if (e->member[0] != '\0')
        __builtin_prefetch(first_slot(st, e, &hash), 0, 3);
    if (e->txn[0] != '\0') /* a new txn's slot is written: the index is as large as the ring */
        txns_prefetch(&st->txns, e->txn, strnlen(e->txn, sizeof(e->txn)));
}

void prefetch_member(const struct state *st, const struct proto_entry *e)
{
    const struct members *ms = &st->members;
    uint32_t hash;
    if (e->member[0] == '\0')
        return;
    uint64_t s = *first_slot(st, e, &hash);
    /* A slot is (hash << 32) | (idx + 1); a collision or an empty slot
     * hints nothing (the lookup probes on as usual). */
    if (s == 0 || (uint32_t)(s >> 32) != hash)
        return;
    uint32_t pos = (uint32_t)s - 1u;
    if (pos >= ms->count)
        return;
    lines(&ms->v[pos], sizeof(ms->v[pos]));
    if (ms->ring32) /* its narrow ring (members.h) */
        lines(&ms->lots32[(size_t)pos * ms->ring_per], ms->ring_per * sizeof(ms->lots32[0]));
    else if (ms->lots_per > 0)
        lines(&ms->lots[(size_t)pos * ms->lots_per], ms->lots_per * sizeof(ms->lots[0]));
}
