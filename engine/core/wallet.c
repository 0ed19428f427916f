/* wallet.c - see wallet.h. The ring of expiry-month lots is kept here;
 * keyed lots are lots.c's. */
#include "wallet.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"

uint32_t wallet_lots_per(const struct rulebook *rb, uint32_t expiry_months_max)
{
    LY_ASSERT(expiry_months_max <= RULEBOOK_EXPIRY_MONTHS_MAX);
    switch (rb->expiry_mode) {
    case RULEBOOK_EXPIRY_MONTHS:
    case RULEBOOK_EXPIRY_NEVER: /* a later version may turn expiry.months on */
        return expiry_months_max ? expiry_months_max + 1 : 0;
    case RULEBOOK_EXPIRY_DAYS:
        return 2 * (rb->expiry_days + 1 < LOTS_CAP_MAX ? rb->expiry_days + 1 : LOTS_CAP_MAX);
    case RULEBOOK_EXPIRY_END_OF_YEAR: return 2 * (rb->expiry_years + 1);
    }
    LY_ASSERT(!"not an expiry mode");
    return 0;
}
bool wallet_ring_mode(enum rulebook_expiry_mode mode)
{
    return mode == RULEBOOK_EXPIRY_MONTHS || mode == RULEBOOK_EXPIRY_NEVER;
}

void wallet_fit(struct members *ms, const struct rulebook *rb)
{
    if (ms->lots_kind != WALLET_RING)
        return;
    LY_ASSERT(rb->expiry_months < ms->lots_per);
    if (rb->expiry_months + 1 > ms->ring_per)
        members_ring_resize(ms, rb->expiry_months + 1);
}

_Static_assert(RULEBOOK_EXPIRY_YEARS_MAX + 1 <= LOTS_CAP_MAX, "a keyed lot per year");

void wallet_layout(struct members *ms, const struct rulebook *rb)
{
    ms->lots_kind = WALLET_NONE;
    ms->lots_span = 0;
    ms->ring32 = false;
    ms->ring_per = 0;
    if (ms->lots_per == 0)
        return;
    if (wallet_ring_mode(rb->expiry_mode)) {
        LY_ASSERT(ms->count == 0);
        ms->lots_kind = WALLET_RING;
        ms->ring32 = true; /* int32 slots, int64 for a member that needs it (members.h) */
        ms->ring_per = 1;
        wallet_fit(ms, rb);
    } else if (rb->expiry_mode == RULEBOOK_EXPIRY_DAYS) {
        LY_ASSERT(ms->lots_per == wallet_lots_per(rb, 0));
        ms->lots_kind = WALLET_DAYS;
        ms->lots_span = rb->expiry_days;
    } else {
        LY_ASSERT(ms->lots_per == wallet_lots_per(rb, 0));
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

/* ---- the ring of expiry-month lots --------------------------------------- */

/* The slot of the lot expiring in month `month` (in the ring: asserted). */
static uint32_t slot(const struct members *ms, uint32_t pos, int32_t month)
{
    const struct member *m = members_at(ms, pos);
    LY_ASSERT(month > m->lots_month && month <= m->lots_month + (int32_t)ms->ring_per);
    return (uint32_t)month % ms->ring_per;
}

/* The points of the lot expiring in month `month`. */
static int64_t lot(const struct members *ms, uint32_t pos, int32_t month)
{
    return members_ring_get(ms, pos, slot(ms, pos, month));
}

static void set_lot(struct members *ms, uint32_t pos, int32_t month, int64_t points)
{
    members_ring_set(ms, pos, slot(ms, pos, month), points);
}

static int32_t ring_last(const struct member *m, const struct members *ms)
{
    return m->lots_month + (int32_t)ms->ring_per;
}

/* The first month from `from` on (> lots_month) whose lot holds points,
 * or 0 when none does. One pass over the slots in memory order (two runs
 * around the wrap), without a division per month: every purchase asks
 * this twice (the schedule, the expiry notice). */
static int32_t ring_first(const struct members *ms, uint32_t pos, int32_t from)
{
    const struct member *m = members_at(ms, pos);
    int32_t last = ring_last(m, ms);
    if (ms->lots_kind != WALLET_RING || from > last)
        return 0;
    LY_ASSERT(from > m->lots_month);
    uint32_t per = ms->ring_per, i = slot(ms, pos, from);
    uint32_t months = (uint32_t)(last - from) + 1, run = per - i < months ? per - i : months;
    uint32_t at = members_ring_find(ms, pos, i, i + run);
    if (at < i + run)
        return from + (int32_t)(at - i);
    at = members_ring_find(ms, pos, 0, months - run); /* the run after the wrap */
    return at < months - run ? from + (int32_t)(run + at) : 0;
}

static int64_t ring_expire(struct members *ms, uint32_t pos, int32_t now_month)
{
    struct member *m = members_at(ms, pos);
    if (now_month <= m->lots_month)
        return 0;
    int64_t expired = 0;
    /* Lots of months up to now_month are due; each slot is visited at most
     * once, and a due slot becomes the free slot of month + ring_per. */
    int32_t to = now_month;
    if (to > ring_last(m, ms))
        to = ring_last(m, ms);
    for (int32_t k = m->lots_month + 1; k <= to; k++) {
        int64_t l = lot(ms, pos, k);
        if (l != 0) {
            expired += l;
            set_lot(ms, pos, k, 0);
        }
    }
    m->lots_month = now_month;
    return expired;
}

/* Takes up to `left` off the ring, soonest first; with `out`, records
 * each piece taken. Returns the pieces written; *left keeps what the lots
 * did not hold. */
static uint32_t ring_take(struct members *ms, uint32_t pos, int64_t *left,
                          struct lots_piece *out)
{
    const struct member *m = members_at(ms, pos);
    uint32_t n = 0;
    for (int32_t k = m->lots_month + 1; *left > 0 && k <= ring_last(m, ms); k++) {
        int64_t l = lot(ms, pos, k);
        int64_t take = l < *left ? l : *left;
        if (take > 0)
            set_lot(ms, pos, k, l - take);
        *left -= take;
        if (out != NULL && take > 0)
            out[n++] = (struct lots_piece){caltime_month_start(k), take};
    }
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

void wallet_put(struct members *ms, uint32_t pos, int32_t month, int64_t points)
{
    LY_ASSERT(points > 0 && ms->lots_kind == WALLET_RING);
    set_lot(ms, pos, month, lot(ms, pos, month) + points);
}

/* Repays a negative balance from `points` and returns what is left for
 * the lots; the balance takes all of `points`. */
static int64_t repay(struct member *m, int64_t points)
{
    int64_t debt = m->balance < 0 ? -m->balance : 0;
    m->balance += points;
    return points > debt ? points - debt : 0;
}

void wallet_earn(struct members *ms, uint32_t pos, int64_t now_ms, int64_t points,
                 uint32_t expiry_months)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t to_lot = repay(m, points);
    if (to_lot == 0)
        return;
    if (keyed(ms)) {
        lots_add(members_lots(ms, pos), keyed_cap(ms), keyed_expiry(ms, now_ms), to_lot);
    } else if (ms->lots_kind == WALLET_RING && expiry_months > 0) {
        int32_t month = caltime_month(now_ms);
        LY_ASSERT(month == m->lots_month && expiry_months < ms->ring_per);
        wallet_put(ms, pos, month + (int32_t)expiry_months + 1, to_lot);
    }
}

void wallet_spend(struct members *ms, uint32_t pos, int64_t points, uint32_t expiry_months)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0);
    int64_t left = points < m->balance ? points : (m->balance > 0 ? m->balance : 0);
    struct lots_piece scratch[LOTS_CAP_MAX];
    if (left > 0 && ms->lots_kind == WALLET_RING) {
        ring_take(ms, pos, &left, NULL);
        LY_ASSERT(expiry_months == 0 || left == 0);
    } else if (left > 0 && keyed(ms)) {
        lots_take(members_lots(ms, pos), keyed_cap(ms), left, scratch);
    }
    m->balance -= points;
}

