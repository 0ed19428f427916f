/* hindex.c - see hindex.h. */
#include "hindex.h"

#include <stdlib.h>

#include <xxhash.h>

#include "lyassert.h"

#define HINDEX_INITIAL_CAP 1024u
#define HINDEX_CAP_MAX (1u << 31) /* idx + 1 must fit the low 32 bits */

uint32_t hindex_hash(const char *key, size_t len)
{
    return (uint32_t)XXH3_64bits(key, len);
}

int hindex_init(struct hindex *ix)
{
    ix->slots = calloc(HINDEX_INITIAL_CAP, sizeof(ix->slots[0]));
    if (ix->slots == NULL)
        return -1;
    ix->mask = HINDEX_INITIAL_CAP - 1;
    ix->count = 0;
    return 0;
}

void hindex_free(struct hindex *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
    ix->count = 0;
}

static uint32_t slot_hash(uint64_t slot) { return (uint32_t)(slot >> 32); }
static uint32_t slot_idx(uint64_t slot) { return (uint32_t)slot - 1; }

uint32_t hindex_find(const struct hindex *ix, uint32_t hash, const char *key,
                     size_t len, hindex_eq_fn eq, const void *ctx)
{
    for (uint32_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t s = ix->slots[i];
        if (s == 0)
            return HINDEX_NONE;
        if (slot_hash(s) == hash && eq(ctx, slot_idx(s), key, len))
            return slot_idx(s);
    }
}

static void place(uint64_t *slots, uint32_t mask, uint64_t s)
{
    uint32_t i = slot_hash(s) & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = s;
}

static int grow(struct hindex *ix)
{
    uint64_t cap = (uint64_t)ix->mask + 1;
    if (cap >= HINDEX_CAP_MAX)
        return -1;
    uint64_t *slots = calloc(cap * 2, sizeof(slots[0]));
    if (slots == NULL)
        return -1;
    for (uint64_t i = 0; i < cap; i++)
        if (ix->slots[i] != 0)
            place(slots, (uint32_t)(cap * 2 - 1), ix->slots[i]);
    free(ix->slots);
    ix->slots = slots;
    ix->mask = (uint32_t)(cap * 2 - 1);
    return 0;
}

int hindex_insert(struct hindex *ix, uint32_t hash, uint32_t idx)
{
    LY_ASSERT(idx < HINDEX_NONE - 1);
    if (((uint64_t)ix->count + 1) * 4 > ((uint64_t)ix->mask + 1) * 3 && grow(ix) != 0)
        return -1;
    place(ix->slots, ix->mask, ((uint64_t)hash << 32) | (idx + 1));
    ix->count++;
    return 0;
}

void hindex_remove(struct hindex *ix, uint32_t hash, uint32_t idx)
{
    uint64_t want = ((uint64_t)hash << 32) | (idx + 1);
    uint32_t i = hash & ix->mask;
    while (ix->slots[i] != want) {
        LY_ASSERT(ix->slots[i] != 0);
        i = (i + 1) & ix->mask;
    }
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
