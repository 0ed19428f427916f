/* wallet.c - see wallet.h. */
#include "wallet.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"

/* The slot of the lot expiring in month `month` (in the ring: asserted). */
static int64_t *lot(const struct members *ms, uint32_t pos, int32_t month)
{
    const struct member *m = members_at(ms, pos);
    LY_ASSERT(month > m->lots_month && month <= m->lots_month + (int32_t)ms->lots_per);
    return &members_lots(ms, pos)[(uint32_t)month % ms->lots_per];
}

int64_t wallet_expire(struct members *ms, uint32_t pos, int32_t now_month)
{
    struct member *m = members_at(ms, pos);
    if (ms->lots_per == 0 || now_month <= m->lots_month)
        return 0;
    int64_t expired = 0;
    /* Lots of months up to now_month are due; each slot is visited at most
     * once, and a due slot becomes the free slot of month + lots_per. */
    int32_t to = now_month;
    if (to > m->lots_month + (int32_t)ms->lots_per)
        to = m->lots_month + (int32_t)ms->lots_per;
    for (int32_t k = m->lots_month + 1; k <= to; k++) {
        int64_t *l = lot(ms, pos, k);
        expired += *l;
        *l = 0;
    }
    m->lots_month = now_month;
    m->balance -= expired;
    return expired;
}

void wallet_put(struct members *ms, uint32_t pos, int32_t month, int64_t points)
{
    LY_ASSERT(points > 0 && ms->lots_per > 0);
    *lot(ms, pos, month) += points;
}

void wallet_earn(struct members *ms, uint32_t pos, int32_t now_month, int64_t points,
                 uint32_t expiry_months)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t debt = m->balance < 0 ? -m->balance : 0;
    int64_t to_lot = points > debt ? points - debt : 0;
    m->balance += points;
    if (expiry_months > 0 && to_lot > 0) {
        LY_ASSERT(now_month == m->lots_month && expiry_months < ms->lots_per);
        wallet_put(ms, pos, now_month + (int32_t)expiry_months + 1, to_lot);
    }
}

void wallet_spend(struct members *ms, uint32_t pos, int64_t points, uint32_t expiry_months)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t left = points < m->balance ? points : (m->balance > 0 ? m->balance : 0);
    for (int32_t k = m->lots_month + 1;
         ms->lots_per > 0 && left > 0 && k <= m->lots_month + (int32_t)ms->lots_per; k++) {
        int64_t *l = lot(ms, pos, k);
        int64_t take = *l < left ? *l : left;
        *l -= take;
        left -= take;
    }
    LY_ASSERT(expiry_months == 0 || left == 0);
    m->balance -= points;
}

void wallet_clear(struct members *ms, uint32_t pos)
{
    if (ms->lots_per > 0)
        memset(members_lots(ms, pos), 0, ms->lots_per * sizeof(int64_t));
}

void wallet_each(const struct members *ms, uint32_t pos,
                 void (*fn)(void *arg, int32_t month, int64_t points), void *arg)
{
    const struct member *m = members_at(ms, pos);
    for (int32_t k = m->lots_month + 1;
         ms->lots_per > 0 && k <= m->lots_month + (int32_t)ms->lots_per; k++)
        if (*lot(ms, pos, k) != 0)
            fn(arg, k, *lot(ms, pos, k));
}

int64_t wallet_next_expiry(const struct members *ms, uint32_t pos)
{
    const struct member *m = members_at(ms, pos);
    for (int32_t k = m->lots_month + 1;
         ms->lots_per > 0 && k <= m->lots_month + (int32_t)ms->lots_per; k++)
        if (*lot(ms, pos, k) > 0)
            return caltime_month_start(k);
    return INT64_MAX;
}

int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms)
{
    const struct member *m = members_at(ms, pos);
    int64_t sum = 0;
    for (int32_t k = m->lots_month + 1;
         ms->lots_per > 0 && k <= m->lots_month + (int32_t)ms->lots_per; k++)
        if (caltime_month_start(k) < until_ms)
            sum += *lot(ms, pos, k);
    return sum;
}
