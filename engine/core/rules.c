/* rules.c - see rules.h. One static function per input kind; the steps
 * they share live in modules of their own, below this one: points in and
 * out (points.c), tiers (tiers.c), automatic rewards (rewards.c), what a
 * sale earns (earn.c), segments (segments.c), balances and expiry lots
 * (wallet.c), the outputs (outbox.c); refunds (refunds.c), adjustments
 * (adjust.c), pending points (release.c, pending.c), notices (notices.c),
 * retries by content (retry.c). None of them calls back into rules.c.
 */
#include "rules.h"

#include <string.h>

#include "budgets.h"
#include "adjust.h"
#include "caltime.h"
#include "churn.h"
#include "earn.h"
#include "lyassert.h"
#include "notices.h"
#include "points.h"
#include "reasons.h"
#include "refunds.h"
#include "release.h"
#include "retry.h"
#include "rewards.h"
#include "segments.h"
#include "status.h"
#include "tiers.h"
#include "transfer.h"
#include "wallet.h"
#include "xfer.h"

/* What credit_sale and apply_purchase append after budgets_charge. */
_Static_assert(BUDGETS_OUTPUT_RESERVE ==
                   POINTS_EXPIRE_OUTPUTS + RELEASE_OUTPUTS + 1 + REWARDS_AUTO_OUTPUTS +
                       SEGMENTS_REFRESH_OUTPUTS + 1 + 1 + REWARDS_AUTO_OUTPUTS + NOTICES_OUTPUTS,
               "budgets_charge leaves room for the rest of the purchase");

/* redeem.result error codes by index, as kept in txn_rec.error. */
static const char *const redeem_errors[] = {
    NULL,
    RULES_E_INSUFFICIENT_POINTS,
    RULES_E_UNKNOWN_REWARD,
    RULES_E_OUT_OF_STOCK,
};
enum { REDEEM_OK, REDEEM_INSUFFICIENT, REDEEM_UNKNOWN_REWARD, REDEEM_OUT_OF_STOCK };
_Static_assert(sizeof(redeem_errors) / sizeof(redeem_errors[0]) == RULES_REDEEM_ERRORS,
               "snapshots validate txn_rec.error against RULES_REDEEM_ERRORS");

/* The position of the member the entry names, or HINDEX_NONE after
 * rejecting it. */
static uint32_t known_member(struct state *st, const char *id, const char *code,
                             struct outbox *ob)
{
    uint32_t pos = members_find(&st->members, id);
    if (pos == HINDEX_NONE)
        outbox_reject(ob, code, "member '%s' is not enrolled", id);
    return pos;
}

/* Enrols `e->member`; HINDEX_NONE after rejecting when the store is full. */
static uint32_t enrol(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                      struct outbox *ob)
{
    uint32_t pos = members_add(&st->members, e->member);
    if (pos == HINDEX_NONE) {
        outbox_reject(ob, RULES_R_MEMBERS_FULL, "member store holds its maximum of %u",
                  (unsigned)st->members.max);
        return HINDEX_NONE;
    }
    struct member *m = members_at(&st->members, pos);
    int32_t month = st->clock_month;
    m->enrolled_ts = e->ts;
    m->qual_month = month;
    m->lots_month = month;
    m->birthday_month = e->birthday_month;
    m->birthday_day = e->birthday_day;
    m->next_review_ts = tiers_first_review(rb, e->ts);
    segments_enrolled(st, rb, pos);
    if (rb->enroll_bonus > 0) { /* a new member: nothing to overflow */
        points_credit(st, ob, e->ts, pos, rb->enroll_bonus, PROTO_CAUSE_BONUS);
        rewards_after_earning(st, rb, ob, e->ts, pos);
    }
    state_reschedule(st, rb, pos);
    return pos;
}

/* Remembers `e->txn` so that a retry is recognised (retry.h). */
static struct txn_rec *remember(struct state *st, const struct proto_entry *e, uint32_t pos)
{
    struct txn_rec *r = st->preview_rec; /* a preview remembers nothing (preview.h) */
    if (r == NULL)
        return retry_remember(st, e, pos);
    memset(r, 0, sizeof(*r));
    r->kind = (uint8_t)e->kind;
    r->member = pos;
    r->ts = e->ts;
    return r;
}

