/* workload.c - see workload.h. */
#include "workload.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

static const char *const CATEGORIES[] = {"grocery", "beauty", "home", "toys",
                                         "apparel", "electronics", "garden", "books"};
#define CATEGORY_COUNT (sizeof(CATEGORIES) / sizeof(CATEGORIES[0]))

/* xorshift64*: fast, and the same sequence on every machine. */
static uint64_t next(struct workload *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t workload_below(struct workload *w, uint64_t n)
{
    LY_ASSERT(n >= 1);
    return next(w) % n; /* the bias of n << 2^64 does not matter here */
}

/* A uniformly random integer in [lo, hi]. */
static int64_t between(struct workload *w, int64_t lo, int64_t hi)
{
    LY_ASSERT(lo <= hi);
    return lo + (int64_t)workload_below(w, (uint64_t)(hi - lo) + 1);
}

void workload_init(struct workload *w, uint32_t members, uint64_t seed, const char *tag)
{
    LY_ASSERT(members >= 1 && members <= WORKLOAD_MEMBERS_MAX);
    LY_ASSERT(strlen(tag) >= 1 && strlen(tag) <= WORKLOAD_TAG_MAX);
    memset(w, 0, sizeof(*w));
    w->rng = (seed ^ 0x9E3779B97F4A7C15ULL) | 1; /* never the absorbing 0 */
    w->members = members;
    snprintf(w->tag, sizeof(w->tag), "%s", tag);
}

void workload_member_id(uint32_t idx, char out[PROTO_MEMBER_MAX + 1])
{
    LY_ASSERT(idx < WORKLOAD_MEMBERS_MAX);
    snprintf(out, PROTO_MEMBER_MAX + 1, "m%07" PRIu32, idx);
}

static void txn_name(const struct workload *w, uint64_t serial, char out[PROTO_TXN_MAX + 1])
{
    snprintf(out, PROTO_TXN_MAX + 1, "%s-%" PRIu64, w->tag, serial);
}

/* Clears `e` and gives it `kind`, the next event time and a fresh txn. */
static void start(struct workload *w, enum proto_kind kind, struct proto_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->ts = WORKLOAD_TS_START_MS + (int64_t)w->serial * WORKLOAD_TS_STEP_MS;
    txn_name(w, w->serial, e->txn);
    w->serial++;
}

static void random_store(struct workload *w, struct proto_entry *e)
{
    snprintf(e->store, sizeof(e->store), "s%03u",
             (unsigned)workload_below(w, WORKLOAD_STORES));
}

static uint32_t random_member(struct workload *w)
{
    return (uint32_t)workload_below(w, w->members);
}

void workload_enroll(struct workload *w, uint32_t idx, struct proto_entry *e)
{
    start(w, PROTO_ENROLL, e);
    workload_member_id(idx, e->member);
    if (workload_below(w, 2) == 0) { /* half the members tell their birthday */
        e->birthday_month = (uint8_t)between(w, 1, 12);
        e->birthday_day = (uint8_t)between(w, 1, 28);
    }
}

void workload_purchase_of(struct workload *w, uint32_t idx, int64_t amount,
                          struct proto_entry *e)
{
    LY_ASSERT(amount >= 1 && amount <= PROTO_AMOUNT_MAX);
    start(w, PROTO_PURCHASE, e);
    workload_member_id(idx, e->member);
    random_store(w, e);
    e->amount = amount;
    struct workload_sale *s = &w->recent[w->recent_count++ % WORKLOAD_RECENT];
    *s = (struct workload_sale){idx, w->serial - 1, amount, 0};
}

void workload_history(struct workload *w, uint32_t idx, struct proto_entry *e)
{
    /* Units spent, so points at the base rate: tier thresholds 500, 2000,
     * 10000 in conf/loyaltyd.conf. */
    uint64_t band = workload_below(w, 100);
    int64_t units = band < 50   ? between(w, 10, 400)
                    : band < 75 ? between(w, 500, 1999)
                    : band < 90 ? between(w, 2000, 9999)
                                : between(w, 10000, 20000);
    workload_purchase_of(w, idx, units * 100, e);
}

/* Minor units of a basket: 90% up to 100.00, 9% up to 1000.00, 1% more. */
static int64_t basket(struct workload *w)
{
    uint64_t band = workload_below(w, 100);
    return band < 90   ? between(w, 100, 10000)
           : band < 99 ? between(w, 10001, 100000)
                       : between(w, 100001, 1000000);
}

void workload_purchase(struct workload *w, struct proto_entry *e)
{
    workload_purchase_of(w, random_member(w), basket(w), e);
}

/* Splits the purchase's amount over 1..WORKLOAD_LINES_MAX line items. */
static void add_lines(struct workload *w, struct proto_entry *e)
{
    uint32_t n = (uint32_t)between(w, 1, WORKLOAD_LINES_MAX);
    int64_t left = e->amount;
    for (uint32_t i = 0; i < n; i++) {
        struct proto_line *l = &e->lines[i];
        snprintf(l->sku, sizeof(l->sku), "sku%05u", (unsigned)workload_below(w, 50000));
        snprintf(l->cat, sizeof(l->cat), "%s",
                 CATEGORIES[workload_below(w, CATEGORY_COUNT)]);
        l->qty = between(w, 1, 3);
        l->amount = i + 1 == n ? left : e->amount / n;
        left -= l->amount;
    }
    e->line_count = n;
}

void workload_scan(struct workload *w, uint32_t idx, struct proto_entry *e)
{
    start(w, PROTO_SCAN, e);
    e->txn[0] = '\0'; /* a scan at an entrance belongs to no transaction */
    workload_member_id(idx, e->member);
    random_store(w, e);
}

/* A refund of half what is left of a recent sale; a purchase when there is
 * none to refund. */
static void refund(struct workload *w, struct proto_entry *e)
{
    uint32_t n = w->recent_count < WORKLOAD_RECENT ? w->recent_count : WORKLOAD_RECENT;
    struct workload_sale *s = n ? &w->recent[workload_below(w, n)] : NULL;
    if (s == NULL || s->amount - s->refunded < 1) {
        workload_purchase(w, e);
        return;
    }
    int64_t amount = (s->amount - s->refunded + 1) / 2;
    s->refunded += amount;
    start(w, PROTO_REFUND, e);
    txn_name(w, s->serial, e->orig_txn);
    workload_member_id(s->member, e->member);
    e->amount = amount;
}

/* The same purchase sent again by a POS that timed out. */
static void retry(struct workload *w, struct proto_entry *e)
{
    uint32_t n = w->recent_count < WORKLOAD_RECENT ? w->recent_count : WORKLOAD_RECENT;
    if (n == 0) {
        workload_purchase(w, e);
        return;
    }
    struct workload_sale s = w->recent[workload_below(w, n)];
    start(w, PROTO_PURCHASE, e);
    txn_name(w, s.serial, e->txn);
    workload_member_id(s.member, e->member);
    random_store(w, e);
    e->amount = s.amount;
}

static void mixed_other(struct workload *w, uint64_t pick, struct proto_entry *e)
{
    if (pick < WORKLOAD_MIX_REDEEM) {
        start(w, PROTO_REDEEM, e);
        workload_member_id(random_member(w), e->member);
        e->points = between(w, 1, 300); /* some fail: insufficient_points */
    } else if ((pick -= WORKLOAD_MIX_REDEEM) < WORKLOAD_MIX_REFUND) {
        refund(w, e);
    } else if ((pick -= WORKLOAD_MIX_REFUND) < WORKLOAD_MIX_RETRY) {
        retry(w, e);
    } else if ((pick -= WORKLOAD_MIX_RETRY) < WORKLOAD_MIX_ADJUST) {
        start(w, PROTO_ADJUST, e);
        workload_member_id(random_member(w), e->member);
        e->points = between(w, 1, 50) * (workload_below(w, 2) ? 1 : -1);
        snprintf(e->reason, sizeof(e->reason), "goodwill after a complaint");
    } else if ((pick -= WORKLOAD_MIX_ADJUST) < WORKLOAD_MIX_ENROLL &&
               w->members + w->new_members < WORKLOAD_MEMBERS_MAX) {
        workload_enroll(w, w->members + w->new_members++, e);
    } else {
        start(w, PROTO_PURCHASE, e);
        snprintf(e->member, sizeof(e->member), "x%07u", (unsigned)workload_below(w, 10000000));
        random_store(w, e);
        e->amount = basket(w);
    }
}

void workload_mixed(struct workload *w, struct proto_entry *e)
{
    uint64_t pick = workload_below(w, 100);
    if (pick < WORKLOAD_MIX_PURCHASE) {
        workload_purchase(w, e);
        if (workload_below(w, 10) < 4)
            add_lines(w, e);
    } else if ((pick -= WORKLOAD_MIX_PURCHASE) < WORKLOAD_MIX_SCAN) {
        workload_scan(w, random_member(w), e);
    } else {
        mixed_other(w, pick - WORKLOAD_MIX_SCAN, e);
    }
}

int workload_encoded_init(struct workload_encoded *x, uint32_t cap)
{
    memset(x, 0, sizeof(*x));
    msgpack_sbuffer_init(&x->buf);
    x->off = calloc(cap, sizeof(*x->off));
    x->len = calloc(cap, sizeof(*x->len));
    x->cap = cap;
    if (x->off != NULL && x->len != NULL)
        return 0;
    workload_encoded_free(x);
    return -1;
}

void workload_encoded_free(struct workload_encoded *x)
{
    msgpack_sbuffer_destroy(&x->buf);
    free(x->off);
    free(x->len);
    memset(x, 0, sizeof(*x));
}

void workload_encoded_clear(struct workload_encoded *x)
{
    msgpack_sbuffer_clear(&x->buf);
    x->count = 0;
}

int workload_encoded_add(struct workload_encoded *x, const struct proto_entry *e)
{
    size_t off = x->buf.size;
    if (x->count >= x->cap || proto_encode_entry(&x->buf, e) != 0)
        return -1;
    if (x->buf.size > UINT32_MAX) {
        x->buf.size = off;
        return -1;
    }
    x->off[x->count] = (uint32_t)off;
    x->len[x->count] = (uint32_t)(x->buf.size - off);
    x->count++;
    return 0;
}
