/* hindex.h - an open-addressing index from string keys to dense indexes.
 *
 * The index stores no keys: each slot holds a 32-bit hash and an index
 * into the caller's own array, and lookups ask the caller (through an
 * key callback) what the key of the entry at an index is. Linear probing,
 * deletion by backward shift (no tombstones), load at most 3/4. The table
 * starts small and doubles as it fills, so a program far below its limit
 * keeps a small, cache-friendly table; the room to grow is reserved at init
 * (two address-space regions, each large enough for the most entries the
 * owner will ever hold): a doubling rehashes into the other region and
 * hands the old one's pages back, so inserting never allocates. Iteration
 * order is never exposed, so hash order can never reach outputs or
 * snapshots.
 */
#ifndef LOYALTY_HINDEX_H
#define LOYALTY_HINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HINDEX_NONE UINT32_MAX

/* The key of the caller's entry at `idx`: its bytes, and its length in
 * `*len`. */
typedef const char *(*hindex_key_fn)(const void *ctx, uint32_t idx, size_t *len);

/* The most entries an index may be reserved for: idx + 1 must fit the
 * slot's low 32 bits and the capacity (a power of two, >= 4/3 entries) a
 * uint32_t mask. */
#define HINDEX_ENTRIES_MAX (3u << 29)

struct hindex {
    uint64_t *slots;     /* (hash << 32) | (idx + 1); 0 = empty; one of region[] */
    uint64_t *region[2]; /* reserved for region_slots slots each */
    uint64_t region_slots;
    uint32_t mask;       /* capacity - 1, capacity a power of two */
    uint32_t count;
    uint32_t max;        /* entries it was reserved for */
};

/* The 32-bit hash every caller must use for `key[0..len)`. */
uint32_t hindex_hash(const char *key, size_t len);

/* Initialises an empty index for at most `max` (1..HINDEX_ENTRIES_MAX)
 * entries. Returns 0, or -1 when out of memory. */
int hindex_init(struct hindex *ix, uint32_t max);

/* Frees the slots; the index must be initialised again before reuse. */
void hindex_free(struct hindex *ix);

/* Index of the entry with `key[0..len)` stored under `hash`, or HINDEX_NONE;
 * `key_of` gives the caller's keys to compare with. */
uint32_t hindex_find(const struct hindex *ix, uint32_t hash, const char *key, size_t len,
                     hindex_key_fn key_of, const void *ctx);

/* hindex_find of NUL-terminated `key` (at most `len_max` bytes, asserted)
 * under hindex_hash(key). */
uint32_t hindex_lookup(const struct hindex *ix, const char *key, size_t len_max,
                       hindex_key_fn key_of, const void *ctx);

/* Adds `idx` (< HINDEX_NONE - 1) under `hash`; the key must not be present
 * (the caller checks with hindex_find) and the index must hold fewer than
 * its `max` entries (both asserted: the owner bounds its own count). */
void hindex_insert(struct hindex *ix, uint32_t hash, uint32_t idx);

/* Adds `idx` under `hash` unless an entry with `key[0..len)` is there:
 * one probe for both (a loader's duplicate check). Returns HINDEX_NONE
 * when added, else the index of the entry already there (nothing added).
 * The index must hold fewer than its `max` entries (asserted). */
uint32_t hindex_insert_new(struct hindex *ix, uint32_t hash, const char *key, size_t len,
                           hindex_key_fn key_of, const void *ctx, uint32_t idx);

/* Halves the table (into the other region, handing the old one's pages
 * back) while it would stay at most 3/8 full: after its owner forgot most
 * of its entries. O(capacity); allocates nothing. */
void hindex_fit(struct hindex *ix);

/* Sizes an empty index for `n` (<= max) entries at once, so that filling
 * it never doubles (a loader that knows its count). */
void hindex_reserve(struct hindex *ix, uint32_t n);

/* Makes the entry `from` stored under `hash` point at `to` (its record
 * moved); it must be present (asserted). */
void hindex_repoint(struct hindex *ix, uint32_t hash, uint32_t from, uint32_t to);

/* Removes `idx` stored under `hash`; it must be present (asserted). */
void hindex_remove(struct hindex *ix, uint32_t hash, uint32_t idx);

#endif