void wallet_clear(struct members *ms, uint32_t pos)
{
    for (uint32_t k = 0; ms->lots_kind == WALLET_RING && k < ms->ring_per; k++)
        members_ring_set(ms, pos, k, 0);
}

uint32_t wallet_take(struct members *ms, uint32_t pos, int64_t points, struct lots_piece *out)
{
    struct member *m = members_at(ms, pos);
    LY_ASSERT(points > 0 && points <= m->balance);
    m->balance -= points;
    if (keyed(ms))
        return lots_take(members_lots(ms, pos), keyed_cap(ms), points, out);
    uint32_t n = 0;
    int64_t left = points;
    if (ms->lots_kind == WALLET_RING)
        n = ring_take(ms, pos, &left, out);
    if (left > 0) /* points no lot holds: expiry off */
        out[n++] = (struct lots_piece){INT64_MAX, left};
    return n;
}

/* The month of the ring a piece expiring in `month` goes to: pieces come
 * from another state (a transfer credit from another partition, a return
 * after this one restarted), whose clock and ring can differ from this
 * one's. A month past the ring's reach widens the ring (up to lots_per: the
 * width is not state, members_ring_resize); one further ahead than even
 * lots_per slots reach, or already due here, goes to the farthest or the
 * nearest slot, so a piece never lands in another month's slot. */
static int32_t ring_fit(struct members *ms, uint32_t pos, int32_t month)
{
    int32_t first = members_at(ms, pos)->lots_month + 1;
    int32_t last = first - 1 + (int32_t)ms->lots_per;
    month = month < first ? first : month > last ? last : month;
    if (month > ring_last(members_at(ms, pos), ms))
        members_ring_resize(ms, (uint32_t)(month - first) + 1);
    return month;
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
        if (in[i].points == repaid || in[i].expire_ms == INT64_MAX)
            continue;
        if (keyed(ms))
            lots_add(members_lots(ms, pos), keyed_cap(ms), in[i].expire_ms,
                     in[i].points - repaid);
        else if (ms->lots_kind == WALLET_RING)
            wallet_put(ms, pos, ring_fit(ms, pos, caltime_month(in[i].expire_ms)),
                       in[i].points - repaid);
    }
}