static void apply_enroll(struct state *st, const struct rulebook *rb,
                         const struct proto_entry *e, struct outbox *ob)
{
    uint32_t referrer = HINDEX_NONE;
    if (members_find(&st->members, e->member) != HINDEX_NONE) {
        outbox_reject(ob, RULES_R_MEMBER_EXISTS, "member '%s' is already enrolled", e->member);
        return;
    }
    if (e->referrer[0] != '\0' &&
        (referrer = known_member(st, e->referrer, RULES_R_UNKNOWN_REFERRER, ob)) == HINDEX_NONE)
        return;
    uint32_t pos = enrol(st, rb, e, ob);
    if (pos == HINDEX_NONE)
        return;
    if (referrer != HINDEX_NONE)
        members_at(&st->members, pos)->referrer = referrer + 1;
    remember(st, e, pos);
}

/* Applies the per-sale and per-day caps to what a sale earns. The day is
 * the UTC day of the sale's own ts; a late sale for an earlier day than
 * the last one counted is capped against a fresh day. */
static int64_t capped(const struct rulebook *rb, struct member *m, int64_t ts, int64_t points)
{
    if (rb->txn_cap_points > 0 && points > rb->txn_cap_points)
        points = rb->txn_cap_points;
    if (rb->day_cap_points == 0)
        return points;
    int32_t day = (int32_t)caltime_day(ts);
    int64_t used = day == m->cap_day ? m->cap_points : 0;
    int64_t allowed = rb->day_cap_points > used ? rb->day_cap_points - used : 0;
    if (points > allowed)
        points = allowed;
    if (day >= m->cap_day) {
        m->cap_day = day;
        m->cap_points = used + points;
    }
    return points;
}

/* Bonuses that are not capped: first purchase and birthday month. */
static int64_t personal_bonus(const struct rulebook *rb, struct member *m, int32_t month_ix)
{
    int64_t bonus = m->purchases == 0 ? rb->first_purchase_bonus : 0;
    int32_t year = month_ix / 12, month = month_ix % 12 + 1; /* caltime_month's index */
    if (rb->birthday_bonus > 0 && m->birthday_month == month &&
        year > m->birthday_bonus_year) { /* a late sale of an earlier year gets none */
        m->birthday_bonus_year = (int16_t)year;
        bonus += rb->birthday_bonus;
    }
    return bonus;
}

/* The referrer's bonus on the referee's first purchase `sale`; once only. */
static void pay_referrer(struct state *st, const struct rulebook *rb, struct outbox *ob,
                         int64_t ts, struct member *m, struct txn_rec *sale)
{
    if (m->referrer == 0 || (m->flags & MEMBER_F_REFERRAL_PAID) || rb->referral_bonus == 0)
        return;
    m->flags |= MEMBER_F_REFERRAL_PAID;
    uint32_t rpos = m->referrer - 1;
    struct member *r = members_at(&st->members, rpos);
    points_expire(st, ob, ts, rpos);
    release_due(st, rb, ob, ts, rpos);
    if (points_would_overflow(r, rb->referral_bonus))
        return; /* the referrer is at a limit: no bonus, no reject */
    release_referral(st, rb, ob, ts, rpos, sale, rb->referral_bonus);
    state_reschedule(st, rb, rpos);
}

static void credit_sale(struct state *st, const struct rulebook *rb, struct outbox *ob,
                        const struct proto_entry *e, uint32_t pos, const struct earn_result *er)
{
    struct member *m = members_at(&st->members, pos);
    int32_t month = state_month_of(st, e->ts); /* the sale's month, asked once */
    int64_t total = capped(rb, m, e->ts, er->points + er->campaign_bonus);
    int64_t points = total < er->points ? total : er->points;
    int64_t personal = personal_bonus(rb, m, month);
    struct txn_rec *r = remember(st, e, pos);
    r->amount = e->amount;
    r->points = total; /* what a refund may reverse: purchase and campaign points */
    r->qual = rb->basis == RULEBOOK_BASIS_SPEND ? e->amount : points;
    r->bonus = personal; /* what a full refund takes back too (refunds.h) */
    r->tier_before = m->tier;
    release_sale(st, rb, ob, e->ts, pos, r, points, (total - points) + personal);
    budgets_charge(&st->g.camp, rb, &st->place, &st->members, m, ob, e->ts, er,
                   er->points + er->campaign_bonus - total);
    churn_note_purchase(m, e->ts);
    if (!r->qual_released)
        members_qual_add(m, month, st->clock_month, r->qual);
    pay_referrer(st, rb, ob, e->ts, m, r);
    segments_note_purchase(st, rb, pos, e->ts, e->amount);
    m->purchases++;
    if (e->ts > m->last_purchase_ts)
        m->last_purchase_ts = e->ts;
    segments_refresh(st, rb, ob, e->ts, pos);
}

