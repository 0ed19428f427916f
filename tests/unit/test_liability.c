/* test_liability.c - the points liability (liability.h) kept by the core:
 * cohorts and expiry months of the outstanding points, redemption and
 * expiry per cohort, negative balances shown as debt, transfers keeping
 * their cohorts, pending points apart, and, over thousands of random
 * entries in every expiry mode (purchases, redemptions, refunds of spent
 * points, adjustments, transfers, ticks across months), the invariants:
 * outstanding = the positive balances, debt = the negative ones, each
 * cohort's movements add up, credits - debits = the balances; the same
 * figures after a snapshot round trip, and derived ones for a snapshot
 * without the section; rulebook switches that turn expiry off and on
 * redate the lots and keep the cohorts; a preview changes nothing.
 *
 * Rulebook (progfx.h): 1 point per 1.00, three tiers at x1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liability.h"
#include "pending.h"
#include "preview.h"
#include "progfx.h"
#include "rulecanon.h"
#include "snapliab.h"
#include "snapshot.h"
#include "splitmix.h"

static struct liability_report rep;

static const struct liability_report *report(struct progfx *f)
{
    liability_report_init(&rep, f->st.liab.month);
    liability_report_add(&rep, &f->st.liab);
    return &rep;
}

/* Index of month (year, mo) in the report's cohort arrays. */
static int cohort_ix(const struct liability_report *r, int32_t year, int32_t mo)
{
    int32_t m = year * 12 + mo - 1;
    int i = m - (r->month - LIABILITY_MONTHS + 1);
    assert_true(i >= 0 && i < LIABILITY_MONTHS);
    return i;
}

static int expiry_ix(const struct liability_report *r, int32_t year, int32_t mo)
{
    int i = year * 12 + mo - 1 - (r->month - LIABILITY_EXPIRY_BEHIND);
    assert_true(i >= 0 && i < LIABILITY_EXPIRY_MONTHS);
    return i;
}

/* The invariants against the members, failing the test with the reason. */
static void check(const struct progfx *f)
{
    int64_t positive = 0, debt = 0, pending = 0;
    for (uint32_t p = 0; p < f->st.members.count; p++) {
        const struct member *m = members_at(&f->st.members, p);
        positive += m->balance > 0 ? m->balance : 0;
        debt += m->balance < 0 ? -m->balance : 0;
        pending += pending_total(m);
    }
    const char *why = liability_check(&f->st.liab, positive, debt, pending);
    if (why != NULL)
        fail_msg("after entry %llu: %s", (unsigned long long)f->seq, why);
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++)
        for (uint32_t c = 0; c < LIABILITY_COLS; c++)
            if (f->st.liab.cells[r][c] < 0)
                fail_msg("after entry %llu: cell %u/%u is negative", (unsigned long long)f->seq,
                         r, c);
}

static void buy(struct progfx *f, int64_t ts, const char *txn, const char *member,
                int64_t amount)
{
    progfx_entry(f, PROTO_PURCHASE, ts, txn, member)->amount = amount;
    snprintf(f->e.store, sizeof(f->e.store), "s1");
    progfx_ok(f);
}

static enum outbox_verdict redeem(struct progfx *f, int64_t ts, const char *txn,
                                  const char *member, int64_t points)
{
    progfx_entry(f, PROTO_REDEEM, ts, txn, member)->points = points;
    return progfx_apply(f);
}

static enum outbox_verdict refund(struct progfx *f, int64_t ts, const char *txn,
                                  const char *orig, const char *member, int64_t amount)
{
    progfx_entry(f, PROTO_REFUND, ts, txn, member)->amount = amount;
    snprintf(f->e.orig_txn, sizeof(f->e.orig_txn), "%s", orig);
    snprintf(f->e.store, sizeof(f->e.store), "s1");
    return progfx_apply(f);
}

/* 100 earned in January 2027, 200 in March, 150 redeemed in April: the
 * January cohort is spent first; March's 50 redeemed, 150 expire on
 * 2028-04-01, which closes both cohorts: breakage 150 / 300. */
