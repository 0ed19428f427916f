/* snapliab.c - see snapliab.h. */
#include "snapliab.h"

#include <string.h>

#include "caltime.h"
#include "liability.h"
#include "pending.h"
#include "wallet.h"

#define SNAPLIAB_TAG 0x4241494cu /* "LIAB" little-endian */
#define SNAPLIAB_VERSION 1u

/* The i64 values of one flow, in the order written. */
#define FLOW_VALUES (2 * PROTO_CAUSE_COUNT + 3)

static void flow_values(const struct liability_flow *f, int64_t *v)
{
    for (uint32_t c = 0; c < PROTO_CAUSE_COUNT; c++) {
        v[c] = f->credit[c];
        v[PROTO_CAUSE_COUNT + c] = f->debit[c];
    }
    v[2 * PROTO_CAUSE_COUNT] = f->held;
    v[2 * PROTO_CAUSE_COUNT + 1] = f->released;
    v[2 * PROTO_CAUSE_COUNT + 2] = f->cancelled;
}

static void flow_from(struct liability_flow *f, const int64_t *v)
{
    for (uint32_t c = 0; c < PROTO_CAUSE_COUNT; c++) {
        f->credit[c] = v[c];
        f->debit[c] = v[PROTO_CAUSE_COUNT + c];
    }
    f->held = v[2 * PROTO_CAUSE_COUNT];
    f->released = v[2 * PROTO_CAUSE_COUNT + 1];
    f->cancelled = v[2 * PROTO_CAUSE_COUNT + 2];
}

void snapliab_write(struct lebuf_out *o, const struct state *st)
{
    const struct liability *l = &st->liab;
    lebuf_put_u32(o, SNAPLIAB_TAG);
    lebuf_put_u32(o, SNAPLIAB_VERSION);
    lebuf_put_u32(o, LIABILITY_ROWS);
    lebuf_put_u32(o, LIABILITY_COLS);
    lebuf_put_u32(o, PROTO_CAUSE_COUNT);
    lebuf_put_u32(o, (uint32_t)l->month);
    lebuf_put_u32(o, l->started);
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++)
        for (uint32_t c = 0; c < LIABILITY_COLS; c++)
            lebuf_put_i64(o, l->cells[r][c]);
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        lebuf_put_i64(o, l->cohorts[c].in);
        lebuf_put_i64(o, l->cohorts[c].redeemed);
        lebuf_put_i64(o, l->cohorts[c].expired);
        lebuf_put_i64(o, l->cohorts[c].other);
    }
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        int64_t v[FLOW_VALUES];
        flow_values(&l->flows[c], v);
        for (uint32_t i = 0; i < FLOW_VALUES; i++)
            lebuf_put_i64(o, v[i]);
    }
    lebuf_put_i64(o, l->debt);
    lebuf_put_i64(o, l->pending);
    lebuf_put_i64(o, l->opening);
}

bool snapliab_present(const struct lebuf_in *in)
{
    return in->off < in->len;
}

static void read_values(struct lebuf_in *in, struct liability *l)
{
    l->month = (int32_t)lebuf_get_u32(in);
    l->started = lebuf_get_u32(in);
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++)
        for (uint32_t c = 0; c < LIABILITY_COLS; c++)
            l->cells[r][c] = lebuf_get_i64(in);
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        l->cohorts[c].in = lebuf_get_i64(in);
        l->cohorts[c].redeemed = lebuf_get_i64(in);
        l->cohorts[c].expired = lebuf_get_i64(in);
        l->cohorts[c].other = lebuf_get_i64(in);
    }
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        int64_t v[FLOW_VALUES];
        for (uint32_t i = 0; i < FLOW_VALUES; i++)
            v[i] = lebuf_get_i64(in);
        flow_from(&l->flows[c], v);
    }
    l->debt = lebuf_get_i64(in);
    l->pending = lebuf_get_i64(in);
    l->opening = lebuf_get_i64(in);
}

/* The members' sums the section must agree with. */
static const char *check_members(const struct state *st)
{
    int64_t positive = 0, debt = 0, pending = 0;
    for (uint32_t p = 0; p < st->members.count; p++) {
        const struct member *m = members_at(&st->members, p);
        if (m->balance > 0)
            positive = liability_add(positive, m->balance);
        else /* owed; INT64_MIN's 2^63 wraps as the figures do */
            debt = liability_add(debt, (int64_t)(0 - (uint64_t)m->balance));
        pending = liability_add(pending, pending_total(m));
    }
    return liability_check(&st->liab, positive, debt, pending);
}

const char *snapliab_read(struct lebuf_in *in, struct state *st, bool *foreign)
{
    uint32_t tag = lebuf_get_u32(in), version = lebuf_get_u32(in);
    uint32_t rows = lebuf_get_u32(in), cols = lebuf_get_u32(in), causes = lebuf_get_u32(in);
    *foreign = false;
    if (in->overrun || tag != SNAPLIAB_TAG)
        return "bytes after the last txn are not a liability section";
    if (version != SNAPLIAB_VERSION || rows != LIABILITY_ROWS || cols != LIABILITY_COLS ||
        causes != PROTO_CAUSE_COUNT) {
        *foreign = true;
        return "its liability section has another version or shape (another build)";
    }
    memset(&st->liab, 0, sizeof(st->liab));
    read_values(in, &st->liab);
    if (in->overrun)
        return "the liability section is cut short";
    if (st->liab.started && st->liab.month > st->clock_month)
        return "the liability section is ahead of the clock";
    return check_members(st);
}

void snapliab_derive(struct state *st)
{
    const struct rulebook *rb = &st->ver->now;
    int32_t month = st->clock_month;
    struct lots_piece pieces[WALLET_PIECES_MAX];
    memset(&st->liab, 0, sizeof(st->liab));
    for (uint32_t p = 0; p < st->members.count; p++) {
        const struct member *m = members_at(&st->members, p);
        uint32_t n = wallet_pieces(&st->members, p, pieces);
        for (uint32_t i = 0; i < n; i++) {
            int64_t at = pieces[i].expire_ms; /* the ring's keys are months */
            if (at != INT64_MAX && st->members.lots_kind == WALLET_RING)
                at = caltime_month_start((int32_t)at);
            liability_derive_lot(&st->liab, month, at, liability_cohort_of(rb, at, month),
                                 pieces[i].points);
        }
        liability_derive_member(&st->liab, month, m->balance, pending_total(m));
    }
}
