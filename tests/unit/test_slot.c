/* test_slot.c - the Cluster slot of a key, as redis-server 7.0's CLUSTER
 * KEYSLOT answers it (the values below were read from one): CRC16/XMODEM
 * of the hash tag (or the key), mod 16384, with the hash tag rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "slot.h"

static void crc16_is_xmodem(void **state)
{
    (void)state;
    assert_int_equal(slot_crc16("123456789", 9), 0x31C3); /* the standard check value */
    assert_int_equal(slot_crc16("", 0), 0);
}

static void slots_match_cluster_keyslot(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint16_t slot;
    } v[] = {
        {"123456789", 12739},       {"somekey", 11058},         {"foo", 12182},
        {"loyalty:{0}:in", 13907},  {"loyalty:{15}:out", 4178}, {"{user1000}.following", 3443},
        {"foo{}{bar}", 8363},       {"foo{{bar}}zap", 4015},    {"foo{bar}{zap}", 5061},
        {"a{b}", 3300},             {"{", 4092},                {"}{x}", 16287},
        {"loyalty:in", 8609},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (slot_of(v[i].key, strlen(v[i].key)) != v[i].slot)
            fail_msg("slot of '%s' is %u, Redis says %u", v[i].key,
                     slot_of(v[i].key, strlen(v[i].key)), v[i].slot);
}

static void a_partitions_keys_share_its_slot(void **state)
{
    (void)state;
    static const char *const names[] = {"in", "out", "dlq", "progress", "owner"};
    for (unsigned p = 0; p < 64; p++) {
        char key[64];
        snprintf(key, sizeof(key), "loyalty:{%u}:in", p);
        uint16_t want = slot_of(key, strlen(key));
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            snprintf(key, sizeof(key), "loyalty:{%u}:%s", p, names[i]);
            assert_int_equal(slot_of(key, strlen(key)), want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc16_is_xmodem),
        cmocka_unit_test(slots_match_cluster_keyslot),
        cmocka_unit_test(a_partitions_keys_share_its_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
