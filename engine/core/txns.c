/* txns.c - see txns.h. */
#include "txns.h"

#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "lyassert.h"
#include "reserve.h"

void txns_key(const char *txn, size_t len, uint64_t key[2])
{
    XXH128_hash_t h = XXH3_128bits(txn, len);
    key[0] = h.low64;
    key[1] = h.high64;
}

/* The index hash of a key: its low 32 bits (the key is a hash already). */
static uint32_t key_hash(const uint64_t key[2])
{
    return (uint32_t)key[0];
}

int txns_init(struct txns *t, uint32_t max)
{
    LY_ASSERT(max >= 1 && max <= HINDEX_ENTRIES_MAX);
    memset(t, 0, sizeof(*t));
    t->max = max;
    t->cap = max < TXNS_CAP_INITIAL ? max : TXNS_CAP_INITIAL;
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

static const char *rec_key(const void *ctx, uint32_t idx, size_t *len)
{
    const struct txn_rec *r = &((const struct txns *)ctx)->ring[idx];
    *len = sizeof(r->key);
    return (const char *)r->key;
}

static struct txn_rec *find_key(const struct txns *t, const uint64_t key[2])
{
    uint32_t pos = hindex_find(&t->ix, key_hash(key), (const char *)key, 2 * sizeof(key[0]),
                               rec_key, t);
    return pos == HINDEX_NONE ? NULL : &t->ring[pos];
}

struct txn_rec *txns_find(const struct txns *t, const char *txn)
{
    uint64_t key[2];
    size_t len = strlen(txn);
    LY_ASSERT(len <= PROTO_TXN_MAX);
    txns_key(txn, len, key);
    return find_key(t, key);
}

void txns_prefetch(const struct txns *t, const char *txn, size_t len)
{
    uint64_t key[2];
    txns_key(txn, len, key);
    __builtin_prefetch(&t->ix.slots[key_hash(key) & t->ix.mask], 1, 3); /* written soon */
}

struct txn_rec *txns_at(const struct txns *t, uint32_t i)
{
    LY_ASSERT(i < t->count);
    return &t->ring[((uint64_t)t->head + i) % t->cap];
}

static void pop_oldest(struct txns *t)
{
    LY_ASSERT(t->count > 0);
    struct txn_rec *r = &t->ring[t->head];
    hindex_remove(&t->ix, key_hash(r->key), t->head);
    t->head = (t->head + 1) % t->cap;
    t->count--;
}

/* Moves records ring[from .. from + n) to ring[to ..) (the ranges may
 * overlap) and re-points their index entries. */
static void move_records(struct txns *t, uint32_t from, uint32_t to, uint32_t n)
{
    memmove(&t->ring[to], &t->ring[from], (size_t)n * sizeof(t->ring[0]));
    /* In the direction of the move, so that no entry is re-pointed to a
     * position another entry still holds. */
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = to > from ? n - 1 - k : k;
        hindex_repoint(&t->ix, key_hash(t->ring[to + i].key), from + i, to + i);
    }
}

/* Shrinks the ring to `want` (count <= want < cap) positions and hands
 * the pages past it back. Contiguous records beyond `want` move to 0; of
 * wrapped ones, the older part moves down to end at `want`. */
static void shrink_to(struct txns *t, uint32_t want)
{
    uint32_t cap = t->cap, head = t->head, n = t->count;
    LY_ASSERT(n <= want && want < cap);
    if (head + n > cap) { /* wrapped: [head, cap) then [0, head + n - cap) */
        uint32_t older = cap - head;
        move_records(t, head, want - older, older);
        t->head = want - older;
    } else if (head + n > want) {
        move_records(t, head, 0, n);
        t->head = 0;
    }
    t->cap = want;
    /* Whole pages past the new end only (madvise takes page-aligned
     * addresses). */
    uintptr_t from = (uintptr_t)&t->ring[want], end = (uintptr_t)&t->ring[cap];
    uintptr_t page = TXNS_PAGE_BYTES;
    from = (from + page - 1) & ~(page - 1);
    if (from < end)
        reserve_discard((void *)from, (end - from) / page, page);
    if (t->head >= want) /* an empty ring */
        t->head = 0;
    hindex_fit(&t->ix); /* and the index with it */
}

