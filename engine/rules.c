/* rules.c - see rules.h. One static function per input kind; shared steps
 * (membership, idempotency, balance changes, tier upgrades) are helpers so
 * that every kind applies them the same way. */
#include "rules.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "caltime.h"
#include "lyassert.h"

/* redeem.result error codes by index, as kept in txn_rec.error. */
static const char *const redeem_errors[] = {
    NULL,
    RULES_E_INSUFFICIENT_POINTS,
    RULES_E_UNKNOWN_REWARD,
};
enum { REDEEM_OK, REDEEM_INSUFFICIENT, REDEEM_UNKNOWN_REWARD };

int64_t rules_earn_points(const struct rulebook *rb, int64_t amount,
                          int64_t multiplier_bp)
{
    LY_ASSERT(amount >= 0 && amount <= PROTO_AMOUNT_MAX);
    LY_ASSERT(multiplier_bp >= 0 && multiplier_bp <= RULEBOOK_MULTIPLIER_BP_MAX);
    LY_ASSERT(rb->minor_per_unit >= 1);
    /* Fits: see the _Static_assert in rulebook.h. */
    return amount * rb->points_per_unit * multiplier_bp /
           (rb->minor_per_unit * 10000);
}

uint8_t rules_tier_for(const struct rulebook *rb, int64_t qualifying)
{
    uint8_t t = 0;
    for (uint32_t i = 1; i < rb->tier_count; i++)
        if (qualifying >= rb->tiers[i].threshold)
            t = (uint8_t)i;
    return t;
}

