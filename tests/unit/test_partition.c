/* test_partition.c - the partition function against the shared vectors
 * (tests/vectors/partition.json, which the Python and Node client helpers
 * check too): crc32 of the member id's bytes as zlib computes it, mod P.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "partition.h"

static json_t *vectors(void)
{
    json_error_t err;
    json_t *root = json_load_file(LOYALTY_VECTORS_DIR "/partition.json", 0, &err);
    if (root == NULL)
        fail_msg("%s:%d: %s", LOYALTY_VECTORS_DIR "/partition.json", err.line, err.text);
    return root;
}

static void crc32_is_ieee_as_zlib_computes_it(void **state)
{
    (void)state;
    json_t *root = vectors();
    json_t *check = json_object_get(root, "check");
    const char *member = json_string_value(json_object_get(check, "member"));
    assert_non_null(member);
    /* The standard check value of CRC-32/ISO-HDLC. */
    assert_int_equal(partition_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(partition_crc32(member, strlen(member)),
                     json_integer_value(json_object_get(check, "crc32")));
    assert_int_equal(partition_crc32("", 0), 0);
    json_decref(root);
}

static void every_shared_vector_gives_its_crc32_and_partition(void **state)
{
    (void)state;
    json_t *root = vectors();
    json_t *list = json_object_get(root, "vectors"), *v;
    size_t i, checked = 0;
    assert_true(json_array_size(list) >= 20);
    json_array_foreach(list, i, v) {
        const char *member = json_string_value(json_object_get(v, "member"));
        json_int_t p = json_integer_value(json_object_get(v, "partitions"));
        assert_non_null(member);
        assert_true(p >= 1 && p <= UINT32_MAX);
        uint32_t crc = partition_crc32(member, strlen(member));
        assert_int_equal(crc, json_integer_value(json_object_get(v, "crc32")));
        assert_int_equal(partition_of(member, strlen(member), (uint32_t)p),
                         json_integer_value(json_object_get(v, "partition")));
        checked++;
    }
    assert_int_equal(checked, json_array_size(list));
    json_decref(root);
}

static void one_partition_holds_everyone(void **state)
{
    (void)state;
    assert_int_equal(partition_of("M1", 2, 1), 0);
    assert_int_equal(partition_of("\xff\x00x", 3, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32_is_ieee_as_zlib_computes_it),
        cmocka_unit_test(every_shared_vector_gives_its_crc32_and_partition),
        cmocka_unit_test(one_partition_holds_everyone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
