/* test_preview.c - a previewed sale produces exactly what the real sale
 * then produces (campaigns, caps, tier upgrades, first-purchase, birthday
 * and referral bonuses, held as pending points and released, milestones,
 * new members, retries, rejections),
 * and leaves the state byte for byte as it was, after one preview and
 * after 10,000. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "config.h"
#include "pending.h"
#include "preview.h"
#include "rulecanon.h"
#include "rules.h"
#include "snapshot.h"
#include "splitmix.h"
#include "wallet.h"

struct fixture {
    struct config cfg;
    struct state st;
    struct outbox ob;
    struct preview pv;
    struct proto_id id;
    uint32_t txn;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct config_error err;
    config_defaults(&f->cfg);
    if (config_load(&f->cfg, LOYALTY_CONF_DIR "/loyaltyd.conf", &err) != 0)
        fail_msg("%s", err.text);
    f->cfg.rules.txns_max = 5000;
    assert_int_equal(state_init(&f->st, &f->cfg.rules, 1000), 0);
    rules_outbox_init(&f->ob);
    preview_init(&f->pv);
    f->id = (struct proto_id){1, 0};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    preview_free(&f->pv);
    outbox_free(&f->ob);
    state_free(&f->st);
    free(f);
    return 0;
}

static int64_t at(int y, int mo, int d, int h)
{
    return caltime_ts((struct caltime_date){y, (uint8_t)mo, (uint8_t)d}) + h * 3600000LL;
}

static void apply(struct fixture *f, const struct proto_entry *e)
{
    f->id.seq++;
    rules_apply(&f->st, f->id, e, NULL, &f->ob);
}

static void enroll(struct fixture *f, const char *member, const char *referrer, int64_t ts,
                   uint8_t bmonth)
{
    struct proto_entry e = {.kind = PROTO_ENROLL, .ts = ts, .birthday_month = bmonth,
                            .birthday_day = bmonth ? 10 : 0};
    snprintf(e.txn, sizeof(e.txn), "enroll-%s", member);
    snprintf(e.member, sizeof(e.member), "%s", member);
    snprintf(e.referrer, sizeof(e.referrer), "%s", referrer ? referrer : "");
    apply(f, &e);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
}

static struct proto_entry sale(struct fixture *f, const char *member, const char *store,
                               int64_t amount, int64_t ts)
{
    struct proto_entry e = {.kind = PROTO_PURCHASE, .ts = ts, .amount = amount};
    snprintf(e.txn, sizeof(e.txn), "sale-%u", ++f->txn);
    snprintf(e.member, sizeof(e.member), "%s", member);
    snprintf(e.store, sizeof(e.store), "%s", store);
    return e;
}

static void encode(const struct fixture *f, char **buf, size_t *len)
{
    assert_int_equal(snapshot_encode(&f->st, rulecanon_codec(), buf, len), 0);
}

/* Previews `e`, checks nothing changed, applies it for real and checks
 * that the outputs and the member's figures are the preview's. */
static enum preview_verdict preview_then_apply(struct fixture *f, const struct proto_entry *e)
{
    static struct proto_output previewed[OUTBOX_ENTRY_OUTPUTS_MAX];
    struct preview_result res;
    char *before, *after;
    size_t nb, na;
    encode(f, &before, &nb);
    preview_purchase(&f->pv, &f->st, e, &res);
    encode(f, &after, &na);
    assert_int_equal(nb, na);
    assert_memory_equal(before, after, nb); /* the preview changed nothing */
    free(before);
    free(after);
    uint32_t n = f->pv.ob.count;
    memcpy(previewed, f->pv.ob.out, n * sizeof(previewed[0]));
    apply(f, e);
    enum outbox_verdict want = res.verdict == PREVIEW_APPLIED     ? OUTBOX_APPLIED
                               : res.verdict == PREVIEW_DUPLICATE ? OUTBOX_DUPLICATE
                                                                  : OUTBOX_REJECTED;
    assert_int_equal(f->ob.verdict, want);
    if (want == OUTBOX_REJECTED)
        assert_string_equal(f->pv.ob.reject.code, f->ob.reject.code);
    assert_int_equal(f->ob.count, n);
    for (uint32_t i = 0; i < n; i++) /* zeroed by outbox_emit: bytes compare */
        assert_memory_equal(&previewed[i], &f->ob.out[i], sizeof(previewed[i]));
    uint32_t pos = members_find(&f->st.members, e->member);
    if (res.verdict == PREVIEW_APPLIED) {
        const struct member *m = members_at(&f->st.members, pos);
        assert_int_equal(res.balance, m->balance);
        assert_int_equal(res.pending, pending_total(m));
        assert_int_equal(res.tier, m->tier);
        assert_int_equal(res.lifetime_points, m->lifetime_points);
        assert_int_equal(res.purchases, m->purchases);
    }
    return res.verdict;
}

