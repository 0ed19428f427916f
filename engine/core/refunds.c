/* refunds.c - see refunds.h. */
#include "refunds.h"

#include "caltime.h"
#include "notices.h"
#include "points.h"
#include "reasons.h"
#include "release.h"
#include "retry.h"
#include "segments.h"
#include "tiers.h"

/* `total` in proportion to the amount refunded so far, floored, less what
 * earlier refunds took: cumulative flooring never takes more than `total`
 * over any number of parts, and a full refund takes exactly all of it. */
static int64_t share(const struct txn_rec *sale, int64_t total, int64_t amount)
{
    int64_t before = (int64_t)((__int128)total * sale->refunded_amount / sale->amount);
    int64_t after =
        (int64_t)((__int128)total * (sale->refunded_amount + amount) / sale->amount);
    return after - before;
}

/* The sale refund `e` of member `pos` names, or NULL after rejecting. */
static struct txn_rec *sale_of(struct state *st, const struct proto_entry *e, uint32_t pos,
                               struct outbox *ob)
{
    struct txn_rec *sale = txns_find(&st->txns, e->orig_txn);
    if (sale == NULL || sale->kind != PROTO_PURCHASE || sale->member != pos) {
        outbox_reject(ob, RULES_R_UNKNOWN_SALE, "no sale '%s' of member '%s' in the window",
                      e->orig_txn, e->member);
        return NULL;
    }
    if (e->amount > sale->amount - sale->refunded_amount) {
        outbox_reject(ob, RULES_R_REFUND_EXCEEDS_SALE,
                      "refund %lld exceeds %lld left of sale '%s'", (long long)e->amount,
                      (long long)(sale->amount - sale->refunded_amount), e->orig_txn);
        return NULL;
    }
    return sale;
}

/* Takes `points` (and `qual`, when it waits with them) of member `pos`
 * back for points held until `day` (0: credited at once): pending ones
 * first, the rest off the balance as refunds.shortfall says. The
 * qualification taken from pending goes to *qual_taken. */
static void take_back(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      int64_t ts, uint32_t pos, int32_t day, int64_t points, int64_t qual,
                      int64_t *qual_taken)
{
    struct member *m = members_at(&st->members, pos);
    *qual_taken = 0;
    int64_t rest = points;
    if (day != 0)
        rest -= release_cancel(st, ob, ts, pos, day, points, qual, qual_taken);
    int64_t debit = rest;
    if (rb->shortfall == RULEBOOK_SHORTFALL_FORGIVE && debit > m->balance)
        debit = m->balance > 0 ? m->balance : 0; /* spent points are written off */
    if (debit > 0)
        points_debit(st, ob, ts, pos, debit, PROTO_CAUSE_REFUND);
    m->reward_points -= rest; /* what had been credited, forgiven or not */
}

/* Takes `qual` (less `from_pending`, taken already) out of the month the
 * sale's qualification counts in. */
static void take_qual(struct state *st, struct member *m, const struct txn_rec *sale,
                      int64_t qual, int64_t from_pending)
{
    int64_t ts = sale->qual_released ? (int64_t)sale->release_day * CALTIME_DAY_MS : sale->ts;
    int32_t month = caltime_month(ts);
    if (qual == from_pending || month > st->clock_month)
        return; /* all of it was pending, or it does not count yet */
    members_qual_add(m, month, st->clock_month, from_pending - qual);
}

/* With refund_downgrade "immediate": the drop the refund causes (see
 * refunds.h), given the window's total before it. */
static void drop_tier(struct state *st, const struct rulebook *rb, struct outbox *ob,
                      int64_t ts, uint32_t pos, int64_t qual_before, const struct txn_rec *sale)
{
    struct member *m = members_at(&st->members, pos);
    if (rb->refund_downgrade != RULEBOOK_REFUND_IMMEDIATE)
        return;
    uint8_t supported = tiers_for(rb, members_qual_total(m, st->clock_month, rb->window_months));
    if (tiers_for(rb, qual_before) < m->tier || supported >= m->tier)
        return; /* the tier rests on a past year's qualification, or still holds */
    /* A tier index recorded under an older rulebook with fewer tiers reads
     * as the first tier. */
    uint8_t floor = sale->tier_before < rb->tier_count ? sale->tier_before : 0;
    uint8_t to = supported > floor ? supported : floor;
    if (to >= m->tier)
        return;
    tiers_move(st, rb, ob, ts, m, to, "refund");
}

/* The referral bonus `sale` paid, taken back from the referrer. */
static void take_referral(struct state *st, const struct rulebook *rb, struct outbox *ob,
                          int64_t ts, const struct member *m, const struct txn_rec *sale)
{
    int64_t unused;
    uint32_t rpos = m->referrer - 1;
    points_expire(st, ob, ts, rpos);
    release_due(st, rb, ob, ts, rpos);
    take_back(st, rb, ob, ts, rpos, sale->release_day, sale->referral, 0, &unused);
    state_reschedule(st, rb, rpos);
}

void refunds_apply(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                   uint32_t pos, struct outbox *ob)
{
    struct member *m = members_at(&st->members, pos);
    struct txn_rec *sale = sale_of(st, e, pos, ob);
    if (sale == NULL)
        return;
    bool bonuses_back = sale->refunded_amount + e->amount == sale->amount && !rb->keep_bonuses;
    int64_t points = share(sale, sale->points, e->amount);
    int64_t bonus = bonuses_back ? sale->bonus : 0;
    bool referral = bonuses_back && sale->referral > 0 && m->referrer != 0;
    /* Checked before anything changes, like every other kind. */
    if (points_overflows(ob, m, -(points + bonus)) ||
        (referral && points_overflows(ob, members_at(&st->members, m->referrer - 1),
                                      -sale->referral)))
        return;
    int64_t qual = share(sale, sale->qual, e->amount), qual_pending;
    points_expire(st, ob, e->ts, pos);
    release_due(st, rb, ob, e->ts, pos);
    int64_t qual_before = members_qual_total(m, st->clock_month, rb->window_months);
    take_back(st, rb, ob, e->ts, pos, sale->release_day, points + bonus,
              sale->qual_released ? qual : 0, &qual_pending);
    take_qual(st, m, sale, qual, qual_pending);
    if (referral)
        take_referral(st, rb, ob, e->ts, m, sale);
    drop_tier(st, rb, ob, e->ts, pos, qual_before, sale);
    segments_note_refund(st, rb, pos, sale->ts, e->amount);
    segments_refresh(st, rb, ob, e->ts, pos);
    /* Update the sale before remembering the refund, which may evict it
     * when the txn window is full. */
    sale->refunded_amount += e->amount;
    sale->refunded_points += points;
    retry_remember(st, e, pos);
    state_reschedule_next(st, rb, pos, notices_check(st, rb, ob, e->ts, pos));
}
