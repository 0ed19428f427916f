/* wallet.c - see wallet.h. The ring of calendar-month lots is kept here;
 * keyed lots are lots.c's. */
#include "wallet.h"

#include "caltime.h"
#include "lyassert.h"

uint32_t wallet_lots_per(const struct rulebook *rb)
{
    switch (rb->expiry_mode) {
    case RULEBOOK_EXPIRY_MONTHS: return rb->expiry_months ? rb->expiry_months + 1 : 0;
    case RULEBOOK_EXPIRY_DAYS:
        return 2 * (rb->expiry_days + 1 < LOTS_CAP_MAX ? rb->expiry_days + 1 : LOTS_CAP_MAX);
    case RULEBOOK_EXPIRY_END_OF_YEAR: return 2 * (rb->expiry_years + 1);
    case RULEBOOK_EXPIRY_NEVER: return 0;
    }
    LY_ASSERT(!"not an expiry mode");
    return 0;
}
_Static_assert(RULEBOOK_EXPIRY_YEARS_MAX + 1 <= LOTS_CAP_MAX, "a keyed lot per year");

void wallet_layout(struct members *ms, const struct rulebook *rb)
{
    LY_ASSERT(ms->lots_per == wallet_lots_per(rb));
    ms->lots_kind = WALLET_NONE;
    ms->lots_span = 0;
    if (ms->lots_per == 0)
        return;
    if (rb->expiry_mode == RULEBOOK_EXPIRY_MONTHS) {
        ms->lots_kind = WALLET_RING;
    } else if (rb->expiry_mode == RULEBOOK_EXPIRY_DAYS) {
        ms->lots_kind = WALLET_DAYS;
        ms->lots_span = rb->expiry_days;
    } else {
        ms->lots_kind = WALLET_YEARS;
        ms->lots_span = rb->expiry_years;
    }
}

/* ---- keyed lots ---------------------------------------------------------- */

static bool keyed(const struct members *ms)
{
    return ms->lots_kind == WALLET_DAYS || ms->lots_kind == WALLET_YEARS;
}

static uint32_t keyed_cap(const struct members *ms)
{
    return ms->lots_per / 2;
}

/* When points earned at `now_ms` expire. */
static int64_t keyed_expiry(const struct members *ms, int64_t now_ms)
{
    if (ms->lots_kind == WALLET_DAYS)
        return (caltime_day(now_ms) + ms->lots_span + 1) * CALTIME_DAY_MS;
    struct caltime_date d = caltime_date(now_ms);
    return caltime_ts((struct caltime_date){d.year + (int32_t)ms->lots_span + 1, 1, 1});
}

/* ---- the ring of month lots ---------------------------------------------- */

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

static int64_t ring_expire(struct members *ms, uint32_t pos, int32_t now_month)
{
    struct member *m = members_at(ms, pos);
    if (now_month <= m->lots_month)
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
    return expired;
}

/* Takes `left` (<= what the lots hold) off the ring, oldest first; with
 * `out`, records each piece taken. Returns the pieces written. */
static uint32_t ring_take(struct members *ms, uint32_t pos, int64_t left, struct lots_piece *out)
{
    const struct member *m = members_at(ms, pos);
    uint32_t n = 0;
    for (int32_t k = oldest_month(m, ms); left > 0 && k <= m->lots_month; k++) {
        int64_t *l = lot(ms, pos, k);
        int64_t take = *l < left ? *l : left;
        *l -= take;
        left -= take;
        if (out != NULL && take > 0)
            out[n++] = (struct lots_piece){expiry_ts(ms, k), take};
    }
    LY_ASSERT(left == 0);
    return n;
}

/* ---- the wallet ------------------------------------------------------------ */

int64_t wallet_expire(struct members *ms, uint32_t pos, int64_t now_ms)
{
    struct member *m = members_at(ms, pos);
    int64_t expired = 0;
    if (ms->lots_kind == WALLET_RING)
        expired = ring_expire(ms, pos, caltime_month(now_ms));
    else if (keyed(ms))
        expired = lots_expire(members_lots(ms, pos), keyed_cap(ms), now_ms);
    m->balance -= expired;
    return expired;
}

/* Adds `points` to the lot expiring at `expire_ms` (keyed) or to ring
 * month `month`. */
static void add_lot(struct members *ms, uint32_t pos, int64_t expire_ms, int32_t month,
                    int64_t points)
{
    if (ms->lots_kind == WALLET_RING) {
        struct member *m = members_at(ms, pos);
        LY_ASSERT(month <= m->lots_month && month > m->lots_month - (int32_t)ms->lots_per);
        *lot(ms, pos, month) += points;
    } else if (keyed(ms)) {
        lots_add(members_lots(ms, pos), keyed_cap(ms), expire_ms, points);
    }
}

/* Repays a negative balance from `points` and returns what is left for
 * the lots; the balance takes all of `points`. */
static int64_t repay(struct member *m, int64_t points)
{
    int64_t debt = m->balance < 0 ? -m->balance : 0;
    m->balance += points;
    return points > debt ? points - debt : 0;
}

