/* test_versions.c - rulebook versions applied by the core: a worked
 * example per migration rule (removed tier, lowered and raised thresholds,
 * rewards re-indexed by name, segments by name), a switch held until event
 * time reaches effective_ts, and a bad rules entry changing nothing.
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
#include "rulecanon.h"
#include "rules.h"
#include "wallet.h"

#define DAY CALTIME_DAY_MS
#define T0 (1700000000000LL) /* 2023-11-14 */

/* Tiers by qualifying points: member 0, silver 1000, gold 5000. */
static const char V1[] =
    "tiers = { levels = ( { name = \"member\"; threshold = 0; multiplier_bp = 10000; },\n"
    "  { name = \"silver\"; threshold = 1000; multiplier_bp = 10000; },\n"
    "  { name = \"gold\"; threshold = 5000; multiplier_bp = 10000; } ); };\n"
    "rewards = { catalog = ( { reward = \"mug\"; cost_points = 10; },\n"
    "  { reward = \"bag\"; cost_points = 20; } ); };\n"
    "segments = { map = ( { name = \"top\"; r = [5, 5]; }, { name = \"mid\"; r = [3, 5]; },\n"
    "  { name = \"rest\"; } ); };\n";

struct fx {
    struct state st;
    struct outbox ob;
    struct proto_entry e;
    uint64_t seq;
    struct rulebook rb[2]; /* texts the "shell" resolved */
    char hash[2][RULECANON_HASH_LEN + 1];
};

static void load(struct fx *f, int k, const char *text)
{
    struct config_error err = {{0}};
    if (rulecanon_parse(text, "test", &f->rb[k], &err) != 0)
        fail_msg("%s", err.text);
    assert_int_equal(rulecanon_hash(&f->rb[k], f->hash[k]), 0);
}

static struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    load(f, 0, V1);
    assert_int_equal(state_init(&f->st, &f->rb[0], 1000), 0);
    rules_outbox_init(&f->ob);
    return f;
}

static void fx_free(struct fx *f)
{
    outbox_free(&f->ob);
    state_free(&f->st);
    free(f);
}

static enum outbox_verdict apply(struct fx *f, const struct rules_text *rt)
{
    struct proto_id id = {1, ++f->seq};
    rules_apply(&f->st, id, &f->e, rt, &f->ob);
    return f->ob.verdict;
}

static void entry(struct fx *f, enum proto_kind k, int64_t ts, const char *member)
{
    memset(&f->e, 0, sizeof(f->e));
    f->e.kind = k;
    f->e.ts = ts;
    if (member != NULL) {
        snprintf(f->e.member, sizeof(f->e.member), "%s", member);
        snprintf(f->e.txn, sizeof(f->e.txn), "t%llu", (unsigned long long)f->seq + 1);
    }
}

static void enrol_and_buy(struct fx *f, const char *member, int64_t points, int64_t ts)
{
    entry(f, PROTO_ENROLL, ts, member);
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
    entry(f, PROTO_PURCHASE, ts, member);
    snprintf(f->e.store, sizeof(f->e.store), "s1");
    f->e.amount = points * 100; /* 1 point per currency unit */
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
}

/* Applies a rules entry naming rulebook k (resolved), effective at `eff`. */
static enum outbox_verdict push(struct fx *f, int k, int64_t ts, int64_t eff)
{
    entry(f, PROTO_RULES, ts, NULL);
    memcpy(f->e.hash, f->hash[k], sizeof(f->e.hash));
    snprintf(f->e.label, sizeof(f->e.label), "v%d", k);
    f->e.effective_ts = eff;
    struct rules_text rt = {&f->rb[k], NULL};
    return apply(f, &rt);
}

static const struct member *member(struct fx *f, const char *id)
{
    uint32_t pos = members_find(&f->st.members, id);
    assert_int_not_equal(pos, HINDEX_NONE);
    return members_at(&f->st.members, pos);
}

static const char *tier_of(struct fx *f, const char *id)
{
    return f->st.ver->now.tiers[member(f, id)->tier].name;
}

/* The tier.changed output about `id`, or NULL. */
static const struct proto_output *tier_event(struct fx *f, const char *id)
{
    for (uint32_t i = 0; i < f->ob.count; i++)
        if (f->ob.out[i].kind == PROTO_OUT_TIER_CHANGED && strcmp(f->ob.out[i].member, id) == 0)
            return &f->ob.out[i];
    return NULL;
}

