/* hindex.h - an open-addressing index from string keys to dense indexes.
 *
 * The index stores no keys: each slot holds a 32-bit hash and an index
 * into the caller's own array, and lookups ask the caller (through an
 * equality callback) whether the entry at an index has the key. Linear
 * probing, deletion by backward shift (no tombstones), growth by doubling
 * at 3/4 load. Iteration order is never exposed, so hash order can never
 * reach outputs or snapshots.
 */
#ifndef LOYALTY_HINDEX_H
#define LOYALTY_HINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HINDEX_NONE UINT32_MAX

/* Returns true when the caller's entry at `idx` has key `key[0..len)`. */
typedef bool (*hindex_eq_fn)(const void *ctx, uint32_t idx, const char *key,
                             size_t len);

struct hindex {
    uint64_t *slots; /* (hash << 32) | (idx + 1); 0 = empty */
    uint32_t mask;   /* capacity - 1, capacity a power of two */
    uint32_t count;
};

/* The 32-bit hash every caller must use for `key[0..len)`. */
uint32_t hindex_hash(const char *key, size_t len);

/* Initialises an empty index. Returns 0, or -1 when out of memory. */
int hindex_init(struct hindex *ix);

/* Frees the slots; the index must be initialised again before reuse. */
void hindex_free(struct hindex *ix);

/* Index of the entry with `key`, or HINDEX_NONE. */
uint32_t hindex_find(const struct hindex *ix, uint32_t hash, const char *key,
                     size_t len, hindex_eq_fn eq, const void *ctx);

/* Adds `idx` (< HINDEX_NONE - 1) under `hash`; the key must not be present
 * (the caller checks with hindex_find). Returns 0, or -1 when out of memory
 * (the index is unchanged). */
int hindex_insert(struct hindex *ix, uint32_t hash, uint32_t idx);

/* Removes `idx` stored under `hash`; it must be present (asserted). */
void hindex_remove(struct hindex *ix, uint32_t hash, uint32_t idx);

#endif
