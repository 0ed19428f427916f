/* hindex.c - see hindex.h. */
#include "hindex.h"

#include <string.h>

#include <xxhash.h>

#include "lyassert.h"
#include "reserve.h"


uint32_t hindex_hash(const char *key, size_t len)
{
    return (uint32_t)XXH3_64bits(key, len);
}

/* The first table: doubled from here as entries arrive. */
#define HINDEX_INITIAL_SLOTS 1024u

int hindex_init(struct hindex *ix, uint32_t max)
{
    LY_ASSERT(max >= 1 && max <= HINDEX_ENTRIES_MAX);
    uint64_t cap = HINDEX_INITIAL_SLOTS;
    while (cap * 3 < (uint64_t)max * 4) /* load at most 3/4 when full */
        cap *= 2;
    memset(ix, 0, sizeof(*ix));
    ix->region_slots = cap;
    ix->region[0] = reserve_derived((size_t)cap, sizeof(uint64_t));
    ix->region[1] = reserve_derived((size_t)cap, sizeof(uint64_t));
    if (ix->region[0] == NULL || ix->region[1] == NULL) {
        hindex_free(ix);
        return -1;
    }
    ix->slots = ix->region[0];
    ix->mask = HINDEX_INITIAL_SLOTS - 1;
    ix->max = max;
    return 0;
}

void hindex_free(struct hindex *ix)
{
    for (int r = 0; r < 2; r++)
        reserve_release(ix->region[r], (size_t)ix->region_slots, sizeof(uint64_t));
    memset(ix, 0, sizeof(*ix));
}

static uint32_t slot_hash(uint64_t slot) { return (uint32_t)(slot >> 32); }
static uint32_t slot_idx(uint64_t slot) { return (uint32_t)slot - 1; }

/* The index of `key` (hash `hash`), or HINDEX_NONE with *empty set to the
 * free slot that ended the probe: where place() would put it (linear
 * probing, no tombstones). */
static inline uint32_t probe(const struct hindex *ix, uint32_t hash, const char *key, size_t len,
                             hindex_key_fn key_of, const void *ctx, uint32_t *empty)
{
    for (uint32_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t s = ix->slots[i];
        if (s == 0) {
            *empty = i;
            return HINDEX_NONE;
        }
        if (slot_hash(s) != hash)
            continue;
        size_t klen;
        const char *k = key_of(ctx, slot_idx(s), &klen);
        if (klen == len && memcmp(k, key, len) == 0)
            return slot_idx(s);
    }
}

uint32_t hindex_find(const struct hindex *ix, uint32_t hash, const char *key, size_t len,
                     hindex_key_fn key_of, const void *ctx)
{
    uint32_t empty;
    return probe(ix, hash, key, len, key_of, ctx, &empty);
}

uint32_t hindex_lookup(const struct hindex *ix, const char *key, size_t len_max,
                       hindex_key_fn key_of, const void *ctx)
{
    size_t len = strlen(key);
    LY_ASSERT(len <= len_max);
    return hindex_find(ix, hindex_hash(key, len), key, len, key_of, ctx);
}

static void place(uint64_t *slots, uint32_t mask, uint64_t s)
{
    uint32_t i = slot_hash(s) & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = s;
}

/* Moves every key into the other region as a table of `cap` slots, then
 * gives the old region's pages back (they read as zeros when it is used
 * again). */
static void move_to(struct hindex *ix, uint64_t cap)
{
    uint64_t old = (uint64_t)ix->mask + 1;
    uint64_t *to = ix->slots == ix->region[0] ? ix->region[1] : ix->region[0];
    uint32_t mask = (uint32_t)(cap - 1);
    for (uint64_t i = 0; i < old; i++)
        if (ix->slots[i] != 0)
            place(to, mask, ix->slots[i]);
    reserve_discard(ix->slots, (size_t)old, sizeof(uint64_t));
    ix->slots = to;
    ix->mask = mask;
}

/* Doubles the table. */
static void grow(struct hindex *ix)
{
    uint64_t cap = (uint64_t)ix->mask + 1;
    LY_ASSERT(cap * 2 <= ix->region_slots);
    move_to(ix, cap * 2);
}

void hindex_fit(struct hindex *ix)
{
    uint64_t cap = (uint64_t)ix->mask + 1, want = cap;
    while (want > HINDEX_INITIAL_SLOTS && (uint64_t)ix->count * 8 <= (want / 2) * 3)
        want /= 2; /* at most 3/8 full at want / 2: it must double before it grows again */
    if (want != cap)
        move_to(ix, want);
}

void hindex_insert(struct hindex *ix, uint32_t hash, uint32_t idx)
{
    LY_ASSERT(idx < HINDEX_NONE - 1);
    LY_ASSERT(ix->count < ix->max && "the owner bounds its entries to the reservation");
    if (((uint64_t)ix->count + 1) * 4 > ((uint64_t)ix->mask + 1) * 3)
        grow(ix);
    place(ix->slots, ix->mask, ((uint64_t)hash << 32) | (idx + 1));
    ix->count++;
}

uint32_t hindex_insert_new(struct hindex *ix, uint32_t hash, const char *key, size_t len,
                           hindex_key_fn key_of, const void *ctx, uint32_t idx)
{
    LY_ASSERT(idx < HINDEX_NONE - 1);
    LY_ASSERT(ix->count < ix->max && "the owner bounds its entries to the reservation");
    if (((uint64_t)ix->count + 1) * 4 > ((uint64_t)ix->mask + 1) * 3)
        grow(ix);
    uint32_t i = 0, found = probe(ix, hash, key, len, key_of, ctx, &i);
    if (found != HINDEX_NONE)
        return found;
    ix->slots[i] = ((uint64_t)hash << 32) | (idx + 1);
    ix->count++;
    return HINDEX_NONE;
}

void hindex_reserve(struct hindex *ix, uint32_t n)
{
    LY_ASSERT(ix->count == 0 && n <= ix->max);
    uint64_t cap = (uint64_t)ix->mask + 1;
    while (cap * 3 < (uint64_t)n * 4)
        cap *= 2;
    LY_ASSERT(cap <= ix->region_slots);
    ix->mask = (uint32_t)(cap - 1);
}

/* The slot holding `idx` under `hash` (present: asserted). */
static uint32_t slot_of(const struct hindex *ix, uint32_t hash, uint32_t idx)
{
    uint64_t want = ((uint64_t)hash << 32) | (idx + 1);
    uint32_t i = hash & ix->mask;
    while (ix->slots[i] != want) {
        LY_ASSERT(ix->slots[i] != 0);
        i = (i + 1) & ix->mask;
    }
    return i;
}

void hindex_repoint(struct hindex *ix, uint32_t hash, uint32_t from, uint32_t to)
{
    LY_ASSERT(to < HINDEX_NONE - 1);
    ix->slots[slot_of(ix, hash, from)] = ((uint64_t)hash << 32) | (to + 1);
}

void hindex_remove(struct hindex *ix, uint32_t hash, uint32_t idx)
{
    uint32_t i = slot_of(ix, hash, idx);
    /* Backward shift: pull later entries of the probe run into the hole
     * unless their home slot lies cyclically after the hole. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & ix->mask; ix->slots[j] != 0; j = (j + 1) & ix->mask) {
        uint32_t home = slot_hash(ix->slots[j]) & ix->mask;
        if (((j - home) & ix->mask) >= ((j - hole) & ix->mask)) {
            ix->slots[hole] = ix->slots[j];
            hole = j;
        }
    }
    ix->slots[hole] = 0;
    ix->count--;
}
