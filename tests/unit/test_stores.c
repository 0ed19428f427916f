/* test_stores.c - the stores under the rules core and the calendar they
 * count months with: hindex (linear probing, backward-shift deletion,
 * growth), the txn ring (wraparound, eviction by time and when full), the
 * member store and its monthly qualification buckets, and caltime against
 * known dates and an independent day-by-day calendar.
 *
 * hindex takes its hash from the caller, so the tests choose hashes to
 * force collisions: keys with one hash, and keys whose home slots crowd
 * around the end of the table so that probe runs wrap to slot 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "hindex.h"
#include "members.h"
#include "schedule.h"
#include "splitmix.h"
#include "txns.h"

/* ---- hindex ------------------------------------------------------------- */

#define KEY_MAX 16

/* The caller's side of an index: keys at dense indexes, the hash each was
 * inserted under and whether it is in the index now. */
struct keyset {
    uint32_t n;
    char (*key)[KEY_MAX];
    uint32_t *hash;
    bool *live;
};

static const char *key_of(const void *ctx, uint32_t idx, size_t *len)
{
    const struct keyset *ks = ctx;
    *len = strlen(ks->key[idx]);
    return ks->key[idx];
}

/* Keys "k0".."k<n-1>" hashed by hindex_hash; tests may overwrite hashes
 * before inserting. */
static void keyset_init(struct keyset *ks, uint32_t n)
{
    ks->n = n;
    ks->key = calloc(n, sizeof(ks->key[0]));
    ks->hash = calloc(n, sizeof(ks->hash[0]));
    ks->live = calloc(n, sizeof(ks->live[0]));
    assert_true(ks->key && ks->hash && ks->live);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(ks->key[i], KEY_MAX, "k%u", (unsigned)i);
        ks->hash[i] = hindex_hash(ks->key[i], strlen(ks->key[i]));
    }
}

static void keyset_free(struct keyset *ks)
{
    free(ks->key);
    free(ks->hash);
    free(ks->live);
}

static uint32_t ks_find(const struct hindex *ix, const struct keyset *ks, uint32_t i)
{
    return hindex_find(ix, ks->hash[i], ks->key[i], strlen(ks->key[i]), key_of, ks);
}

static void ks_insert(struct hindex *ix, struct keyset *ks, uint32_t i)
{
    assert_int_equal(ks_find(ix, ks, i), HINDEX_NONE);
    hindex_insert(ix, ks->hash[i], i);
    ks->live[i] = true;
}

static void ks_remove(struct hindex *ix, struct keyset *ks, uint32_t i)
{
    hindex_remove(ix, ks->hash[i], i);
    ks->live[i] = false;
}

/* Every live key is found at its own index, every other one is not, and
 * the index counts exactly the live keys. */
static void expect_index_matches(const struct hindex *ix, const struct keyset *ks)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < ks->n; i++) {
        assert_int_equal(ks_find(ix, ks, i), ks->live[i] ? i : HINDEX_NONE);
        live += ks->live[i];
    }
    assert_int_equal(ix->count, live);
}

/* No slot is left occupied: deletion leaves no tombstones behind. */
static void expect_all_slots_empty(const struct hindex *ix)
{
    for (uint64_t i = 0; i <= ix->mask; i++)
        assert_int_equal(ix->slots[i], 0);
}

