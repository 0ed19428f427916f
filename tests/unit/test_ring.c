/* test_ring.c - the ring of monthly expiry lots as wide as the rulebooks
 * in force need (members.h ring_per, wallet_fit; issue 16): a longer
 * expiry widens every member's ring keeping each lot in its month, and no
 * output or value depends on the width: a state whose ring starts at its
 * widest (expiry_months_max + 1) answers every entry the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "progfx.h"
#include "snapfx.h"
#include "wallet.h"

#define MONTHS_TEXT(n) "expiry = { mode = \"months\"; months = " #n "; };\n"
#define MEMBERS 6

static void the_ring_is_as_wide_as_the_rulebook_needs(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(MONTHS_TEXT(3), 4);
    assert_int_equal(f->st.members.lots_per, 25); /* expiry_months_max 24 */
    assert_int_equal(f->st.members.ring_per, 4);
    progfx_free(f);
}

/* Switches f to the rulebook of `text` at `ts`. */
static void switch_rules(struct progfx *f, int64_t ts, const char *text, int n)
{
    static struct rulebook next;
    progfx_parse(text, &next);
    next.txns_max = f->rb.txns_max;
    progfx_entry(f, PROTO_RULES, ts, NULL, NULL);
    snprintf(f->e.hash, sizeof(f->e.hash), "%032x", n + 1);
    struct rules_text rt = {&next, NULL};
    rules_apply(&f->st, (struct proto_id){1, ++f->seq}, &f->e, &rt, &f->ob);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
}

/* The outputs of the last entry of a and b are the same. */
static void same_outputs(const struct progfx *a, const struct progfx *b)
{
    assert_int_equal(a->ob.verdict, b->ob.verdict);
    assert_int_equal(a->ob.count, b->ob.count);
    for (uint32_t i = 0; i < a->ob.count; i++) {
        const struct proto_output *x = &a->ob.out[i], *y = &b->ob.out[i];
        assert_int_equal(x->kind, y->kind);
        assert_string_equal(x->member, y->member);
        assert_int_equal(x->points, y->points);
        assert_int_equal(x->balance, y->balance);
        assert_int_equal(x->expire_ts, y->expire_ts);
    }
}

static void same_members(const struct progfx *a, const struct progfx *b)
{
    assert_int_equal(a->st.members.count, b->st.members.count);
    for (uint32_t p = 0; p < a->st.members.count; p++)
        assert_true(members_same(&a->st.members, p, &b->st.members, p));
}

/* Four years of sales under expiry.months 3, then 12, 6 and 24: the
 * narrow ring widens at each longer version and every answer matches a
 * state whose ring was at its widest all along. */
static void a_longer_expiry_widens_the_ring_and_changes_no_answer(void **unused)
{
    (void)unused;
    struct progfx *f[2] = {progfx_new(MONTHS_TEXT(3), MEMBERS),
                           progfx_new(MONTHS_TEXT(3), MEMBERS)};
    members_ring_resize(&f[1]->st.members, f[1]->st.members.lots_per);
    static const char *const texts[] = {MONTHS_TEXT(12), MONTHS_TEXT(6), MONTHS_TEXT(24)};
    static const uint32_t widths[] = {13, 13, 25}; /* never narrower */
    char id[MEMBERS][8];
    for (int i = 0; i < 2; i++)
        for (int m = 0; m < MEMBERS; m++) {
            snprintf(id[m], sizeof(id[m]), "m%d", m);
            progfx_enroll(f[i], progfx_noon(2026, 1, 1), id[m]);
        }
    uint64_t rng = 7;
    for (int month = 0; month < 48; month++) {
        int32_t year = 2026 + month / 12;
        uint8_t mo = (uint8_t)(month % 12 + 1);
        for (int i = 0; i < 2 && month % 12 == 11; i++) /* each December, a longer expiry */
            switch_rules(f[i], progfx_noon(year, 12, 1), texts[month / 12 % 3], month);
        if (month % 12 == 11 && month / 12 < 3)
            assert_int_equal(f[0]->st.members.ring_per, widths[month / 12]);
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        int m = (int)(rng >> 33) % MEMBERS;
        for (int i = 0; i < 2; i++) {
            progfx_buy(f[i], progfx_noon(year, mo, 10), id[m], 1000 + 100 * month);
            progfx_tick(f[i], progfx_noon(year, mo, 20));
        }
        same_outputs(f[0], f[1]);
        same_members(f[0], f[1]);
    }
    int64_t expired = 0; /* the lots did expire along the way */
    for (int m = 0; m < MEMBERS; m++)
        expired += f[0]->st.members.v[m].lifetime_points - f[0]->st.members.v[m].balance;
    assert_true(expired > 0);
    progfx_free(f[0]);
    progfx_free(f[1]);
}

