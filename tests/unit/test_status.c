/* test_status.c - tier modes and manual status (status.h, tiers.h):
 * lifetime tiers (downgrade = "never"), set_tier with and without an end,
 * its floor through a review, its end (manual_end) under either mode, and
 * what set_tier rejects.
 *
 * Rulebook (progfx.h): blue 0, silver 500, gold 2000 points over 12
 * months, 1 point per 1.00, reviews on the enrolment anniversary, one
 * level per review. Members enrol on 2027-01-05 (first review
 * 2028-01-05).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "progfx.h"

#define NEVER_TEXT "tiers = { downgrade = \"never\"; " PROGFX_LEVELS "};\n"

static const char *tier_of(struct progfx *f, const char *id)
{
    return f->st.ver->now.tiers[progfx_member(f, id)->tier].name;
}

/* The last entry moved `id` from `from` to `to` for `reason`, once. */
static void expect_move(struct progfx *f, const char *id, const char *from, const char *to,
                        const char *reason)
{
    assert_int_equal(progfx_count(f, PROTO_OUT_TIER_CHANGED), 1);
    const struct proto_output *o = progfx_out(f, PROTO_OUT_TIER_CHANGED, 0);
    assert_string_equal(o->member, id);
    assert_string_equal(o->from, from);
    assert_string_equal(o->to, to);
    assert_string_equal(o->reason, reason);
}

/* A member who buys `amount` on 2027-01-10, enrolled 2027-01-05. */
static struct progfx *member_who_bought(const char *text, int64_t amount)
{
    struct progfx *f = progfx_new(text, 4);
    progfx_enroll(f, progfx_noon(2027, 1, 5), "m");
    progfx_buy(f, progfx_noon(2027, 1, 10), "m", amount);
    return f;
}

/* Gold in January 2027, nothing bought since: the reviews of 2028 and
 * 2029 take it down a level each, unless tiers are for life. */
static void lifetime_tiers_survive_every_review(void **unused)
{
    (void)unused;
    struct progfx *f = member_who_bought("", 200000);
    assert_string_equal(tier_of(f, "m"), "gold");
    progfx_tick(f, progfx_noon(2028, 1, 5));
    expect_move(f, "m", "gold", "silver", "review");
    progfx_tick(f, progfx_noon(2029, 1, 5));
    expect_move(f, "m", "silver", "blue", "review");
    progfx_free(f);

    f = member_who_bought(NEVER_TEXT, 200000);
    for (int32_t y = 2028; y <= 2031; y++) {
        progfx_tick(f, progfx_noon(y, 1, 5));
        assert_int_equal(progfx_count(f, PROTO_OUT_TIER_CHANGED), 0);
    }
    assert_string_equal(tier_of(f, "m"), "gold");
    assert_int_equal(progfx_member(f, "m")->next_review_ts, progfx_midnight(2032, 1, 5));
    progfx_free(f);
}

/* Silver (600) matched to gold until 2027-07-01: back to silver then. */
static void a_status_match_ends_at_until_ts_with_manual_end(void **unused)
{
    (void)unused;
    struct progfx *f = member_who_bought("", 60000);
    int64_t until = progfx_midnight(2027, 7, 1);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 1), "m", "gold", until),
                     OUTBOX_APPLIED);
    expect_move(f, "m", "silver", "gold", "manual");
    assert_int_equal(
        members_extra(&f->st.members, progfx_member(f, "m"))->manual_until_ts, until);
    assert_int_equal(progfx_member(f, "m")->sched_ts, until);
    progfx_tick(f, until - 1);
    assert_int_equal(progfx_count(f, PROTO_OUT_TIER_CHANGED), 0);
    progfx_tick(f, until);
    expect_move(f, "m", "gold", "silver", "manual_end");
    assert_int_equal(members_extra(&f->st.members, progfx_member(f, "m"))->manual_until_ts, 0);
    progfx_free(f);
}

/* The review of 2028-01-05 finds nothing in the window but the floor
 * holds gold; when it ends on 2028-03-01 the member drops to blue. */
static void the_floor_holds_through_a_review_and_then_qualification_applies(void **unused)
{
    (void)unused;
    struct progfx *f = member_who_bought("", 60000);
    int64_t until = progfx_midnight(2028, 3, 1);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 12, 1), "m", "gold", until),
                     OUTBOX_APPLIED);
    progfx_tick(f, progfx_noon(2028, 1, 5));
    assert_int_equal(progfx_count(f, PROTO_OUT_TIER_CHANGED), 0);
    assert_string_equal(tier_of(f, "m"), "gold");
    progfx_tick(f, until);
    expect_move(f, "m", "gold", "blue", "manual_end");
    progfx_free(f);
}

/* With lifetime tiers the end of a match falls back to the tier the member
 * qualified for themselves (silver), not to an empty window (blue). */
