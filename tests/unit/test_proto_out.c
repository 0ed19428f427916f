/* test_proto_out.c - reading output events back (proto/proto_out.h):
 * every output the encoder writes reads back the same; kinds, causes and
 * keys the contract does not have yet are accepted; what is read is
 * checked (types, lengths, required fields); proto_unpack bounds what
 * msgpack-c may allocate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "proto.h"
#include "proto_out.h"

/* Unpacks and reads `len` bytes; returns proto_out_read's result (or -1
 * from proto_unpack with rej set). */
static int read_bytes(const char *buf, size_t len, struct proto_out_event *ev,
                      struct proto_reject *rej)
{
    msgpack_zone zone;
    msgpack_object top;
    if (proto_unpack(buf, len, &zone, &top, rej) != 0)
        return -1;
    int rc = proto_out_read(&top, ev, rej);
    msgpack_zone_destroy(&zone);
    return rc;
}

static void str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* The common keys of an output (6 pairs) with `kind`. */
static void common(msgpack_packer *pk, const char *kind)
{
    str(pk, "v");
    msgpack_pack_uint64(pk, 1);
    str(pk, "kind");
    str(pk, kind);
    str(pk, "id");
    str(pk, "1795398629374-1:0");
    str(pk, "src");
    str(pk, "1795398629374-1");
    str(pk, "member");
    str(pk, "M1");
    str(pk, "ts");
    msgpack_pack_uint64(pk, 1795398629370ULL);
}

static void encoded_outputs_read_back(void **state)
{
    (void)state;
    struct proto_output o = {.kind = PROTO_OUT_POINTS_CHANGED, .ts = 1795398629370LL,
                             .delta = -150, .balance = 25, .cause = PROTO_CAUSE_REFUND};
    memcpy(o.member, "M1", 3);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    assert_int_equal(proto_encode_output(&buf, &o, (struct proto_id){1795398629374ULL, 7}, 2), 0);
    struct proto_out_event ev;
    struct proto_reject rej;
    assert_int_equal(read_bytes(buf.data, buf.size, &ev, &rej), 0);
    assert_string_equal(ev.kind, "points.changed");
    assert_string_equal(ev.id, "1795398629374-7:2");
    assert_string_equal(ev.src, "1795398629374-7");
    assert_string_equal(ev.member, "M1");
    assert_int_equal(ev.ts, 1795398629370LL);
    assert_true(ev.has_points);
    assert_int_equal(ev.delta, -150);
    assert_int_equal(ev.balance, 25);
    assert_string_equal(ev.cause, "refund");
    msgpack_sbuffer_clear(&buf);
    o = (struct proto_output){.kind = PROTO_OUT_TIER_CHANGED, .ts = 5, .from = "blue",
                              .to = "silver", .reason = "upgrade"};
    assert_int_equal(proto_encode_output(&buf, &o, (struct proto_id){9, 0}, 0), 0);
    assert_int_equal(read_bytes(buf.data, buf.size, &ev, &rej), 0);
    assert_string_equal(ev.from, "blue");
    assert_string_equal(ev.to, "silver");
    assert_false(ev.has_points);
    msgpack_sbuffer_destroy(&buf);
}

static void unknown_kinds_causes_and_keys_are_accepted(void **state)
{
    (void)state;
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    common(&pk, "points.changed");
    str(&pk, "delta");
    msgpack_pack_int64(&pk, 40);
    str(&pk, "balance");
    msgpack_pack_int64(&pk, 40);
    str(&pk, "cause");
    str(&pk, "transfer_in"); /* a cause of the second wave */
    struct proto_out_event ev;
    struct proto_reject rej;
    assert_int_equal(read_bytes(buf.data, buf.size, &ev, &rej), 0);
    assert_string_equal(ev.cause, "transfer_in");
    msgpack_sbuffer_clear(&buf);
    msgpack_pack_map(&pk, 9);
    common(&pk, "tier.at_risk"); /* a kind this reader does not know */
    str(&pk, "review_ts");
    msgpack_pack_uint64(&pk, 17);
    str(&pk, "needed");
    msgpack_pack_double(&pk, 1.5); /* even a float, in a field not read */
    str(&pk, "extra");
    msgpack_pack_array(&pk, 0);
    assert_int_equal(read_bytes(buf.data, buf.size, &ev, &rej), 0);
    assert_string_equal(ev.kind, "tier.at_risk");
    assert_string_equal(ev.member, "M1");
    msgpack_sbuffer_clear(&buf);
    msgpack_pack_map(&pk, 8);
    common(&pk, PROTO_OUT_RULES_CHANGED_NAME);
    str(&pk, "to");
    str(&pk, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    str(&pk, "label");
    str(&pk, "spring");
    assert_int_equal(read_bytes(buf.data, buf.size, &ev, &rej), 0);
    assert_string_equal(ev.to, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    assert_string_equal(ev.from, "");
    assert_string_equal(ev.label, "spring");
    msgpack_sbuffer_destroy(&buf);
}

struct bad_event {
    const char *what;
    const char *code;
    void (*pack)(msgpack_packer *pk);
};

static void pack_not_a_map(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_nil(pk);
}

static void pack_points_without_balance(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 8);
    common(pk, "points.changed");
    str(pk, "delta");
    msgpack_pack_int64(pk, 5);
    str(pk, "cause");
    str(pk, "purchase");
}

static void pack_string_delta(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 9);
    common(pk, "points.changed");
    str(pk, "delta");
    str(pk, "5");
    str(pk, "balance");
    msgpack_pack_int64(pk, 5);
    str(pk, "cause");
    str(pk, "purchase");
}