/* A random permutation of 0..n-1. */
static uint32_t *shuffled(uint32_t n, uint64_t seed)
{
    uint32_t *p = malloc(n * sizeof(*p));
    assert_non_null(p);
    for (uint32_t i = 0; i < n; i++)
        p[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(splitmix_next(&seed) % i);
        uint32_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

/* Inserts every key of `ks`, then removes them in a random order, checking
 * after each removal that every remaining key is still found. The table
 * must not grow on the way (the hashes were chosen for its capacity). */
static void insert_all_then_remove_checking_each_step(struct hindex *ix, struct keyset *ks,
                                                      uint64_t seed)
{
    uint32_t mask = ix->mask;
    for (uint32_t i = 0; i < ks->n; i++)
        ks_insert(ix, ks, i);
    assert_int_equal(ix->mask, mask);
    expect_index_matches(ix, ks);
    uint32_t *order = shuffled(ks->n, seed);
    for (uint32_t k = 0; k < ks->n; k++) {
        ks_remove(ix, ks, order[k]);
        expect_index_matches(ix, ks);
    }
    free(order);
    expect_all_slots_empty(ix);
}

/* An index and the caller's keys; the tests size the keys themselves, up
 * to what the index is reserved for. */
#define HX_KEYS_MAX 100000u

struct hx {
    struct hindex ix;
    struct keyset ks;
};

static int hx_setup(void **state)
{
    struct hx *h = calloc(1, sizeof(*h));
    if (h == NULL || hindex_init(&h->ix, HX_KEYS_MAX) != 0) {
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int hx_teardown(void **state)
{
    struct hx *h = *state;
    keyset_free(&h->ks);
    hindex_free(&h->ix);
    free(h);
    return 0;
}

static void hindex_finds_every_key_inserted_and_no_other(void **state)
{
    struct hx *h = *state;
    keyset_init(&h->ks, 500);
    for (uint32_t i = 0; i < h->ks.n; i += 2)
        ks_insert(&h->ix, &h->ks, i);
    /* The odd keys were never inserted. */
    expect_index_matches(&h->ix, &h->ks);
}

static void hindex_keys_sharing_one_hash_are_told_apart_by_the_caller(void **state)
{
    struct hx *h = *state;
    keyset_init(&h->ks, 300);
    for (uint32_t i = 0; i < h->ks.n; i++)
        h->ks.hash[i] = 0xdeadbeefu; /* one home slot, one probe run of 300 */
    insert_all_then_remove_checking_each_step(&h->ix, &h->ks, 1);
}

static void hindex_removal_inside_wrapping_probe_runs_keeps_other_keys_found(void **state)
{
    struct hx *h = *state;
    uint32_t mask = h->ix.mask;
    uint64_t rng = 42;
    keyset_init(&h->ks, 400);
    /* Homes crowd into the last 8 and first 8 slots and around slot 100,
     * so runs wrap past the end, merge and hold keys far from home; the
     * high bits differ, so equal homes do not mean equal hashes. */
    for (uint32_t i = 0; i < h->ks.n; i++) {
        uint32_t r = (uint32_t)splitmix_next(&rng);
        uint32_t home = i % 3 == 0 ? 100 + r % 4 : mask - 7 + r % 16;
        h->ks.hash[i] = (home & mask) | (r & ~mask);
    }
    insert_all_then_remove_checking_each_step(&h->ix, &h->ks, 7);
}

static void hindex_grows_by_doubling_at_three_quarters_and_keeps_every_key(void **state)
{
    struct hx *h = *state;
    struct keyset *ks = &h->ks;
    keyset_init(ks, HX_KEYS_MAX);
    for (uint32_t i = 0; i < ks->n; i++) {
        ks_insert(&h->ix, ks, i);
        uint64_t cap = (uint64_t)h->ix.mask + 1;
        assert_int_equal(cap & (cap - 1), 0);
        assert_true((uint64_t)h->ix.count * 4 <= cap * 3);
        assert_true(cap <= h->ix.region_slots); /* within what init reserved */
    }
    /* 100000 keys: the smallest power of two holding them at 3/4 load. */
    assert_int_equal((uint64_t)h->ix.mask + 1, 262144);
    expect_index_matches(&h->ix, ks);
    for (uint32_t i = 0; i < ks->n; i += 2)
        ks_remove(&h->ix, ks, i);
    expect_index_matches(&h->ix, ks);
    for (uint32_t i = 0; i < ks->n; i += 2)
        ks_insert(&h->ix, ks, i);
    expect_index_matches(&h->ix, ks);
}

/* After most keys are removed, fit halves the table (to at most 3/8
 * full, never below the first table) and every remaining key is still
 * found; inserting goes on, doubling again from there. */
static void hindex_fit_shrinks_the_table_and_keeps_every_key(void **state)
{
    struct hx *h = *state;
    struct keyset *ks = &h->ks;
    keyset_init(ks, HX_KEYS_MAX);
    for (uint32_t i = 0; i < ks->n; i++)
        ks_insert(&h->ix, ks, i);
    hindex_fit(&h->ix); /* 100000 in 262144: nothing to do */
    assert_int_equal((uint64_t)h->ix.mask + 1, 262144);
    for (uint32_t i = 0; i < ks->n; i++)
        if (i % 50 != 0)
            ks_remove(&h->ix, ks, i);
    hindex_fit(&h->ix); /* 2000 keys: 8192 slots (2000 <= 3/8 x 8192, not x 4096) */
    assert_int_equal((uint64_t)h->ix.mask + 1, 8192);
    expect_index_matches(&h->ix, ks);
    for (uint32_t i = 0; i < ks->n; i++)
        if (i % 50 != 0)
            ks_insert(&h->ix, ks, i);
    expect_index_matches(&h->ix, ks);
    assert_int_equal((uint64_t)h->ix.mask + 1, 262144);
    for (uint32_t i = 0; i < ks->n; i++)
        if (ks->live[i])
            ks_remove(&h->ix, ks, i);
    hindex_fit(&h->ix);
    assert_int_equal(h->ix.mask + 1, 1024); /* the first table */
    expect_all_slots_empty(&h->ix);
}

/* A loader's index: reserved for its count (no doubling after), and
 * insert_new adds each key once, with keys sharing a hash told apart,
 * and answers a repeated key with the index already holding it. */
static void hindex_insert_new_adds_each_key_once_into_a_reserved_table(void **state)
{
    struct hx *h = *state;
    struct keyset *ks = &h->ks;
    keyset_init(ks, HX_KEYS_MAX);
    for (uint32_t i = 0; i < ks->n; i += 5)
        ks->hash[i] = 0x12345678u; /* a fifth share one hash */
    hindex_reserve(&h->ix, ks->n);
    uint32_t mask = h->ix.mask;
    assert_int_equal((uint64_t)mask + 1, 262144);
    for (uint32_t i = 0; i < ks->n; i++) {
        uint32_t k = (uint32_t)strlen(ks->key[i]);
        assert_int_equal(hindex_insert_new(&h->ix, ks->hash[i], ks->key[i], k, key_of, ks, i),
                         HINDEX_NONE);
        ks->live[i] = true;
        if (i % 1000 == 0) /* the same key again: found, not added */
            assert_int_equal(hindex_insert_new(&h->ix, ks->hash[i], ks->key[i], k, key_of, ks,
                                               i + 1), i);
    }
    assert_int_equal(h->ix.mask, mask);
    expect_index_matches(&h->ix, ks);
}

/* ---- txns --------------------------------------------------------------- */

static const struct txn_rec *find_txn(const struct txns *t, uint32_t k)
{
    char txn[KEY_MAX];
    snprintf(txn, sizeof(txn), "x%u", (unsigned)k);
    return txns_find(t, txn);
}

static void add_txn(struct txns *t, uint32_t k, int64_t applied_ms)
{
    char txn[KEY_MAX];
    snprintf(txn, sizeof(txn), "x%u", (unsigned)k);
    struct txn_rec *r = txns_add(t, txn, applied_ms);
    uint64_t key[2];
    txns_key(txn, strlen(txn), key);
    assert_memory_equal(r->key, key, sizeof(key)); /* the id's digest, not the id */
    assert_int_equal(r->applied_ms, applied_ms);
    assert_int_equal(r->amount, 0);
    assert_int_equal(r->points, 0);
    r->points = k; /* a mark to find again */
}

/* Exactly txns "x<lo>".."x<hi-1>" are remembered, each with its mark. */
static void expect_txns_window(const struct txns *t, uint32_t lo, uint32_t hi)
{
    assert_int_equal(t->count, hi - lo);
    for (uint32_t k = lo > 20 ? lo - 20 : 0; k < hi + 5; k++) {
        const struct txn_rec *r = find_txn(t, k);
        if (k < lo || k >= hi) {
            assert_null(r);
            continue;
        }
        assert_non_null(r);
        assert_int_equal(r->points, k);
        assert_true(r >= t->ring && r < t->ring + t->cap);
    }
}

static void txns_full_ring_wraps_and_forgets_the_oldest_early(void **state)
{
    (void)state;
    struct txns t;
    assert_int_equal(txns_init(&t, 4), 0);
    for (uint32_t k = 0; k < 4; k++)
        add_txn(&t, k, 10 * k);
    expect_txns_window(&t, 0, 4);
    assert_int_equal(t.evicted_early, 0);
    /* Each further txn takes the slot of the oldest: x4 lands where x0
     * was, and after x9 the ring has gone round more than once. */
    add_txn(&t, 4, 40);
    assert_int_equal(t.evicted_early, 1);
    assert_int_equal(t.head, 1);
    assert_ptr_equal(find_txn(&t, 4), &t.ring[0]);
    for (uint32_t k = 5; k < 10; k++)
        add_txn(&t, k, 10 * k);
    expect_txns_window(&t, 6, 10);
    assert_int_equal(t.evicted_early, 6);
    assert_int_equal(t.head, 2);
    txns_free(&t);
}

/* Model check: a ring of 7 under 3000 adds and random evictions by time
 * holds exactly the txns the model says, wherever the ring has wrapped. */
static void txns_evict_forgets_exactly_those_applied_before_the_cutoff(void **state)
{
    (void)state;
    struct txns t;
    uint64_t rng = 99;
    uint32_t lo = 0; /* oldest remembered */
    uint64_t early = 0;
    assert_int_equal(txns_init(&t, 7), 0);
    for (uint32_t k = 0; k < 3000; k++) {
        if (k - lo == 7) {
            lo++;
            early++;
        }
        add_txn(&t, k, 10 * (int64_t)k);
        if (splitmix_next(&rng) % 3 == 0) {
            /* Forget what was applied before a cutoff 0..8 txns back; a
             * cutoff equal to a record's time keeps that record. */
            int64_t cut = 10 * ((int64_t)k - (int64_t)(splitmix_next(&rng) % 9));
            txns_evict(&t, cut);
            while (lo <= k && 10 * (int64_t)lo < cut)
                lo++;
        }
        expect_txns_window(&t, lo, k + 1);
        assert_int_equal(t.evicted_early, early);
    }
    txns_evict(&t, INT64_MAX);
    expect_txns_window(&t, 3000, 3000);
    add_txn(&t, 5000, 50000);
    expect_txns_window(&t, 5000, 5001);
    txns_free(&t);
}

/* The ring follows the window it holds, not max: a window that widens
 * and narrows step by step while the ring has wrapped (so each of the
 * moves runs, with head anywhere) keeps exactly the txns of the model,
 * and the ring stays within a quarter (and one initial ring) of the
 * widest window, and shrinks back when the window narrows. */
static void txns_ring_follows_the_window_and_keeps_every_record(void **state)
{
    (void)state;
    struct txns t;
    uint64_t rng = 7;
    uint32_t lo = 0, widest = 0;
    assert_int_equal(txns_init(&t, 1000000), 0);
    assert_int_equal(t.cap, TXNS_CAP_INITIAL);
    for (uint32_t k = 0; k < 60000; k++) {
        add_txn(&t, k, (int64_t)k);
        /* The window: between half and all of a width that grows with k. */
        uint32_t width = 1000 + k / 2;
        uint32_t keep = width / 2 + (uint32_t)(splitmix_next(&rng) % (width / 2));
        if (k + 1 - lo > keep) {
            lo = k + 1 - keep;
            txns_evict(&t, (int64_t)lo);
        }
        if (k + 1 - lo > widest)
            widest = k + 1 - lo;
        if (k % 997 == 0 || k + 1 == 60000)
            expect_txns_window(&t, lo, k + 1);
    }
    assert_int_equal(t.evicted_early, 0);
    assert_true(t.cap >= widest / 2);
    assert_true(t.cap <= widest + widest / TXNS_GROW_DIV + TXNS_CAP_INITIAL);
    /* The window narrows again: the ring shrinks, keeping what it holds
     * (wrapped or not), and grows again as it widens. */
    uint32_t k = 60000;
    for (uint32_t keep = t.count; keep > 100; keep = keep * 7 / 8, k++) {
        add_txn(&t, k, (int64_t)k);
        lo = k + 1 - keep;
        txns_evict(&t, (int64_t)lo);
        expect_txns_window(&t, lo, k + 1);
        assert_true(t.cap <= 2 * keep + 2 || t.cap == TXNS_CAP_INITIAL);
    }
    assert_int_equal(t.cap, TXNS_CAP_INITIAL);
    for (uint32_t end = k + 20000; k < end; k++)
        add_txn(&t, k, (int64_t)k);
    expect_txns_window(&t, lo, k);
    assert_int_equal(t.evicted_early, 0);
    txns_free(&t);
}

/* ---- schedule ----------------------------------------------------------- */

/* A loader appends due times in any order and heapifies once: the heap
 * then pops exactly as one built by pushes, in (due, position) order,
 * ties included, and goes on taking pushes. */
static void schedule_heapify_pops_in_due_then_position_order(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct schedule a, b;
    uint64_t rng = 3;
    assert_int_equal(schedule_init(&a, 2 * N), 0);
    assert_int_equal(schedule_init(&b, 2 * N), 0);
    for (uint32_t p = 0; p < N; p++) {
        int64_t due = 1 + (int64_t)(splitmix_next(&rng) % 300); /* many ties */
        schedule_append(&a, due, p);
        schedule_push(&b, due, p);
    }
    schedule_heapify(&a);
    schedule_push(&a, 150, N); /* and pushes after it */
    schedule_push(&b, 150, N);
    struct schedule_entry x, y;
    int64_t last_due = 0;
    uint32_t last_pos = 0, popped = 0;
    while (schedule_pop_due(&b, INT64_MAX, &y)) {
        assert_true(schedule_pop_due(&a, INT64_MAX, &x));
        assert_int_equal(x.due_ms, y.due_ms);
        assert_int_equal(x.pos, y.pos);
        assert_true(x.due_ms > last_due || (x.due_ms == last_due && x.pos > last_pos) ||
                    popped == 0);
        last_due = x.due_ms;
        last_pos = x.pos;
        popped++;
    }
    assert_int_equal(popped, N + 1);
    assert_false(schedule_pop_due(&a, INT64_MAX, &x));
    schedule_free(&a);
    schedule_free(&b);
}

/* ---- members ------------------------------------------------------------ */

static void members_are_found_at_enrolment_positions_up_to_max(void **state)
{
    (void)state;
    struct members ms;
    char id[KEY_MAX];
    assert_int_equal(members_init(&ms, 3000, 0), 0);
    /* 3000 is past the first allocation of the array: it grows. */
    for (uint32_t i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), "m%u", (unsigned)i);
        assert_int_equal(members_find(&ms, id), HINDEX_NONE);
        assert_int_equal(members_add(&ms, id), i);
    }
    assert_int_equal(members_add(&ms, "one-too-many"), HINDEX_NONE);
    assert_int_equal(ms.count, 3000);
    assert_int_equal(members_find(&ms, "one-too-many"), HINDEX_NONE);
    for (uint32_t i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), "m%u", (unsigned)i);
        uint32_t pos = members_find(&ms, id);
        assert_int_equal(pos, i);
        const struct member *m = members_at(&ms, pos);
        assert_string_equal(m->id, id);
        assert_int_equal(m->id_len, strlen(id));
        assert_int_equal(m->balance, 0);
        assert_int_equal(m->tier, 0);
    }
    members_free(&ms);
}