static void apply_purchase(struct state *st, const struct rulebook *rb,
                           const struct proto_entry *e, struct outbox *ob)
{
    uint32_t pos = members_find(&st->members, e->member);
    if (pos == HINDEX_NONE && rb->require_enrollment) {
        known_member(st, e->member, RULES_R_UNKNOWN_MEMBER, ob);
        return;
    }
    /* Everything that can reject is checked before anything changes. */
    uint8_t tier = pos == HINDEX_NONE ? 0 : members_at(&st->members, pos)->tier;
    struct earn_result er;
    if (earn_purchase(rb, e, rb->tiers[tier].multiplier_bp, &er, &ob->reject) != 0) {
        ob->verdict = OUTBOX_REJECTED;
        return;
    }
    budgets_limit(&st->g.camp, rb, &st->place, &st->members,
                  pos == HINDEX_NONE ? NULL : members_at(&st->members, pos), &er);
    int64_t most = er.points + er.campaign_bonus + rb->first_purchase_bonus + rb->birthday_bonus;
    if (pos != HINDEX_NONE && points_overflows(ob, members_at(&st->members, pos), most))
        return;
    if (pos == HINDEX_NONE && (pos = enrol(st, rb, e, ob)) == HINDEX_NONE)
        return;
    points_expire(st, ob, e->ts, pos);
    release_due(st, rb, ob, e->ts, pos);
    credit_sale(st, rb, ob, e, pos, &er);
    tiers_upgrade(st, rb, ob, e->ts, pos);
    rewards_milestone(st, rb, ob, e->ts, pos);
    rewards_after_earning(st, rb, ob, e->ts, pos);
    state_reschedule_next(st, rb, pos, notices_check(st, rb, ob, e->ts, pos));
}

static void apply_refund(struct state *st, const struct rulebook *rb,
                         const struct proto_entry *e, struct outbox *ob)
{
    uint32_t pos = known_member(st, e->member, RULES_R_UNKNOWN_MEMBER, ob);
    if (pos != HINDEX_NONE)
        refunds_apply(st, rb, e, pos, ob);
}

/* Publishes redeem.result for record `r` of entry `e` (its txn: the
 * record keeps only the id's digest). */
static void redeem_answer(struct outbox *ob, const struct proto_entry *e, const struct member *m,
                          const struct txn_rec *r)
{
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_REDEEM_RESULT, e->ts, m);
    memcpy(o->txn, e->txn, sizeof(o->txn));
    o->ok = r->ok != 0;
    o->error = redeem_errors[r->error];
    o->balance = r->balance;
}

/* Redeems catalog reward `e->reward`: the outcome goes into r->error. */
static void redeem_reward(struct state *st, const struct rulebook *rb,
                          const struct proto_entry *e, uint32_t pos, struct outbox *ob,
                          struct txn_rec *r)
{
    const struct member *m = members_at(&st->members, pos);
    uint32_t i = 0;
    while (i < rb->catalog_count && strcmp(rb->catalog[i].reward, e->reward) != 0)
        i++;
    if (i == rb->catalog_count) {
        r->error = REDEEM_UNKNOWN_REWARD;
        return;
    }
    const struct rulebook_catalog_item *item = &rb->catalog[i];
    if (item->stock >= 0 && st->g.catalog_issued[i] >= item->stock) {
        r->error = REDEEM_OUT_OF_STOCK;
    } else if (m->balance < item->cost_points) {
        r->error = REDEEM_INSUFFICIENT;
    } else {
        if (item->cost_points > 0)
            points_debit(st, ob, e->ts, pos, item->cost_points, PROTO_CAUSE_REDEEM);
        struct proto_output *o = outbox_emit(ob, PROTO_OUT_REWARD_ISSUED, e->ts, m);
        o->reward = item->reward;
        o->cost = item->cost_points;
        o->count = 1;
        st->g.catalog_issued[i]++;
        r->ok = 1;
        r->points = item->cost_points;
    }
}

