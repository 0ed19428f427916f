/* members.c - see members.h. */
#include "members.h"

#include <stdint.h>
#include <string.h>

#include "lyassert.h"
#include "reserve.h"

/* The most lot values a member keeps (wallet.h: WALLET_LOTS_PER_MAX). */
#define LOTS_PER_MAX (RULEBOOK_EXPIRY_MONTHS_MAX + 1)

int members_init(struct members *ms, uint32_t max, uint32_t lots_per)
{
    LY_ASSERT(max >= 1 && max <= HINDEX_ENTRIES_MAX);
    memset(ms, 0, sizeof(*ms));
    ms->max = max;
    LY_ASSERT(lots_per <= LOTS_PER_MAX);
    ms->lots_per = lots_per;
    /* Reserved for `max` members once (reserve.h): resident only as
     * members arrive, and never moved, so adding one allocates nothing. */
    ms->v = reserve_zeroed(max, sizeof(*ms->v));
    ms->lots = lots_per ? reserve_zeroed((size_t)max * lots_per, sizeof(*ms->lots)) : NULL;
    ms->lots32 = lots_per ? reserve_zeroed((size_t)max * lots_per, sizeof(*ms->lots32)) : NULL;
    if (ms->v == NULL || (lots_per && (ms->lots == NULL || ms->lots32 == NULL)) ||
        hindex_init(&ms->ix, max) != 0 || extras_init(&ms->extras, max) != 0) {
        members_free(ms);
        return -1;
    }
    return 0;
}

void members_free(struct members *ms)
{
    reserve_release(ms->v, ms->max, sizeof(*ms->v));
    reserve_release(ms->lots, (size_t)ms->max * ms->lots_per, sizeof(*ms->lots));
    reserve_release(ms->lots32, (size_t)ms->max * ms->lots_per, sizeof(*ms->lots32));
    hindex_free(&ms->ix);
    extras_free(&ms->extras);
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
    /* Its lots are zero: positions are never reused, and a reservation
     * reads as zeros until written (touching them here would make both
     * slices resident). */
    memcpy(m->id, id, len);
    m->id_len = (uint8_t)len;
    ms->count++;
    return pos;
}

int64_t *members_lots(const struct members *ms, uint32_t pos)
{
    LY_ASSERT(pos < ms->count && !ms->ring32);
    return ms->lots_per ? &ms->lots[(size_t)pos * ms->lots_per] : NULL;
}

static bool wide(const struct members *ms, uint32_t pos)
{
    return (ms->v[pos].flags & MEMBER_F_WIDE_LOTS) != 0;
}

int64_t members_ring_get(const struct members *ms, uint32_t pos, uint32_t slot)
{
    LY_ASSERT(pos < ms->count && ms->ring32 && slot < ms->ring_per);
    size_t at = (size_t)pos * ms->ring_per + slot;
    return wide(ms, pos) ? ms->lots[at] : ms->lots32[at];
}

uint32_t members_ring_find(const struct members *ms, uint32_t pos, uint32_t from, uint32_t end)
{
    LY_ASSERT(pos < ms->count && ms->ring32 && from <= end && end <= ms->ring_per);
    size_t at = (size_t)pos * ms->ring_per;
    uint32_t i = from;
    if (wide(ms, pos)) {
        const int64_t *s = &ms->lots[at];
        while (i < end && s[i] <= 0)
            i++;
        return i;
    }
    /* Slots are >= 0: a block of eight is empty when the OR of its four
     * 8-byte words is 0; most of a ring is empty. */
    const int32_t *s = &ms->lots32[at];
    for (; i + 8 <= end; i += 8) {
        uint64_t w[4];
        memcpy(w, &s[i], sizeof(w));
        if ((w[0] | w[1] | w[2] | w[3]) != 0)
            break;
    }
    for (; i + 2 <= end; i += 2) { /* then two slots (one word) at a time */
        uint64_t w;
        memcpy(&w, &s[i], sizeof(w));
        if (w != 0)
            return s[i] > 0 ? i : i + 1;
    }
    return i < end && s[i] > 0 ? i : end;
}

/* Moves member `pos`'s ring from its int32 slice to its int64 one. */
static void widen(struct members *ms, uint32_t pos)
{
    size_t at = (size_t)pos * ms->ring_per;
    for (uint32_t k = 0; k < ms->ring_per; k++)
        ms->lots[at + k] = ms->lots32[at + k];
    ms->v[pos].flags |= MEMBER_F_WIDE_LOTS;
}

