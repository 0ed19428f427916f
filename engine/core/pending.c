/* pending.c - see pending.h. */
#include "pending.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"

#define SLOTS MEMBERS_PENDING_SLOTS
_Static_assert(SLOTS >= 2, "the release-day step needs two slots or more");

int32_t pending_step_days(uint32_t pending_days)
{
    LY_ASSERT(pending_days > 0 && pending_days <= RULEBOOK_PENDING_DAYS_MAX);
    return (int32_t)((pending_days + SLOTS - 2) / (SLOTS - 1));
}

int32_t pending_release_day(const struct rulebook *rb, int64_t ts)
{
    int32_t step = pending_step_days(rb->pending_days);
    int32_t day = (int32_t)caltime_day(ts) + (int32_t)rb->pending_days + 1;
    return (day + step - 1) / step * step;
}

uint32_t pending_count(const struct member *m)
{
    uint32_t n = 0;
    while (n < SLOTS && m->pend_day[n] != 0)
        n++;
    return n;
}

/* The first slot of the n in use releasing on or after `day`, or n. */
static uint32_t slot_from(const struct member *m, uint32_t n, int32_t day)
{
    uint32_t i = 0;
    while (i < n && m->pend_day[i] < day)
        i++;
    return i;
}

/* The member's pending qualification by slot for writing, or NULL when
 * it has no extras record (then every slot's is 0). */
static int64_t *quals(struct members *ms, struct member *m)
{
    return m->extra != 0 ? members_extra_edit(ms, m)->pend_qual : NULL;
}

/* Opens slot i of n (< SLOTS) for `day`, moving later slots up one. */
static void open_slot(struct member *m, int64_t *q, uint32_t n, uint32_t i, int32_t day)
{
    LY_ASSERT(n < SLOTS && i <= n);
    for (uint32_t k = n; k > i; k--) {
        m->pend_day[k] = m->pend_day[k - 1];
        m->pend_points[k] = m->pend_points[k - 1];
        if (q != NULL)
            q[k] = q[k - 1];
    }
    m->pend_day[i] = day;
    m->pend_points[i] = 0;
    if (q != NULL)
        q[i] = 0;
}

void pending_add(struct members *ms, struct member *m, int32_t day, int64_t points,
                 int64_t qual)
{
    LY_ASSERT(day > 0 && points >= 0 && qual >= 0 && (points > 0 || qual > 0));
    int64_t *q = qual > 0 ? members_extra_edit(ms, m)->pend_qual : quals(ms, m);
    uint32_t n = pending_count(m);
    uint32_t i = slot_from(m, n, day);
    if (i < n && m->pend_day[i] == day) {
        /* its day's slot */
    } else if (n < SLOTS) {
        open_slot(m, q, n, i, day);
    } else if (i == n) {
        i = n - 1; /* full, later than all: the last slot waits for it */
        m->pend_day[i] = day;
    } /* else full: slot i releases later than `day`, never earlier */
    m->pend_points[i] += points;
    if (q != NULL)
        q[i] += qual;
    members_extra_settle(ms, m);
}

/* Removes slot i of n, moving later slots down one. */
static void close_slot(struct member *m, int64_t *q, uint32_t n, uint32_t i)
{
    LY_ASSERT(i < n);
    for (uint32_t k = i; k + 1 < n; k++) {
        m->pend_day[k] = m->pend_day[k + 1];
        m->pend_points[k] = m->pend_points[k + 1];
        if (q != NULL)
            q[k] = q[k + 1];
    }
    m->pend_day[n - 1] = 0;
    m->pend_points[n - 1] = 0;
    if (q != NULL)
        q[n - 1] = 0;
}

bool pending_pop_due(struct members *ms, struct member *m, int32_t today, int32_t *day,
                     int64_t *points, int64_t *qual)
{
    uint32_t n = pending_count(m);
    if (n == 0 || m->pend_day[0] > today)
        return false;
    int64_t *q = quals(ms, m);
    *day = m->pend_day[0];
    *points = m->pend_points[0];
    *qual = q != NULL ? q[0] : 0;
    close_slot(m, q, n, 0);
    members_extra_settle(ms, m);
    return true;
}

int32_t pending_slot_day(const struct member *m, int32_t day)
{
    uint32_t n = pending_count(m);
    uint32_t i = slot_from(m, n, day);
    return i < n ? m->pend_day[i] : 0;
}

int64_t pending_cancel(struct members *ms, struct member *m, int32_t day, int64_t points,
                       int64_t qual, int64_t *qual_taken)
{
    LY_ASSERT(points >= 0 && qual >= 0);
    uint32_t n = pending_count(m);
    uint32_t i = slot_from(m, n, day);
    *qual_taken = 0;
    if (i == n)
        return 0;
    int64_t *slots = quals(ms, m), have = slots != NULL ? slots[i] : 0;
    int64_t p = points < m->pend_points[i] ? points : m->pend_points[i];
    int64_t q = qual < have ? qual : have;
    m->pend_points[i] -= p;
    if (slots != NULL)
        slots[i] -= q;
    if (m->pend_points[i] == 0 && have == q)
        close_slot(m, slots, n, i);
    members_extra_settle(ms, m);
    *qual_taken = q;
    return p;
}

int64_t pending_qual_between(const struct members *ms, const struct member *m, int32_t from,
                             int32_t to)
{
    const int64_t *q = members_extra(ms, m)->pend_qual;
    int64_t sum = 0;
    for (uint32_t i = 0; i < SLOTS && m->pend_day[i] != 0; i++)
        if (m->pend_day[i] >= from && m->pend_day[i] <= to)
            sum += q[i];
    return sum;
}

int64_t pending_total(const struct member *m)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < SLOTS && m->pend_day[i] != 0; i++)
        sum += m->pend_points[i];
    return sum;
}

int64_t pending_next_ts(const struct member *m)
{
    return m->pend_day[0] == 0 ? INT64_MAX : (int64_t)m->pend_day[0] * CALTIME_DAY_MS;
}
