/* transfer.c - see transfer.h. */
#include "transfer.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"
#include "points.h"
#include "reasons.h"
#include "release.h"
#include "retry.h"
#include "wallet.h"
#include "xfer.h"

/* transfer.result error codes by index, as kept in txn_rec.error. */
static const char *const transfer_errors[] = {
    NULL,
    RULES_E_INSUFFICIENT_POINTS,
    RULES_E_TRANSFERS_DISABLED,
    RULES_E_DAILY_LIMIT,
};
enum { TRANSFER_OK, TRANSFER_INSUFFICIENT, TRANSFER_DISABLED, TRANSFER_DAILY_LIMIT };
_Static_assert(sizeof(transfer_errors) / sizeof(transfer_errors[0]) == RULES_TRANSFER_ERRORS,
               "snapshots validate a transfer's txn_rec.error against RULES_TRANSFER_ERRORS");

void transfer_answer(struct outbox *ob, const struct proto_entry *e, const struct member *m,
                     const struct txn_rec *r)
{
    LY_ASSERT(r->error < RULES_TRANSFER_ERRORS);
    struct proto_output *o = outbox_emit(ob, PROTO_OUT_TRANSFER_RESULT, e->ts, m);
    memcpy(o->txn, e->txn, sizeof(o->txn));
    o->ok = r->ok != 0;
    o->error = transfer_errors[r->error];
    o->balance = r->balance;
}

/* Points the sender with extras `x` sent on the UTC day of `ts`: a
 * transfer dated before the last day counted is judged against a fresh
 * day (as the earning caps are). */
static int64_t sent_on(const struct member_extra *x, int64_t ts)
{
    return (int32_t)caltime_day(ts) == x->transfer_day ? x->transfer_points : 0;
}

static uint8_t refusal(const struct rulebook *rb, const struct member *s,
                       const struct member_extra *x, const struct proto_entry *e)
{
    if (!rb->transfers_enabled)
        return TRANSFER_DISABLED;
    if (s->balance < e->points)
        return TRANSFER_INSUFFICIENT;
    if (rb->transfer_day_max_points > 0 &&
        sent_on(x, e->ts) + e->points > rb->transfer_day_max_points)
        return TRANSFER_DAILY_LIMIT;
    return TRANSFER_OK;
}

static void count_day(struct members *ms, struct member *s, const struct proto_entry *e)
{
    int32_t day = (int32_t)caltime_day(e->ts);
    if (day < members_extra(ms, s)->transfer_day)
        return;
    struct member_extra *x = members_extra_edit(ms, s);
    x->transfer_points = sent_on(x, e->ts) + e->points;
    x->transfer_day = day;
}

/* Position of member `id` or HINDEX_NONE after rejecting the entry. */
static uint32_t party(struct state *st, const char *id, const char *role, struct outbox *ob)
{
    uint32_t pos = members_find(&st->members, id);
    if (pos == HINDEX_NONE)
        outbox_reject(ob, RULES_R_UNKNOWN_MEMBER, "%s '%s' is not enrolled", role, id);
    return pos;
}

/* The receiver's position, HINDEX_NONE after rejecting the entry; or,
 * when the receiver is in another partition (*across), HINDEX_NONE
 * unchecked: that partition knows it (xfer.h). */
static uint32_t receiver(struct state *st, const struct proto_entry *e, struct outbox *ob,
                         bool *across)
{
    *across = xfer_partition(st, e->to) != st->place.partition;
    if (*across)
        return HINDEX_NONE;
    uint32_t to = party(st, e->to, "receiver", ob);
    int64_t sum;
    if (to != HINDEX_NONE &&
        __builtin_add_overflow(members_at(&st->members, to)->balance, e->points, &sum)) {
        outbox_reject(ob, RULES_R_POINTS_OVERFLOW, "receiver '%s': balance + %lld overflows",
                      e->to, (long long)e->points);
        return HINDEX_NONE;
    }
    return to;
}

/* Both halves in this partition (atomic), or the sender's half and a
 * credit for the receiver's partition (xfer.h). */
void transfer_apply(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                    struct outbox *ob)
{
    bool across = false;
    uint32_t from = party(st, e->member, "member", ob);
    uint32_t to = from == HINDEX_NONE ? HINDEX_NONE : receiver(st, e, ob, &across);
    if (from == HINDEX_NONE || (to == HINDEX_NONE && !across))
        return;
    struct member *s = members_at(&st->members, from);
    points_expire(st, ob, e->ts, from);
    if (!across)
        points_expire(st, ob, e->ts, to);
    /* Pending points whose day has come are the sender's to give (README,
     * Transfers); points still pending are not. */
    release_due(st, rb, ob, e->ts, from);
    if (!across)
        release_due(st, rb, ob, e->ts, to);
    struct txn_rec *r = retry_remember(st, e, from);
    r->error = refusal(rb, s, members_extra(&st->members, s), e);
    if (r->error == TRANSFER_OK) {
        struct lots_piece pieces[WALLET_PIECES_MAX];
        uint32_t n = points_transfer_out(st, ob, e->ts, from, e->points, pieces);
        if (across)
            xfer_credit(st, ob, e, pieces, n);
        else
            points_transfer_in(st, ob, e->ts, to, pieces, n, PROTO_CAUSE_TRANSFER_IN);
        count_day(&st->members, s, e);
        r->ok = 1;
        r->points = e->points;
    }
    r->balance = s->balance;
    transfer_answer(ob, e, s, r);
    state_reschedule(st, rb, from);
    if (!across)
        state_reschedule(st, rb, to);
}