/* silver removed (threshold 1000): its members go to the highest tier at
 * or below 1000 that remains, "basic" (threshold 500), not "member". */
static void removed_tier_goes_to_the_highest_tier_at_or_below_it(void **unused)
{
    (void)unused;
    struct fx *f = fx_new();
    enrol_and_buy(f, "a", 1200, T0);
    assert_string_equal(tier_of(f, "a"), "silver");
    load(f, 1, "tiers = { levels = ( { name = \"member\"; threshold = 0; multiplier_bp = 10000; },"
               "{ name = \"basic\"; threshold = 500; multiplier_bp = 10000; },"
               "{ name = \"gold\"; threshold = 5000; multiplier_bp = 10000; } ); };");
    assert_int_equal(push(f, 1, T0 + DAY, 0), OUTBOX_APPLIED);
    assert_int_equal(f->ob.out[0].kind, PROTO_OUT_RULES_CHANGED);
    assert_string_equal(f->ob.out[0].from, "");
    assert_string_equal(f->ob.out[0].to, f->hash[1]);
    assert_string_equal(f->ob.out[0].label, "v1");
    assert_string_equal(tier_of(f, "a"), "basic");
    const struct proto_output *o = tier_event(f, "a");
    assert_non_null(o);
    assert_string_equal(o->from, "silver");
    assert_string_equal(o->to, "basic");
    assert_string_equal(o->reason, "rules");
    assert_int_equal(f->st.g.tier_members[1], 1);
    assert_string_equal(versions_current(f->st.ver)->hash, f->hash[1]);
    fx_free(f);
}

/* gold lowered from 5000 to 1000: a member with 1200 moves up at once;
 * silver raised from 1000 to 2000: a member with 1200 keeps silver (the
 * review judges the shortfall, as for anyone). */
static void lower_thresholds_upgrade_at_once_higher_wait_for_review(void **unused)
{
    (void)unused;
    struct fx *f = fx_new();
    enrol_and_buy(f, "a", 1200, T0);
    load(f, 1, "tiers = { levels = ( { name = \"member\"; threshold = 0; multiplier_bp = 10000; },"
               "{ name = \"silver\"; threshold = 1000; multiplier_bp = 10000; },"
               "{ name = \"gold\"; threshold = 1100; multiplier_bp = 10000; } ); };");
    assert_int_equal(push(f, 1, T0 + DAY, 0), OUTBOX_APPLIED);
    assert_string_equal(tier_of(f, "a"), "gold");
    assert_string_equal(tier_event(f, "a")->reason, "rules");

    struct fx *g = fx_new();
    enrol_and_buy(g, "a", 1200, T0);
    load(g, 1, "tiers = { levels = ( { name = \"member\"; threshold = 0; multiplier_bp = 10000; },"
               "{ name = \"silver\"; threshold = 2000; multiplier_bp = 10000; } ); };");
    assert_int_equal(push(g, 1, T0 + DAY, 0), OUTBOX_APPLIED);
    assert_string_equal(tier_of(g, "a"), "silver");
    assert_null(tier_event(g, "a"));
    assert_int_equal(g->ob.count, 1); /* rules.changed only */
    fx_free(f);
    fx_free(g);
}

/* Held until event time reaches effective_ts; the first entry at or past
 * it switches before it is applied, and earns under the new version. */
