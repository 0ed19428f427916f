/* test_ingestahead.c - the daemon's decode-ahead (ingestahead.h) changes
 * nothing: one XRANGE-shaped reply of a few hundred entries (enrolments,
 * purchases, duplicates, purchases of members never enrolled, bytes that
 * do not decode, entries without a field m, deleted entries, members of
 * the other partition, a rules entry whose text must be fetched first),
 * parsed by a real redisReader, is applied two ways to two fresh states:
 * ingest_apply_rules with its decode-ahead window, and the same function
 * through a wrapper (ingest_entries then decodes each entry as it applies
 * it, as before the window); both pause at the rules entry and resume
 * from the middle of the reply once its text is known. The batches (output bytes, DLQ entries), the stats, the state's
 * counters and every member's balance must be the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rulesfx.h"

#include <hiredis/hiredis.h>

#include "ingest.h"
#include "partition.h"

#define ENTRIES 400u
#define MEMBERS 60u /* fx's members_max is 100 */
#define SKIPPED 5u  /* entries at or before the state's last id: acknowledged only */
#define RULES_AT 250u

/* RESP text, grown as needed. */
struct text {
    char *p;
    size_t len, cap;
};

static void add_bytes(struct text *t, const void *b, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, b, n);
    t->len += n;
}

static void add(struct text *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof line);
    add_bytes(t, line, (size_t)n);
}

/* Entry i's field list [m, bytes] in RESP. */
static void add_m(struct text *t, const void *m, size_t len)
{
    add(t, "*2\r\n$1\r\nm\r\n$%zu\r\n", len);
    add_bytes(t, m, len);
    add(t, "\r\n");
}