static void apply_redeem(struct state *st, const struct rulebook *rb,
                         const struct proto_entry *e, struct outbox *ob)
{
    uint32_t pos = known_member(st, e->member, RULES_R_UNKNOWN_MEMBER, ob);
    if (pos == HINDEX_NONE)
        return;
    points_expire(st, ob, e->ts, pos);
    release_due(st, rb, ob, e->ts, pos); /* pending points are spendable from their day */
    const struct member *m = members_at(&st->members, pos);
    struct txn_rec *r = remember(st, e, pos);
    if (e->reward[0] != '\0') {
        redeem_reward(st, rb, e, pos, ob, r);
    } else if (m->balance < e->points) {
        r->error = REDEEM_INSUFFICIENT;
    } else {
        points_debit(st, ob, e->ts, pos, e->points, PROTO_CAUSE_REDEEM);
        r->ok = 1;
        r->points = e->points;
    }
    r->balance = m->balance;
    redeem_answer(ob, e, m, r);
    state_reschedule_next(st, rb, pos, notices_check(st, rb, ob, e->ts, pos));
}

static void apply_adjust(struct state *st, const struct rulebook *rb,
                         const struct proto_entry *e, struct outbox *ob)
{
    uint32_t pos = known_member(st, e->member, RULES_R_UNKNOWN_MEMBER, ob);
    if (pos != HINDEX_NONE)
        adjust_apply(st, rb, e, pos, ob);
}

static void apply_scan(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct outbox *ob)
{
    uint32_t pos = known_member(st, e->member, RULES_R_UNKNOWN_MEMBER, ob);
    if (pos == HINDEX_NONE)
        return;
    const struct member *m = members_at(&st->members, pos);
    const struct rulebook_tier *t = &rb->tiers[m->tier];
    for (uint32_t i = 0; i < t->perk_count; i++) {
        struct proto_output *o = outbox_emit(ob, PROTO_OUT_PERK_TRIGGERED, e->ts, m);
        o->perk = t->perks[i];
        o->tier = t->name;
        memcpy(o->store, e->store, sizeof(o->store));
    }
}

/* Handles members due by the engine clock, earliest first, at most
 * RULES_TICK_MEMBERS_MAX of them, and only while the outbox has room for
 * everything one more member can produce. */
static void apply_tick(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct outbox *ob)
{
    struct schedule_entry due;
    uint32_t handled = 0;
    if (e->ts < st->clock_ms)
        return; /* an older tick does nothing (DESIGN.md, Time) */
    st->tick_capped = false;
    while (handled < RULES_TICK_MEMBERS_MAX && outbox_room(ob) >= RULES_TICK_MEMBER_OUTPUTS &&
           schedule_pop_due(&st->schedule, st->clock_ms, &due)) {
        struct member *m = members_at(&st->members, due.pos);
        if (m->sched_ts != due.due_ms)
            continue; /* stale: a newer, earlier entry was pushed */
        m->sched_ts = 0;
        points_expire(st, ob, e->ts, due.pos);
        status_due(st, rb, ob, due.pos);
        release_due(st, rb, ob, e->ts, due.pos);
        tiers_review_due(st, rb, ob, due.pos);
        int64_t next = notices_check(st, rb, ob, e->ts, due.pos);
        segments_refresh(st, rb, ob, e->ts, due.pos); /* leaves the lots as they are */
        state_reschedule_next(st, rb, due.pos, next);
        handled++;
    }
    st->tick_capped = handled == RULES_TICK_MEMBERS_MAX ||
                      outbox_room(ob) < RULES_TICK_MEMBER_OUTPUTS;
}

void rules_outbox_init(struct outbox *ob)
{
    outbox_init(ob, RULES_OUTBOX_CAP);
}

bool rules_due(const struct state *st)
{
    return st->tick_capped;
}

/* A retry of a txn already applied: answer it again, change nothing.
 * Returns true when `e` was a retry (ob filled). */
