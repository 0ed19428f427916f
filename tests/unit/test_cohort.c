/* test_cohort.c - the ledger's FIFO arithmetic by earning month
 * (clients/ledger/cohort.h): credits to the clock's month after repaying
 * debt, debits oldest first up to what the member holds, the shortfall as
 * debt, reconciliation of history the ledger never saw, the bound on lots,
 * and a random walk against a reference model written from wallet.c's rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cohort.h"
#include "splitmix.h"

#define M(y, mo) ((y) * 12 + (mo) - 1)
#define FLOWS_MAX 4096

struct flow {
    int32_t cohort, month;
    char cause[24];
    int64_t points;
};

struct flows {
    uint32_t n;
    struct flow f[FLOWS_MAX];
};

static void record(void *ctx, int32_t cohort, int32_t month, const char *cause, int64_t points)
{
    struct flows *fl = ctx;
    assert_true(fl->n < FLOWS_MAX);
    assert_true(points != 0);
    struct flow *f = &fl->f[fl->n++];
    f->cohort = cohort;
    f->month = month;
    snprintf(f->cause, sizeof f->cause, "%s", cause);
    f->points = points;
}

/* An empty wallet and the (static, emptied) flows it reports to. */
static struct flows *fresh(struct cohort_wallet *w)
{
    static struct flows fl;
    memset(&fl, 0, sizeof fl);
    cohort_init(w);
    return &fl;
}

/* Applies one change; returns the reconciliations. */
static uint32_t change(struct cohort_wallet *w, struct flows *fl, int32_t month, int64_t delta,
                       const char *cause)
{
    struct cohort_change c = {month, delta, w->balance + delta, cause};
    return cohort_apply(w, &c, record, fl);
}

/* The sum of the flows of `cohort` (optionally of one cause). */
static int64_t flow_sum(const struct flows *fl, int32_t cohort, const char *cause)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < fl->n; i++)
        if (fl->f[i].cohort == cohort && (cause == NULL || strcmp(fl->f[i].cause, cause) == 0))
            s += fl->f[i].points;
    return s;
}

static void assert_lots(const struct cohort_wallet *w, uint32_t n, const int32_t *months,
                        const int64_t *points)
{
    assert_int_equal(w->count, n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(w->lots[i].month, months[i]);
        assert_int_equal(w->lots[i].points, points[i]);
    }
}

static void credits_go_to_the_clock_month_and_debits_take_the_oldest(void **state)
{
    (void)state;
    struct cohort_wallet w;
    struct flows *fl = fresh(&w);
    assert_int_equal(change(&w, fl, M(2026, 1), 100, "purchase"), 0);
    assert_int_equal(change(&w, fl, M(2026, 2), 50, "bonus"), 0);
    assert_int_equal(change(&w, fl, M(2026, 2), 30, "purchase"), 0);
    assert_int_equal(change(&w, fl, M(2026, 3), 40, "purchase"), 0);
    assert_lots(&w, 3, (int32_t[]){M(2026, 1), M(2026, 2), M(2026, 3)},
                (int64_t[]){100, 80, 40});
    /* 130 out of 220: all of January, 30 of February. */
    assert_int_equal(change(&w, fl, M(2026, 3), -130, "redeem"), 0);
    assert_lots(&w, 2, (int32_t[]){M(2026, 2), M(2026, 3)}, (int64_t[]){50, 40});
    assert_int_equal(flow_sum(fl, M(2026, 1), "redeem"), -100);
    assert_int_equal(flow_sum(fl, M(2026, 2), "redeem"), -30);
    assert_int_equal(flow_sum(fl, M(2026, 3), "redeem"), 0);
    /* Each cohort's flows add up to what is left of it. */
    assert_int_equal(flow_sum(fl, M(2026, 1), NULL), 0);
    assert_int_equal(flow_sum(fl, M(2026, 2), NULL), 50);
    assert_int_equal(flow_sum(fl, M(2026, 3), NULL), 40);
    assert_int_equal(cohort_outstanding(&w), w.balance);
    cohort_free(&w);
}

static void expiry_removes_the_oldest_lots_whole(void **state)
{
    (void)state;
    struct cohort_wallet w;
    struct flows *fl = fresh(&w);
    change(&w, fl, M(2025, 11), 70, "purchase");
    change(&w, fl, M(2025, 12), 20, "purchase");
    change(&w, fl, M(2026, 2), 5, "purchase");
    /* The daemon expires November and December's lots together: 90. */
    assert_int_equal(change(&w, fl, M(2026, 3), -90, "expiry"), 0);
    assert_lots(&w, 1, (int32_t[]){M(2026, 2)}, (int64_t[]){5});
    assert_int_equal(flow_sum(fl, M(2025, 11), "expiry"), -70);
    assert_int_equal(flow_sum(fl, M(2025, 12), "expiry"), -20);
    cohort_free(&w);
}