static void with_lifetime_tiers_the_end_falls_back_to_the_earned_tier(void **unused)
{
    (void)unused;
    struct progfx *f = member_who_bought(NEVER_TEXT, 60000);
    assert_int_equal(progfx_member(f, "m")->earned_tier, 1);
    int64_t until = progfx_midnight(2028, 3, 1);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 12, 1), "m", "gold", until),
                     OUTBOX_APPLIED);
    progfx_tick(f, until);
    expect_move(f, "m", "gold", "silver", "manual_end");
    progfx_free(f);
}

/* A blue member held at silver qualifies for gold meanwhile: upgraded as
 * usual, and the end of the floor changes nothing. */
static void upgrades_go_on_during_a_floor(void **unused)
{
    (void)unused;
    struct progfx *f = member_who_bought("", 100);
    int64_t until = progfx_midnight(2027, 7, 1);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 1), "m", "silver", until),
                     OUTBOX_APPLIED);
    progfx_buy(f, progfx_noon(2027, 3, 1), "m", 200000);
    expect_move(f, "m", "silver", "gold", "upgrade");
    progfx_tick(f, until);
    assert_int_equal(progfx_count(f, PROTO_OUT_TIER_CHANGED), 0);
    assert_string_equal(tier_of(f, "m"), "gold");
    progfx_free(f);
}

/* Without until_ts a set_tier is a plain move (down too), no floor, and
 * it replaces a floor set before. */
static void set_tier_without_until_is_a_plain_move_that_replaces_a_floor(void **unused)
{
    (void)unused;
    struct progfx *f = member_who_bought("", 60000);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 1), "m", "gold",
                                     progfx_midnight(2027, 9, 1)),
                     OUTBOX_APPLIED);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 2), "m", "blue", 0),
                     OUTBOX_APPLIED);
    expect_move(f, "m", "gold", "blue", "manual");
    assert_int_equal(members_extra(&f->st.members, progfx_member(f, "m"))->manual_until_ts, 0);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 3), "m", "blue", 0),
                     OUTBOX_APPLIED);
    assert_int_equal(f->ob.count, 0); /* already there */
    progfx_buy(f, progfx_noon(2027, 2, 4), "m", 100); /* the window still qualifies */
    expect_move(f, "m", "blue", "silver", "upgrade");
    progfx_tick(f, progfx_midnight(2027, 9, 1));
    assert_int_equal(progfx_count(f, PROTO_OUT_TIER_CHANGED), 0);
    progfx_free(f);
}

static void set_tier_rejects_unknown_tiers_and_members_and_retries_change_nothing(void **u)
{
    (void)u;
    struct progfx *f = member_who_bought("", 60000);
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 1), "m", "platinum", 0),
                     OUTBOX_REJECTED);
    assert_string_equal(f->ob.reject.code, "unknown_tier");
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 1), "nobody", "gold", 0),
                     OUTBOX_REJECTED);
    assert_string_equal(f->ob.reject.code, "unknown_member");
    assert_string_equal(tier_of(f, "m"), "silver");
    assert_int_equal(progfx_set_tier(f, progfx_noon(2027, 2, 1), "m", "gold", 0),
                     OUTBOX_APPLIED);
    char txn[sizeof(f->e.txn)];
    strcpy(txn, f->e.txn);
    /* A retry (same content, stamped anew) is a duplicate... */
    progfx_entry(f, PROTO_SET_TIER, progfx_noon(2027, 2, 2), txn, "m");
    strcpy(f->e.tier, "gold");
    strcpy(f->e.reason, "status match");
    assert_int_equal(progfx_apply(f), OUTBOX_DUPLICATE);
    assert_int_equal(f->ob.count, 0);
    /* ...the txn reused for another tier is txn_conflict (retry.h). */
    progfx_entry(f, PROTO_SET_TIER, progfx_noon(2027, 2, 2), txn, "m");
    strcpy(f->e.tier, "blue");
    strcpy(f->e.reason, "again");
    assert_int_equal(progfx_apply(f), OUTBOX_REJECTED);
    assert_string_equal(f->ob.reject.code, "txn_conflict");
    assert_non_null(strstr(f->ob.reject.detail, "tier, until_ts or reason"));
    assert_int_equal(f->ob.count, 0);
    assert_string_equal(tier_of(f, "m"), "gold");
    progfx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifetime_tiers_survive_every_review),
        cmocka_unit_test(a_status_match_ends_at_until_ts_with_manual_end),
        cmocka_unit_test(the_floor_holds_through_a_review_and_then_qualification_applies),
        cmocka_unit_test(with_lifetime_tiers_the_end_falls_back_to_the_earned_tier),
        cmocka_unit_test(upgrades_go_on_during_a_floor),
        cmocka_unit_test(set_tier_without_until_is_a_plain_move_that_replaces_a_floor),
        cmocka_unit_test(
            set_tier_rejects_unknown_tiers_and_members_and_retries_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