static void a_scheduled_version_switches_when_event_time_reaches_it(void **unused)
{
    (void)unused;
    struct fx *f = fx_new();
    enrol_and_buy(f, "a", 10, T0);
    load(f, 1, "earning = { points_per_unit = 3; };");
    assert_int_equal(push(f, 1, T0 + DAY, T0 + 2 * DAY), OUTBOX_APPLIED);
    assert_int_equal(f->ob.count, 0);
    assert_true(f->st.ver->has_next);
    assert_string_equal(versions_current(f->st.ver)->hash, "");
    entry(f, PROTO_PURCHASE, T0 + 2 * DAY - 1, "a"); /* before: old rate */
    snprintf(f->e.store, sizeof(f->e.store), "s1");
    f->e.amount = 1000;
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
    assert_int_equal(member(f, "a")->balance, 20);
    entry(f, PROTO_PURCHASE, T0 + 2 * DAY, "a"); /* at: switch, then x3 */
    snprintf(f->e.store, sizeof(f->e.store), "s1");
    f->e.amount = 1000;
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
    assert_int_equal(f->ob.out[0].kind, PROTO_OUT_RULES_CHANGED);
    assert_int_equal(member(f, "a")->balance, 50);
    assert_false(f->st.ver->has_next);
    const struct rulebook_version *v = versions_current(f->st.ver);
    assert_string_equal(v->hash, f->hash[1]);
    assert_int_equal(v->since_ts, T0 + 2 * DAY);
    assert_int_equal(v->since_id.seq, f->seq);
    assert_int_equal(f->st.ver->count, 2);
    fx_free(f);
}

static void a_rules_entry_without_its_text_is_bad_rulebook_and_changes_nothing(void **unused)
{
    (void)unused;
    struct fx *f = fx_new();
    enrol_and_buy(f, "a", 1200, T0);
    entry(f, PROTO_RULES, T0 + DAY, NULL);
    memset(f->e.hash, 'a', PROTO_HASH_LEN);
    struct rules_text rt = {NULL, "the text hashes to 0123, not aaaa"};
    assert_int_equal(apply(f, &rt), OUTBOX_REJECTED);
    assert_string_equal(f->ob.reject.code, "bad_rulebook");
    assert_non_null(strstr(f->ob.reject.detail, "hashes to"));
    assert_int_equal(f->ob.count, 0);
    assert_int_equal(apply(f, NULL) == OUTBOX_REJECTED, 1); /* not found at all */
    assert_non_null(strstr(f->ob.reject.detail, "not found"));
    assert_string_equal(versions_current(f->st.ver)->hash, "");
    assert_string_equal(tier_of(f, "a"), "silver");
    /* Over the daemon's expiry_months_max (the lots per member, 24 here):
     * refused, not half applied. */
    load(f, 1, "expiry = { months = 30; };");
    assert_int_equal(push(f, 1, T0 + DAY, 0), OUTBOX_REJECTED);
    assert_non_null(strstr(f->ob.reject.detail, "expiry_months_max"));
    assert_string_equal(versions_current(f->st.ver)->hash, "");
    fx_free(f);
}

static void buy(struct fx *f, const char *member, int64_t points, int64_t ts)
{
    entry(f, PROTO_PURCHASE, ts, member);
    snprintf(f->e.store, sizeof(f->e.store), "s1");
    f->e.amount = points * 100;
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
}

/* The month index of calendar month `y`-`mo`. */
static int32_t month_of(int y, int mo)
{
    return caltime_month(caltime_ts((struct caltime_date){y, mo, 1}));
}

/* expiry.months changes: points already earned keep the month they expire
 * in; only points earned after the switch follow the new value. Turning
 * expiry on dates the balance from the switch; turning it off drops the
 * lots (nothing expires). */
static void a_new_expiry_dates_only_what_is_earned_from_then_on(void **unused)
{
    (void)unused;
    struct fx *f = fx_new(); /* V1: no expiry */
    const struct members *ms = &f->st.members;
    enrol_and_buy(f, "a", 10, T0); /* 2023-11-14 */
    uint32_t a = members_find(ms, "a");
    assert_int_equal(wallet_next_expiry(ms, a), INT64_MAX);
    load(f, 1, "expiry = { months = 6; };"); /* on: the 10 expire 2024-06-01 */
    assert_int_equal(push(f, 1, T0, 0), OUTBOX_APPLIED);
    assert_int_equal(wallet_next_expiry(ms, a), caltime_month_start(month_of(2024, 6)));
    buy(f, "a", 20, T0 + DAY); /* November: June too */
    load(f, 1, "expiry = { months = 12; };");
    assert_int_equal(push(f, 1, T0 + DAY, 0), OUTBOX_APPLIED);
    buy(f, "a", 5, T0 + 40 * DAY); /* December 2023 under 12 months: 2025-01-01 */
    assert_int_equal(wallet_next_expiry(ms, a), caltime_month_start(month_of(2024, 6)));
    int64_t july = caltime_month_start(month_of(2024, 7));
    assert_int_equal(wallet_expiring(ms, a, july), 30);
    assert_int_equal(wallet_expiring(ms, a, caltime_month_start(month_of(2025, 2))), 35);
    entry(f, PROTO_TICK, caltime_month_start(month_of(2024, 6)), NULL);
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
    assert_int_equal(f->ob.out[0].kind, PROTO_OUT_POINTS_EXPIRED);
    assert_int_equal(f->ob.out[0].points, 30);
    assert_int_equal(member(f, "a")->balance, 5);
    assert_int_equal(wallet_next_expiry(ms, a), caltime_month_start(month_of(2025, 1)));
    load(f, 1, "expiry = { months = 0; };"); /* off: nothing expires any more */
    assert_int_equal(push(f, 1, july, 0), OUTBOX_APPLIED);
    assert_int_equal(wallet_next_expiry(ms, a), INT64_MAX);
    assert_int_equal(member(f, "a")->balance, 5);
    fx_free(f);
}