void txns_evict(struct txns *t, int64_t oldest_ms)
{
    while (t->count > 0 && t->ring[t->head].applied_ms < oldest_ms)
        pop_oldest(t);
    /* Hysteresis: shrink only when a quarter empty, to an eighth more than
     * held, so a window that wobbles never moves records back and forth. */
    if (t->cap > TXNS_CAP_INITIAL &&
        (uint64_t)t->count * 100u <= (uint64_t)t->cap * TXNS_SHRINK_FILL_PCT) {
        uint64_t want = (uint64_t)t->count + t->count / TXNS_GROW_DIV;
        if (want < TXNS_CAP_INITIAL)
            want = TXNS_CAP_INITIAL;
        if (want < t->cap)
            shrink_to(t, (uint32_t)want);
    }
}

/* Grows a full ring to `want` (cap < want <= max) positions. The records
 * run from head to the end of the ring (the older part) and on from 0 to
 * head (the newer part): either the newer part moves to just past the
 * old end (when it fits) or the older part moves to the new end. */
static void grow_to(struct txns *t, uint32_t want)
{
    LY_ASSERT(t->count == t->cap && want > t->cap && want <= t->max);
    uint32_t cap = t->cap, head = t->head, older = cap - head;
    if (head > 0 && head <= want - cap && head <= older) {
        move_records(t, 0, cap, head);
    } else if (head > 0) {
        move_records(t, head, head + (want - cap), older);
        t->head = head + (want - cap);
    }
    t->cap = want;
}

static void grow(struct txns *t)
{
    uint64_t step = t->cap / TXNS_GROW_DIV;
    uint64_t want = (uint64_t)t->cap + (step > 0 ? step : 1);
    if (want > t->max)
        want = t->max;
    grow_to(t, (uint32_t)want);
}

void txns_reserve(struct txns *t, uint32_t n)
{
    LY_ASSERT(t->count == 0 && n <= t->max);
    hindex_reserve(&t->ix, n);
    t->head = 0;
    if (n > t->cap)
        t->cap = n;
}

/* Appends a zeroed record under `key`. */
static struct txn_rec *add_key(struct txns *t, const uint64_t key[2], int64_t applied_ms)
{
    if (t->count == t->cap && t->cap < t->max)
        grow(t);
    if (t->count == t->max) {
        pop_oldest(t);
        t->evicted_early++;
    }
    uint32_t pos = (uint32_t)(((uint64_t)t->head + t->count) % t->cap);
    hindex_insert(&t->ix, key_hash(key), pos);
    struct txn_rec *r = &t->ring[pos];
    memset(r, 0, sizeof(*r));
    r->key[0] = key[0];
    r->key[1] = key[1];
    r->applied_ms = applied_ms;
    t->count++;
    return r;
}

struct txn_rec *txns_add(struct txns *t, const char *txn, int64_t applied_ms)
{
    uint64_t key[2];
    size_t len = strlen(txn);
    LY_ASSERT(len >= 1 && len <= PROTO_TXN_MAX);
    txns_key(txn, len, key);
    return add_key(t, key, applied_ms);
}

int txns_restore(struct txns *t, const struct txn_rec *r)
{
    if (t->count == t->max)
        return -1;
    if (t->count == t->cap)
        grow(t);
    uint32_t pos = (uint32_t)(((uint64_t)t->head + t->count) % t->cap);
    struct txn_rec *dst = &t->ring[pos];
    memcpy(dst, r, sizeof(*r)); /* bytes, padding included; indexed by its key below */
    if (hindex_insert_new(&t->ix, key_hash(r->key), (const char *)dst->key, sizeof(dst->key),
                          rec_key, t, pos) != HINDEX_NONE)
        return -1; /* already there */
    t->count++;
    return 0;
}
