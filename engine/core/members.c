/* members.c - see members.h. */
#include "members.h"

#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

#define MEMBERS_INITIAL_CAP 1024u

int members_init(struct members *ms, uint32_t max, uint32_t lots_per)
{
    memset(ms, 0, sizeof(*ms));
    ms->max = max;
    ms->lots_per = lots_per;
    return hindex_init(&ms->ix);
}

void members_free(struct members *ms)
{
    free(ms->v);
    free(ms->lots);
    hindex_free(&ms->ix);
    memset(ms, 0, sizeof(*ms));
}

static bool member_eq(const void *ctx, uint32_t idx, const char *key, size_t len)
{
    const struct members *ms = ctx;
    const struct member *m = &ms->v[idx];
    return m->id_len == len && memcmp(m->id, key, len) == 0;
}

uint32_t members_find(const struct members *ms, const char *id)
{
    size_t len = strlen(id);
    LY_ASSERT(len <= PROTO_MEMBER_MAX);
    return hindex_find(&ms->ix, hindex_hash(id, len), id, len, member_eq, ms);
}

static int reserve(struct members *ms)
{
    if (ms->count < ms->cap)
        return 0;
    uint64_t cap = ms->cap ? (uint64_t)ms->cap * 2 : MEMBERS_INITIAL_CAP;
    if (cap > ms->max)
        cap = ms->max;
    struct member *v = realloc(ms->v, cap * sizeof(*v));
    if (v == NULL)
        return -1;
    ms->v = v;
    if (ms->lots_per > 0) {
        int64_t *lots = realloc(ms->lots, cap * ms->lots_per * sizeof(*lots));
        if (lots == NULL)
            return -1;
        ms->lots = lots;
    }
    ms->cap = (uint32_t)cap;
    return 0;
}

uint32_t members_add(struct members *ms, const char *id)
{
    size_t len = strlen(id);
    LY_ASSERT(len >= 1 && len <= PROTO_MEMBER_MAX);
    if (ms->count >= ms->max)
        return HINDEX_NONE;
    int rc = reserve(ms);
    LY_ALLOC_CHECK(rc == 0);
    uint32_t pos = ms->count;
    rc = hindex_insert(&ms->ix, hindex_hash(id, len), pos);
    LY_ALLOC_CHECK(rc == 0);
    struct member *m = &ms->v[pos];
    /* Zero the whole struct, padding included: snapshots are byte images
     * and must be a pure function of the entries applied. */
    memset(m, 0, sizeof(*m));
    if (ms->lots_per > 0)
        memset(&ms->lots[(size_t)pos * ms->lots_per], 0, ms->lots_per * sizeof(int64_t));
    memcpy(m->id, id, len);
    m->id_len = (uint8_t)len;
    ms->count++;
    return pos;
}

int64_t *members_lots(const struct members *ms, uint32_t pos)
{
    LY_ASSERT(pos < ms->count);
    return ms->lots_per ? &ms->lots[(size_t)pos * ms->lots_per] : NULL;
}

uint32_t members_restore(struct members *ms, const struct member *m, const int64_t *lots)
{
    LY_ASSERT(m->id_len >= 1 && m->id_len <= PROTO_MEMBER_MAX && m->id[m->id_len] == '\0');
    if (ms->count >= ms->max || members_find(ms, m->id) != HINDEX_NONE)
        return HINDEX_NONE;
    uint32_t pos = members_add(ms, m->id);
    LY_ASSERT(pos != HINDEX_NONE);
    memcpy(&ms->v[pos], m, sizeof(*m)); /* bytes, padding included */
    if (ms->lots_per > 0)
        memcpy(members_lots(ms, pos), lots, ms->lots_per * sizeof(*lots));
    return pos;
}

struct member *members_at(const struct members *ms, uint32_t pos)
{
    LY_ASSERT(pos < ms->count);
    return &ms->v[pos];
}

static int64_t *bucket(struct member *m, int32_t month)
{
    return &m->qual[(uint32_t)month % MEMBERS_QUAL_MONTHS];
}

void members_qual_add(struct member *m, int32_t month, int32_t now_month,
                      int64_t amount)
{
    LY_ASSERT(month <= now_month);
    if (m->qual_month < now_month) {
        /* Clear the buckets of the months between the newest one written
         * and now: they hold amounts from a year ago or more. */
        int32_t from = m->qual_month + 1;
        if (from < now_month - MEMBERS_QUAL_MONTHS + 1)
            from = now_month - MEMBERS_QUAL_MONTHS + 1;
        for (int32_t k = from; k <= now_month; k++)
            *bucket(m, k) = 0;
        m->qual_month = now_month;
    }
    if (month > now_month - MEMBERS_QUAL_MONTHS)
        *bucket(m, month) += amount;
}

int64_t members_qual_total(const struct member *m, int32_t now_month,
                           uint32_t window)
{
    LY_ASSERT(window >= 1 && window <= MEMBERS_QUAL_MONTHS);
    int32_t first = now_month - (int32_t)window + 1;
    if (first < m->qual_month - MEMBERS_QUAL_MONTHS + 1)
        first = m->qual_month - MEMBERS_QUAL_MONTHS + 1;
    int32_t last = m->qual_month < now_month ? m->qual_month : now_month;
    int64_t sum = 0;
    for (int32_t k = first; k <= last; k++)
        sum += m->qual[(uint32_t)k % MEMBERS_QUAL_MONTHS];
    return sum;
}