static bool retry_of(struct state *st, const struct proto_entry *e, struct outbox *ob)
{
    if (e->kind == PROTO_SCAN || e->kind == PROTO_TICK || e->kind == PROTO_RULES ||
        e->kind == PROTO_TRANSFER_CREDIT || e->kind == PROTO_TRANSFER_RETURN ||
        e->txn[0] == '\0')
        return false; /* scans change nothing, so they are never deduplicated; the
                       * halves of a transfer across partitions know their own (xfer.h) */
    const struct txn_rec *r = txns_find(&st->txns, e->txn);
    if (r == NULL)
        return false;
    const struct member *owner = members_at(&st->members, r->member);
    if (retry_conflict(r, owner, e, ob))
        return true; /* another kind, member or content: txn_conflict */
    ob->verdict = OUTBOX_DUPLICATE;
    if (e->kind == PROTO_REDEEM)
        redeem_answer(ob, e, owner, r);
    else if (e->kind == PROTO_TRANSFER)
        transfer_answer(ob, e, owner, r);
    return true;
}

static void dispatch(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                     struct outbox *ob)
{
    switch (e->kind) {
    case PROTO_ENROLL: apply_enroll(st, rb, e, ob); break;
    case PROTO_PURCHASE: apply_purchase(st, rb, e, ob); break;
    case PROTO_REFUND: apply_refund(st, rb, e, ob); break;
    case PROTO_REDEEM: apply_redeem(st, rb, e, ob); break;
    case PROTO_ADJUST: apply_adjust(st, rb, e, ob); break;
    case PROTO_SCAN: apply_scan(st, rb, e, ob); break;
    case PROTO_TICK: apply_tick(st, rb, e, ob); break;
    case PROTO_RULES: LY_ASSERT(0 && "rules entries are applied by switchover_apply"); break;
    case PROTO_TRANSFER: transfer_apply(st, rb, e, ob); break;
    case PROTO_SET_TIER: status_set_tier(st, rb, e, ob); break;
    case PROTO_TRANSFER_CREDIT: xfer_credit_apply(st, rb, e, ob); break;
    case PROTO_TRANSFER_RETURN: xfer_return_apply(st, rb, e, ob); break;
    case PROTO_KIND_COUNT: LY_ASSERT(0 && "decoder returned a bad kind");
    }
}

void rules_skip(struct state *st, struct proto_id id)
{
    LY_ASSERT(proto_id_cmp(id, st->last_id) > 0);
    st->last_id = id;
    st->entries_rejected++;
}

void rules_apply(struct state *st, struct proto_id id, const struct proto_entry *e,
                 const struct rules_text *rt, struct outbox *ob)
{
    LY_ASSERT(proto_id_cmp(id, st->last_id) > 0);
    LY_ASSERT(e->kind < PROTO_KIND_COUNT);
    LY_ASSERT(ob->cap >= RULES_OUTBOX_CAP);
    LY_ASSERT(st->preview_rec == NULL);
    outbox_reset(ob);
    st->last_id = id;
    /* A scan changes nothing, so it does not move the clock either: one
     * card scanned at a till whose clock is years ahead must not expire the
     * idempotency window or every member's points. Nor does a rules entry:
     * it is stamped by whoever appended it (an operator's machine), not by
     * a till, and takes effect at the engine clock. */
    if (e->ts > st->clock_ms && e->kind != PROTO_SCAN && e->kind != PROTO_RULES) {
        bool same_day = caltime_day(e->ts) == caltime_day(st->clock_ms); /* so same month */
        st->clock_ms = e->ts;
        if (!same_day)
            st->clock_month = caltime_month(e->ts);
    }
    if (e->kind != PROTO_SCAN)
        switchover_due(st, id, ob); /* a scheduled version whose time has come */
    const struct rulebook *rb = &st->ver->now;
    txns_evict(&st->txns, st->clock_ms - rb->txn_window_ms);
    if (e->kind == PROTO_RULES)
        switchover_apply(st, id, e, rt, ob);
    else if (!retry_of(st, e, ob))
        dispatch(st, rb, e, ob);
    if (ob->verdict == OUTBOX_REJECTED) {
        ob->count = ob->kept; /* a rejected entry publishes nothing of its own */
        st->entries_rejected++;
    } else if (ob->verdict == OUTBOX_DUPLICATE) {
        st->entries_duplicate++;
    } else {
        st->entries_applied++;
    }
}

void rules_purchase(struct state *st, const struct proto_entry *e, struct outbox *ob)
{
    LY_ASSERT(e->kind == PROTO_PURCHASE);
    apply_purchase(st, &st->ver->now, e, ob);
}

bool rules_retry(struct state *st, const struct proto_entry *e, struct outbox *ob)
{
    return retry_of(st, e, ob);
}
