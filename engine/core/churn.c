/* churn.c - see churn.h. */
#include "churn.h"

#include "caltime.h"

void churn_note_purchase(struct member *m, int64_t ts)
{
    if (m->first_purchase_ts == 0 || ts < m->first_purchase_ts)
        m->first_purchase_ts = ts;
}

int64_t churn_risk(const struct state *st, const struct rulebook *rb, uint32_t pos)
{
    const struct member *m = members_at(&st->members, pos);
    int64_t interval = rb->seg.active_days * CALTIME_DAY_MS;
    int64_t last = m->last_purchase_ts > m->enrolled_ts ? m->last_purchase_ts : m->enrolled_ts;
    if (m->purchases >= 2 && m->first_purchase_ts != 0) {
        interval = (m->last_purchase_ts - m->first_purchase_ts) / (m->purchases - 1);
        last = m->last_purchase_ts;
    }
    if (interval < CALTIME_DAY_MS)
        interval = CALTIME_DAY_MS;
    int64_t since = st->clock_ms > last ? st->clock_ms - last : 0;
    if (since <= interval)
        return 0;
    __int128 risk = (__int128)100 * (since - interval) / (3 * (__int128)interval);
    return risk > 100 ? 100 : (int64_t)risk;
}
