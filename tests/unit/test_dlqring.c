/* test_dlqring.c - the ring of recent DLQ entries behind GET /v1/dlq: it
 * keeps the newest DLQRING_ENTRIES_MAX in order, shows them newest first
 * with the head of their bytes, counts every entry added and forgets all
 * on clear. Batches are real (batch.c), filled as the consumer fills them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "dlqring.h"

/* A batch of `n` DLQ entries: entry i has src "7-i", reason "r<i%3>" and
 * i + 1 bytes, byte k of it being (i + k) & 0xff. */
static void fill(struct batch *b, uint32_t n)
{
    static const char *reasons[] = {"r0", "r1", "r2"};
    static char bytes[512];
    assert_int_equal(batch_init(b, n), 0);
    for (uint32_t i = 0; i < n; i++) {
        char src[32];
        struct proto_reject rej = {reasons[i % 3], ""};
        snprintf(src, sizeof(src), "7-%u", i);
        snprintf(rej.detail, sizeof(rej.detail), "detail %u", i);
        for (uint32_t k = 0; k <= i; k++)
            bytes[k] = (char)((i + k) & 0xff);
        assert_int_equal(batch_add_dlq(b, src, bytes, i + 1, &rej), 0);
    }
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void expect_entry(json_t *e, uint32_t i)
{
    char want[2 * DLQRING_HEAD_BYTES + 1], src[32], detail[32];
    uint32_t head = i + 1 < DLQRING_HEAD_BYTES ? i + 1 : DLQRING_HEAD_BYTES;
    for (uint32_t k = 0; k < head; k++)
        snprintf(want + 2 * k, 3, "%02x", (i + k) & 0xff);
    want[2 * head] = '\0';
    snprintf(src, sizeof(src), "7-%u", i);
    snprintf(detail, sizeof(detail), "detail %u", i);
    assert_string_equal(str(e, "src"), src);
    assert_string_equal(str(e, "detail"), detail);
    assert_string_equal(str(e, "reason"), i % 3 == 0 ? "r0" : i % 3 == 1 ? "r1" : "r2");
    assert_int_equal(json_integer_value(json_object_get(e, "m_bytes")), i + 1);
    assert_string_equal(str(e, "m_head_hex"), want);
}

static void keeps_the_newest_and_lists_them_newest_first(void **state)
{
    (void)state;
    const uint32_t n = DLQRING_ENTRIES_MAX + 44;
    struct batch b;
    struct dlqring *r = dlqring_new();
    assert_non_null(r);
    fill(&b, n);
    dlqring_add_batch(r, &b);
    json_t *j = dlqring_json(r, DLQRING_ENTRIES_MAX);
    json_t *list = json_object_get(j, "entries");
    assert_int_equal(json_array_size(list), DLQRING_ENTRIES_MAX);
    assert_int_equal(json_integer_value(json_object_get(j, "held")), DLQRING_ENTRIES_MAX);
    assert_int_equal(json_integer_value(json_object_get(j, "committed")), n);
    for (uint32_t k = 0; k < DLQRING_ENTRIES_MAX; k++)
        expect_entry(json_array_get(list, k), n - 1 - k);
    json_decref(j);
    batch_free(&b);
    dlqring_free(r);
}

static void a_limit_returns_the_newest_few(void **state)
{
    (void)state;
    struct batch b;
    struct dlqring *r = dlqring_new();
    fill(&b, 5);
    dlqring_add_batch(r, &b);
    dlqring_add_batch(r, &b); /* a second batch: the ring appends it */
    json_t *j = dlqring_json(r, 3);
    json_t *list = json_object_get(j, "entries");
    assert_int_equal(json_array_size(list), 3);
    expect_entry(json_array_get(list, 0), 4);
    expect_entry(json_array_get(list, 2), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "held")), 10);
    json_decref(j);
    batch_free(&b);
    dlqring_free(r);
}

static void clear_forgets_every_entry(void **state)
{
    (void)state;
    struct batch b;
    struct dlqring *r = dlqring_new();
    fill(&b, 4);
    dlqring_add_batch(r, &b);
    dlqring_clear(r);
    json_t *j = dlqring_json(r, 10);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "committed")), 0);
    json_decref(j);
    dlqring_add_batch(r, &b);
    j = dlqring_json(r, 10);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 4);
    expect_entry(json_array_get(json_object_get(j, "entries"), 0), 3);
    json_decref(j);
    batch_free(&b);
    dlqring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_the_newest_and_lists_them_newest_first),
        cmocka_unit_test(a_limit_returns_the_newest_few),
        cmocka_unit_test(clear_forgets_every_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
