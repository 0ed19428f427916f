/* test_extras.c - the sparse pool of member extras (extras.h, issue 16):
 * a record is taken on a member's first non-zero write and given back
 * when it is all zero again, so the pool holds only members using a rare
 * feature; handles are not state, so snapshots carry the values and a
 * loaded state equals the written one by value, writing the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "extras.h"
#include "pending.h"
#include "preview.h"
#include "progfx.h"
#include "snapfx.h"

static void a_record_is_taken_on_first_write_and_given_back_when_zero(void **unused)
{
    (void)unused;
    struct extras x;
    uint32_t a = 0, b = 0;
    assert_int_equal(extras_init(&x, 2), 0);
    assert_int_equal(extras_get(&x, a)->transfer_points, 0); /* none reads as zero */
    extras_edit(&x, &a)->transfer_points = 5;
    extras_edit(&x, &b)->manual_tier = 1;
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    assert_int_equal(x.live, 2);
    extras_settle(&x, &a); /* not zero: kept */
    assert_int_equal(a, 1);
    extras_edit(&x, &a)->transfer_points = 0;
    extras_settle(&x, &a);
    assert_int_equal(a, 0);
    assert_int_equal(x.live, 1);
    /* The freed record is taken again before the pool grows, zeroed. */
    uint32_t c = 0;
    struct member_extra *r = extras_edit(&x, &c);
    assert_int_equal(c, 1);
    assert_int_equal(x.high, 2);
    assert_true(extras_same(r, extras_get(&x, 0)));
    /* extras_put of zero values gives the record back; of others takes one. */
    static const struct member_extra zero;
    struct member_extra v = {.camp_times = {0, 3}};
    extras_put(&x, &c, &zero);
    assert_int_equal(c, 0);
    extras_put(&x, &c, &v);
    assert_int_equal(c, 1);
    assert_true(extras_same(extras_get(&x, c), &v));
    extras_free(&x);
}

#define RELEASE_TEXT                                                                       \
    "tiers = { qualify_on = \"release\"; " PROGFX_LEVELS "};\n"                           \
    "earning = { pending_days = 14; };\n"

static const struct member_extra *extra_of(struct progfx *f, const char *id)
{
    return members_extra(&f->st.members, progfx_member(f, id));
}

/* Qualification waiting for release lives in the extras; once released
 * the record goes back, so a program of members with nothing pending
 * holds no records at all. */
static void the_pool_is_sparse_again_after_a_pending_window_passes(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(RELEASE_TEXT, 8);
    progfx_enroll(f, progfx_noon(2027, 3, 1), "ann");
    progfx_enroll(f, progfx_noon(2027, 3, 1), "bob");
    progfx_buy(f, progfx_noon(2027, 3, 2), "ann", 60000);
    assert_int_not_equal(progfx_member(f, "ann")->extra, 0);
    assert_int_equal(progfx_member(f, "bob")->extra, 0);
    assert_int_equal(extra_of(f, "ann")->pend_qual[0], 600);
    assert_int_equal(pending_total(progfx_member(f, "ann")), 600);
    assert_int_equal(f->st.members.extras.live, 1);
    progfx_tick(f, progfx_midnight(2027, 4, 10)); /* past the release day */
    assert_int_equal(pending_total(progfx_member(f, "ann")), 0);
    assert_int_equal(progfx_member(f, "ann")->tier, 1); /* silver: it qualified on release */
    assert_int_equal(progfx_member(f, "ann")->extra, 0);
    assert_int_equal(f->st.members.extras.live, 0);
    progfx_free(f);
}

/* A previewed sale puts the extras back as they were: a record it took
 * (a member with nothing pending; an enrolment) goes back to the pool. */
static void a_preview_gives_back_the_records_it_took(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("tiers = { qualify_on = \"release\"; " PROGFX_LEVELS "};\n"
                                  "earning = { pending_days = 14; require_enrollment = false; };\n",
                                  8);
    static struct preview pv;
    struct preview_result res;
    preview_init(&pv);
    progfx_enroll(f, progfx_noon(2027, 3, 1), "ann");
    const char *who[] = {"ann", "new"};
    for (int i = 0; i < 2; i++) {
        progfx_entry(f, PROTO_PURCHASE, progfx_noon(2027, 3, 2), "p1", who[i]);
        strcpy(f->e.store, "s1");
        f->e.amount = 20000;
        preview_purchase(&pv, &f->st, &f->e, &res);
        assert_int_equal(res.verdict, PREVIEW_APPLIED);
        assert_int_equal(res.pending, 200); /* the preview held 200 (and their qual) */
        assert_int_equal(f->st.members.extras.live, 0);
        assert_int_equal(f->st.members.count, 1);
    }
    assert_int_equal(progfx_member(f, "ann")->extra, 0);
    assert_int_equal(members_find(&f->st.members, "new"), HINDEX_NONE); /* enrolment undone */
    preview_free(&pv);
    progfx_free(f);
}

/* A status floor takes a record and gives it back when it ends. */
static void a_status_floor_holds_a_record_until_it_ends(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new("", 8);
    progfx_enroll(f, progfx_noon(2027, 3, 1), "m");
    int64_t until = progfx_noon(2027, 4, 1);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 3, 2), "m", "gold", until),
                     OUTBOX_APPLIED);
    assert_int_equal(extra_of(f, "m")->manual_until_ts, until);
    assert_int_equal(f->st.members.extras.live, 1);
    progfx_tick(f, progfx_noon(2027, 4, 2));
    assert_int_equal(progfx_member(f, "m")->extra, 0);
    assert_int_equal(f->st.members.extras.live, 0);
    progfx_free(f);
}

/* Writes f's state and loads it into a fresh one (snapfx.h): the same
 * members by value and bytes, and as many records in use. */
static void round_trip(struct progfx *f)
{
    static struct state back;
    snapfx_round_trip(&f->st, &f->rb, &f->rb, 8, &back);
    assert_int_equal(back.members.extras.live, f->st.members.extras.live);
    state_free(&back);
}

static void snapshots_carry_extras_by_value_with_and_without_them(void **unused)
{
    (void)unused;
    struct progfx *f = progfx_new(RELEASE_TEXT, 8);
    progfx_enroll(f, progfx_noon(2027, 3, 1), "ann");
    progfx_enroll(f, progfx_noon(2027, 3, 1), "bob");
    progfx_enroll(f, progfx_noon(2027, 3, 1), "cy");
    round_trip(f); /* nobody has extras */
    assert_int_equal(f->st.members.extras.live, 0);
    progfx_buy(f, progfx_noon(2027, 3, 2), "cy", 10000); /* cy takes record 1 */
    progfx_buy(f, progfx_noon(2027, 3, 2), "ann", 20000); /* ann record 2 */
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 3, 3), "bob", "gold",
                                     progfx_noon(2027, 9, 1)),
                     OUTBOX_APPLIED);
    /* A loaded state takes records in member order (ann 1, bob 2, cy 3):
     * other handles, the same values and bytes. */
    round_trip(f);
    assert_int_equal(f->st.members.extras.live, 3);
    progfx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_record_is_taken_on_first_write_and_given_back_when_zero),
        cmocka_unit_test(the_pool_is_sparse_again_after_a_pending_window_passes),
        cmocka_unit_test(a_preview_gives_back_the_records_it_took),
        cmocka_unit_test(a_status_floor_holds_a_record_until_it_ends),
        cmocka_unit_test(snapshots_carry_extras_by_value_with_and_without_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
