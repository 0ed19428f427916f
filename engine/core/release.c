/* release.c - see release.h. */
#include "release.h"

#include "caltime.h"
#include "liability.h"
#include "lyassert.h"
#include "pending.h"
#include "points.h"
#include "tiers.h"

static int32_t clock_day(const struct state *st)
{
    return (int32_t)caltime_day(st->clock_ms);
}

void release_due(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                 uint32_t pos)
{
    struct member *m = members_at(&st->members, pos);
    int32_t today = clock_day(st), day;
    int64_t points, qual, released = 0;
    bool qualified = false;
    while (pending_pop_due(&st->members, m, today, &day, &points, &qual)) {
        released += points; /* checked not to overflow when held */
        if (qual != 0) {
            members_qual_add(m, caltime_month((int64_t)day * CALTIME_DAY_MS),
                             st->clock_month, qual);
            qualified = true;
        }
    }
    if (released > 0) {
        liability_pending(&st->liab, st->clock_month, LIABILITY_RELEASED, released);
        points_credit(st, ob, ts, pos, released, PROTO_CAUSE_RELEASE);
    }
    if (qualified)
        tiers_upgrade(st, rb, ob, ts, pos);
    if (released > 0)
        rewards_after_earning(st, rb, ob, ts, pos);
}

/* Holds `points` and `qual` for `day`, publishing points.pending when
 * points are held. */
static void hold(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos, int32_t day,
                 int64_t points, int64_t qual)
{
    struct member *m = members_at(&st->members, pos);
    if (points == 0 && qual == 0)
        return;
    pending_add(&st->members, m, day, points, qual);
    if (points == 0)
        return;
    liability_pending(&st->liab, st->clock_month, LIABILITY_HELD, points);
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_POINTS_PENDING, ts, m);
    o->points = points;
    o->pending = pending_total(m);
    o->release_ts = (int64_t)pending_slot_day(m, day) * CALTIME_DAY_MS;
}

void release_sale(struct state *st, const struct rulebook *rb, struct outbox *ob, int64_t ts,
                  uint32_t pos, struct txn_rec *r, int64_t points, int64_t bonus)
{
    int32_t day = rb->pending_days > 0 ? pending_release_day(rb, r->ts) : 0;
    if (day <= clock_day(st)) { /* off, or a late sale past its window */
        if (points > 0)
            points_credit(st, ob, ts, pos, points, PROTO_CAUSE_PURCHASE);
        if (bonus > 0)
            points_credit(st, ob, ts, pos, bonus, PROTO_CAUSE_BONUS);
        return;
    }
    r->release_day = day;
    r->qual_released = rb->qualify_on == RULEBOOK_QUALIFY_RELEASE;
    hold(st, ob, ts, pos, day, points + bonus, r->qual_released && r->qual > 0 ? r->qual : 0);
}

void release_referral(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      int64_t ts, uint32_t rpos, struct txn_rec *r, int64_t bonus)
{
    LY_ASSERT(bonus > 0);
    r->referral = bonus;
    if (r->release_day > clock_day(st)) {
        hold(st, ob, ts, rpos, r->release_day, bonus, 0);
        return;
    }
    points_credit(st, ob, ts, rpos, bonus, PROTO_CAUSE_BONUS);
    rewards_after_earning(st, rb, ob, ts, rpos);
}

int64_t release_cancel(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                       int32_t day, int64_t points, int64_t qual, int64_t *qual_taken)
{
    struct member *m = members_at(&st->members, pos);
    *qual_taken = 0;
    if (day <= clock_day(st))
        return 0; /* released already (release_due ran first) */
    int32_t slot_day = pending_slot_day(m, day);
    int64_t taken = pending_cancel(&st->members, m, day, points, qual, qual_taken);
    if (taken > 0) {
        liability_pending(&st->liab, st->clock_month, LIABILITY_CANCELLED, taken);
        struct proto_output *o = outbox_emit(ob, PROTO_OUT_POINTS_PENDING, ts, m);
        o->points = -taken;
        o->pending = pending_total(m);
        o->release_ts = (int64_t)slot_day * CALTIME_DAY_MS;
    }
    return taken;
}