/* members_ring_find against a slot-by-slot scan with members_ring_get,
 * for every [from, end) of rings of 25 slots filled at random, sparse and
 * dense, narrow (int32) and wide (a value past INT32_MAX moved it). */
static void members_ring_find_finds_the_first_slot_holding_points(void **state)
{
    (void)state;
    enum { MEMBERS = 64, PER = 25 };
    struct members ms;
    char id[KEY_MAX];
    uint64_t seed = 16;
    assert_int_equal(members_init(&ms, MEMBERS, PER), 0);
    ms.ring32 = true; /* as wallet_layout leaves a ring (wallet.c) */
    members_ring_resize(&ms, PER);
    for (uint32_t p = 0; p < MEMBERS; p++) {
        snprintf(id, sizeof(id), "r%u", (unsigned)p);
        assert_int_equal(members_add(&ms, id), p);
        uint64_t one_in = 1 + p % 8; /* from full rings to one slot in eight */
        for (uint32_t k = 0; k < PER; k++)
            if (p % 9 != 0 && splitmix_below(&seed, one_in) == 0)
                members_ring_set(&ms, p, k, 1 + splitmix_below(&seed, 1000));
        if (p % 5 == 4)
            members_ring_set(&ms, p, (uint32_t)splitmix_below(&seed, PER),
                             (int64_t)INT32_MAX + 7);
    }
    for (uint32_t p = 0; p < MEMBERS; p++) {
        for (uint32_t from = 0; from <= PER; from++) {
            for (uint32_t end = from; end <= PER; end++) {
                uint32_t want = from;
                while (want < end && members_ring_get(&ms, p, want) == 0)
                    want++;
                assert_int_equal(members_ring_find(&ms, p, from, end), want);
            }
        }
    }
    members_free(&ms);
}

