/* members.c - see members.h. */
#include "members.h"

#include <string.h>

#include "lyassert.h"
#include "reserve.h"

int members_init(struct members *ms, uint32_t max, uint32_t lots_per)
{
    LY_ASSERT(max >= 1 && max <= HINDEX_ENTRIES_MAX);
    memset(ms, 0, sizeof(*ms));
    ms->max = max;
    ms->lots_per = lots_per;
    /* Reserved for `max` members once (reserve.h): resident only as
     * members arrive, and never moved, so adding one allocates nothing. */
    ms->v = reserve_zeroed(max, sizeof(*ms->v));
    ms->lots = lots_per ? reserve_zeroed((size_t)max * lots_per, sizeof(*ms->lots)) : NULL;
    if (ms->v == NULL || (lots_per && ms->lots == NULL) || hindex_init(&ms->ix, max) != 0) {
        members_free(ms);
        return -1;
    }
    return 0;
}

void members_free(struct members *ms)
{
    reserve_release(ms->v, ms->max, sizeof(*ms->v));
    reserve_release(ms->lots, (size_t)ms->max * ms->lots_per, sizeof(*ms->lots));
    hindex_free(&ms->ix);
    memset(ms, 0, sizeof(*ms));
}

static const char *member_key(const void *ctx, uint32_t idx, size_t *len)
{
    const struct member *m = &((const struct members *)ctx)->v[idx];
    *len = m->id_len;
    return m->id;
}

uint32_t members_find(const struct members *ms, const char *id)
{
    return hindex_lookup(&ms->ix, id, PROTO_MEMBER_MAX, member_key, ms);
}

uint32_t members_add(struct members *ms, const char *id)
{
    size_t len = strlen(id);
    LY_ASSERT(len >= 1 && len <= PROTO_MEMBER_MAX);
    if (ms->count >= ms->max)
        return HINDEX_NONE;
    uint32_t pos = ms->count;
    hindex_insert(&ms->ix, hindex_hash(id, len), pos);
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
    if (ms->count >= ms->max)
        return HINDEX_NONE;
    uint32_t pos = ms->count;
    struct member *dst = &ms->v[pos];
    memcpy(dst, m, sizeof(*m)); /* bytes, padding included; indexed by its id below */
    if (hindex_insert_new(&ms->ix, hindex_hash(m->id, m->id_len), m->id, m->id_len, member_key,
                          ms, pos) != HINDEX_NONE)
        return HINDEX_NONE; /* already there */
    if (ms->lots_per > 0)
        memcpy(&ms->lots[(size_t)pos * ms->lots_per], lots, ms->lots_per * sizeof(*lots));
    ms->count++;
    return pos;
}

void members_reserve(struct members *ms, uint32_t n)
{
    LY_ASSERT(ms->count == 0 && n <= ms->max);
    hindex_reserve(&ms->ix, n);
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
