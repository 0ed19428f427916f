/* wcache.c - see wcache.h. Open addressing with linear probing over a
 * power-of-two table at most half full; keys hashed with XXH3. */
#include "wcache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "lyassert.h"
#include "proto.h"

struct slot {
    bool used;
    char member[PROTO_MEMBER_MAX + 1];
    struct cohort_wallet w;
};

struct wcache {
    uint32_t max;
    uint32_t count;
    uint32_t mask; /* table size - 1 */
    struct slot *slots;
};

struct wcache *wcache_new(uint32_t members_max)
{
    LY_ASSERT(members_max >= 1 && members_max <= (1u << 30));
    struct wcache *c = calloc(1, sizeof *c);
    LY_ALLOC_CHECK(c != NULL);
    uint32_t size = 2;
    while (size < 2 * members_max)
        size *= 2;
    c->max = members_max;
    c->mask = size - 1;
    c->slots = calloc(size, sizeof *c->slots);
    LY_ALLOC_CHECK(c->slots != NULL);
    return c;
}

void wcache_clear(struct wcache *c)
{
    for (uint32_t i = 0; c->count > 0 && i <= c->mask; i++) {
        if (c->slots[i].used) {
            cohort_free(&c->slots[i].w);
            c->slots[i].used = false;
            c->count--;
        }
    }
}

void wcache_free(struct wcache *c)
{
    if (c == NULL)
        return;
    wcache_clear(c);
    free(c->slots);
    free(c);
}

/* The slot of `member`, or the free slot where it would go. */
static struct slot *find(const struct wcache *c, const char *member)
{
    size_t len = strlen(member);
    uint32_t i = (uint32_t)XXH3_64bits(member, len) & c->mask;
    while (c->slots[i].used && strcmp(c->slots[i].member, member) != 0)
        i = (i + 1) & c->mask; /* never full: at most half the slots are used */
    return &c->slots[i];
}

const struct cohort_wallet *wcache_get(const struct wcache *c, const char *member)
{
    const struct slot *s = find(c, member);
    return s->used ? &s->w : NULL;
}

void wcache_put(struct wcache *c, const char *member, const struct cohort_wallet *w)
{
    LY_ASSERT(strlen(member) >= 1 && strlen(member) <= PROTO_MEMBER_MAX);
    struct slot *s = find(c, member);
    if (!s->used && c->count == c->max) {
        wcache_clear(c);
        s = find(c, member);
    }
    if (!s->used) {
        s->used = true;
        memcpy(s->member, member, strlen(member) + 1);
        cohort_init(&s->w);
        c->count++;
    }
    cohort_copy(&s->w, w);
}

uint32_t wcache_count(const struct wcache *c)
{
    return c->count;
}