static bool has_output(const struct outbox *ob, enum proto_out_kind kind, const char *member,
                       enum proto_cause cause)
{
    for (uint32_t i = 0; i < ob->count; i++)
        if (ob->out[i].kind == kind && strcmp(ob->out[i].member, member) == 0 &&
            (kind != PROTO_OUT_POINTS_CHANGED || ob->out[i].cause == cause))
            return true;
    return false;
}

/* The points a points.pending output of `member` holds (the shipped
 * rulebook has pending points on: bonuses wait out the return window), or
 * -1 when there is none. */
static int64_t held(const struct outbox *ob, const char *member)
{
    for (uint32_t i = 0; i < ob->count; i++)
        if (ob->out[i].kind == PROTO_OUT_POINTS_PENDING && strcmp(ob->out[i].member, member) == 0)
            return ob->out[i].points;
    return -1;
}

static void preview_equals_the_real_sale_sent_next(void **state)
{
    struct fixture *f = *state;
    enroll(f, "ref", NULL, at(2026, 11, 1, 9), 0);
    enroll(f, "kid", "ref", at(2026, 11, 2, 9), 11); /* birthday in November */
    /* First purchase, Black Friday (x2), wine lines (x2): bonuses for the
     * member (first purchase, birthday month) and the referrer. */
    struct proto_entry e = sale(f, "kid", "store_001", 20000, at(2026, 11, 28, 10));
    e.line_count = 2;
    e.lines[0] = (struct proto_line){"W1", "wine", 1, 12000};
    e.lines[1] = (struct proto_line){"F1", "fresh", 1, 8000};
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    /* Pending points (30 days): the referral bonus and the sale's points
     * with its first-purchase and birthday bonuses are held, not credited. */
    const struct rulebook *rb = &f->cfg.rules;
    assert_true(rb->pending_days > 0);
    assert_int_equal(held(&f->ob, "ref"), rb->referral_bonus);
    assert_true(held(&f->ob, "kid") > rb->first_purchase_bonus + rb->birthday_bonus);
    assert_false(has_output(&f->ob, PROTO_OUT_POINTS_CHANGED, "kid", PROTO_CAUSE_BONUS));
    assert_true(has_output(&f->ob, PROTO_OUT_TIER_CHANGED, "kid", 0));
    /* A sale over the per-sale cap, then the day cap. */
    e = sale(f, "kid", "store_001", 900000, at(2026, 11, 29, 10));
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    e = sale(f, "kid", "store_001", 900000, at(2026, 11, 29, 11));
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    e = sale(f, "kid", "store_001", 900000, at(2026, 11, 29, 12));
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    /* A fixed-bonus campaign at its stores, and milestones up to the 10th. */
    for (int k = 0; k < 8; k++) {
        e = sale(f, "ref", "store_012", 6000, at(2027, 3, 2 + k, 10));
        assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    }
    bool milestone = false;
    for (int k = 0; k < 7; k++) {
        e = sale(f, "kid", "store_031", 6000 + k, at(2027, 3, 21 + k, 10));
        assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
        milestone |= has_output(&f->ob, PROTO_OUT_REWARD_ISSUED, "kid", 0); /* free_coffee */
    }
    assert_true(milestone);
    /* A retry of a sale: nothing new; lines that do not add up: rejected. */
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_DUPLICATE);
    e = sale(f, "kid", "store_001", 5000, at(2027, 4, 2, 10));
    e.line_count = 1;
    e.lines[0] = (struct proto_line){"W1", "wine", 1, 4000};
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_REJECTED);
    /* A late sale (before the engine clock) is judged at its own time. */
    e = sale(f, "ref", "store_001", 3000, at(2026, 11, 30, 10));
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    /* A sale past the release day of earlier ones releases them first, in
     * the preview as for real: the preview shows the released balance. */
    e = sale(f, "ref", "store_001", 1000, at(2027, 6, 1, 10));
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    assert_true(has_output(&f->ob, PROTO_OUT_POINTS_CHANGED, "ref", PROTO_CAUSE_RELEASE));
}