static void a_refund_of_spent_points_is_debt_and_earning_repays_it_first(void **state)
{
    (void)state;
    struct cohort_wallet w;
    struct flows *fl = fresh(&w);
    change(&w, fl, M(2026, 1), 100, "purchase");
    change(&w, fl, M(2026, 1), -80, "redeem");
    /* shortfall = "negative": the refund of the sale takes 100, 20 are held. */
    assert_int_equal(change(&w, fl, M(2026, 2), -100, "refund"), 0);
    assert_int_equal(w.balance, -80);
    assert_int_equal(w.count, 0);
    assert_int_equal(flow_sum(fl, M(2026, 1), "refund"), -20);
    assert_int_equal(flow_sum(fl, COHORT_DEBT, NULL), 80);
    /* 50 earned repay 50 of the debt: no lot. */
    change(&w, fl, M(2026, 3), 50, "purchase");
    assert_int_equal(w.count, 0);
    assert_int_equal(flow_sum(fl, COHORT_DEBT, NULL), 30);
    /* 100 more: 30 repay the rest, 70 reach March's lot. */
    change(&w, fl, M(2026, 3), 100, "purchase");
    assert_lots(&w, 1, (int32_t[]){M(2026, 3)}, (int64_t[]){70});
    assert_int_equal(flow_sum(fl, COHORT_DEBT, NULL), 0);
    assert_int_equal(flow_sum(fl, M(2026, 3), "purchase"), 150);
    assert_int_equal(flow_sum(fl, M(2026, 3), COHORT_CAUSE_DEBT_REPAID), -80);
    assert_int_equal(flow_sum(fl, M(2026, 3), NULL), 70);
    cohort_free(&w);
}

static void a_forgiven_shortfall_leaves_no_debt(void **state)
{
    (void)state;
    struct cohort_wallet w;
    struct flows *fl = fresh(&w);
    change(&w, fl, M(2026, 1), 100, "purchase");
    change(&w, fl, M(2026, 1), -80, "redeem");
    /* shortfall = "forgive": the daemon debits only the 20 held. */
    assert_int_equal(change(&w, fl, M(2026, 2), -20, "refund"), 0);
    assert_int_equal(w.balance, 0);
    assert_int_equal(w.count, 0);
    assert_int_equal(flow_sum(fl, COHORT_DEBT, NULL), 0);
    cohort_free(&w);
}

static void history_the_ledger_never_saw_is_reconciled(void **state)
{
    (void)state;
    struct cohort_wallet w;
    struct flows *fl = fresh(&w);
    /* First event seen: the member already had 500. */
    struct cohort_change c = {M(2026, 4), 10, 510, "purchase"};
    assert_int_equal(cohort_apply(&w, &c, record, fl), 1);
    assert_lots(&w, 2, (int32_t[]){COHORT_OPENING, M(2026, 4)}, (int64_t[]){500, 10});
    assert_int_equal(flow_sum(fl, COHORT_OPENING, COHORT_CAUSE_OPENING), 500);
    /* The opening lot is the oldest: spent first. */
    change(&w, fl, M(2026, 4), -505, "redeem");
    assert_lots(&w, 1, (int32_t[]){M(2026, 4)}, (int64_t[]){5});
    /* A debit the ledger missed: it holds 5 where the event says 2 before. */
    c = (struct cohort_change){M(2026, 5), -2, 0, "redeem"};
    assert_int_equal(cohort_apply(&w, &c, record, fl), 1);
    assert_int_equal(w.count, 0);
    assert_int_equal(flow_sum(fl, M(2026, 4), COHORT_CAUSE_UNEXPLAINED), -3);
    /* A debt it missed: the event says -40 before. */
    c = (struct cohort_change){M(2026, 5), 10, -30, "purchase"};
    assert_int_equal(cohort_apply(&w, &c, record, fl), 1);
    assert_int_equal(flow_sum(fl, COHORT_DEBT, NULL), 30);
    assert_int_equal(w.count, 0);
    cohort_free(&w);
}

static void lots_stay_bounded_and_keep_their_sum(void **state)
{
    (void)state;
    struct cohort_wallet w;
    struct flows *fl = calloc(1, sizeof *fl);
    assert_non_null(fl);
    cohort_init(&w);
    int64_t total = 0;
    for (int32_t i = 0; i < COHORT_LOTS_MAX + 5; i++) {
        fl->n = 0;
        change(&w, fl, M(2000, 1) + i, i + 1, "purchase");
        total += i + 1;
        assert_true(w.count <= COHORT_LOTS_MAX);
        int64_t moved = 0;
        for (uint32_t k = 0; k < fl->n; k++)
            if (strcmp(fl->f[k].cause, COHORT_CAUSE_MERGED) == 0)
                moved += fl->f[k].points;
        assert_int_equal(moved, 0); /* a merge moves points, it makes none */
    }
    assert_int_equal(w.count, COHORT_LOTS_MAX);
    assert_int_equal(cohort_outstanding(&w), total);
    assert_int_equal(w.lots[w.count - 1].month, M(2000, 1) + COHORT_LOTS_MAX + 4);
    for (uint32_t i = 1; i < w.count; i++)
        assert_true(w.lots[i - 1].month < w.lots[i].month);
    cohort_free(&w);
    free(fl);
}

/* ---- the reference model: wallet.c's rule, by month, written apart ---- */

