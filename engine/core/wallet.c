/* wallet.c - see wallet.h. */
#include "wallet.h"

#include "caltime.h"
#include "lyassert.h"

static int64_t *lot(const struct members *ms, uint32_t pos, int32_t month)
{
    LY_ASSERT(month >= 0);
    return &members_lots(ms, pos)[(uint32_t)month % ms->lots_per];
}

/* Start of month index `month` + 1 + expiry months: when lot `month` expires. */
static int64_t expiry_ts(const struct members *ms, int32_t month)
{
    return caltime_month_start(month + (int32_t)ms->lots_per); /* lots_per = expiry + 1 */
}

static int32_t oldest_month(const struct member *m, const struct members *ms)
{
    return m->lots_month - (int32_t)ms->lots_per + 1;
}

int64_t wallet_expire(struct members *ms, uint32_t pos, int32_t now_month)
{
    struct member *m = members_at(ms, pos);
    if (ms->lots_per == 0 || now_month <= m->lots_month)
        return 0;
    int64_t expired = 0;
    /* Lots of months up to now_month - lots_per are due; each slot is
     * visited at most once. */
    int32_t from = oldest_month(m, ms);
    int32_t to = now_month - (int32_t)ms->lots_per;
    if (to > m->lots_month)
        to = m->lots_month;
    for (int32_t k = from; k <= to; k++) {
        int64_t *l = lot(ms, pos, k);
        expired += *l;
        *l = 0;
    }
    /* Slots of the months between the newest lot and now are fresh. */
    int32_t fresh = m->lots_month + 1;
    if (fresh < now_month - (int32_t)ms->lots_per + 1)
        fresh = now_month - (int32_t)ms->lots_per + 1;
    for (int32_t k = fresh; k <= now_month; k++)
        *lot(ms, pos, k) = 0;
    m->lots_month = now_month;
    m->balance -= expired;
    return expired;
}

void wallet_earn(struct members *ms, uint32_t pos, int32_t now_month, int64_t points)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t debt = m->balance < 0 ? -m->balance : 0;
    int64_t to_lot = points > debt ? points - debt : 0;
    m->balance += points;
    if (ms->lots_per > 0 && to_lot > 0) {
        LY_ASSERT(now_month == m->lots_month);
        *lot(ms, pos, now_month) += to_lot;
    }
}

void wallet_spend(struct members *ms, uint32_t pos, int64_t points)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t left = points < m->balance ? points : (m->balance > 0 ? m->balance : 0);
    for (int32_t k = oldest_month(m, ms); ms->lots_per > 0 && left > 0 && k <= m->lots_month;
         k++) {
        int64_t *l = lot(ms, pos, k);
        int64_t take = *l < left ? *l : left;
        *l -= take;
        left -= take;
    }
    LY_ASSERT(ms->lots_per == 0 || left == 0);
    m->balance -= points;
}

int64_t wallet_next_expiry(const struct members *ms, uint32_t pos)
{
    const struct member *m = members_at(ms, pos);
    for (int32_t k = oldest_month(m, ms); ms->lots_per > 0 && k <= m->lots_month; k++)
        if (*lot(ms, pos, k) > 0)
            return expiry_ts(ms, k);
    return INT64_MAX;
}

int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms)
{
    const struct member *m = members_at(ms, pos);
    int64_t sum = 0;
    for (int32_t k = oldest_month(m, ms); ms->lots_per > 0 && k <= m->lots_month; k++)
        if (expiry_ts(ms, k) < until_ms)
            sum += *lot(ms, pos, k);
    return sum;
}

bool wallet_lot_after(const struct members *ms, uint32_t pos, int32_t after_month,
                      int32_t *month, int64_t *points, int64_t *expire_ts)
{
    const struct member *m = members_at(ms, pos);
    int32_t from = oldest_month(m, ms);
    if (from <= after_month)
        from = after_month + 1;
    for (int32_t k = from; ms->lots_per > 0 && k <= m->lots_month; k++) {
        if (*lot(ms, pos, k) > 0) {
            *month = k;
            *points = *lot(ms, pos, k);
            *expire_ts = expiry_ts(ms, k);
            return true;
        }
    }
    return false;
}