static void cohorts_are_spent_oldest_first_and_expire_in_their_month(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { months = 12; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    buy(f, progfx_noon(2027, 3, 10), "p2", "A", 20000);
    assert_int_equal(redeem(f, progfx_noon(2027, 4, 2), "r1", "A", 150), OUTBOX_APPLIED);
    const struct liability_report *r = report(f);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 1)], 0);
    assert_int_equal(r->cohort[cohort_ix(r, 2027, 1)].redeemed, 100);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 3)], 150);
    assert_int_equal(r->by_expiry[expiry_ix(r, 2028, 4)], 150); /* March + 12 + 1 */
    assert_int_equal(r->flow[cohort_ix(r, 2027, 4)].debit[PROTO_CAUSE_REDEEM], 150);
    assert_int_equal(r->flow[cohort_ix(r, 2027, 3)].credit[PROTO_CAUSE_PURCHASE], 200);
    assert_int_equal(liability_breakage_bp(r), 0); /* January: closed, all redeemed */
    progfx_tick(f, progfx_noon(2028, 4, 1));
    check(f);
    r = report(f);
    assert_int_equal(r->outstanding, 0);
    assert_int_equal(r->cohort[cohort_ix(r, 2027, 3)].expired, 150);
    assert_int_equal(r->flow[cohort_ix(r, 2028, 4)].debit[PROTO_CAUSE_EXPIRY], 150);
    assert_int_equal(liability_breakage_bp(r), 5000);
    assert_int_equal(liability_redemption_bp(r), 5000);
    progfx_free(f);
}

/* A refund of points already spent makes the balance negative: nothing
 * outstanding, the debt shown apart; the next earning repays it first. */
static void a_negative_balance_shows_as_debt_not_as_negative_outstanding(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { months = 12; };\n"
                                  "refunds = { shortfall = \"negative\"; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    assert_int_equal(redeem(f, progfx_noon(2027, 1, 11), "r1", "A", 100), OUTBOX_APPLIED);
    assert_int_equal(refund(f, progfx_noon(2027, 1, 12), "f1", "p1", "A", 10000),
                     OUTBOX_APPLIED);
    assert_int_equal(progfx_member(f, "A")->balance, -100);
    check(f);
    const struct liability_report *r = report(f);
    assert_int_equal(r->outstanding, 0);
    assert_int_equal(r->debt, 100);
    assert_int_equal(r->flow[cohort_ix(r, 2027, 1)].debit[PROTO_CAUSE_REFUND], 100);
    buy(f, progfx_noon(2027, 2, 1), "p2", "A", 30000);
    check(f);
    r = report(f);
    assert_int_equal(r->debt, 0);
    assert_int_equal(r->outstanding, 200);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 2)], 200);
    progfx_free(f);
}

/* Points transferred keep their cohort and expiry month. */
static void a_transfer_keeps_the_cohort_of_the_points_it_moves(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { months = 12; };\n"
                                  "transfers = { enabled = true; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    progfx_enroll(f, progfx_noon(2027, 1, 5), "B");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    assert_int_equal(progfx_transfer(f, progfx_noon(2027, 5, 2), "t1", "A", "B", 60),
                     OUTBOX_APPLIED);
    check(f);
    const struct liability_report *r = report(f);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 1)], 100);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 5)], 0);
    assert_int_equal(r->cohort[cohort_ix(r, 2027, 1)].in, 160); /* 100 + 60 handed in */
    assert_int_equal(r->cohort[cohort_ix(r, 2027, 1)].other, 60); /* ... and out */
    assert_int_equal(r->by_expiry[expiry_ix(r, 2028, 2)], 100);
    progfx_free(f);
}

