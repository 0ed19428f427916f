/* txns.c - see txns.h. */
#include "txns.h"

#include <string.h>

#include "lyassert.h"
#include "reserve.h"

int txns_init(struct txns *t, uint32_t max)
{
    LY_ASSERT(max >= 1 && max <= HINDEX_ENTRIES_MAX);
    memset(t, 0, sizeof(*t));
    t->max = max;
    t->ring = reserve_zeroed(max, sizeof(t->ring[0]));
    if (t->ring == NULL || hindex_init(&t->ix, max) != 0) {
        txns_free(t);
        return -1;
    }
    return 0;
}

void txns_free(struct txns *t)
{
    reserve_release(t->ring, t->max, sizeof(t->ring[0]));
    hindex_free(&t->ix);
    memset(t, 0, sizeof(*t));
}

static const char *txn_key(const void *ctx, uint32_t idx, size_t *len)
{
    const struct txn_rec *r = &((const struct txns *)ctx)->ring[idx];
    *len = r->txn_len;
    return r->txn;
}

struct txn_rec *txns_find(const struct txns *t, const char *txn)
{
    uint32_t pos = hindex_lookup(&t->ix, txn, PROTO_TXN_MAX, txn_key, t);
    return pos == HINDEX_NONE ? NULL : &t->ring[pos];
}

static void pop_oldest(struct txns *t)
{
    LY_ASSERT(t->count > 0);
    struct txn_rec *r = &t->ring[t->head];
    hindex_remove(&t->ix, hindex_hash(r->txn, r->txn_len), t->head);
    t->head = (t->head + 1) % t->max;
    t->count--;
}

void txns_evict(struct txns *t, int64_t oldest_ms)
{
    while (t->count > 0 && t->ring[t->head].applied_ms < oldest_ms)
        pop_oldest(t);
}

struct txn_rec *txns_add(struct txns *t, const char *txn, int64_t applied_ms)
{
    size_t len = strlen(txn);
    LY_ASSERT(len >= 1 && len <= PROTO_TXN_MAX);
    if (t->count == t->max) {
        pop_oldest(t);
        t->evicted_early++;
    }
    uint32_t pos = (uint32_t)(((uint64_t)t->head + t->count) % t->max);
    hindex_insert(&t->ix, hindex_hash(txn, len), pos);
    struct txn_rec *r = &t->ring[pos];
    memset(r, 0, sizeof(*r));
    memcpy(r->txn, txn, len);
    r->txn_len = (uint8_t)len;
    r->applied_ms = applied_ms;
    t->count++;
    return r;
}

int txns_restore(struct txns *t, const struct txn_rec *r)
{
    LY_ASSERT(r->txn_len >= 1 && r->txn_len <= PROTO_TXN_MAX && r->txn[r->txn_len] == '\0');
    if (t->count == t->max || txns_find(t, r->txn) != NULL)
        return -1;
    uint64_t evicted = t->evicted_early;
    struct txn_rec *dst = txns_add(t, r->txn, r->applied_ms);
    LY_ASSERT(t->evicted_early == evicted);
    memcpy(dst, r, sizeof(*r)); /* bytes, padding included */
    return 0;
}
