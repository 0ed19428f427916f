/* rulesfx.h - the rules core under test, for the cmocka tests that drive
 * rules_apply directly (test_rules.c, test_returns.c, test_pending.c,
 * test_notices.c): an engine built from a rulebook written in code, entry
 * builders, and checks of verdicts, outputs and what a rejection or a
 * duplicate must leave alone. Everything is static inline: each test file
 * uses what it needs.
 *
 * The rulebook (config_build), so that every expected number can be worked
 * out by hand from it:
 *   earning: 100 minor units per unit, 1 point per unit, floor rounding:
 *            points = floor(amount * 1 * multiplier_bp / (100 * 10000))
 *   tiers:   blue 0 x1.0 (no perks), silver 500 x1.25 (free_delivery),
 *            gold 2000 x1.5 (free_delivery, priority_service),
 *            platinum 10000 x2.0 (those and lounge);
 *            qualifying on purchase points over 12 calendar months
 *   txns:    remembered for 35 days of event time, at most 1000 of them
 *   members: at most 100
 */
#ifndef LOYALTY_TEST_RULESFX_H
#define LOYALTY_TEST_RULESFX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "earn.h"
#include "rules.h"
#include "splitmix.h"
#include "config.h"
#include "state.h"

#define DAY CALTIME_DAY_MS

/* ---- the engine under test ---------------------------------------------- */

/* One engine: its configuration, its state, the entry being built and the
 * result of the last entry applied. */
struct fx {
    struct config cfg;
    struct state st;
    uint64_t seq;         /* input ids are 1-1, 1-2, ... */
    struct proto_entry e; /* filled by the entry builders below */
    struct outbox res;
};

/* Appends a tier; `perks` ends with NULL. */
static inline void add_tier(struct rulebook *rb, const char *name, int64_t threshold,
                     int64_t multiplier_bp, const char *const *perks)
{
    struct rulebook_tier *t = &rb->tiers[rb->tier_count++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->threshold = threshold;
    t->multiplier_bp = multiplier_bp;
    for (t->perk_count = 0; perks[t->perk_count] != NULL; t->perk_count++)
        snprintf(t->perks[t->perk_count], sizeof(t->perks[0]), "%s", perks[t->perk_count]);
}

/* The configuration described at the top of this file. */
static inline void config_build(struct config *cfg)
{
    static const char *const blue[] = {NULL};
    static const char *const silver[] = {"free_delivery", NULL};
    static const char *const gold[] = {"free_delivery", "priority_service", NULL};
    static const char *const platinum[] = {"free_delivery", "priority_service", "lounge",
                                           NULL};
    memset(cfg, 0, sizeof(*cfg));
    cfg->members_max = 100;
    struct rulebook *rb = &cfg->rules;
    rb->minor_per_unit = 100;
    rb->points_per_unit = 1;
    rb->require_enrollment = true;
    rb->basis = RULEBOOK_BASIS_POINTS;
    rb->window_months = 12;
    add_tier(rb, "blue", 0, 10000, blue);
    add_tier(rb, "silver", 500, 12500, silver);
    add_tier(rb, "gold", 2000, 15000, gold);
    add_tier(rb, "platinum", 10000, 20000, platinum);
    rb->txn_window_ms = 35 * DAY;
    rb->txns_max = 1000;
}

static inline struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    config_build(&f->cfg);
    if (state_init(&f->st, &f->cfg.rules, f->cfg.members_max) != 0) {
        free(f);
        return NULL;
    }
    rules_outbox_init(&f->res);
    return f;
}

static inline void fx_free(struct fx *f)
{
    outbox_free(&f->res);
    state_free(&f->st);
    free(f);
}

static inline int fx_setup(void **state)
{
    *state = fx_new();
    return *state == NULL ? -1 : 0;
}

static inline int fx_teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* Starts again from an empty state, after the test changed f->cfg. */
static inline void fx_restart(struct fx *f)
{
    state_free(&f->st);
    assert_int_equal(state_init(&f->st, &f->cfg.rules, f->cfg.members_max), 0);
    f->seq = 0;
}

/* Noon UTC of a calendar date: far from any day or month boundary. */
static inline int64_t at(int32_t year, uint8_t month, uint8_t day)
{
    struct caltime_date d = {year, month, day};
    return caltime_ts(d) + DAY / 2;
}

/* ---- entries ------------------------------------------------------------ */

static inline void copy_str(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    assert_true(len < cap);
    memcpy(dst, src, len + 1);
}

/* Starts f->e afresh as an entry of `kind`; NULL strings stay empty. */
static inline struct fx *entry(struct fx *f, enum proto_kind kind, int64_t ts, const char *txn,
                        const char *member)
{
    memset(&f->e, 0, sizeof(f->e));
    f->e.kind = kind;
    f->e.ts = ts;
    copy_str(f->e.txn, sizeof(f->e.txn), txn ? txn : "");
    copy_str(f->e.member, sizeof(f->e.member), member ? member : "");
    return f;
}