/* The catalog reordered and "mug" renamed "cup": bag's redemption count
 * moves with its name, mug's is dropped, cup starts at zero. */
static void reward_counters_move_with_their_names(void **unused)
{
    (void)unused;
    struct fx *f = fx_new();
    f->st.g.catalog_issued[0] = 3; /* mug */
    f->st.g.catalog_issued[1] = 7; /* bag */
    load(f, 1, "rewards = { catalog = ( { reward = \"bag\"; cost_points = 20; },"
               "{ reward = \"cup\"; cost_points = 10; } ); };");
    assert_int_equal(push(f, 1, T0, 0), OUTBOX_APPLIED);
    assert_int_equal(f->st.g.catalog_issued[0], 7);
    assert_int_equal(f->st.g.catalog_issued[1], 0);
    fx_free(f);
}

/* Segments by name: "mid" kept (new index), "top" removed -> the last
 * segment; everyone is due for reclassification at the clock. */
static void segments_move_by_name_and_are_reclassified_on_the_next_tick(void **unused)
{
    (void)unused;
    struct fx *f = fx_new();
    enrol_and_buy(f, "a", 10, T0);
    enrol_and_buy(f, "b", 10, T0);
    uint32_t a = members_find(&f->st.members, "a"), b = members_find(&f->st.members, "b");
    members_at(&f->st.members, a)->segment = 0; /* top */
    members_at(&f->st.members, b)->segment = 1; /* mid */
    load(f, 1, "segments = { map = ( { name = \"new\"; r = [4, 5]; }, { name = \"x\"; r = [2, 5]; },"
               "{ name = \"mid\"; r = [3, 5]; }, { name = \"all\"; } ); };");
    assert_int_equal(push(f, 1, T0 + DAY, 0), OUTBOX_APPLIED);
    assert_string_equal(f->st.ver->now.seg.segments[member(f, "a")->segment].name, "all");
    assert_string_equal(f->st.ver->now.seg.segments[member(f, "b")->segment].name, "mid");
    assert_int_equal(f->st.g.segment_members[2], 1);
    assert_int_equal(f->st.g.segment_members[3], 1);
    /* Due at the engine clock: a rules entry does not move it (rules.h). */
    assert_int_equal(f->st.clock_ms, T0);
    assert_int_equal(member(f, "a")->seg_due_ts, T0);
    entry(f, PROTO_TICK, T0 + DAY, NULL);
    assert_int_equal(apply(f, NULL), OUTBOX_APPLIED);
    assert_true(member(f, "a")->seg_due_ts > T0 + DAY); /* refreshed */
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(removed_tier_goes_to_the_highest_tier_at_or_below_it),
        cmocka_unit_test(lower_thresholds_upgrade_at_once_higher_wait_for_review),
        cmocka_unit_test(a_scheduled_version_switches_when_event_time_reaches_it),
        cmocka_unit_test(a_rules_entry_without_its_text_is_bad_rulebook_and_changes_nothing),
        cmocka_unit_test(reward_counters_move_with_their_names),
        cmocka_unit_test(segments_move_by_name_and_are_reclassified_on_the_next_tick),
        cmocka_unit_test(a_new_expiry_dates_only_what_is_earned_from_then_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