/* A member as enrolment leaves it: zero, newest bucket month `month`. */
static struct member fresh_member(int32_t month)
{
    struct member m;
    memset(&m, 0, sizeof(m));
    m.qual_month = month;
    return m;
}

static int64_t bucket_sum(const struct member *m)
{
    int64_t sum = 0;
    for (int i = 0; i < MEMBERS_QUAL_MONTHS; i++)
        sum += m->qual[i];
    return sum;
}

#define M0 (2024 * 12) /* January 2024 */

static void members_qual_totals_a_rolling_window_of_calendar_months(void **state)
{
    (void)state;
    struct member m = fresh_member(M0);
    members_qual_add(&m, M0, M0, 100);           /* Jan: 100 */
    assert_int_equal(members_qual_total(&m, M0, 12), 100);
    members_qual_add(&m, M0 + 3, M0 + 3, 50);    /* Apr: 50 */
    members_qual_add(&m, M0 + 1, M0 + 3, 20);    /* Feb, late: 20 */
    assert_int_equal(members_qual_total(&m, M0 + 3, 12), 170);
    assert_int_equal(members_qual_total(&m, M0 + 3, 3), 70); /* Feb..Apr */
    assert_int_equal(members_qual_total(&m, M0 + 3, 2), 50); /* Mar..Apr */
    members_qual_add(&m, M0 + 11, M0 + 11, 10);  /* Dec: 10 */
    assert_int_equal(members_qual_total(&m, M0 + 11, 12), 180);
    /* Jan 2025 shares Jan 2024's bucket: that 100 leaves the window. */
    members_qual_add(&m, M0 + 12, M0 + 12, 1);
    assert_int_equal(members_qual_total(&m, M0 + 12, 12), 81); /* 20+50+10+1 */
    /* A late amount 12 months old is not counted anywhere. */
    members_qual_add(&m, M0, M0 + 12, 999);
    assert_int_equal(members_qual_total(&m, M0 + 12, 12), 81);
    assert_int_equal(bucket_sum(&m), 81);
    /* Totals at a later clock, with no amount added since: Mar 2025 sees
     * Apr 2024..Mar 2025 (50+10+1), Dec 2025 only Jan 2025, Jan 2026
     * nothing. */
    assert_int_equal(members_qual_total(&m, M0 + 14, 12), 61);
    assert_int_equal(members_qual_total(&m, M0 + 23, 12), 1);
    assert_int_equal(members_qual_total(&m, M0 + 24, 12), 0);
    assert_int_equal(members_qual_total(&m, M0 + 13, 1), 0);
}