static inline struct fx *enroll(struct fx *f, int64_t ts, const char *txn, const char *member)
{
    return entry(f, PROTO_ENROLL, ts, txn, member);
}

static inline struct fx *purchase(struct fx *f, int64_t ts, const char *txn, const char *member,
                           int64_t amount)
{
    entry(f, PROTO_PURCHASE, ts, txn, member);
    copy_str(f->e.store, sizeof(f->e.store), "s-1");
    f->e.amount = amount;
    return f;
}

static inline struct fx *refund(struct fx *f, int64_t ts, const char *txn, const char *orig_txn,
                         const char *member, int64_t amount)
{
    entry(f, PROTO_REFUND, ts, txn, member);
    copy_str(f->e.orig_txn, sizeof(f->e.orig_txn), orig_txn);
    f->e.amount = amount;
    return f;
}

static inline struct fx *redeem(struct fx *f, int64_t ts, const char *txn, const char *member,
                         int64_t points)
{
    entry(f, PROTO_REDEEM, ts, txn, member);
    f->e.points = points;
    return f;
}

static inline struct fx *adjust(struct fx *f, int64_t ts, const char *txn, const char *member,
                         int64_t points)
{
    entry(f, PROTO_ADJUST, ts, txn, member);
    copy_str(f->e.reason, sizeof(f->e.reason), "goodwill");
    f->e.points = points;
    return f;
}

static inline struct fx *scan(struct fx *f, int64_t ts, const char *member, const char *store)
{
    entry(f, PROTO_SCAN, ts, NULL, member);
    copy_str(f->e.store, sizeof(f->e.store), store);
    return f;
}

static inline struct fx *tick(struct fx *f, int64_t ts)
{
    return entry(f, PROTO_TICK, ts, NULL, NULL);
}

/* Applies f->e as the next input entry under `rb`. */
static inline enum outbox_verdict apply_under(struct fx *f, const struct rulebook *rb)
{
    struct proto_id id = {1, ++f->seq};
    memcpy(&(&f->st)->ver->now, rb, sizeof(struct rulebook)); /* the test's rulebook, as set */
    rules_apply(&f->st, id, &f->e, NULL, &f->res);
    return f->res.verdict;
}

/* Applies f->e as the next input entry under f's own rulebook. */
static inline enum outbox_verdict apply(struct fx *f)
{
    return apply_under(f, &f->cfg.rules);
}

/* ---- what a rejection or a duplicate must leave alone ------------------- */

/* Copies of the members and of the live txn records. */
struct frozen {
    uint32_t member_count;
    struct member *members;
    uint32_t txn_count;
    uint32_t txn_head;
    uint64_t txn_evicted_early;
    struct txn_rec *txns;
};

static inline void *copy_bytes(const void *src, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    if (bytes)
        memcpy(p, src, bytes);
    return p;
}

static inline void freeze(const struct fx *f, struct frozen *z)
{
    const struct txns *t = &f->st.txns;
    z->member_count = f->st.members.count;
    z->members = copy_bytes(f->st.members.v, z->member_count * sizeof(struct member));
    z->txn_count = t->count;
    z->txn_head = t->head;
    z->txn_evicted_early = t->evicted_early;
    z->txns = malloc((t->count + 1) * sizeof(struct txn_rec));
    assert_non_null(z->txns);
    for (uint32_t k = 0; k < t->count; k++)
        z->txns[k] = *txns_at(t, k);
}

/* Checks the members are byte for byte as frozen. */
static inline void expect_members_as_frozen(const struct fx *f, const struct frozen *z)
{
    assert_int_equal(f->st.members.count, z->member_count);
    if (z->member_count > 0)
        assert_memory_equal(f->st.members.v, z->members,
                            z->member_count * sizeof(struct member));
}

static inline void thaw(struct frozen *z)
{
    free(z->members);
    free(z->txns);
}

/* Checks members and txn records are byte for byte as frozen; frees `z`. */
static inline void expect_as_frozen(const struct fx *f, struct frozen *z)
{
    const struct txns *t = &f->st.txns;
    expect_members_as_frozen(f, z);
    assert_int_equal(t->count, z->txn_count);
    assert_int_equal(t->head, z->txn_head);
    assert_int_equal(t->evicted_early, z->txn_evicted_early);
    for (uint32_t k = 0; k < t->count; k++)
        assert_memory_equal(txns_at(t, k), &z->txns[k],
                            sizeof(struct txn_rec));
    thaw(z);
}

/* ---- verdicts and outputs ----------------------------------------------- */

static inline void applied(struct fx *f)
{
    assert_int_equal(apply(f), OUTBOX_APPLIED);
    assert_null(f->res.reject.code);
}

/* The entry is rejected with `code`, publishes nothing and changes
 * nothing but the clock. */
static inline void rejected(struct fx *f, const char *code)
{
    struct frozen z;
    uint64_t before = f->st.entries_rejected;
    freeze(f, &z);
    assert_int_equal(apply(f), OUTBOX_REJECTED);
    assert_non_null(f->res.reject.code);
    assert_string_equal(f->res.reject.code, code);
    assert_true(f->res.reject.detail[0] != '\0');
    assert_int_equal(f->res.count, 0);
    assert_int_equal(f->st.entries_rejected, before + 1);
    expect_as_frozen(f, &z);
}

