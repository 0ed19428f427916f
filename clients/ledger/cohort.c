/* cohort.c - see cohort.h. */
#include "cohort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lyassert.h"

#define LOTS_FIRST_CAP 4 /* most members hold a few months of points */

void cohort_init(struct cohort_wallet *w)
{
    memset(w, 0, sizeof *w);
}

void cohort_free(struct cohort_wallet *w)
{
    free(w->lots);
    cohort_init(w);
}

/* Makes room for `n` lots (n <= COHORT_LOTS_MAX). */
static void reserve_for(struct cohort_wallet *w, uint32_t n)
{
    LY_ASSERT(n <= COHORT_LOTS_MAX);
    if (n <= w->cap)
        return;
    uint32_t cap = w->cap ? w->cap : LOTS_FIRST_CAP;
    while (cap < n)
        cap *= 2;
    if (cap > COHORT_LOTS_MAX)
        cap = COHORT_LOTS_MAX;
    struct cohort_lot *lots = realloc(w->lots, cap * sizeof *lots);
    LY_ALLOC_CHECK(lots != NULL);
    w->lots = lots;
    w->cap = cap;
}

/* Makes room for one more lot. */
static void reserve(struct cohort_wallet *w)
{
    reserve_for(w, w->count + 1);
}

void cohort_copy(struct cohort_wallet *dst, const struct cohort_wallet *src)
{
    dst->count = 0;
    reserve_for(dst, src->count);
    if (src->count > 0)
        memcpy(dst->lots, src->lots, src->count * sizeof *src->lots);
    dst->count = src->count;
    dst->balance = src->balance;
}

int cohort_load_lot(struct cohort_wallet *w, int32_t month, int64_t points)
{
    if (points <= 0 || w->count >= COHORT_LOTS_MAX ||
        (w->count > 0 && w->lots[w->count - 1].month >= month))
        return -1;
    int64_t sum;
    if (__builtin_add_overflow(cohort_outstanding(w), points, &sum))
        return -1;
    reserve(w);
    w->lots[w->count++] = (struct cohort_lot){month, points};
    return 0;
}

int64_t cohort_outstanding(const struct cohort_wallet *w)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < w->count; i++)
        sum += w->lots[i].points;
    return sum;
}

/* Merges the two oldest lots (the younger into the older) when the wallet
 * is full, so that a new lot fits. */
static void make_room(struct cohort_wallet *w, int32_t now, cohort_flow_fn fn, void *ctx)
{
    if (w->count < COHORT_LOTS_MAX)
        return;
    struct cohort_lot *a = &w->lots[0], *b = &w->lots[1];
    fn(ctx, b->month, now, COHORT_CAUSE_MERGED, -b->points);
    fn(ctx, a->month, now, COHORT_CAUSE_MERGED, b->points);
    a->points += b->points;
    memmove(&w->lots[1], &w->lots[2], (w->count - 2) * sizeof *w->lots);
    w->count--;
}

/* Where the lot of `month` is or would go: the first lot not older. */
static uint32_t lot_index(const struct cohort_wallet *w, int32_t month)
{
    uint32_t i = w->count;
    while (i > 0 && w->lots[i - 1].month >= month)
        i--;
    return i;
}

/* Adds `points` (> 0) to the lot of `month`, creating it in order. */
static void add_to_lot(struct cohort_wallet *w, int32_t month, int64_t points, int32_t now,
                       cohort_flow_fn fn, void *ctx)
{
    uint32_t i = lot_index(w, month);
    if (i < w->count && w->lots[i].month == month) {
        w->lots[i].points += points;
        return;
    }
    make_room(w, now, fn, ctx);
    i = lot_index(w, month); /* a merge moved the lots after the oldest */
    reserve(w);
    memmove(&w->lots[i + 1], &w->lots[i], (w->count - i) * sizeof *w->lots);
    w->lots[i] = (struct cohort_lot){month, points};
    w->count++;
}

/* Takes `points` (>= 0, at most the lots' sum) oldest first, each part a
 * flow of `cause` at month `now`. */
