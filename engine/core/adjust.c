/* adjust.c - see adjust.h. */
#include "adjust.h"

#include "caltime.h"
#include "notices.h"
#include "points.h"
#include "release.h"
#include "retry.h"
#include "rewards.h"
#include "tiers.h"

void adjust_apply(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                  uint32_t pos, struct outbox *ob)
{
    struct member *m = members_at(&st->members, pos);
    if (points_overflows(ob, m, e->points))
        return;
    points_expire(st, ob, e->ts, pos);
    release_due(st, rb, ob, e->ts, pos);
    if (e->points > 0 && rb->adjust_earns) {
        points_credit(st, ob, e->ts, pos, e->points, PROTO_CAUSE_ADJUST);
    } else if (e->points > 0) {
        points_grant(st, ob, e->ts, pos, e->points, PROTO_CAUSE_ADJUST);
    } else {
        points_debit(st, ob, e->ts, pos, -e->points, PROTO_CAUSE_ADJUST);
        if (rb->adjust_earns)
            m->reward_points += e->points;
    }
    if (e->qualifying) {
        members_qual_add(m, caltime_month(e->ts), st->clock_month, e->points);
        tiers_upgrade(st, rb, ob, e->ts, pos);
    }
    if (e->points > 0 && rb->adjust_earns)
        rewards_after_earning(st, rb, ob, e->ts, pos);
    retry_remember(st, e, pos);
    state_reschedule_next(st, rb, pos, notices_check(st, rb, ob, e->ts, pos));
}