/* The entry is recognised as a retry and changes nothing but the clock. */
static inline void duplicate(struct fx *f)
{
    struct frozen z;
    uint64_t before = f->st.entries_duplicate;
    freeze(f, &z);
    assert_int_equal(apply(f), OUTBOX_DUPLICATE);
    assert_int_equal(f->st.entries_duplicate, before + 1);
    expect_as_frozen(f, &z);
}

static inline const struct proto_output *out(const struct fx *f, uint32_t i,
                                      enum proto_out_kind kind)
{
    assert_true(i < f->res.count);
    const struct proto_output *o = &f->res.out[i];
    assert_int_equal(o->kind, kind);
    assert_string_equal(o->member, f->e.member);
    assert_int_equal(o->ts, f->e.ts);
    return o;
}

/* Points published for member `id` (a tick's outputs, or another member's
 * than f->e.member) at output i. */
static inline void expect_points_of(const struct fx *f, uint32_t i, const char *id,
                                    int64_t delta, int64_t balance, enum proto_cause cause)
{
    assert_true(i < f->res.count);
    const struct proto_output *o = &f->res.out[i];
    assert_int_equal(o->kind, PROTO_OUT_POINTS_CHANGED);
    assert_string_equal(o->member, id);
    assert_int_equal(o->delta, delta);
    assert_int_equal(o->balance, balance);
    assert_int_equal(o->cause, cause);
}

/* Points published for the entry's own member at output i. */
static inline void expect_points(const struct fx *f, uint32_t i, int64_t delta, int64_t balance,
                                 enum proto_cause cause)
{
    expect_points_of(f, i, f->e.member, delta, balance, cause);
    assert_int_equal(f->res.out[i].ts, f->e.ts);
}

static inline void expect_upgrade(const struct fx *f, uint32_t i, const char *from, const char *to)
{
    const struct proto_output *o = out(f, i, PROTO_OUT_TIER_CHANGED);
    assert_string_equal(o->from, from);
    assert_string_equal(o->to, to);
    assert_string_equal(o->reason, "upgrade");
}

static inline void expect_redeem_result(const struct fx *f, uint32_t i, bool ok, const char *error,
                                 int64_t balance)
{
    const struct proto_output *o = out(f, i, PROTO_OUT_REDEEM_RESULT);
    assert_string_equal(o->txn, f->e.txn);
    assert_int_equal(o->ok, ok);
    if (error == NULL)
        assert_null(o->error);
    else
        assert_string_equal(o->error, error);
    assert_int_equal(o->balance, balance);
}

static inline void expect_perk(const struct fx *f, uint32_t i, const char *perk, const char *tier)
{
    const struct proto_output *o = out(f, i, PROTO_OUT_PERK_TRIGGERED);
    assert_string_equal(o->perk, perk);
    assert_string_equal(o->tier, tier);
    assert_string_equal(o->store, f->e.store);
}

static inline struct member *find_member(const struct fx *f, const char *id)
{
    uint32_t pos = members_find(&f->st.members, id);
    assert_int_not_equal(pos, HINDEX_NONE);
    return members_at(&f->st.members, pos);
}

/* Enrols `id` (txn "e-<id>") and gives it `points` by adjustment (txn
 * "a-<id>"), which moves the balance but not the tier. */
static inline void member_with(struct fx *f, int64_t ts, const char *id, int64_t points)
{
    char txn[PROTO_TXN_MAX + 1];
    snprintf(txn, sizeof(txn), "e-%s", id);
    applied(enroll(f, ts, txn, id));
    if (points == 0)
        return;
    snprintf(txn, sizeof(txn), "a-%s", id);
    applied(adjust(f, ts, txn, id, points));
}

/* Enrols `id` (txn "e-<id>") as referred by `referrer`. */
static inline void referred_member(struct fx *f, int64_t ts, const char *id,
                                   const char *referrer)
{
    char txn[PROTO_TXN_MAX + 1];
    snprintf(txn, sizeof(txn), "e-%s", id);
    enroll(f, ts, txn, id);
    copy_str(f->e.referrer, sizeof(f->e.referrer), referrer);
    applied(f);
}

/* 00:00 UTC of a calendar date: a release day, a review, a notice. */
static inline int64_t midnight(int32_t year, uint8_t month, uint8_t day)
{
    return caltime_ts((struct caltime_date){year, month, day});
}

/* Enrols `id` and makes it gold: a 2000.00 sale earns 2000 points at blue
 * x1.0, exactly the gold threshold (txn "g-<id>"). */
static inline void gold_member(struct fx *f, int64_t ts, const char *id)
{
    char txn[PROTO_TXN_MAX + 1];
    member_with(f, ts, id, 0);
    snprintf(txn, sizeof(txn), "g-%s", id);
    applied(purchase(f, ts, txn, id, 200000));
    assert_int_equal(find_member(f, id)->tier, 2);
}

#endif