/* A month's bucket saturates at MEMBERS_QUAL_BUCKET_MAX (either sign)
 * instead of wrapping; the window's total still adds every month in
 * int64, and amounts below the bound stay exact. */
static void members_qual_buckets_saturate_at_their_bound_and_totals_do_not_wrap(void **state)
{
    (void)state;
    struct member m = fresh_member(M0);
    members_qual_add(&m, M0, M0, 2000000000);
    members_qual_add(&m, M0, M0, 2000000000); /* 4e9: over the bound */
    assert_int_equal(members_qual_total(&m, M0, 12), MEMBERS_QUAL_BUCKET_MAX);
    members_qual_add(&m, M0 + 1, M0 + 1, 1000000000000LL); /* PROTO_POINTS_MAX */
    members_qual_add(&m, M0 + 2, M0 + 2, 5);
    assert_int_equal(members_qual_total(&m, M0 + 2, 12), 2LL * MEMBERS_QUAL_BUCKET_MAX + 5);
    members_qual_add(&m, M0 + 2, M0 + 2, -1000000000000LL);
    assert_int_equal(members_qual_total(&m, M0 + 2, 1), -MEMBERS_QUAL_BUCKET_MAX);
    members_qual_add(&m, M0 + 1, M0 + 2, -7); /* below a saturated bucket: exact from it */
    assert_int_equal(members_qual_total(&m, M0 + 1, 1), MEMBERS_QUAL_BUCKET_MAX - 7);
}