/* Pending points are not outstanding: kept apart until released. */
static void pending_points_are_kept_apart_until_released(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("earning = { points_per_unit = 1; minor_per_unit = 100; "
                                  "pending_days = 4; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    buy(f, progfx_noon(2027, 1, 10), "p2", "A", 5000);
    assert_int_equal(refund(f, progfx_noon(2027, 1, 11), "f1", "p2", "A", 5000),
                     OUTBOX_APPLIED);
    check(f);
    const struct liability_report *r = report(f);
    assert_int_equal(r->pending, 100);
    assert_int_equal(r->outstanding, 0);
    assert_int_equal(r->flow[cohort_ix(r, 2027, 1)].held, 150);
    assert_int_equal(r->flow[cohort_ix(r, 2027, 1)].cancelled, 50);
    progfx_tick(f, progfx_noon(2027, 1, 20));
    check(f);
    r = report(f);
    assert_int_equal(r->pending, 0);
    assert_int_equal(r->outstanding, 100);
    assert_int_equal(r->flow[cohort_ix(r, 2027, 1)].released, 100);
    progfx_free(f);
}

/* The last purchase of each random member (its txn), for refunds. */
static char last_buy[8][24];

/* A rules entry making `text` the version in force. */
static void switch_to(struct progfx *f, int64_t ts, const char *text)
{
    static struct rulebook next;
    progfx_parse(text, &next);
    next.txns_max = f->rb.txns_max;
    progfx_entry(f, PROTO_RULES, ts, NULL, NULL);
    snprintf(f->e.hash, sizeof(f->e.hash), "%032x", (unsigned)f->seq);
    struct rules_text rt = {&next, NULL};
    rules_apply(&f->st, (struct proto_id){1, ++f->seq}, &f->e, &rt, &f->ob);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
}

/* A version turning expiry off moves every lot to "never", one turning it
 * on dates them as the balances; the cohorts stay. Later points follow the
 * new rule, and a changed expiry.months dates only new points. */
static void rulebook_switches_redate_the_lots_and_keep_the_cohorts(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { months = 12; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    switch_to(f, progfx_noon(2027, 2, 1), "expiry = { months = 0; };\n");
    check(f);
    const struct liability_report *r = report(f);
    assert_int_equal(r->never, 100);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 1)], 100);
    buy(f, progfx_noon(2027, 3, 10), "p2", "A", 5000);
    switch_to(f, progfx_noon(2027, 4, 1), "expiry = { months = 3; };\n");
    check(f);
    r = report(f);
    assert_int_equal(r->never, 0);
    /* A rules entry does not move the clock: dated as earned in March. */
    assert_int_equal(r->by_expiry[expiry_ix(r, 2027, 7)], 150);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 1)], 100);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 3)], 50);
    switch_to(f, progfx_noon(2027, 4, 2), "expiry = { months = 1; };\n");
    buy(f, progfx_noon(2027, 4, 10), "p3", "A", 2000); /* expires June, before July */
    assert_int_equal(redeem(f, progfx_noon(2027, 4, 11), "r1", "A", 30), OUTBOX_APPLIED);
    check(f);
    r = report(f);
    assert_int_equal(r->by_expiry[expiry_ix(r, 2027, 6)], 0); /* the soonest lot went first */
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 4)], 0);
    assert_int_equal(r->by_expiry[expiry_ix(r, 2027, 7)], 140);
    assert_int_equal(r->by_cohort[cohort_ix(r, 2027, 1)], 90); /* then July's oldest */
    progfx_tick(f, progfx_noon(2027, 8, 1));
    check(f);
    r = report(f);
    assert_int_equal(r->outstanding, 0);
    assert_int_equal(r->cohort[cohort_ix(r, 2027, 1)].expired, 90);
    assert_int_equal(r->cohort[cohort_ix(r, 2027, 3)].expired, 50);
    progfx_free(f);
}

/* A preview runs a sale on the live state and puts everything back: the
 * liability too. */
static void a_preview_leaves_the_liability_as_it_was(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { months = 12; };\n", 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    static struct liability before;
    before = f->st.liab;
    static struct preview pv;
    preview_init(&pv);
    struct proto_entry e = {.kind = PROTO_PURCHASE, .ts = progfx_noon(2027, 3, 1),
                            .amount = 50000};
    snprintf(e.txn, sizeof(e.txn), "p2");
    snprintf(e.member, sizeof(e.member), "A");
    snprintf(e.store, sizeof(e.store), "s1");
    struct preview_result res;
    preview_purchase(&pv, &f->st, &e, &res);
    assert_int_equal(res.verdict, PREVIEW_APPLIED);
    assert_int_equal(res.balance, 600);
    assert_memory_equal(&f->st.liab, &before, sizeof(before));
    preview_free(&pv);
    progfx_free(f);
}