static void unknown_members_preview_as_the_rules_treat_them(void **state)
{
    struct fixture *f = *state;
    struct preview_result res;
    struct proto_entry e = sale(f, "nobody", "store_001", 5000, at(2027, 1, 5, 10));
    preview_purchase(&f->pv, &f->st, &e, &res); /* enrolment required (the shipped rules) */
    assert_int_equal(res.verdict, PREVIEW_UNKNOWN_MEMBER);
    apply(f, &e);
    assert_int_equal(f->ob.verdict, OUTBOX_REJECTED);
    /* Without it, the sale enrols the member: the preview shows a new one. */
    f->st.ver->now.require_enrollment = false;
    enroll(f, "old", NULL, at(2027, 1, 1, 9), 0);
    e = sale(f, "newbie", "store_001", 250000, at(2027, 1, 6, 10));
    assert_int_equal(preview_then_apply(f, &e), PREVIEW_APPLIED);
    assert_true(held(&f->ob, "newbie") > f->cfg.rules.first_purchase_bonus); /* and its bonus */
    e = sale(f, "newbie2", "store_001", 100, at(2027, 1, 6, 11));
    preview_purchase(&f->pv, &f->st, &e, &res);
    assert_true(res.new_member);
    assert_int_equal(members_find(&f->st.members, "newbie2"), HINDEX_NONE);
}

/* Everything preview_purchase could touch, beyond the snapshot's bytes. */
struct mirror {
    char *snap;
    size_t len;
    uint32_t sched_count, ix_count, txns_count;
    int64_t clock;
    uint64_t applied;
    struct versions ver;
};

static void take(struct fixture *f, struct mirror *m)
{
    encode(f, &m->snap, &m->len);
    m->sched_count = f->st.schedule.count;
    m->ix_count = f->st.members.ix.count;
    m->txns_count = f->st.txns.count;
    m->clock = f->st.clock_ms;
    m->applied = f->st.entries_applied;
    memcpy(&m->ver, f->st.ver, sizeof(m->ver));
}

static void state_bytes_are_unchanged_after_10000_previews(void **state)
{
    struct fixture *f = *state;
    static struct mirror before, after;
    uint64_t rng = 42;
    f->st.ver->now.require_enrollment = false;
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof(id), "m%03d", i);
        enroll(f, id, i % 5 == 1 ? "m000" : NULL, at(2026, 10, 1, 0) + i * 1000, (uint8_t)(1 + i % 12));
        struct proto_entry e = sale(f, id, "store_012", 1000 + 97 * i, at(2026, 11, 20, 0) + i);
        apply(f, &e);
    }
    take(f, &before);
    for (int i = 0; i < 10000; i++) {
        char id[16];
        struct preview_result res;
        snprintf(id, sizeof(id), "m%03d", (int)splitmix_below(&rng, 260)); /* some unknown */
        struct proto_entry e = sale(f, id, i % 3 ? "store_012" : "store_031",
                                    1 + splitmix_below(&rng, 2000000),
                                    at(2026, 11, 20, 0) + splitmix_below(&rng, 200 * 86400000LL));
        preview_purchase(&f->pv, &f->st, &e, &res);
        assert_true(res.verdict == PREVIEW_APPLIED);
    }
    take(f, &after);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.snap, after.snap, before.len);
    assert_int_equal(before.sched_count, after.sched_count);
    assert_int_equal(before.ix_count, after.ix_count);
    assert_int_equal(before.txns_count, after.txns_count);
    assert_int_equal(before.clock, after.clock);
    assert_int_equal(before.applied, after.applied);
    assert_memory_equal(&before.ver, &after.ver, sizeof(before.ver));
    free(before.snap);
    free(after.snap);
}

struct lots_seen {
    int64_t sum;
    int32_t last; /* month of the farthest lot */
};

static void see_lot(void *arg, int32_t month, int64_t points)
{
    struct lots_seen *s = arg;
    s->sum += points;
    if (points > 0 && month > s->last)
        s->last = month;
}

static struct lots_seen lots_of(const struct state *st, const char *id)
{
    struct lots_seen s = {0, 0};
    uint32_t pos = members_find(&st->members, id);
    assert_true(pos != HINDEX_NONE);
    wallet_each(&st->members, pos, see_lot, &s);
    return s;
}