void wallet_earn(struct members *ms, uint32_t pos, int64_t now_ms, int64_t points)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t to_lot = repay(m, points);
    if (to_lot == 0 || ms->lots_kind == WALLET_NONE)
        return;
    int32_t month = caltime_month(now_ms);
    LY_ASSERT(ms->lots_kind != WALLET_RING || month == m->lots_month);
    add_lot(ms, pos, keyed(ms) ? keyed_expiry(ms, now_ms) : 0, month, to_lot);
}

void wallet_spend(struct members *ms, uint32_t pos, int64_t points)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t left = points < m->balance ? points : (m->balance > 0 ? m->balance : 0);
    struct lots_piece scratch[LOTS_CAP_MAX];
    if (left > 0 && ms->lots_kind == WALLET_RING)
        ring_take(ms, pos, left, NULL);
    else if (left > 0 && keyed(ms))
        lots_take(members_lots(ms, pos), keyed_cap(ms), left, scratch);
    m->balance -= points;
}

uint32_t wallet_take(struct members *ms, uint32_t pos, int64_t points, struct lots_piece *out)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0 && points <= m->balance);
    m->balance -= points;
    if (ms->lots_kind == WALLET_RING)
        return ring_take(ms, pos, points, out);
    if (keyed(ms))
        return lots_take(members_lots(ms, pos), keyed_cap(ms), points, out);
    out[0] = (struct lots_piece){INT64_MAX, points};
    return 1;
}

void wallet_give(struct members *ms, uint32_t pos, const struct lots_piece *in, uint32_t n)
{
    struct member *m = members_at(ms, pos);
    int64_t debt = m->balance < 0 ? -m->balance : 0;
    for (uint32_t i = 0; i < n; i++) {
        LY_ASSERT(in[i].points > 0);
        int64_t repaid = in[i].points < debt ? in[i].points : debt;
        debt -= repaid;
        m->balance += in[i].points;
        if (in[i].points == repaid || ms->lots_kind == WALLET_NONE)
            continue;
        int32_t month = ms->lots_kind == WALLET_RING
                            ? caltime_month(in[i].expire_ms) - (int32_t)ms->lots_per
                            : 0;
        add_lot(ms, pos, in[i].expire_ms, month, in[i].points - repaid);
    }
}

int64_t wallet_next_expiry(const struct members *ms, uint32_t pos)
{
    if (keyed(ms))
        return lots_next(members_lots(ms, pos), keyed_cap(ms));
    const struct member *m = members_at(ms, pos);
    for (int32_t k = oldest_month(m, ms); ms->lots_kind == WALLET_RING && k <= m->lots_month;
         k++)
        if (*lot(ms, pos, k) > 0)
            return expiry_ts(ms, k);
    return INT64_MAX;
}

int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms)
{
    if (keyed(ms))
        return lots_before(members_lots(ms, pos), keyed_cap(ms), until_ms);
    const struct member *m = members_at(ms, pos);
    int64_t sum = 0;
    for (int32_t k = oldest_month(m, ms); ms->lots_kind == WALLET_RING && k <= m->lots_month;
         k++)
        if (expiry_ts(ms, k) < until_ms)
            sum += *lot(ms, pos, k);
    return sum;
}

bool wallet_lots_valid(const struct members *ms, const struct member *m, const int64_t *lots)
{
    int64_t sum = 0;
    if (ms->lots_kind == WALLET_NONE)
        return true;
    if (keyed(ms) && !lots_valid(lots, keyed_cap(ms), &sum))
        return false;
    for (uint32_t k = 0; ms->lots_kind == WALLET_RING && k < ms->lots_per; k++)
        if (lots[k] < 0 || __builtin_add_overflow(sum, lots[k], &sum))
            return false;
    return sum == (m->balance > 0 ? m->balance : 0);
}

/* wallet_lot_after for keyed lots: the key is the expiry's UTC day. */
static bool keyed_lot_after(const struct members *ms, uint32_t pos, int32_t after_key,
                            int32_t *key, int64_t *points, int64_t *expire_ts)
{
    const int64_t *l = members_lots(ms, pos);
    for (uint32_t i = 0; i < keyed_cap(ms) && l[2 * i + 1] > 0; i++) {
        int64_t at = l[2 * i];
        if (at == INT64_MAX || caltime_day(at) <= after_key)
            continue; /* never expires, or told already */
        *key = (int32_t)caltime_day(at);
        *points = l[2 * i + 1];
        *expire_ts = at;
        return true;
    }
    return false;
}

bool wallet_lot_after(const struct members *ms, uint32_t pos, int32_t after_month,
                      int32_t *month, int64_t *points, int64_t *expire_ts)
{
    if (keyed(ms))
        return keyed_lot_after(ms, pos, after_month, month, points, expire_ts);
    const struct member *m = members_at(ms, pos);
    int32_t from = oldest_month(m, ms);
    if (from <= after_month)
        from = after_month + 1;
    for (int32_t k = from; ms->lots_kind == WALLET_RING && k <= m->lots_month; k++) {
        if (*lot(ms, pos, k) > 0) {
            *month = k;
            *points = *lot(ms, pos, k);
            *expire_ts = expiry_ts(ms, k);
            return true;
        }
    }
    return false;
}