/* One random entry for member a (b: another member). */
static void random_entry(struct progfx *f, uint64_t *rng, int64_t ts, int i, int a, int b)
{
    char txn[24], ida[8], idb[8];
    uint64_t roll = splitmix_below(rng, 20);
    snprintf(txn, sizeof(txn), "e%d", i);
    snprintf(ida, sizeof(ida), "m%d", a);
    snprintf(idb, sizeof(idb), "m%d", b);
    if (roll < 7) {
        buy(f, ts, txn, ida, 100 + (int64_t)splitmix_below(rng, 40000));
        snprintf(last_buy[a], sizeof(last_buy[a]), "%s", txn);
    } else if (roll < 10) {
        redeem(f, ts, txn, ida, 1 + (int64_t)splitmix_below(rng, 300));
    } else if (roll < 13) {
        refund(f, ts, txn, last_buy[a], ida, 100 + (int64_t)splitmix_below(rng, 20000));
    } else if (roll < 15) {
        int64_t p = (int64_t)splitmix_below(rng, 400) - 200;
        progfx_entry(f, PROTO_ADJUST, ts, txn, ida)->points = p != 0 ? p : 1;
        snprintf(f->e.reason, sizeof(f->e.reason), "goodwill");
        progfx_apply(f);
    } else if (roll < 18) {
        progfx_transfer(f, ts, txn, ida, idb, 1 + (int64_t)splitmix_below(rng, 200));
    } else {
        progfx_tick(f, ts);
    }
}

/* The invariants hold after every one of many random entries over six
 * years, and a snapshot brings back the same figures. */
static void random_entries_keep_the_invariants_in_every_expiry_mode(void **unused)
{
    (void)unused;
    static const char *const modes[] = {
        "expiry = { months = 3; };\n",
        "expiry = { mode = \"days\"; days = 40; };\n",
        "expiry = { mode = \"end_of_year\"; years = 1; };\n",
        "expiry = { mode = \"never\"; };\n",
    };
    for (size_t t = 0; t < sizeof(modes) / sizeof(modes[0]); t++) {
        char text[512];
        snprintf(text, sizeof(text), "%stransfers = { enabled = true; };\n"
                 "refunds = { shortfall = \"negative\"; };\n"
                 "earning = { points_per_unit = 1; minor_per_unit = 100; pending_days = %d; };\n"
                 "idempotency = { window_days = 90; };\n", modes[t], t % 2 ? 10 : 0);
        struct progfx *f = progfx_new(text, 16);
        uint64_t rng = 99 + t;
        int64_t ts = progfx_noon(2027, 1, 1);
        char id[8][8];
        for (int i = 0; i < 8; i++) {
            snprintf(id[i], sizeof(id[i]), "m%d", i);
            progfx_enroll(f, ts, id[i]);
            snprintf(last_buy[i], sizeof(last_buy[i]), "none");
        }
        int64_t debt_seen = 0, applied[PROTO_KIND_COUNT] = {0};
        for (int i = 0; i < 6000; i++) {
            ts += (int64_t)splitmix_below(&rng, 18 * 3600000); /* about six years */
            int a = (int)splitmix_below(&rng, 8), b = (a + 1 + (int)splitmix_below(&rng, 7)) % 8;
            random_entry(f, &rng, ts, i, a, b);
            check(f);
            applied[f->e.kind] += f->ob.verdict == OUTBOX_APPLIED;
            debt_seen = f->st.liab.debt > debt_seen ? f->st.liab.debt : debt_seen;
        }
        const struct liability_report *r = report(f);
        assert_true(debt_seen > 0); /* refunds of spent points happened */
        assert_true(applied[PROTO_REFUND] > 50 && applied[PROTO_REDEEM] > 50 &&
                    applied[PROTO_TRANSFER] > 50 && applied[PROTO_ADJUST] > 50);
        int64_t expired = r->earlier.expired;
        for (int k = 0; k < LIABILITY_MONTHS; k++)
            expired += r->cohort[k].expired;
        assert_true(expired > 0 || t == 3); /* never: nothing expires */
        assert_true(r->earlier.in > 0);     /* six years: cohorts were folded */
        char *buf;
        size_t len;
        assert_int_equal(snapshot_encode(&f->st, rulecanon_codec(), &buf, &len), 0);
        static struct state back;
        struct snapshot_error err = {{0}};
        assert_int_equal(state_init(&back, &f->rb, 16), 0);
        if (snapshot_decode(buf, len, &f->rb, rulecanon_codec(), &back, &err) != SNAPSHOT_OK)
            fail_msg("%s", err.text);
        assert_memory_equal(back.liab.cells, f->st.liab.cells, sizeof(back.liab.cells));
        assert_memory_equal(back.liab.cohorts, f->st.liab.cohorts, sizeof(back.liab.cohorts));
        assert_memory_equal(back.liab.flows, f->st.liab.flows, sizeof(back.liab.flows));
        assert_int_equal(back.liab.debt, f->st.liab.debt);
        state_free(&back);
        free(buf);
        progfx_free(f);
    }
}