/* Entry i: a mix of every case the loop meets, fixed by i. */
static void add_entry(struct text *t, struct fx *f, uint32_t i, uint64_t *rng)
{
    add(t, "*2\r\n$%d\r\n1700000000000-%u\r\n", snprintf(NULL, 0, "1700000000000-%u", i), i);
    int64_t ts = at(2026, 3, 1) + (int64_t)i * 1000;
    char txn[32], member[32];
    snprintf(txn, sizeof txn, "t-%u", i);
    snprintf(member, sizeof member, "m-%u", (unsigned)(splitmix_next(rng) % MEMBERS));
    uint32_t kind = i < MEMBERS ? 99u : (uint32_t)(splitmix_next(rng) % 20);
    if (i == RULES_AT) {
        entry(f, PROTO_RULES, ts, NULL, NULL);
        memset(f->e.hash, 'a', PROTO_HASH_LEN);
    } else if (i < MEMBERS) {
        snprintf(member, sizeof member, "m-%u", i);
        enroll(f, ts, txn, member);
    } else if (kind == 0) {
        add_m(t, "\xc1 not msgpack", 13); /* does not decode */
        return;
    } else if (kind == 1) {
        add(t, "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"); /* no field m */
        return;
    } else if (kind == 2) {
        add(t, "*-1\r\n"); /* deleted from the stream */
        return;
    } else if (kind == 3) {
        purchase(f, ts, "t-100", member, 2500); /* a txn seen before: a retry */
    } else if (kind == 4) {
        purchase(f, ts, txn, "never-enrolled", 900);
    } else {
        purchase(f, ts, txn, member, 100 + (int64_t)(splitmix_next(rng) % 100000));
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_encode_entry(&sb, &f->e), 0);
    add_m(t, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* The reply to XRANGE over ENTRIES entries, through hiredis' reader. */
static redisReply *make_reply(struct fx *f)
{
    struct text t = {NULL, 0, 0};
    uint64_t rng = 16;
    add(&t, "*%u\r\n", ENTRIES);
    for (uint32_t i = 0; i < ENTRIES; i++)
        add_entry(&t, f, i, &rng);
    redisReader *r = redisReaderCreate();
    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, t.p, t.len), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(r);
    free(t.p);
    return reply;
}

/* The resolver: the text is unknown until `known` (then it has a problem,
 * so the rules entry goes to the DLQ). */
static enum ingest_text resolve(void *ctx, const struct state *st, const char *hash,
                                struct rules_text *rt)
{
    (void)st;
    (void)hash;
    if (!*(bool *)ctx)
        return INGEST_TEXT_UNKNOWN;
    rt->rb = NULL;
    rt->problem = "test: text does not parse";
    return INGEST_TEXT_KNOWN;
}

/* ingest_apply_rules as another apply function: no decode-ahead. */
static int plain_apply(const void *arg, struct state *st, struct proto_id id,
                       const redisReply *idr, const redisReply *fields, struct batch *b,
                       struct outbox *res)
{
    return ingest_apply_rules(arg, st, id, idr, fields, b, res);
}

/* One way of applying the reply: a fresh state, its batch and stats. */
struct run {
    struct fx *f;
    struct batch b;
    struct ingest_stats stats;
};

static void run(struct run *w, const redisReply *reply, ingest_apply_fn *fn)
{
    w->f = fx_new();
    assert_non_null(w->f);
    w->f->st.last_id = (struct proto_id){1700000000000, SKIPPED - 1};
    assert_int_equal(batch_init(&w->b, ENTRIES), 0);
    memset(&w->stats, 0, sizeof w->stats);
    bool known = false;
    /* Partition 0 or 1 of 2, m-0's: the other's members go to the DLQ. */
    struct ingest_rules ir = {resolve, &known, partition_of("m-0", 3, 2), 2};
    size_t pos = 0;
    int rc = ingest_entries(fn, &ir, &w->f->st, reply, &pos, &w->b, &w->f->res, &w->stats);
    assert_int_equal(rc, INGEST_NEED_TEXT); /* paused at the rules entry */
    assert_int_equal(pos, RULES_AT);
    known = true;
    rc = ingest_entries(fn, &ir, &w->f->st, reply, &pos, &w->b, &w->f->res, &w->stats);
    assert_int_equal(rc, 0);
    assert_int_equal(pos, ENTRIES);
}

static void expect_same(const struct run *a, const struct run *b)
{
    assert_int_equal(a->stats.entries, b->stats.entries);
    assert_int_equal(a->stats.applied, b->stats.applied);
    assert_int_equal(a->stats.skipped, b->stats.skipped);
    assert_int_equal(a->b.entry_count, b->b.entry_count);
    assert_string_equal(a->b.last_id_str, b->b.last_id_str);
    assert_int_equal(a->b.out_count, b->b.out_count);
    assert_int_equal(a->b.buf.size, b->b.buf.size);
    assert_memory_equal(a->b.buf.data, b->b.buf.data, a->b.buf.size);
    assert_int_equal(a->b.dlq_count, b->b.dlq_count);
    for (uint32_t i = 0; i < a->b.dlq_count; i++) {
        assert_string_equal(a->b.dlq[i].src, b->b.dlq[i].src);
        assert_string_equal(a->b.dlq[i].reason, b->b.dlq[i].reason);
        assert_string_equal(a->b.dlq[i].detail, b->b.dlq[i].detail);
    }
    const struct state *sa = &a->f->st, *sb = &b->f->st;
    assert_int_equal(sa->entries_applied, sb->entries_applied);
    assert_int_equal(sa->entries_rejected, sb->entries_rejected);
    assert_int_equal(sa->members.count, sb->members.count);
    for (uint32_t i = 0; i < MEMBERS; i++) {
        char id[32];
        snprintf(id, sizeof id, "m-%u", i);
        uint32_t pa = members_find(&sa->members, id), pb = members_find(&sb->members, id);
        assert_true((pa == HINDEX_NONE) == (pb == HINDEX_NONE));
        if (pa != HINDEX_NONE)
            assert_int_equal(members_at(&sa->members, pa)->balance,
                             members_at(&sb->members, pb)->balance);
    }
}

static void free_run(struct run *w)
{
    batch_free(&w->b);
    fx_free(w->f);
}

static void test_same_outputs_with_and_without_the_window(void **state)
{
    (void)state;
    struct fx *maker = fx_new();
    assert_non_null(maker);
    redisReply *reply = make_reply(maker);
    fx_free(maker);
    struct run ahead, plain;
    run(&ahead, reply, ingest_apply_rules);
    run(&plain, reply, plain_apply);
    expect_same(&ahead, &plain);
    /* The reply covers every case, or the comparison proves little. */
    assert_int_equal(ahead.stats.skipped, SKIPPED);
    assert_true(ahead.b.out_count > 100);
    assert_true(ahead.b.dlq_count > 30);
    assert_true(ahead.f->st.members.count > 10);
    free_run(&ahead);
    free_run(&plain);
    freeReplyObject(reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_outputs_with_and_without_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