#define REF_MONTHS 64

struct ref {
    int64_t balance;
    int64_t lot[REF_MONTHS]; /* by month index from the walk's first month */
};

static void ref_credit(struct ref *r, int m, int64_t p)
{
    int64_t debt = r->balance < 0 ? -r->balance : 0;
    r->balance += p;
    if (p > debt)
        r->lot[m] += p - debt;
}

static void ref_debit(struct ref *r, int64_t p)
{
    int64_t left = r->balance > 0 ? (p < r->balance ? p : r->balance) : 0;
    for (int m = 0; m < REF_MONTHS && left > 0; m++) {
        int64_t take = r->lot[m] < left ? r->lot[m] : left;
        r->lot[m] -= take;
        left -= take;
    }
    r->balance -= p;
}

static void random_walks_match_the_reference_model(void **state)
{
    (void)state;
    uint64_t seed = 42;
    static struct flows fl;
    for (int walk = 0; walk < 200; walk++) {
        struct cohort_wallet w;
        struct ref ref = {0};
        memset(&fl, 0, sizeof fl);
        cohort_init(&w);
        int month = 0;
        for (int step = 0; step < 60; step++) {
            uint64_t roll = splitmix_next(&seed);
            if (roll % 5 == 0 && month + 1 < REF_MONTHS)
                month++;
            int64_t p = (int64_t)(splitmix_next(&seed) % 200) + 1;
            const char *cause = roll % 3 == 0 ? "redeem" : roll % 3 == 1 ? "refund" : "expiry";
            if (roll % 2 == 0) {
                ref_credit(&ref, month, p);
                assert_int_equal(change(&w, &fl, M(2020, 1) + month, p, "purchase"), 0);
            } else {
                ref_debit(&ref, p);
                assert_int_equal(change(&w, &fl, M(2020, 1) + month, -p, cause), 0);
            }
            assert_int_equal(w.balance, ref.balance);
            uint32_t k = 0;
            for (int m = 0; m < REF_MONTHS; m++) {
                if (ref.lot[m] == 0)
                    continue;
                assert_true(k < w.count);
                assert_int_equal(w.lots[k].month, M(2020, 1) + m);
                assert_int_equal(w.lots[k].points, ref.lot[m]);
                assert_int_equal(flow_sum(&fl, M(2020, 1) + m, NULL), ref.lot[m]);
                k++;
            }
            assert_int_equal(k, w.count);
            assert_int_equal(flow_sum(&fl, COHORT_DEBT, NULL),
                             ref.balance < 0 ? -ref.balance : 0);
        }
        cohort_free(&w);
    }
}

static void stored_lots_must_come_in_order(void **state)
{
    (void)state;
    struct cohort_wallet w;
    cohort_init(&w);
    assert_int_equal(cohort_load_lot(&w, M(2026, 1), 10), 0);
    assert_int_equal(cohort_load_lot(&w, M(2026, 3), 5), 0);
    assert_int_equal(cohort_load_lot(&w, M(2026, 2), 5), -1);
    assert_int_equal(cohort_load_lot(&w, M(2026, 3), 5), -1);
    assert_int_equal(cohort_load_lot(&w, M(2026, 4), 0), -1);
    assert_int_equal(cohort_load_lot(&w, M(2026, 4), INT64_MAX), -1);
    assert_int_equal(cohort_outstanding(&w), 15);
    cohort_free(&w);
}

static void months_are_utc_calendar_months(void **state)
{
    (void)state;
    char buf[COHORT_MONTH_STR_MAX];
    assert_int_equal(cohort_month_of(0), M(1970, 1));
    assert_int_equal(cohort_month_of(1780000000000LL), M(2026, 5)); /* 2026-05-28T20:26:40Z */
    assert_int_equal(cohort_month_of(1782863999999LL), M(2026, 6));  /* 2026-06-30T23:59:59.999Z */
    assert_int_equal(cohort_month_of(1782864000000LL), M(2026, 7));  /* 2026-07-01T00:00Z */
    assert_string_equal(cohort_month_str(M(2026, 5), buf, sizeof buf), "2026-05");
    assert_string_equal(cohort_month_str(M(1999, 12), buf, sizeof buf), "1999-12");
    assert_string_equal(cohort_month_str(COHORT_OPENING, buf, sizeof buf), "opening");
    assert_string_equal(cohort_month_str(COHORT_DEBT, buf, sizeof buf), "debt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credits_go_to_the_clock_month_and_debits_take_the_oldest),
        cmocka_unit_test(expiry_removes_the_oldest_lots_whole),
        cmocka_unit_test(a_refund_of_spent_points_is_debt_and_earning_repays_it_first),
        cmocka_unit_test(a_forgiven_shortfall_leaves_no_debt),
        cmocka_unit_test(history_the_ledger_never_saw_is_reconciled),
        cmocka_unit_test(lots_stay_bounded_and_keep_their_sum),
        cmocka_unit_test(random_walks_match_the_reference_model),
        cmocka_unit_test(stored_lots_must_come_in_order),
        cmocka_unit_test(months_are_utc_calendar_months),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