static int64_t balance_of(const struct state *st, const char *id)
{
    return members_at(&st->members, members_find(&st->members, id))->balance;
}

/* Decodes the fixture's state into `st2` (initialised here; the caller frees it). */
static void round_trip(const struct fixture *f, struct state *st2)
{
    char *buf;
    size_t len;
    struct snapshot_error err;
    encode(f, &buf, &len);
    assert_int_equal(state_init(st2, &f->cfg.rules, 1000), 0);
    if (snapshot_decode(buf, len, &f->cfg.rules, rulecanon_codec(), st2, &err) != 0)
        fail_msg("snapshot_decode: %s", err.text);
    free(buf);
}

/* A previewed sale by an unknown member enrols it for the preview and
 * earns into its lots; undoing it must zero them, or the next member
 * enrolled at that position inherits the ghost's points (found in review:
 * its lots then held more than its balance). */
static void a_previewed_enrolment_leaves_no_lots_to_the_next_member(void **state)
{
    struct fixture *f = *state;
    struct preview_result res;
    f->st.ver->now.require_enrollment = false;
    f->st.ver->now.pending_days = 0;
    enroll(f, "old", NULL, at(2027, 1, 1, 9), 0);
    struct proto_entry e = sale(f, "ghost", "store_001", 500000, at(2027, 1, 6, 10));
    preview_purchase(&f->pv, &f->st, &e, &res);
    assert_int_equal(res.verdict, PREVIEW_APPLIED);
    assert_true(res.balance > 0);
    assert_int_equal(members_find(&f->st.members, "ghost"), HINDEX_NONE);
    e = sale(f, "real", "store_001", 100, at(2027, 1, 6, 11));
    apply(f, &e);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
    assert_true(balance_of(&f->st, "real") > 0);
    assert_int_equal(lots_of(&f->st, "real").sum, balance_of(&f->st, "real"));
    struct state st2;
    round_trip(f, &st2);
    assert_int_equal(lots_of(&st2, "real").sum, balance_of(&f->st, "real"));
    state_free(&st2);
}

/* A transfer credit from a partition whose expiry was longer carries a
 * lot further ahead than this state's ring (sized to its own rulebook)
 * reaches: the ring widens and the lot keeps its month (found in review:
 * the daemon aborted on it, and replayed the entry at every restart). */
static void a_credit_further_ahead_than_the_ring_widens_it(void **state)
{
    struct fixture *f = *state;
    state_free(&f->st);
    f->cfg.rules.expiry_months = 6;
    assert_int_equal(state_init(&f->st, &f->cfg.rules, 1000), 0);
    assert_int_equal(f->st.members.ring_per, 7);
    enroll(f, "bob", NULL, at(2027, 1, 1, 9), 0);
    struct proto_entry e = {.kind = PROTO_TRANSFER_CREDIT, .ts = at(2027, 1, 2, 9),
                            .piece_count = 2, .points = 150};
    snprintf(e.txn, sizeof(e.txn), "t1");
    snprintf(e.member, sizeof(e.member), "bob");
    snprintf(e.from, sizeof(e.from), "alice");
    e.pieces[0] = (struct proto_piece){.expire_ts = at(2027, 5, 1, 0), .points = 50};
    e.pieces[1] = (struct proto_piece){.expire_ts = at(2028, 10, 1, 0), .points = 100};
    apply(f, &e);
    assert_int_equal(f->ob.verdict, OUTBOX_APPLIED);
    assert_int_equal(balance_of(&f->st, "bob"), 150);
    struct lots_seen seen = lots_of(&f->st, "bob");
    assert_int_equal(seen.sum, 150);
    assert_int_equal(seen.last, caltime_month(at(2028, 10, 1, 0)));
    assert_true(f->st.members.ring_per > 7);
    struct state st2;
    round_trip(f, &st2);
    seen = lots_of(&st2, "bob");
    assert_int_equal(seen.sum, 150);
    assert_int_equal(seen.last, caltime_month(at(2028, 10, 1, 0)));
    state_free(&st2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_previewed_enrolment_leaves_no_lots_to_the_next_member,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_credit_further_ahead_than_the_ring_widens_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(preview_equals_the_real_sale_sent_next, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_members_preview_as_the_rules_treat_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(state_bytes_are_unchanged_after_10000_previews, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
