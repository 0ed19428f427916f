/* points.c - see points.h. */
#include "points.h"

#include "liability.h"
#include "lyassert.h"
#include "pending.h"
#include "reasons.h"
#include "wallet.h"

bool points_would_overflow(const struct member *m, int64_t delta)
{
    int64_t sum, with = delta;
    return (delta > 0 && __builtin_add_overflow(pending_total(m), delta, &with)) ||
           __builtin_add_overflow(m->balance, with, &sum) ||
           __builtin_add_overflow(m->reward_points, with, &sum) ||
           (delta > 0 && __builtin_add_overflow(m->lifetime_points, with, &sum));
}

bool points_overflows(struct outbox *ob, const struct member *m, int64_t delta)
{
    if (!points_would_overflow(m, delta))
        return false;
    outbox_reject(ob, RULES_R_POINTS_OVERFLOW, "balance %lld + %lld overflows",
                  (long long)m->balance, (long long)delta);
    return true;
}

_Static_assert(WALLET_PIECES_MAX <= LIABILITY_PIECES_MAX, "the liability compares every piece");

/* A member's wallet as the liability compares it (liability.h). */
struct seen {
    struct lots_piece pieces[WALLET_PIECES_MAX];
    struct liability_wallet w;
};

static void look(const struct state *st, uint32_t pos, struct seen *s)
{
    s->w.n = wallet_pieces(&st->members, pos, s->pieces);
    s->w.pieces = s->pieces;
    s->w.months = st->members.lots_kind == WALLET_RING;
    s->w.balance = members_at(&st->members, pos)->balance;
}

/* Tells the liability what moved since `before` was looked at. */
static void record(struct state *st, uint32_t pos, const struct seen *before,
                   enum proto_cause cause)
{
    struct seen after;
    look(st, pos, &after);
    liability_move(&st->liab, st->clock_month, st->last_id, cause, &before->w, &after.w);
}

static void changed(struct outbox *ob, int64_t ts, const struct member *m, int64_t delta,
                    enum proto_cause cause)
{
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_POINTS_CHANGED, ts, m);
    o->delta = delta;
    o->balance = m->balance;
    o->cause = cause;
}

void points_expire(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos)
{
    struct seen before;
    bool due = wallet_due(&st->members, pos, st->clock_ms, st->clock_month);
    if (due)
        look(st, pos, &before);
    int64_t expired = wallet_expire(&st->members, pos, st->clock_ms);
    if (expired == 0)
        return;
    LY_ASSERT(due);
    record(st, pos, &before, PROTO_CAUSE_EXPIRY);
    const struct member *m = members_at(&st->members, pos);
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_POINTS_EXPIRED, ts, m);
    o->points = expired;
    o->balance = m->balance;
    changed(ob, ts, m, -expired, PROTO_CAUSE_EXPIRY);
}

void points_credit(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                   int64_t points, enum proto_cause cause)
{
    struct member *m = members_at(&st->members, pos);
    struct seen before;
    LY_ASSERT(points > 0);
    look(st, pos, &before);
    wallet_earn(&st->members, pos, st->clock_ms, points, st->ver->now.expiry_months);
    record(st, pos, &before, cause);
    m->lifetime_points += points;
    m->reward_points += points;
    changed(ob, ts, m, points, cause);
}

void points_grant(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                  int64_t points, enum proto_cause cause)
{
    struct seen before;
    LY_ASSERT(points > 0);
    look(st, pos, &before);
    wallet_earn(&st->members, pos, st->clock_ms, points, st->ver->now.expiry_months);
    record(st, pos, &before, cause);
    changed(ob, ts, members_at(&st->members, pos), points, cause);
}

void points_debit(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                  int64_t points, enum proto_cause cause)
{
    struct seen before;
    LY_ASSERT(points > 0);
    look(st, pos, &before);
    wallet_spend(&st->members, pos, points, st->ver->now.expiry_months);
    record(st, pos, &before, cause);
    changed(ob, ts, members_at(&st->members, pos), -points, cause);
}

uint32_t points_transfer_out(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                             int64_t points, struct lots_piece *pieces)
{
    struct seen before;
    look(st, pos, &before);
    uint32_t n = wallet_take(&st->members, pos, points, pieces);
    record(st, pos, &before, PROTO_CAUSE_TRANSFER_OUT);
    changed(ob, ts, members_at(&st->members, pos), -points, PROTO_CAUSE_TRANSFER_OUT);
    return n;
}

void points_transfer_in(struct state *st, struct outbox *ob, int64_t ts, uint32_t pos,
                        const struct lots_piece *pieces, uint32_t n, enum proto_cause cause)
{
    int64_t points = 0;
    for (uint32_t i = 0; i < n; i++)
        points += pieces[i].points;
    struct seen before;
    LY_ASSERT(points > 0);
    look(st, pos, &before);
    wallet_give(&st->members, pos, pieces, n);
    record(st, pos, &before, cause);
    changed(ob, ts, members_at(&st->members, pos), points, cause);
}