static void members_qual_after_a_gap_of_more_than_a_year_starts_from_zero(void **state)
{
    (void)state;
    struct member m = fresh_member(M0);
    members_qual_add(&m, M0, M0, 5);
    members_qual_add(&m, M0 + 1, M0 + 1, 7);
    /* 13 months on: Feb 2024's bucket is Feb 2025's, Jan 2024's is Jan
     * 2025's; both must be cleared, not added to. */
    members_qual_add(&m, M0 + 13, M0 + 13, 3);
    assert_int_equal(members_qual_total(&m, M0 + 13, 12), 3);
    assert_int_equal(bucket_sum(&m), 3);
    /* Two years on, into the very bucket written last time. */
    members_qual_add(&m, M0 + 37, M0 + 37, 4);
    assert_int_equal(members_qual_total(&m, M0 + 37, 12), 4);
    assert_int_equal(bucket_sum(&m), 4);
    /* Late amounts: 11 months back still counts, 12 does not. */
    members_qual_add(&m, M0 + 26, M0 + 37, 6);
    members_qual_add(&m, M0 + 25, M0 + 37, 600);
    assert_int_equal(members_qual_total(&m, M0 + 37, 12), 10);
    /* A hundred years on. */
    members_qual_add(&m, M0 + 1237, M0 + 1237, 8);
    assert_int_equal(members_qual_total(&m, M0 + 1237, 12), 8);
    assert_int_equal(bucket_sum(&m), 8);
}