static void take_oldest(struct cohort_wallet *w, int64_t points, int32_t now, const char *cause,
                        cohort_flow_fn fn, void *ctx)
{
    uint32_t emptied = 0;
    while (points > 0) {
        LY_ASSERT(emptied < w->count);
        struct cohort_lot *l = &w->lots[emptied];
        int64_t take = l->points < points ? l->points : points;
        fn(ctx, l->month, now, cause, -take);
        l->points -= take;
        points -= take;
        if (l->points == 0)
            emptied++;
    }
    if (emptied == 0)
        return; /* (lots may still be NULL) */
    memmove(&w->lots[0], &w->lots[emptied], (w->count - emptied) * sizeof *w->lots);
    w->count -= emptied;
}

static int64_t debt_of(int64_t balance)
{
    return balance < 0 ? -balance : 0;
}

/* Brings the wallet in line with the balance an event says it had before
 * it: returns 1 when something had to be corrected, else 0. */
static uint32_t reconcile(struct cohort_wallet *w, int64_t before, int32_t now,
                          cohort_flow_fn fn, void *ctx)
{
    int64_t want = before > 0 ? before : 0;
    int64_t have = cohort_outstanding(w);
    int64_t debt_gap = debt_of(before) - debt_of(w->balance);
    if (have == want && debt_gap == 0)
        return 0;
    if (have < want) {
        fn(ctx, COHORT_OPENING, now, COHORT_CAUSE_OPENING, want - have);
        add_to_lot(w, COHORT_OPENING, want - have, now, fn, ctx);
    } else if (have > want) {
        take_oldest(w, have - want, now, COHORT_CAUSE_UNEXPLAINED, fn, ctx);
    }
    if (debt_gap != 0)
        fn(ctx, COHORT_DEBT, now, debt_gap > 0 ? COHORT_CAUSE_OPENING : COHORT_CAUSE_UNEXPLAINED,
           debt_gap);
    w->balance = before;
    return 1;
}

uint32_t cohort_apply(struct cohort_wallet *w, const struct cohort_change *c,
                      cohort_flow_fn fn, void *ctx)
{
    LY_ASSERT(c->delta != 0 && c->cause != NULL && c->month > COHORT_OPENING);
    int64_t before = c->balance - c->delta; /* the reader checked it does not overflow */
    uint32_t fixed = reconcile(w, before, c->month, fn, ctx);
    int64_t debt = debt_of(before);
    if (c->delta > 0) {
        int64_t repaid = c->delta < debt ? c->delta : debt;
        fn(ctx, c->month, c->month, c->cause, c->delta);
        if (repaid > 0) {
            fn(ctx, c->month, c->month, COHORT_CAUSE_DEBT_REPAID, -repaid);
            fn(ctx, COHORT_DEBT, c->month, COHORT_CAUSE_DEBT_REPAID, -repaid);
        }
        if (c->delta > repaid)
            add_to_lot(w, c->month, c->delta - repaid, c->month, fn, ctx);
    } else {
        int64_t debit = -c->delta;
        int64_t held = before > 0 ? before : 0;
        int64_t take = debit < held ? debit : held;
        take_oldest(w, take, c->month, c->cause, fn, ctx);
        if (debit > take)
            fn(ctx, COHORT_DEBT, c->month, c->cause, debit - take);
    }
    w->balance = c->balance;
    LY_ASSERT(cohort_outstanding(w) == (c->balance > 0 ? c->balance : 0));
    return fixed;
}

int32_t cohort_month_of(int64_t ts_ms)
{
    LY_ASSERT(ts_ms >= 0);
    time_t t = (time_t)(ts_ms / 1000);
    struct tm tm;
    struct tm *ok = gmtime_r(&t, &tm);
    LY_ASSERT(ok != NULL); /* any ts_ms >= 0 is a year far below INT_MAX */
    return (int32_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

const char *cohort_month_str(int32_t month, char *buf, size_t cap)
{
    LY_ASSERT(cap >= COHORT_MONTH_STR_MAX);
    if (month == COHORT_OPENING)
        snprintf(buf, cap, "opening");
    else if (month == COHORT_DEBT)
        snprintf(buf, cap, "debt");
    else
        snprintf(buf, cap, "%04d-%02d", (int)(month / 12) % 10000, (int)(month % 12) + 1);
    return buf;
}
