/* preview.c - see preview.h. */
#include "preview.h"

#include <string.h>

#include "caltime.h"
#include "hindex.h"
#include "lyassert.h"
#include "pending.h"
#include "rules.h"

void preview_init(struct preview *p)
{
    memset(p, 0, sizeof(*p));
    outbox_init(&p->ob, OUTBOX_ENTRY_OUTPUTS_MAX);
}

void preview_free(struct preview *p)
{
    outbox_free(&p->ob);
}

/* What the member looks like after the sale, before anything is put back. */
static void capture(const struct state *st, uint32_t pos, struct preview_result *res)
{
    const struct member *m = members_at(&st->members, pos);
    res->tier = m->tier;
    res->balance = m->balance;
    res->pending = pending_total(m);
    res->lifetime_points = m->lifetime_points;
    res->purchases = m->purchases;
    res->qualifying = members_qual_total(m, st->clock_month, st->ver->now.window_months);
}

/* The sale's verdict before anything changes: a retry, or a member the
 * rules would refuse. Returns the member's position, HINDEX_NONE for one
 * the sale would enrol, or fills res and returns HINDEX_NONE - 1. */
static uint32_t check(struct preview *p, struct state *st, const struct proto_entry *e,
                      struct preview_result *res)
{
    uint32_t pos = members_find(&st->members, e->member);
    if (rules_retry(st, e, &p->ob)) {
        res->verdict = p->ob.verdict == OUTBOX_DUPLICATE ? PREVIEW_DUPLICATE : PREVIEW_REJECTED;
    } else if (pos == HINDEX_NONE && st->ver->now.require_enrollment) {
        res->verdict = PREVIEW_UNKNOWN_MEMBER;
    } else {
        return pos;
    }
    if (pos != HINDEX_NONE) {
        capture(st, pos, res);
        res->tier_before = res->tier;
        res->balance_before = res->balance;
        res->pending_before = res->pending;
    }
    return HINDEX_NONE - 1;
}

void preview_purchase(struct preview *p, struct state *st, const struct proto_entry *e,
                      struct preview_result *res)
{
    LY_ASSERT(e->kind == PROTO_PURCHASE && st->preview_rec == NULL);
    memset(res, 0, sizeof(*res));
    outbox_reset(&p->ob);
    res->switch_due = st->ver->has_next &&
                      st->ver->next_info.effective_ts <= (e->ts > st->clock_ms ? e->ts
                                                                               : st->clock_ms);
    uint32_t pos = check(p, st, e, res);
    if (pos == HINDEX_NONE - 1)
        return;
    /* Save what the sale can change. */
    uint32_t count = st->members.count, ref = HINDEX_NONE;
    if (pos != HINDEX_NONE) {
        members_save(&st->members, pos, &p->member, &p->member_x, p->lots);
        res->tier_before = p->member.tier;
        res->balance_before = p->member.balance;
        res->pending_before = pending_total(&p->member);
        if (p->member.referrer != 0) {
            ref = p->member.referrer - 1;
            members_save(&st->members, ref, &p->referrer, &p->referrer_x, p->referrer_lots);
        }
    }
    memcpy(&p->g, &st->g, sizeof(p->g));
    memcpy(&p->liab, &st->liab, sizeof(p->liab));
    int64_t clock_ms = st->clock_ms;
    int32_t clock_month = st->clock_month;
    /* The sale, as rules_apply runs it: the clock moves to its ts. */
    st->preview_rec = &p->rec;
    if (e->ts > st->clock_ms) {
        st->clock_ms = e->ts;
        st->clock_month = caltime_month(e->ts);
    }
    rules_purchase(st, e, &p->ob);
    res->verdict = p->ob.verdict == OUTBOX_APPLIED ? PREVIEW_APPLIED : PREVIEW_REJECTED;
    res->new_member = pos == HINDEX_NONE;
    uint32_t at = pos != HINDEX_NONE ? pos : st->members.count > count ? count : HINDEX_NONE;
    if (at != HINDEX_NONE)
        capture(st, at, res);
    /* Put everything back. */
    if (st->members.count > count) { /* the sale enrolled the member */
        LY_ASSERT(st->members.count == count + 1);
        members_drop_last(&st->members);
    }
    if (pos != HINDEX_NONE)
        members_put_back(&st->members, pos, &p->member, &p->member_x, p->lots);
    if (ref != HINDEX_NONE)
        members_put_back(&st->members, ref, &p->referrer, &p->referrer_x, p->referrer_lots);
    memcpy(&st->g, &p->g, sizeof(st->g));
    memcpy(&st->liab, &p->liab, sizeof(st->liab));
    st->clock_ms = clock_ms;
    st->clock_month = clock_month;
    st->preview_rec = NULL;
}
