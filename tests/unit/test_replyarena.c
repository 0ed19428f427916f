/* test_replyarena.c - replies built in a connection's arena (replyarena.h)
 * are the trees hiredis' own functions build: a real redisReader is fed
 * the same RESP bytes (an XREAD-shaped reply of 3,000 entries, larger than
 * a chunk, and every kind of reply) whole and byte by byte, one reply after
 * another in the same arena; and releasing the arena while the reader holds
 * half a reply frees everything (the ASan build checks for leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "replyarena.h"

/* Appends printf output to a growing buffer. */
struct text {
    char *p;
    size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof line);
    if (t->len + (size_t)n > t->cap) {
        t->cap = (t->len + (size_t)n) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, line, (size_t)n);
    t->len += (size_t)n;
}

/* An XREAD reply: [[stream, [[id, [m, bytes]]...]]], then one of each kind. */
static void replies(struct text *t, int entries)
{
    add(t, "*1\r\n*2\r\n$11\r\nloyalty:{0}\r\n*%d\r\n", entries);
    for (int i = 0; i < entries; i++) {
        char m[64];
        int n = snprintf(m, sizeof m, "payload-%d-%0*d", i, i % 40, 0);
        add(t, "*2\r\n$%d\r\n1700000000000-%d\r\n*2\r\n$1\r\nm\r\n$%d\r\n%s\r\n",
            (int)strlen("1700000000000-") + snprintf(NULL, 0, "%d", i), i, n, m);
    }
    add(t, "+OK\r\n-ERR fenced: epoch 3\r\n:-42\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n");
    add(t, "*3\r\n:1\r\n*2\r\n$-1\r\n+inner\r\n$3\r\na\tb\r\n");
}

static void assert_same_tree(const redisReply *a, const redisReply *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->integer, b->integer);
    assert_int_equal(a->len, b->len);
    assert_int_equal(a->str == NULL, b->str == NULL);
    if (a->str != NULL) {
        assert_memory_equal(a->str, b->str, a->len);
        assert_int_equal(b->str[b->len], '\0');
    }
    assert_int_equal(a->elements, b->elements);
    for (size_t i = 0; i < a->elements; i++)
        assert_same_tree(a->element[i], b->element[i]);
}

/* Feeds `t` to both readers `step` bytes at a time; compares each reply. */
static size_t compare_readers(const struct text *t, size_t step)
{
    redisReader *plain = redisReaderCreate();
    redisReader *arena = redisReaderCreate();
    assert_non_null(replyarena_attach(arena));
    struct replyarena *a = arena->privdata;
    size_t count = 0;
    for (size_t off = 0; off < t->len; off += step) {
        size_t n = t->len - off < step ? t->len - off : step;
        assert_int_equal(redisReaderFeed(plain, t->p + off, n), REDIS_OK);
        assert_int_equal(redisReaderFeed(arena, t->p + off, n), REDIS_OK);
        for (;;) {
            void *rp = NULL, *ra = NULL;
            assert_int_equal(redisReaderGetReply(plain, &rp), REDIS_OK);
            assert_int_equal(redisReaderGetReply(arena, &ra), REDIS_OK);
            assert_int_equal(rp == NULL, ra == NULL);
            if (rp == NULL)
                break;
            assert_same_tree(rp, ra);
            freeReplyObject(rp);
            arena->fn->freeObject(ra); /* as hiredis' async loop does */
            count++;
        }
    }
    redisReaderFree(plain);
    redisReaderFree(arena);
    replyarena_release(a);
    return count;
}

static void arena_builds_the_trees_hiredis_builds(void **state)
{
    (void)state;
    struct text t = {0};
    replies(&t, 3000);
    replies(&t, 5);
    const size_t per_set = 1 + 7 + 1; /* the XREAD, 7 single replies, the nested one */
    assert_int_equal(compare_readers(&t, t.len), 2 * per_set);
    assert_int_equal(compare_readers(&t, 1), 2 * per_set);
    assert_int_equal(compare_readers(&t, 16384), 2 * per_set);
    free(t.p);
}

/* A huge bulk string takes a chunk of its own. */
static void object_larger_than_a_chunk_gets_its_own(void **state)
{
    (void)state;
    struct text t = {0};
    size_t n = 3 * REPLYARENA_CHUNK;
    add(&t, "*2\r\n$%zu\r\n", n);
    t.p = realloc(t.p, t.len + n + 64);
    memset(t.p + t.len, 'z', n);
    t.len += n;
    memcpy(t.p + t.len, "\r\n:7\r\n", 6);
    t.len += 6;
    t.cap = t.len;
    assert_int_equal(compare_readers(&t, 4096), 1);
    free(t.p);
}

/* The owner lets go while the reader holds half a reply: freed with it. */
static void released_with_half_a_reply_frees_with_the_reader(void **state)
{
    (void)state;
    redisReader *r = redisReaderCreate();
    struct replyarena *a = replyarena_attach(r);
    assert_non_null(a);
    const char *half = "*3\r\n:1\r\n$5\r\nhel";
    assert_int_equal(redisReaderFeed(r, half, strlen(half)), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_null(reply);
    assert_non_null(r->reply); /* the root is built, its elements not all */
    replyarena_release(a);
    redisReaderFree(r); /* frees the half reply, and with it the arena */
}

static void released_with_nothing_alive_frees_at_once(void **state)
{
    (void)state;
    redisReader *r = redisReaderCreate();
    struct replyarena *a = replyarena_attach(r);
    assert_non_null(a);
    replyarena_release(a);
    r->fn = NULL; /* the reader must not use the arena any more */
    redisReaderFree(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_builds_the_trees_hiredis_builds),
        cmocka_unit_test(object_larger_than_a_chunk_gets_its_own),
        cmocka_unit_test(released_with_half_a_reply_frees_with_the_reader),
        cmocka_unit_test(released_with_nothing_alive_frees_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
