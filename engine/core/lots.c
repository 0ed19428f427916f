/* lots.c - see lots.h. Pair i of a member's slice is l[2i] (expire_ms)
 * and l[2i + 1] (points). */
#include "lots.h"

#include <string.h>

#include "lyassert.h"

#define KEY(l, i) (l)[2 * (i)]
#define PTS(l, i) (l)[2 * (i) + 1]

/* Used pairs: they come first, and a used pair has a non-zero key. */
static uint32_t used(const int64_t *l, uint32_t cap)
{
    uint32_t n = 0;
    while (n < cap && KEY(l, n) != 0)
        n++;
    return n;
}

/* Drops the first `k` of the `n` used pairs. */
static void drop_front(int64_t *l, uint32_t n, uint32_t k)
{
    memmove(l, l + 2 * k, (size_t)(n - k) * 2 * sizeof(*l));
    memset(l + 2 * (n - k), 0, (size_t)k * 2 * sizeof(*l));
}

int64_t lots_expire(int64_t *l, uint32_t cap, int64_t now_ms)
{
    uint32_t n = used(l, cap), k = 0;
    int64_t expired = 0;
    while (k < n && KEY(l, k) <= now_ms)
        expired += PTS(l, k++);
    if (k > 0)
        drop_front(l, n, k);
    return expired;
}

/* Index of the first of the two neighbours (of `n` pairs) closest in time;
 * the oldest such pair on a tie. */
static uint32_t closest_pair(const int64_t *l, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i + 1 < n; i++)
        if (KEY(l, i + 1) - KEY(l, i) < KEY(l, best + 1) - KEY(l, best))
            best = i;
    return best;
}

void lots_add(int64_t *l, uint32_t cap, int64_t expire_ms, int64_t points)
{
    LY_ASSERT(cap >= 1 && cap <= LOTS_CAP_MAX && expire_ms > 0 && points > 0);
    /* Built in a copy with room for one more pair, so the new lot takes
     * part in choosing which two merge. */
    int64_t t[2 * (LOTS_CAP_MAX + 1)];
    uint32_t n = used(l, cap), at = 0;
    while (at < n && KEY(l, at) < expire_ms)
        at++;
    if (at < n && KEY(l, at) == expire_ms) {
        PTS(l, at) += points;
        return;
    }
    memcpy(t, l, (size_t)at * 2 * sizeof(*l));
    KEY(t, at) = expire_ms;
    PTS(t, at) = points;
    memcpy(t + 2 * (at + 1), l + 2 * at, (size_t)(n - at) * 2 * sizeof(*l));
    n++;
    if (n > cap) {
        uint32_t j = closest_pair(t, n);
        PTS(t, j + 1) += PTS(t, j); /* the earlier lot takes the later expiry */
        memmove(t + 2 * j, t + 2 * (j + 1), (size_t)(n - j - 1) * 2 * sizeof(*t));
        n--;
    }
    memcpy(l, t, (size_t)n * 2 * sizeof(*l));
    memset(l + 2 * n, 0, (size_t)(cap - n) * 2 * sizeof(*l));
}

uint32_t lots_take(int64_t *l, uint32_t cap, int64_t points, struct lots_piece *out)
{
    uint32_t n = used(l, cap), k = 0, pieces = 0;
    LY_ASSERT(points > 0);
    while (points > 0) {
        LY_ASSERT(k < n);
        int64_t take = PTS(l, k) < points ? PTS(l, k) : points;
        out[pieces++] = (struct lots_piece){KEY(l, k), take};
        PTS(l, k) -= take;
        points -= take;
        if (PTS(l, k) == 0)
            k++;
    }
    if (k > 0)
        drop_front(l, n, k);
    return pieces;
}

int64_t lots_next(const int64_t *l, uint32_t cap)
{
    return cap > 0 && KEY(l, 0) != 0 ? KEY(l, 0) : INT64_MAX;
}

int64_t lots_before(const int64_t *l, uint32_t cap, int64_t until_ms)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < cap && KEY(l, i) != 0 && KEY(l, i) < until_ms; i++)
        sum += PTS(l, i);
    return sum;
}

bool lots_valid(const int64_t *l, uint32_t cap, int64_t *sum)
{
    uint32_t n = used(l, cap);
    *sum = 0;
    for (uint32_t i = 0; i < cap; i++) {
        bool ok = i < n ? KEY(l, i) > 0 && PTS(l, i) > 0 && (i == 0 || KEY(l, i) > KEY(l, i - 1))
                        : KEY(l, i) == 0 && PTS(l, i) == 0;
        if (!ok || __builtin_add_overflow(*sum, PTS(l, i), sum))
            return false;
    }
    return true;
}