/* A loaded state's ring is as wide as its version in force and its lots
 * need (narrower than the live one's, which never narrows); the same
 * members by value, the same snapshot bytes written back. */
static void a_loaded_ring_fits_its_lots_and_writes_the_same_bytes(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(MONTHS_TEXT(12), 4);
    progfx_enroll(f, progfx_noon(2027, 1, 1), "a");
    progfx_enroll(f, progfx_noon(2027, 1, 1), "b");
    progfx_buy(f, progfx_noon(2027, 1, 2), "a", 5000); /* a lot of 2028-02 */
    switch_rules(f, progfx_noon(2027, 2, 1), MONTHS_TEXT(2), 1);
    progfx_buy(f, progfx_noon(2027, 2, 2), "b", 3000); /* a lot of 2027-05 */
    assert_int_equal(f->st.members.ring_per, 13);
    static struct rulebook narrow; /* a state made for 2 months: a ring of 3 */
    progfx_parse(MONTHS_TEXT(2), &narrow);
    static struct state back, probe;
    assert_int_equal(state_init(&probe, &narrow, 4), 0);
    assert_int_equal(probe.members.ring_per, 3);
    state_free(&probe);
    snapfx_round_trip(&f->st, &f->rb, &narrow, 4, &back);
    assert_int_equal(back.members.ring_per, 13); /* a's lot is 13 months ahead */
    state_free(&back);
    progfx_free(f);
}

/* wallet_lot_after_next(after) answers as wallet_lot_after(after) and
 * wallet_next_expiry together, for every `after` around the member's lots
 * (before the soonest, on a told one, past the last), as months pass and
 * lots expire, in the ring (12 months) and keyed by day (90 days). */
static void lot_after_next_answers_as_lot_after_and_next_expiry(void **unused)
{
    (void)unused;
    static const char *const texts[] = {
        MONTHS_TEXT(12), "expiry = { mode = \"days\"; days = 90; };\n"};
    for (int t = 0; t < 2; t++) {
        struct progfx *f = progfx_new(texts[t], 4);
        progfx_enroll(f, progfx_noon(2027, 1, 1), "a");
        uint32_t lots_seen = 0;
        for (int month = 0; month < 30; month++) {
            int32_t year = 2027 + month / 12;
            uint8_t mo = (uint8_t)(month % 12 + 1);
            if (month % 3 != 2) /* a month without a sale now and then */
                progfx_buy(f, progfx_noon(year, mo, 5 + month % 7), "a", 1000 + 100 * month);
            progfx_tick(f, progfx_noon(year, mo, 25));
            const struct members *ms = &f->st.members;
            int32_t base = t == 0 ? ms->v[0].lots_month : (int32_t)caltime_day(f->st.clock_ms);
            int32_t span = t == 0 ? (int32_t)ms->ring_per : 120;
            for (int32_t after = base - 2; after <= base + span + 1; after++) {
                int32_t m1 = -1, m2 = -1;
                int64_t p1 = -1, p2 = -1, x1 = -1, x2 = -1, next = -1;
                bool a = wallet_lot_after(ms, 0, after, &m1, &p1, &x1);
                bool b = wallet_lot_after_next(ms, 0, after, &m2, &p2, &x2, &next);
                assert_int_equal(a, b);
                assert_int_equal(next, wallet_next_expiry(ms, 0));
                if (a) {
                    assert_int_equal(m1, m2);
                    assert_int_equal(p1, p2);
                    assert_int_equal(x1, x2);
                    lots_seen++;
                }
            }
        }
        assert_true(lots_seen > 100);
        assert_true(f->st.members.v[0].lifetime_points > f->st.members.v[0].balance); /* expired */
        progfx_free(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_ring_is_as_wide_as_the_rulebook_needs),
        cmocka_unit_test(a_longer_expiry_widens_the_ring_and_changes_no_answer),
        cmocka_unit_test(a_loaded_ring_fits_its_lots_and_writes_the_same_bytes),
        cmocka_unit_test(lot_after_next_answers_as_lot_after_and_next_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