/* ---- caltime ------------------------------------------------------------ */

static void expect_date(int64_t ts, int32_t year, int month, int day)
{
    struct caltime_date d = caltime_date(ts);
    assert_int_equal(d.year, year);
    assert_int_equal(d.month, month);
    assert_int_equal(d.day, day);
    assert_int_equal(caltime_month(ts), year * 12 + month - 1);
}

static int64_t date_ts(int32_t year, uint8_t month, uint8_t day)
{
    struct caltime_date d = {year, month, day};
    return caltime_ts(d);
}

static void caltime_knows_the_epoch_a_leap_day_a_year_end_and_the_last_day(void **state)
{
    (void)state;
    expect_date(0, 1970, 1, 1);
    assert_int_equal(caltime_day(0), 0);
    assert_int_equal(date_ts(1970, 1, 1), 0);
    /* 2000-02-29: day 11016 = 10957 (2000-01-01) + 31 + 28. */
    assert_int_equal(date_ts(2000, 2, 29), 951782400000LL);
    expect_date(951782400000LL, 2000, 2, 29);
    expect_date(951782400000LL + CALTIME_DAY_MS - 1, 2000, 2, 29);
    expect_date(951782400000LL + CALTIME_DAY_MS, 2000, 3, 1);
    expect_date(951782400000LL - 1, 2000, 2, 28);
    /* 2024-12-31T23:59:59.999Z, the last ms of day 20088. */
    assert_int_equal(date_ts(2024, 12, 31), 1735603200000LL);
    expect_date(1735689599999LL, 2024, 12, 31);
    assert_int_equal(caltime_day(1735689599999LL), 20088);
    expect_date(1735689600000LL, 2025, 1, 1);
    /* 9999-12-31, day 2932896, up to the decoder's last ts. */
    assert_int_equal(date_ts(9999, 12, 31), 253402214400000LL);
    expect_date(253402214400000LL, 9999, 12, 31);
    expect_date(PROTO_TS_MAX, 9999, 12, 31);
    assert_int_equal(caltime_day(PROTO_TS_MAX), 2932896);
    assert_int_equal(caltime_month(PROTO_TS_MAX), 119999);
}