/* A state whose figures were never kept (a snapshot written before the
 * section) gets them derived from the members: outstanding by expiry as
 * kept, the sum of balances as opening. */
static void figures_derived_from_the_members_agree_with_the_kept_ones(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("expiry = { months = 6; };\n"
                                  "refunds = { shortfall = \"negative\"; };\n", 8);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "A");
    progfx_enroll(f, progfx_noon(2027, 1, 5), "B");
    buy(f, progfx_noon(2027, 1, 10), "p1", "A", 10000);
    buy(f, progfx_noon(2027, 3, 10), "p2", "A", 20000);
    buy(f, progfx_noon(2027, 3, 10), "p3", "B", 5000);
    assert_int_equal(redeem(f, progfx_noon(2027, 3, 11), "r1", "B", 50), OUTBOX_APPLIED);
    assert_int_equal(refund(f, progfx_noon(2027, 3, 12), "f1", "p3", "B", 5000),
                     OUTBOX_APPLIED);
    static struct liability kept;
    kept = f->st.liab;
    static struct liability_report a;
    liability_report_init(&a, kept.month);
    liability_report_add(&a, &kept);
    snapliab_derive(&f->st);
    check(f);
    const struct liability_report *b = report(f);
    assert_memory_equal(a.by_expiry, b->by_expiry, sizeof(a.by_expiry));
    assert_memory_equal(a.by_cohort, b->by_cohort, sizeof(a.by_cohort));
    assert_int_equal(b->debt, 50);
    assert_int_equal(b->opening, 250);
    progfx_free(f);
}

/* Totals past int64 (each member's balance fits, their sum need not):
 * the figures wrap, consistently, and nothing overflows (UBSan would
 * abort). Driven on the module itself: reaching 2^63 points through
 * entries takes ten million of them. */
static void totals_past_int64_wrap_instead_of_overflowing(void **unused)
{
    (void)unused;
    static struct liability l;
    memset(&l, 0, sizeof(l));
    const int32_t month = 2027 * 12;
    const struct proto_id id = {1, 1};
    struct lots_piece big = {INT64_MAX, INT64_MAX};
    struct liability_wallet empty = {NULL, 0, false, 0};
    struct liability_wallet full = {&big, 1, false, INT64_MAX};
    struct liability_wallet owing = {NULL, 0, false, INT64_MIN};
    for (int i = 0; i < 3; i++) /* three members of INT64_MAX points */
        liability_move(&l, month, id, PROTO_CAUSE_ADJUST, &empty, &full);
    liability_move(&l, month, id, PROTO_CAUSE_ADJUST, &full, &owing); /* one owes 2^63 */
    int64_t positive = liability_add(INT64_MAX, INT64_MAX);
    int64_t debt = INT64_MIN; /* 2^63 wrapped */
    assert_null(liability_check(&l, positive, debt, 0));
    static struct liability_report r;
    liability_report_init(&r, month);
    liability_report_add(&r, &l);
    assert_int_equal(r.outstanding, positive);
    (void)liability_breakage_bp(&r);
    (void)liability_redemption_bp(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cohorts_are_spent_oldest_first_and_expire_in_their_month),
        cmocka_unit_test(a_negative_balance_shows_as_debt_not_as_negative_outstanding),
        cmocka_unit_test(a_transfer_keeps_the_cohort_of_the_points_it_moves),
        cmocka_unit_test(pending_points_are_kept_apart_until_released),
        cmocka_unit_test(random_entries_keep_the_invariants_in_every_expiry_mode),
        cmocka_unit_test(figures_derived_from_the_members_agree_with_the_kept_ones),
        cmocka_unit_test(rulebook_switches_redate_the_lots_and_keep_the_cohorts),
        cmocka_unit_test(a_preview_leaves_the_liability_as_it_was),
        cmocka_unit_test(totals_past_int64_wrap_instead_of_overflowing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