void wallet_each(const struct members *ms, uint32_t pos,
                 void (*fn)(void *arg, int32_t month, int64_t points), void *arg)
{
    const struct member *m = members_at(ms, pos);
    for (int32_t k = m->lots_month + 1; ms->lots_kind == WALLET_RING && k <= ring_last(m, ms);
         k++)
        if (lot(ms, pos, k) != 0)
            fn(arg, k, lot(ms, pos, k));
}

uint32_t wallet_pieces(const struct members *ms, uint32_t pos, struct lots_piece *out)
{
    const struct member *m = members_at(ms, pos);
    uint32_t n = 0;
    int64_t held = 0;
    if (keyed(ms)) {
        const int64_t *l = members_lots(ms, pos);
        for (uint32_t i = 0; i < keyed_cap(ms) && l[2 * i + 1] > 0; i++)
            out[n++] = (struct lots_piece){l[2 * i], l[2 * i + 1]};
    } else if (ms->lots_kind == WALLET_RING) { /* the lots holding points, skipping the rest */
        for (int32_t k = ring_first(ms, pos, m->lots_month + 1); k != 0;
             k = ring_first(ms, pos, k + 1))
            out[n++] = (struct lots_piece){k, lot(ms, pos, k)};
    }
    for (uint32_t i = 0; i < n; i++)
        held += out[i].points;
    if (n > 0 && out[n - 1].expire_ms == INT64_MAX)
        held -= out[--n].points; /* a keyed lot that never expires joins the rest */
    int64_t rest = (m->balance > 0 ? m->balance : 0) - held;
    LY_ASSERT(rest >= 0);
    if (rest > 0)
        out[n++] = (struct lots_piece){INT64_MAX, rest};
    return n;
}

int64_t wallet_next_expiry(const struct members *ms, uint32_t pos)
{
    if (keyed(ms))
        return lots_next(members_lots(ms, pos), keyed_cap(ms));
    int32_t k = ring_first(ms, pos, members_at(ms, pos)->lots_month + 1);
    return k != 0 ? caltime_month_start(k) : INT64_MAX;
}

bool wallet_due(const struct members *ms, uint32_t pos, int64_t now_ms, int32_t now_month)
{
    if (ms->lots_kind == WALLET_RING && members_at(ms, pos)->lots_month >= now_month)
        return false;
    return wallet_next_expiry(ms, pos) <= now_ms;
}

int64_t wallet_expiring(const struct members *ms, uint32_t pos, int64_t until_ms)
{
    if (keyed(ms))
        return lots_before(members_lots(ms, pos), keyed_cap(ms), until_ms);
    const struct member *m = members_at(ms, pos);
    int64_t sum = 0;
    for (int32_t k = m->lots_month + 1; ms->lots_kind == WALLET_RING && k <= ring_last(m, ms);
         k++)
        if (caltime_month_start(k) < until_ms)
            sum += lot(ms, pos, k);
    return sum;
}

bool wallet_lots_valid(const struct members *ms, const struct member *m, const int64_t *lots)
{
    int64_t sum = 0;
    int64_t want = m->balance > 0 ? m->balance : 0;
    if (keyed(ms))
        return lots_valid(lots, keyed_cap(ms), &sum) && sum == want;
    for (uint32_t k = 0; ms->lots_kind == WALLET_RING && k < ms->lots_per; k++)
        if (lots[k] < 0 || __builtin_add_overflow(sum, lots[k], &sum))
            return false;
    return sum == want || sum == 0; /* 0: expiry off in the version in force */
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
    int32_t from = m->lots_month + 1;
    if (from <= after_month)
        from = after_month + 1;
    int32_t k = ring_first(ms, pos, from);
    if (k == 0)
        return false;
    *month = k;
    *points = lot(ms, pos, k);
    *expire_ts = caltime_month_start(k);
    return true;
}

bool wallet_lot_after_next(const struct members *ms, uint32_t pos, int32_t after_month,
                           int32_t *month, int64_t *points, int64_t *expire_ts, int64_t *next)
{
    if (keyed(ms)) {
        *next = wallet_next_expiry(ms, pos);
        return keyed_lot_after(ms, pos, after_month, month, points, expire_ts);
    }
    int32_t k = ring_first(ms, pos, members_at(ms, pos)->lots_month + 1);
    *next = k != 0 ? caltime_month_start(k) : INT64_MAX;
    if (k == 0)
        return false;
    if (k <= after_month) /* told already: look past it */
        return wallet_lot_after(ms, pos, after_month, month, points, expire_ts);
    /* No lot between lots_month and k: k is also the first after after_month. */
    *month = k;
    *points = lot(ms, pos, k);
    *expire_ts = *next;
    return true;
}