static void reject(struct rules_result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(struct rules_result *res, const char *code, const char *fmt, ...)
{
    va_list ap;
    res->verdict = RULES_REJECTED;
    res->count = 0;
    res->reject.code = code;
    va_start(ap, fmt);
    vsnprintf(res->reject.detail, sizeof(res->reject.detail), fmt, ap);
    va_end(ap);
}

/* Appends an output of `kind` about `m`, stamped with the entry's time. */
static struct proto_output *emit(struct rules_result *res, enum proto_out_kind kind,
                                 const struct proto_entry *e, const struct member *m)
{
    LY_ASSERT(res->count < RULES_OUTPUTS_MAX);
    struct proto_output *o = &res->out[res->count++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->ts = e->ts;
    memcpy(o->member, m->id, m->id_len + 1u);
    return o;
}

/* Rejects and returns true when adding `delta` would overflow the balance.
 * Checked before anything changes, so a rejected entry changes nothing. */
static bool overflows(struct rules_result *res, const struct member *m, int64_t delta)
{
    int64_t balance;
    if (!__builtin_add_overflow(m->balance, delta, &balance))
        return false;
    reject(res, RULES_R_POINTS_OVERFLOW, "balance %lld + %lld overflows",
           (long long)m->balance, (long long)delta);
    return true;
}

/* Adds `delta` (checked with overflows()) to the balance and publishes
 * points.changed. */
static void change_points(struct rules_result *res, const struct proto_entry *e,
                          struct member *m, int64_t delta, enum proto_cause cause)
{
    int64_t balance;
    bool overflow = __builtin_add_overflow(m->balance, delta, &balance);
    LY_ASSERT(!overflow);
    m->balance = balance;
    if (delta > 0 && __builtin_add_overflow(m->lifetime_points, delta, &m->lifetime_points))
        m->lifetime_points = INT64_MAX; /* a statistic: saturate */
    struct proto_output *o = emit(res, PROTO_OUT_POINTS_CHANGED, e, m);
    o->delta = delta;
    o->balance = m->balance;
    o->cause = cause;
}

/* Upgrades `m` at once when its qualifying total reaches a higher tier.
 * Downgrades happen only at reviews, never here. */
static void maybe_upgrade(struct rules_result *res, const struct rulebook *rb,
                          const struct proto_entry *e, struct member *m,
                          int32_t now_month)
{
    int64_t q = members_qual_total(m, now_month, rb->window_months);
    uint8_t t = rules_tier_for(rb, q);
    if (t <= m->tier)
        return;
    struct proto_output *o = emit(res, PROTO_OUT_TIER_CHANGED, e, m);
    o->from = rb->tiers[m->tier].name;
    o->to = rb->tiers[t].name;
    o->reason = "upgrade";
    m->tier = t;
}

/* The member the entry names, or NULL after rejecting it. */
static struct member *known_member(struct state *st, const struct proto_entry *e,
                                   struct rules_result *res)
{
    uint32_t pos = members_find(&st->members, e->member);
    if (pos == HINDEX_NONE) {
        reject(res, RULES_R_UNKNOWN_MEMBER, "member '%s' is not enrolled", e->member);
        return NULL;
    }
    return members_at(&st->members, pos);
}

/* Enrols `e->member`; NULL after rejecting when the store is full. */
static struct member *enrol(struct state *st, const struct proto_entry *e,
                            struct rules_result *res)
{
    uint32_t pos = members_add(&st->members, e->member);
    if (pos == HINDEX_NONE) {
        reject(res, RULES_R_MEMBERS_FULL, "member store holds its maximum of %u",
               (unsigned)st->members.max);
        return NULL;
    }
    struct member *m = members_at(&st->members, pos);
    m->enrolled_ts = e->ts;
    m->qual_month = caltime_month(st->clock_ms);
    m->birthday_month = e->birthday_month;
    m->birthday_day = e->birthday_day;
    return m;
}

/* Remembers `e->txn` so that a retry is recognised. */
static struct txn_rec *remember(struct state *st, const struct proto_entry *e,
                                uint32_t member_pos)
{
    struct txn_rec *r = txns_add(&st->txns, e->txn, st->clock_ms);
    r->kind = (uint8_t)e->kind;
    r->member = member_pos;
    r->ts = e->ts;
    return r;
}

static uint32_t pos_of(const struct state *st, const struct member *m)
{
    return (uint32_t)(m - st->members.v);
}

static void apply_enroll(struct state *st, const struct proto_entry *e,
                         struct rules_result *res)
{
    if (members_find(&st->members, e->member) != HINDEX_NONE) {
        reject(res, RULES_R_MEMBER_EXISTS, "member '%s' is already enrolled", e->member);
        return;
    }
    struct member *m = enrol(st, e, res);
    if (m != NULL)
        remember(st, e, pos_of(st, m));
}

static void apply_purchase(struct state *st, const struct rulebook *rb,
                           const struct proto_entry *e, struct rules_result *res)
{
    struct member *m;
    if (rb->require_enrollment || members_find(&st->members, e->member) != HINDEX_NONE)
        m = known_member(st, e, res);
    else
        m = enrol(st, e, res);
    if (m == NULL)
        return;
    int64_t points = rules_earn_points(rb, e->amount, rb->tiers[m->tier].multiplier_bp);
    if (overflows(res, m, points))
        return;
    if (points > 0)
        change_points(res, e, m, points, PROTO_CAUSE_PURCHASE);
    struct txn_rec *r = remember(st, e, pos_of(st, m));
    r->amount = e->amount;
    r->points = points;
    m->purchases++;
    if (e->ts > m->last_purchase_ts)
        m->last_purchase_ts = e->ts;
    int32_t now_month = caltime_month(st->clock_ms);
    int64_t qual = rb->basis == RULEBOOK_BASIS_SPEND ? e->amount : points;
    members_qual_add(m, caltime_month(e->ts), now_month, qual);
    maybe_upgrade(res, rb, e, m, now_month);
}

/* Points a refund reverses: the sale's points in proportion to the amount
 * refunded so far, floored, less what earlier refunds reversed. Cumulative
 * flooring means refunding a sale in any number of parts never reverses
 * more than it earned, and a full refund reverses exactly all of it. */
static int64_t refund_points(const struct txn_rec *sale, int64_t amount)
{
    int64_t refunded = sale->refunded_amount + amount;
    int64_t total = (int64_t)((__int128)sale->points * refunded / sale->amount);
    return total - sale->refunded_points;
}

static void apply_refund(struct state *st, const struct proto_entry *e,
                         struct rules_result *res)
{
    struct member *m = known_member(st, e, res);
    if (m == NULL)
        return;
    struct txn_rec *sale = txns_find(&st->txns, e->orig_txn);
    if (sale == NULL || sale->kind != PROTO_PURCHASE || sale->member != pos_of(st, m)) {
        reject(res, RULES_R_UNKNOWN_SALE, "no sale '%s' of member '%s' in the window",
               e->orig_txn, e->member);
        return;
    }
    if (e->amount > sale->amount - sale->refunded_amount) {
        reject(res, RULES_R_REFUND_EXCEEDS_SALE, "refund %lld exceeds %lld left of sale '%s'",
               (long long)e->amount, (long long)(sale->amount - sale->refunded_amount),
               e->orig_txn);
        return;
    }
    int64_t points = refund_points(sale, e->amount);
    if (overflows(res, m, -points))
        return;
    if (points > 0)
        change_points(res, e, m, -points, PROTO_CAUSE_REFUND);
    /* Update the sale before remember(), which may evict it when full. */
    sale->refunded_amount += e->amount;
    sale->refunded_points += points;
    remember(st, e, pos_of(st, m));
}

static void redeem_answer(struct rules_result *res, const struct proto_entry *e,
                          const struct member *m, const struct txn_rec *r)
{
    struct proto_output *o = emit(res, PROTO_OUT_REDEEM_RESULT, e, m);
    memcpy(o->txn, r->txn, r->txn_len + 1u);
    o->ok = r->ok != 0;
    o->error = redeem_errors[r->error];
    o->balance = r->balance;
}

static void apply_redeem(struct state *st, const struct proto_entry *e,
                         struct rules_result *res)
{
    struct member *m = known_member(st, e, res);
    if (m == NULL)
        return;
    struct txn_rec *r = remember(st, e, pos_of(st, m));
    if (e->reward[0] != '\0') {
        r->error = REDEEM_UNKNOWN_REWARD; /* the catalog comes with issue 5 */
    } else if (m->balance < e->points) {
        r->error = REDEEM_INSUFFICIENT;
    } else {
        change_points(res, e, m, -e->points, PROTO_CAUSE_REDEEM);
        r->ok = 1;
        r->points = e->points;
    }
    r->balance = m->balance;
    redeem_answer(res, e, m, r);
}

static void apply_adjust(struct state *st, const struct proto_entry *e,
                         struct rules_result *res)
{
    struct member *m = known_member(st, e, res);
    if (m == NULL)
        return;
    if (overflows(res, m, e->points))
        return;
    change_points(res, e, m, e->points, PROTO_CAUSE_ADJUST);
    remember(st, e, pos_of(st, m));
}

static void apply_scan(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct rules_result *res)
{
    struct member *m = known_member(st, e, res);
    if (m == NULL)
        return;
    const struct rulebook_tier *t = &rb->tiers[m->tier];
    for (uint32_t i = 0; i < t->perk_count; i++) {
        struct proto_output *o = emit(res, PROTO_OUT_PERK_TRIGGERED, e, m);
        o->perk = t->perks[i];
        o->tier = t->name;
        memcpy(o->store, e->store, sizeof(o->store));
    }
}

/* A retry of a txn already applied: answer it again, change nothing.
 * Returns 1 when `e` was a retry (res filled), 0 otherwise. */
static int retry_of(struct state *st, const struct proto_entry *e,
                    struct rules_result *res)
{
    if (e->kind == PROTO_SCAN || e->kind == PROTO_TICK || e->txn[0] == '\0')
        return 0; /* scans change nothing, so they are never deduplicated */
    const struct txn_rec *r = txns_find(&st->txns, e->txn);
    if (r == NULL)
        return 0;
    if (r->kind != e->kind) {
        reject(res, RULES_R_TXN_CONFLICT, "txn '%s' was already used by a %s", e->txn,
               proto_kind_name((enum proto_kind)r->kind));
        return 1;
    }
    res->verdict = RULES_DUPLICATE;
    if (e->kind == PROTO_REDEEM)
        redeem_answer(res, e, members_at(&st->members, r->member), r);
    return 1;
}

static void dispatch(struct state *st, const struct rulebook *rb,
                     const struct proto_entry *e, struct rules_result *res)
{
    switch (e->kind) {
    case PROTO_ENROLL: apply_enroll(st, e, res); break;
    case PROTO_PURCHASE: apply_purchase(st, rb, e, res); break;
    case PROTO_REFUND: apply_refund(st, e, res); break;
    case PROTO_REDEEM: apply_redeem(st, e, res); break;
    case PROTO_ADJUST: apply_adjust(st, e, res); break;
    case PROTO_SCAN: apply_scan(st, rb, e, res); break;
    case PROTO_TICK: break; /* time passed: nothing else is due yet */
    case PROTO_KIND_COUNT: LY_ASSERT(0 && "decoder returned a bad kind");
    }
}

void rules_skip(struct state *st, struct proto_id id)
{
    LY_ASSERT(proto_id_cmp(id, st->last_id) > 0);
    st->last_id = id;
    st->entries_rejected++;
}

void rules_apply(struct state *st, const struct rulebook *rb, struct proto_id id,
                 const struct proto_entry *e, struct rules_result *res)
{
    LY_ASSERT(proto_id_cmp(id, st->last_id) > 0);
    LY_ASSERT(e->kind < PROTO_KIND_COUNT);
    res->verdict = RULES_APPLIED;
    res->count = 0;
    res->reject.code = NULL;
    res->reject.detail[0] = '\0';
    st->last_id = id;
    if (e->ts > st->clock_ms)
        st->clock_ms = e->ts;
    txns_evict(&st->txns, st->clock_ms - rb->txn_window_ms);
    if (!retry_of(st, e, res))
        dispatch(st, rb, e, res);
    if (res->verdict == RULES_REJECTED) {
        res->count = 0; /* a rejected entry publishes nothing but its DLQ entry */
        st->entries_rejected++;
    } else if (res->verdict == RULES_DUPLICATE) {
        st->entries_duplicate++;
    } else {
        st->entries_applied++;
    }
}