/* An independent calendar: one day at a time, month lengths by rule. */
struct civil {
    int32_t year;
    int month;
    int day;
};

static int days_in_month(int32_t year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

static void next_day(struct civil *c)
{
    if (++c->day <= days_in_month(c->year, c->month))
        return;
    c->day = 1;
    if (++c->month <= 12)
        return;
    c->month = 1;
    c->year++;
}

/* Walks the 146097 days (one 400-year cycle) from `c`, day number `day0`,
 * checking date, day, month and the way back for three times of each day. */
static void expect_cycle_matches_calendar(struct civil c, int64_t day0)
{
    for (int64_t day = day0; day < day0 + 146097; day++, next_day(&c)) {
        int64_t start = day * CALTIME_DAY_MS;
        int64_t times[] = {start, start + (day * 7919) % CALTIME_DAY_MS,
                           start + CALTIME_DAY_MS - 1};
        for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
            struct caltime_date d = caltime_date(times[k]);
            if (d.year != c.year || d.month != c.month || d.day != c.day)
                fail_msg("day %lld: got %d-%d-%d, want %d-%d-%d", (long long)day,
                         (int)d.year, d.month, d.day, (int)c.year, c.month, c.day);
            assert_int_equal(caltime_day(times[k]), day);
            assert_int_equal(caltime_month(times[k]), c.year * 12 + c.month - 1);
            assert_int_equal(caltime_ts(d), start);
        }
    }
}

static void caltime_round_trips_every_day_of_the_first_and_last_400_years(void **state)
{
    (void)state;
    /* 1970-01-01..2369-12-31: leap 2000, non-leap 2100, 2200 and 2300. */
    expect_cycle_matches_calendar((struct civil){1970, 1, 1}, 0);
    /* 9600-01-01 (day 2786800 = 10957 + 19 * 146097)..9999-12-31. */
    expect_cycle_matches_calendar((struct civil){9600, 1, 1}, 2786800);
}

/* An hindex test with its index made and freed around it. */
#define HX(name) cmocka_unit_test_setup_teardown(name, hx_setup, hx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX(hindex_finds_every_key_inserted_and_no_other),
        HX(hindex_keys_sharing_one_hash_are_told_apart_by_the_caller),
        HX(hindex_removal_inside_wrapping_probe_runs_keeps_other_keys_found),
        HX(hindex_grows_by_doubling_at_three_quarters_and_keeps_every_key),
        HX(hindex_insert_new_adds_each_key_once_into_a_reserved_table),
        HX(hindex_fit_shrinks_the_table_and_keeps_every_key),
        cmocka_unit_test(txns_full_ring_wraps_and_forgets_the_oldest_early),
        cmocka_unit_test(txns_evict_forgets_exactly_those_applied_before_the_cutoff),
        cmocka_unit_test(txns_ring_follows_the_window_and_keeps_every_record),
        cmocka_unit_test(schedule_heapify_pops_in_due_then_position_order),
        cmocka_unit_test(members_are_found_at_enrolment_positions_up_to_max),
        cmocka_unit_test(members_ring_find_finds_the_first_slot_holding_points),
        cmocka_unit_test(members_qual_totals_a_rolling_window_of_calendar_months),
        cmocka_unit_test(members_qual_after_a_gap_of_more_than_a_year_starts_from_zero),
        cmocka_unit_test(members_qual_buckets_saturate_at_their_bound_and_totals_do_not_wrap),
        cmocka_unit_test(caltime_knows_the_epoch_a_leap_day_a_year_end_and_the_last_day),
        cmocka_unit_test(caltime_round_trips_every_day_of_the_first_and_last_400_years),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