static void pack_long_member(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    str(pk, "ts");
    msgpack_pack_uint64(pk, 1);
    str(pk, "kind");
    str(pk, "perk.triggered");
    str(pk, "id");
    str(pk, "1-1:0");
    str(pk, "src");
    str(pk, "1-1");
    str(pk, "member");
    str(pk, "M12345678901234567890123456789012"); /* 33 bytes */
}

static void pack_no_kind(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    str(pk, "ts");
    msgpack_pack_uint64(pk, 1);
}

static void pack_overflowing_balance(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 9);
    common(pk, "points.changed");
    str(pk, "delta");
    msgpack_pack_int64(pk, -1);
    str(pk, "balance");
    msgpack_pack_int64(pk, INT64_MAX);
    str(pk, "cause");
    str(pk, "redeem");
}

static void pack_duplicate_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7);
    common(pk, "reward.issued");
    str(pk, "kind");
    str(pk, "points.changed");
}

static void bad_events_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const struct bad_event BAD[] = {
        {"not a map", PROTO_R_NOT_A_MAP, pack_not_a_map},
        {"points.changed without balance", PROTO_R_MISSING_FIELD, pack_points_without_balance},
        {"delta as a string", PROTO_R_WRONG_TYPE, pack_string_delta},
        {"member of 33 bytes", PROTO_R_FIELD_TOO_LONG, pack_long_member},
        {"no kind", PROTO_R_MISSING_FIELD, pack_no_kind},
        {"balance - delta overflows", PROTO_R_OUT_OF_RANGE, pack_overflowing_balance},
        {"kind given twice", PROTO_R_DUPLICATE_KEY, pack_duplicate_key},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        msgpack_sbuffer buf;
        msgpack_packer pk;
        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        BAD[i].pack(&pk);
        struct proto_out_event ev;
        struct proto_reject rej;
        if (read_bytes(buf.data, buf.size, &ev, &rej) != -1 || strcmp(rej.code, BAD[i].code))
            fail_msg("%s: want %s, got %s (%s)", BAD[i].what, BAD[i].code,
                     rej.code ? rej.code : "success", rej.detail);
        msgpack_sbuffer_destroy(&buf);
    }
}

static void unpack_refuses_claims_the_bytes_cannot_hold(void **state)
{
    (void)state;
    /* A map claiming 2^32 - 1 pairs in 5 bytes: msgpack-c alone would try
     * to allocate room for all of them. */
    static const char huge[] = "\xdf\xff\xff\xff\xff";
    msgpack_zone zone;
    msgpack_object top;
    struct proto_reject rej;
    assert_int_equal(proto_unpack(huge, 5, &zone, &top, &rej), -1);
    assert_string_equal(rej.code, PROTO_R_BAD_MSGPACK);
    assert_int_equal(proto_unpack("", 0, &zone, &top, &rej), -1);
    char big[PROTO_ENTRY_BYTES_MAX + 1] = {0};
    assert_int_equal(proto_unpack(big, sizeof big, &zone, &top, &rej), -1);
    assert_string_equal(rej.code, PROTO_R_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encoded_outputs_read_back),
        cmocka_unit_test(unknown_kinds_causes_and_keys_are_accepted),
        cmocka_unit_test(bad_events_are_refused_with_a_reason),
        cmocka_unit_test(unpack_refuses_claims_the_bytes_cannot_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
