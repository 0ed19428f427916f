/* xfer.c - see xfer.h. */
#include "xfer.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"
#include "partition.h"
#include "points.h"
#include "reasons.h"
#include "release.h"
#include "retry.h"
#include "wallet.h"

_Static_assert(PROTO_PIECES_MAX >= WALLET_PIECES_MAX, "a credit carries every piece taken");

uint32_t xfer_partition(const struct state *st, const char *id)
{
    return partition_of(id, strlen(id), st->place.partitions);
}

/* The relay slot filled with a `kind` entry of txn `txn` stamped `ts`
 * giving `member` the points of pieces[0..n) from `from`. */
static struct outbox_relay_entry *relay(struct outbox *ob, const struct state *st,
                                       enum proto_kind kind, int64_t ts, const char *txn,
                                       const char *member, const char *from)
{
    LY_ASSERT(!ob->has_relay);
    ob->has_relay = true;
    ob->relay.partition = xfer_partition(st, member);
    struct outbox_relay_entry *r = &ob->relay.e;
    r->kind = kind;
    r->ts = ts;
    memcpy(r->txn, txn, strlen(txn) + 1);
    memcpy(r->member, member, strlen(member) + 1);
    memcpy(r->from, from, strlen(from) + 1);
    r->piece_count = 0;
    return r;
}

void xfer_credit(const struct state *st, struct outbox *ob, const struct proto_entry *e,
                 const struct lots_piece *pieces, uint32_t n)
{
    LY_ASSERT(n >= 1 && n <= PROTO_PIECES_MAX);
    struct outbox_relay_entry *r =
        relay(ob, st, PROTO_TRANSFER_CREDIT, e->ts, e->txn, e->to, e->member);
    for (uint32_t i = 0; i < n; i++) {
        r->pieces[i].expire_ts = pieces[i].expire_ms == INT64_MAX ? 0 : pieces[i].expire_ms;
        r->pieces[i].points = pieces[i].points;
    }
    r->piece_count = n;
}

void xfer_entry(const struct outbox_relay_entry *r, struct proto_entry *e)
{
    LY_ASSERT(r->piece_count >= 1 && r->piece_count <= PROTO_PIECES_MAX);
    memset(e, 0, sizeof(*e));
    e->kind = r->kind;
    e->ts = r->ts;
    memcpy(e->txn, r->txn, sizeof(e->txn));
    memcpy(e->member, r->member, sizeof(e->member));
    memcpy(e->from, r->from, sizeof(e->from));
    e->piece_count = r->piece_count;
    memcpy(e->pieces, r->pieces, r->piece_count * sizeof(r->pieces[0]));
    for (uint32_t i = 0; i < r->piece_count; i++)
        e->points += r->pieces[i].points;
}

/* Credit or return `e`'s pieces to member `pos` with `cause`. */
static void give(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                 struct outbox *ob, uint32_t pos, enum proto_cause cause)
{
    struct lots_piece pieces[PROTO_PIECES_MAX];
    for (uint32_t i = 0; i < e->piece_count; i++) {
        pieces[i].expire_ms = e->pieces[i].expire_ts == 0 ? INT64_MAX : e->pieces[i].expire_ts;
        pieces[i].points = e->pieces[i].points;
    }
    points_expire(st, ob, e->ts, pos);
    release_due(st, rb, ob, e->ts, pos);
    points_transfer_in(st, ob, e->ts, pos, pieces, e->piece_count, cause);
    state_reschedule(st, rb, pos);
}

/* Sends credit `e`'s pieces back to its sender's partition. */
static void send_back(const struct state *st, const struct proto_entry *e, struct outbox *ob)
{
    struct outbox_relay_entry *r =
        relay(ob, st, PROTO_TRANSFER_RETURN, e->ts, e->txn, e->from, e->member);
    memcpy(r->pieces, e->pieces, e->piece_count * sizeof(e->pieces[0]));
    r->piece_count = e->piece_count;
}

void xfer_credit_apply(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct outbox *ob)
{
    const struct txn_rec *seen = txns_find(&st->txns, e->txn);
    uint32_t pos = members_find(&st->members, e->member);
    if (seen != NULL && seen->kind == PROTO_TRANSFER_CREDIT && seen->member == pos) {
        ob->verdict = OUTBOX_DUPLICATE; /* the relay repeated itself */
        return;
    }
    if (seen != NULL || pos == HINDEX_NONE ||
        points_would_overflow(members_at(&st->members, pos), e->points)) {
        send_back(st, e, ob); /* nobody here can take them: back to the sender */
        return;
    }
    give(st, rb, e, ob, pos, PROTO_CAUSE_TRANSFER_IN);
    struct txn_rec *r = retry_remember(st, e, pos);
    r->ok = 1;
    r->points = e->points;
}

void xfer_return_apply(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct outbox *ob)
{
    uint32_t pos = members_find(&st->members, e->member);
    if (pos == HINDEX_NONE) {
        outbox_reject(ob, RULES_R_UNKNOWN_MEMBER, "sender '%s' of returned transfer '%s' is "
                      "not enrolled", e->member, e->txn);
        return;
    }
    struct txn_rec *r = txns_find(&st->txns, e->txn);
    if (r != NULL && (r->kind == PROTO_TRANSFER_RETURN ||
                      (r->kind == PROTO_TRANSFER && r->refunded_points != 0))) {
        ob->verdict = OUTBOX_DUPLICATE; /* returned already */
        return;
    }
    if (r != NULL && (r->kind != PROTO_TRANSFER || r->member != pos || !r->ok)) {
        outbox_reject(ob, RULES_R_TXN_CONFLICT, "txn '%s' is not a transfer of '%s' that "
                      "went through", e->txn, e->member);
        return;
    }
    struct member *s = members_at(&st->members, pos);
    if (points_overflows(ob, s, e->points))
        return;
    give(st, rb, e, ob, pos, PROTO_CAUSE_TRANSFER_RETURN);
    if ((int32_t)caltime_day(e->ts) == members_extra(&st->members, s)->transfer_day) {
        struct member_extra *x = members_extra_edit(&st->members, s); /* the day's limit */
        x->transfer_points = x->transfer_points > e->points ? x->transfer_points - e->points : 0;
    } /* gets them back */
    if (r == NULL) {
        r = retry_remember(st, e, pos); /* the transfer left the window */
        r->ok = 1;
        r->points = e->points;
    } else {
        r->refunded_points = e->points;
    }
}