void members_ring_set(struct members *ms, uint32_t pos, uint32_t slot, int64_t points)
{
    LY_ASSERT(pos < ms->count && ms->ring32 && slot < ms->ring_per && points >= 0);
    size_t at = (size_t)pos * ms->ring_per + slot;
    if (!wide(ms, pos) && points > INT32_MAX)
        widen(ms, pos);
    if (wide(ms, pos))
        ms->lots[at] = points;
    else
        ms->lots32[at] = (int32_t)points;
}

/* Member `pos`'s ring, laid out with `per` slots per member, by month
 * into out[0..lots_per) (value d - 1: month lots_month + d). */
static void ring_by_month(const struct members *ms, uint32_t pos, uint32_t per, int64_t *out)
{
    const struct member *m = &ms->v[pos];
    size_t base = (size_t)pos * per;
    for (uint32_t d = 1; d <= ms->lots_per; d++) {
        size_t at = base + (uint32_t)(m->lots_month + (int32_t)d) % per;
        out[d - 1] = d > per ? 0 : wide(ms, pos) ? ms->lots[at] : ms->lots32[at];
    }
}

/* Lays in[0..lots_per) (by month) out as member `pos`'s ring of `per`
 * slots per member (values past per are 0: asserted). */
static void ring_put(struct members *ms, uint32_t pos, uint32_t per, const int64_t *in)
{
    const struct member *m = &ms->v[pos];
    size_t base = (size_t)pos * per;
    for (uint32_t d = 1; d <= ms->lots_per; d++) {
        LY_ASSERT(d <= per || in[d - 1] == 0);
        if (d > per)
            continue;
        size_t at = base + (uint32_t)(m->lots_month + (int32_t)d) % per;
        if (wide(ms, pos))
            ms->lots[at] = in[d - 1];
        else
            ms->lots32[at] = (int32_t)in[d - 1];
    }
}

void members_ring_resize(struct members *ms, uint32_t per)
{
    LY_ASSERT(ms->ring32 && per >= 1 && per <= ms->lots_per);
    uint32_t was = ms->ring_per;
    if (per == was)
        return;
    /* In place: wider, from the last member down (member p's new slots
     * start at p * per >= p * was, past the old ones of the members before
     * it); narrower, from the first up. Each member's lots are read out
     * before its new slots are written. */
    int64_t vals[LOTS_PER_MAX];
    for (uint32_t i = 0; i < ms->count; i++) {
        uint32_t pos = per > was ? ms->count - 1 - i : i;
        ring_by_month(ms, pos, was, vals);
        ring_put(ms, pos, per, vals);
    }
    ms->ring_per = per;
}

void members_lots_read(const struct members *ms, uint32_t pos, int64_t *out)
{
    LY_ASSERT(pos < ms->count);
    if (ms->ring32)
        ring_by_month(ms, pos, ms->ring_per, out);
    else if (ms->lots_per > 0)
        memcpy(out, members_lots(ms, pos), ms->lots_per * sizeof(*out));
}

void members_lots_write(struct members *ms, uint32_t pos, const int64_t *in)
{
    LY_ASSERT(pos < ms->count);
    if (!ms->ring32) {
        if (ms->lots_per > 0)
            memcpy(members_lots(ms, pos), in, ms->lots_per * sizeof(*in));
        return;
    }
    uint32_t need = ms->ring_per;
    for (uint32_t k = 0; k < ms->lots_per; k++)
        if (in[k] != 0 && k + 1 > need)
            need = k + 1; /* a lot further ahead than the ring reaches (a snapshot's) */
    members_ring_resize(ms, need); /* before its flags change: they say where its ring is */
    for (uint32_t k = 0; k < ms->lots_per && !wide(ms, pos); k++)
        if (in[k] < 0 || in[k] > INT32_MAX)
            ms->v[pos].flags |= MEMBER_F_WIDE_LOTS;
    ring_put(ms, pos, ms->ring_per, in);
}

uint32_t members_restore(struct members *ms, const struct member *m,
                         const struct member_extra *x, const int64_t *lots)
{
    LY_ASSERT(m->id_len >= 1 && m->id_len <= PROTO_MEMBER_MAX && m->id[m->id_len] == '\0');
    if (ms->count >= ms->max)
        return HINDEX_NONE;
    uint32_t pos = ms->count;
    struct member *dst = &ms->v[pos];
    memcpy(dst, m, sizeof(*m)); /* bytes, padding included; indexed by its id below */
    dst->extra = 0;
    if (hindex_insert_new(&ms->ix, hindex_hash(m->id, m->id_len), m->id, m->id_len, member_key,
                          ms, pos) != HINDEX_NONE)
        return HINDEX_NONE; /* already there */
    ms->count++;
    extras_put(&ms->extras, &dst->extra, x);
    if (ms->lots_per > 0)
        members_lots_write(ms, pos, lots);
    return pos;
}

const struct member_extra *members_extra(const struct members *ms, const struct member *m)
{
    return extras_get(&ms->extras, m->extra);
}

struct member_extra *members_extra_edit(struct members *ms, struct member *m)
{
    return extras_edit(&ms->extras, &m->extra);
}

void members_extra_settle(struct members *ms, struct member *m)
{
    extras_settle(&ms->extras, &m->extra);
}

void members_save(const struct members *ms, uint32_t pos, struct member *m,
                  struct member_extra *x, int64_t *lots)
{
    const struct member *src = members_at(ms, pos);
    memcpy(m, src, sizeof(*m));
    *x = *members_extra(ms, src);
    members_lots_read(ms, pos, lots);
}

void members_put_back(struct members *ms, uint32_t pos, const struct member *m,
                      const struct member_extra *x, const int64_t *lots)
{
    struct member *dst = members_at(ms, pos);
    uint32_t h = dst->extra; /* the record it holds now, if any, takes the saved values */
    memcpy(dst, m, sizeof(*m)); /* its flags first: they say how lots are kept */
    dst->extra = h;
    extras_put(&ms->extras, &dst->extra, x);
    members_lots_write(ms, pos, lots);
}

void members_drop_last(struct members *ms)
{
    LY_ASSERT(ms->count >= 1);
    uint32_t pos = ms->count - 1;
    struct member *m = &ms->v[pos];
    hindex_remove(&ms->ix, hindex_hash(m->id, m->id_len), pos);
    static const struct member_extra none;
    extras_put(&ms->extras, &m->extra, &none);
    /* members_add gives the position out again and counts on zero lots:
     * narrow, the slice a new member reads (the wide one is then unused). */
    static const int64_t zero_lots[LOTS_PER_MAX];
    m->flags &= (uint8_t)~MEMBER_F_WIDE_LOTS;
    members_lots_write(ms, pos, zero_lots);
    ms->count = pos;
}

/* Whether the lots of a's member pa and b's member pb hold the same values. */
static bool same_lots(const struct members *a, uint32_t pa, const struct members *b, uint32_t pb)
{
    int64_t x[LOTS_PER_MAX], y[LOTS_PER_MAX];
    if (a->lots_per != b->lots_per || a->ring32 != b->ring32)
        return false;
    members_lots_read(a, pa, x);
    members_lots_read(b, pb, y);
    return memcmp(x, y, a->lots_per * sizeof(x[0])) == 0;
}

bool members_same(const struct members *a, uint32_t pa, const struct members *b, uint32_t pb)
{
    struct member x, y;
    memcpy(&x, members_at(a, pa), sizeof(x));
    memcpy(&y, members_at(b, pb), sizeof(y));
    if (!extras_same(members_extra(a, &x), members_extra(b, &y)))
        return false;
    x.extra = y.extra = 0;
    return memcmp(&x, &y, sizeof(x)) == 0 && same_lots(a, pa, b, pb);
}

void members_reserve(struct members *ms, uint32_t n)
{
    LY_ASSERT(ms->count == 0 && n <= ms->max);
    hindex_reserve(&ms->ix, n);
}

int32_t members_qual_clamp(int64_t v)
{
    if (v > MEMBERS_QUAL_BUCKET_MAX)
        return MEMBERS_QUAL_BUCKET_MAX;
    return v < -MEMBERS_QUAL_BUCKET_MAX ? -MEMBERS_QUAL_BUCKET_MAX : (int32_t)v;
}

static int32_t *bucket(struct member *m, int32_t month)
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
    if (month > now_month - MEMBERS_QUAL_MONTHS) {
        int32_t *b = bucket(m, month);
        int64_t sum;
        /* amount and *b are far inside int64: only the int32 bound bites */
        sum = __builtin_add_overflow(*b, amount, &sum) ? (amount > 0 ? INT64_MAX : INT64_MIN)
                                                      : sum;
        *b = members_qual_clamp(sum);
    }
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
    uint32_t i = (uint32_t)first % MEMBERS_QUAL_MONTHS; /* then step slots, not divide */
    for (int32_t k = first; k <= last; k++) {
        sum += m->qual[i];
        i = i + 1 == MEMBERS_QUAL_MONTHS ? 0 : i + 1;
    }
    return sum;
}
