/* test_proto.c - the event contract: decoding and validating input entries,
 * encoding entries and outputs, stream ids.
 *
 * Bad inputs are built by hand from a list of key/value pairs (a valid entry
 * of each kind, with some pairs replaced, removed or added), so each test
 * says exactly what is wrong with its input. Every input is decoded from a
 * heap copy of exactly its size, so ASan sees any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define TS 1700000000000LL
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- maps built by hand ------------------------------------------------ */

enum val_type { V_NONE, V_STR, V_UINT, V_INT, V_F64, V_NIL, V_BIN, V_LINES, V_RAW };

struct val {
    enum val_type t;
    const char *s;
    size_t n;
    uint64_t u;
    int64_t i;
    double d;
};

struct kv {
    const char *key;
    struct val v;
};

#define S(x) {.t = V_STR, .s = (x), .n = sizeof(x) - 1}
#define SN(p, len) {.t = V_STR, .s = (p), .n = (len)}
#define U(x) {.t = V_UINT, .u = (x)}
#define I(x) {.t = V_INT, .i = (x)}
#define F64(x) {.t = V_F64, .d = (x)}
#define NIL {.t = V_NIL}
#define BIN(x) {.t = V_BIN, .s = (x), .n = sizeof(x) - 1}
/* As an override: leave the key out. */
#define ABSENT {.t = V_NONE}
/* `count` valid line maps, each without the key `omit` (or NULL). */
#define LINES(count, omit) {.t = V_LINES, .u = (count), .s = (omit)}
/* Bytes written as they are: a value msgpack_pack has no call for. */
#define RAW(x) {.t = V_RAW, .s = (x), .n = sizeof(x) - 1}

#define COMMON(kind) {"v", U(1)}, {"kind", S(kind)}, {"ts", U(TS)}

/* A valid entry of each kind with only its required fields (redeem needs
 * one of points or reward on top). */
static const struct kv PURCHASE[] = {COMMON("purchase"), {"txn", S("t-1")},
                                     {"member", S("m-1")}, {"store", S("s-1")},
                                     {"amount", U(1250)}};
static const struct kv REFUND[] = {COMMON("refund"), {"txn", S("t-2")},
                                   {"orig_txn", S("t-1")}, {"member", S("m-1")},
                                   {"amount", U(500)}};
static const struct kv REDEEM[] = {COMMON("redeem"), {"txn", S("t-3")}, {"member", S("m-1")}};
static const struct kv ADJUST[] = {COMMON("adjust"), {"txn", S("t-4")}, {"member", S("m-1")},
                                   {"points", I(-20)}, {"reason", S("goodwill gesture")}};
static const struct kv ENROLL[] = {COMMON("enroll"), {"txn", S("t-5")}, {"member", S("m-2")}};
static const struct kv SCAN[] = {COMMON("scan"), {"member", S("m-1")}, {"store", S("s-1")}};
static const struct kv TICK[] = {COMMON("tick")};
static const struct kv RULES[] = {COMMON("rules"), {"hash", S("0123456789abcdef0123456789abcdef")}};
static const struct kv TRANSFER[] = {COMMON("transfer"), {"txn", S("t-6")}, {"member", S("m-1")},
                                     {"to", S("m-2")}, {"points", U(300)}};
static const struct kv SET_TIER[] = {COMMON("set_tier"), {"txn", S("t-7")},
                                     {"member", S("m-1")}, {"tier", S("gold")},
                                     {"reason", S("status match")}};

static void pack_map(msgpack_packer *pk, const struct kv *base, size_t nb,
                     const struct kv *over, size_t no);

static void pack_lines(msgpack_packer *pk, uint64_t count, const char *omit)
{
    const struct kv line[] = {{"sku", S("sku-1")}, {"cat", S("shoes")}, {"qty", U(2)},
                              {"amount", U(500)}};
    const struct kv without[] = {{omit != NULL ? omit : "", ABSENT}};
    msgpack_pack_array(pk, count);
    for (uint64_t i = 0; i < count; i++)
        pack_map(pk, line, LEN(line), without, 1);
}

static void pack_val(msgpack_packer *pk, const struct val *v)
{
    switch (v->t) {
    case V_STR: msgpack_pack_str_with_body(pk, v->s, v->n); break;
    case V_UINT: msgpack_pack_uint64(pk, v->u); break;
    case V_INT: msgpack_pack_int64(pk, v->i); break;
    case V_F64: msgpack_pack_double(pk, v->d); break;
    case V_NIL: msgpack_pack_nil(pk); break;
    case V_BIN: msgpack_pack_bin_with_body(pk, v->s, v->n); break;
    case V_LINES: pack_lines(pk, v->u, v->s); break;
    case V_RAW: msgpack_sbuffer_write(pk->data, v->s, v->n); break;
    case V_NONE: fail_msg("ABSENT is only for overrides");
    }
}

static bool replaced(const char *key, const struct kv *over, size_t no)
{
    for (size_t i = 0; i < no; i++)
        if (strcmp(over[i].key, key) == 0)
            return true;
    return false;
}

/* Packs `base` with each pair whose key is in `over` replaced by (or, for
 * ABSENT, removed in favour of) the one in `over`; the rest of `over` is
 * added. A key listed twice in `base` is packed twice. */
static void pack_map(msgpack_packer *pk, const struct kv *base, size_t nb,
                     const struct kv *over, size_t no)
{
    size_t pairs = 0;
    for (size_t i = 0; i < nb; i++)
        pairs += !replaced(base[i].key, over, no);
    for (size_t i = 0; i < no; i++)
        pairs += over[i].v.t != V_NONE;
    msgpack_pack_map(pk, pairs);
    for (size_t i = 0; i < nb + no; i++) {
        const struct kv *p = i < nb ? &base[i] : &over[i - nb];
        if ((i < nb && replaced(p->key, over, no)) || p->v.t == V_NONE)
            continue;
        msgpack_pack_str_with_body(pk, p->key, strlen(p->key));
        pack_val(pk, &p->v);
    }
}

/* A growable buffer and a packer that appends to it (so it must not move). */
struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void packed_init(struct packed *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

/* The last decode's results. */
static struct proto_entry g_entry;
static struct proto_reject g_rej;

/* Decodes a heap copy of exactly `n` bytes. Returns "ok" or the reason. */
static const char *try_bytes(const void *p, size_t n)
{
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    int rc = proto_decode(copy, n, &g_entry, &g_rej);
    free(copy);
    if (rc == 0) {
        assert_null(g_rej.code);
        return "ok";
    }
    assert_int_equal(rc, -1);
    assert_non_null(g_rej.code);
    assert_true(strlen(g_rej.detail) > 0);
    return g_rej.code;
}

static const char *try_kv(const struct kv *base, size_t nb, const struct kv *over, size_t no)
{
    struct packed p;
    packed_init(&p);
    pack_map(&p.pk, base, nb, over, no);
    const char *code = try_bytes(p.sb.data, p.sb.size);
    msgpack_sbuffer_destroy(&p.sb);
    return code;
}

#define OVER(...) (const struct kv[]){__VA_ARGS__}, LEN(((const struct kv[]){__VA_ARGS__}))
/* Asserts that `base` with the pairs in ... decodes to `code` ("ok"). */
#define EXPECT(code, base, ...) \
    assert_string_equal(try_kv(base, LEN(base), OVER(__VA_ARGS__)), code)
#define EXPECT_BASE(code, base) assert_string_equal(try_kv(base, LEN(base), NULL, 0), code)
#define EXPECT_DETAIL(text) assert_non_null(strstr(g_rej.detail, text))

/* n bytes of 'x' (n < 300), for strings at and over their limits. */
static const char *xs(void)
{
    static char buf[300];
    memset(buf, 'x', sizeof buf - 1);
    return buf;
}

/* ---- round trips ------------------------------------------------------- */

static void assert_round_trips(const struct proto_entry *e)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_encode_entry(&sb, e), 0);
    assert_true(sb.size <= PROTO_ENTRY_BYTES_MAX);
    assert_string_equal(try_bytes(sb.data, sb.size), "ok");
    assert_memory_equal(&g_entry, e, sizeof *e);
    msgpack_sbuffer_destroy(&sb);
}

/* Each kind with and without its optional fields. Static, so padding is
 * zero and the bytewise comparison with the decoded entry is exact. */
static const struct proto_entry ROUND_TRIPS[] = {
    {.kind = PROTO_PURCHASE, .ts = TS, .txn = "t-1", .member = "m-1", .store = "s-1",
     .amount = 2599, .line_count = 2,
     .lines = {{"sku-1", "shoes", 1, 2599}, {"bag", "free", 3, 0}}},
    {.kind = PROTO_PURCHASE, .ts = 1, .txn = "t-1", .member = "m-1", .store = "s-1",
     .amount = 1},
    {.kind = PROTO_REFUND, .ts = TS, .txn = "t-2", .orig_txn = "t-1", .member = "m-1",
     .amount = 700},
    {.kind = PROTO_REDEEM, .ts = TS, .txn = "t-3", .member = "m-1",
     .points = PROTO_POINTS_MAX},
    {.kind = PROTO_REDEEM, .ts = TS, .txn = "t-3", .member = "m-1", .reward = "free-coffee"},
    {.kind = PROTO_ADJUST, .ts = TS, .txn = "t-4", .member = "m-1",
     .points = -PROTO_POINTS_MAX, .reason = "duplicate sale, ticket #42"},
    {.kind = PROTO_ADJUST, .ts = TS, .txn = "t-4", .member = "m-1", .points = 120000,
     .reason = "migration", .qualifying = true},
    {.kind = PROTO_ENROLL, .ts = TS, .txn = "t-5", .member = "m-2"},
    {.kind = PROTO_ENROLL, .ts = TS, .txn = "t-5", .member = "m-2", .birthday_month = 2,
     .birthday_day = 29, .referrer = "m-1"},
    {.kind = PROTO_SCAN, .ts = TS, .member = "m-1", .store = "entrance-3"},
    {.kind = PROTO_SCAN, .ts = TS, .member = "m-1", .store = "s-1", .txn = "t-9"},
    {.kind = PROTO_TICK, .ts = PROTO_TS_MAX},
    {.kind = PROTO_RULES, .ts = TS, .hash = "0123456789abcdef0123456789abcdef"},
    {.kind = PROTO_RULES, .ts = TS, .hash = "0123456789abcdef0123456789abcdef", .label = "weekend x2, see ticket #7",
     .effective_ts = PROTO_TS_MAX},
    {.kind = PROTO_TRANSFER, .ts = TS, .txn = "t-6", .member = "m-1", .to = "m-2",
     .points = PROTO_POINTS_MAX},
    {.kind = PROTO_SET_TIER, .ts = TS, .txn = "t-7", .member = "m-1", .tier = "gold",
     .reason = "service gesture"},
    {.kind = PROTO_SET_TIER, .ts = TS, .txn = "t-7", .member = "m-1", .tier = "gold",
     .reason = "status match", .until_ts = PROTO_TS_MAX},
    {.kind = PROTO_TRANSFER_CREDIT, .ts = TS, .txn = "t-6", .member = "m-2", .from = "m-1",
     .points = PROTO_POINTS_MAX, .piece_count = 2,
     .pieces = {{0, PROTO_POINTS_MAX - 1}, {PROTO_TS_MAX, 1}}},
    {.kind = PROTO_TRANSFER_RETURN, .ts = TS, .txn = "t-6", .member = "m-1", .from = "m-2",
     .points = 40, .piece_count = 1, .pieces = {{TS, 40}}},
};

static void every_input_kind_round_trips_through_encode_and_decode(void **state)
{
    (void)state;
    bool seen[PROTO_KIND_COUNT] = {false};
    for (size_t i = 0; i < LEN(ROUND_TRIPS); i++) {
        assert_round_trips(&ROUND_TRIPS[i]);
        seen[ROUND_TRIPS[i].kind] = true;
    }
    for (int k = 0; k < PROTO_KIND_COUNT; k++)
        assert_true(seen[k]);
}

static void purchase_at_every_limit_round_trips_within_entry_bytes_max(void **state)
{
    (void)state;
    static struct proto_entry e; /* static: zero padding, for the bytewise check */
    e.kind = PROTO_PURCHASE;
    e.ts = PROTO_TS_MAX;
    memcpy(e.txn, xs(), PROTO_TXN_MAX);
    memcpy(e.member, xs(), PROTO_MEMBER_MAX);
    memcpy(e.store, xs(), PROTO_NAME_MAX);
    e.amount = PROTO_AMOUNT_MAX;
    e.line_count = PROTO_LINES_MAX;
    for (int i = 0; i < PROTO_LINES_MAX; i++) {
        memcpy(e.lines[i].sku, xs(), PROTO_NAME_MAX);
        memcpy(e.lines[i].cat, xs(), PROTO_NAME_MAX);
        e.lines[i].qty = PROTO_QTY_MAX;
        e.lines[i].amount = PROTO_AMOUNT_MAX;
    }
    assert_round_trips(&e);
}

static void tick_is_encoded_as_v_kind_and_ts_only(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const struct proto_entry tick = {.kind = PROTO_TICK, .ts = TS};
    assert_int_equal(proto_encode_entry(&sb, &tick), 0);
    assert_int_equal((unsigned char)sb.data[0], 0x83); /* a map of 3 */
    msgpack_sbuffer_destroy(&sb);
}

/* ---- the shape of the bytes -------------------------------------------- */

static void empty_entry_is_bad_msgpack(void **state)
{
    (void)state;
    assert_string_equal(try_bytes("", 0), PROTO_R_BAD_MSGPACK);
    assert_int_equal(proto_decode(NULL, 0, &g_entry, &g_rej), -1);
}

static void entry_over_entry_bytes_max_is_too_large(void **state)
{
    (void)state;
    static char big[PROTO_ENTRY_BYTES_MAX + 1];
    assert_string_equal(try_bytes(big, sizeof big), PROTO_R_TOO_LARGE);
}

static void garbage_bytes_are_bad_msgpack(void **state)
{
    (void)state;
    assert_string_equal(try_bytes("\xc1", 1), PROTO_R_BAD_MSGPACK);
    EXPECT_DETAIL("0xc1");
    assert_string_equal(try_bytes("\x82\xa1v\x01\xc1", 5), PROTO_R_BAD_MSGPACK);
}

static void every_truncation_of_a_valid_entry_is_bad_msgpack(void **state)
{
    (void)state;
    struct packed p;
    packed_init(&p);
    const struct kv lines[] = {{"lines", LINES(2, NULL)}};
    pack_map(&p.pk, PURCHASE, LEN(PURCHASE), lines, 1);
    assert_string_equal(try_bytes(p.sb.data, p.sb.size), "ok");
    for (size_t n = 1; n < p.sb.size; n++)
        assert_string_equal(try_bytes(p.sb.data, n), PROTO_R_BAD_MSGPACK);
    msgpack_sbuffer_destroy(&p.sb);
}

static void trailing_bytes_after_the_entry_are_bad_msgpack(void **state)
{
    (void)state;
    struct packed p;
    packed_init(&p);
    pack_map(&p.pk, TICK, LEN(TICK), NULL, 0);
    msgpack_pack_nil(&p.pk);
    assert_string_equal(try_bytes(p.sb.data, p.sb.size), PROTO_R_BAD_MSGPACK);
    EXPECT_DETAIL("1 more bytes follow");
    msgpack_sbuffer_destroy(&p.sb);
}

static void array_claiming_4_billion_elements_in_5_bytes_is_bad_msgpack(void **state)
{
    (void)state;
    assert_string_equal(try_bytes("\xdd\xff\xff\xff\xff", 5), PROTO_R_BAD_MSGPACK);
    assert_string_equal(try_bytes("\xdf\xff\xff\xff\xff", 5), PROTO_R_BAD_MSGPACK);
    /* Nested, where each claim alone would fit the bytes left but the two
     * together do not. */
    assert_string_equal(try_bytes("\x92\x93\xc0\xc0\xc0", 5), PROTO_R_BAD_MSGPACK);
    EXPECT_DETAIL("array at byte 1 claims 3 elements");
}

static void string_claiming_more_bytes_than_follow_is_bad_msgpack(void **state)
{
    (void)state;
    assert_string_equal(try_bytes("\xdb\xff\xff\xff\xff" "ab", 7), PROTO_R_BAD_MSGPACK);
    assert_string_equal(try_bytes("\xc7\x05\x01" "ab", 5), PROTO_R_BAD_MSGPACK);
}

static void nesting_100_deep_is_too_deep(void **state)
{
    (void)state;
    char deep[101];
    memset(deep, 0x91, 100); /* 100 arrays of one element */
    deep[100] = (char)0xc0;
    assert_string_equal(try_bytes(deep, sizeof deep), PROTO_R_TOO_DEEP);
}

static void metadata_may_nest_one_level_deeper_than_lines_and_no_more(void **state)
{
    (void)state;
    EXPECT("ok", PURCHASE, {"meta", RAW("\x91\x91\x91\x01")});
    EXPECT(PROTO_R_TOO_DEEP, PURCHASE, {"meta", RAW("\x91\x91\x91\x91\x01")});
}

static void map_of_more_than_keys_max_keys_is_too_large(void **state)
{
    (void)state;
    struct kv extra[PROTO_KEYS_MAX];
    char names[PROTO_KEYS_MAX][8];
    size_t room = PROTO_KEYS_MAX - LEN(TICK);
    for (size_t i = 0; i <= room; i++) {
        snprintf(names[i], sizeof names[i], "k%zu", i);
        extra[i] = (struct kv){names[i], NIL};
    }
    assert_string_equal(try_kv(TICK, LEN(TICK), extra, room), "ok");
    assert_string_equal(try_kv(TICK, LEN(TICK), extra, room + 1), PROTO_R_TOO_LARGE);
}

/* ---- the envelope: map, v, kind, ts ------------------------------------- */

static void entry_that_is_not_a_map_is_not_a_map(void **state)
{
    (void)state;
    assert_string_equal(try_bytes("\x93\x01\x02\x03", 4), PROTO_R_NOT_A_MAP);
    assert_string_equal(try_bytes("\xa3" "abc", 4), PROTO_R_NOT_A_MAP);
    assert_string_equal(try_bytes("\x81\x01\x02", 3), PROTO_R_NOT_A_MAP); /* {1: 2} */
}

static void version_other_than_integer_1_is_bad_version(void **state)
{
    (void)state;
    EXPECT(PROTO_R_BAD_VERSION, TICK, {"v", U(2)});
    EXPECT(PROTO_R_BAD_VERSION, TICK, {"v", U(0)});
    EXPECT(PROTO_R_BAD_VERSION, TICK, {"v", I(-1)});
    EXPECT(PROTO_R_BAD_VERSION, TICK, {"v", S("1")});
    EXPECT(PROTO_R_BAD_VERSION, TICK, {"v", F64(1.0)});
}

static void missing_version_is_missing_field(void **state)
{
    (void)state;
    EXPECT(PROTO_R_MISSING_FIELD, TICK, {"v", ABSENT});
    EXPECT_DETAIL("'v'");
}

static void unknown_kind_is_unknown_kind_and_shown_escaped(void **state)
{
    (void)state;
    EXPECT(PROTO_R_UNKNOWN_KIND, TICK, {"kind", S("purchases")});
    EXPECT(PROTO_R_UNKNOWN_KIND, TICK, {"kind", S("Tick")});
    EXPECT(PROTO_R_UNKNOWN_KIND, TICK, {"kind", S("tick\0")});
    EXPECT(PROTO_R_UNKNOWN_KIND, TICK, {"kind", S("\x01\xff'bogus and a long tail")});
    EXPECT_DETAIL("'\\x01\\xff\\x27bogus and a l...'");
    EXPECT(PROTO_R_WRONG_TYPE, TICK, {"kind", U(6)});
    EXPECT(PROTO_R_MISSING_FIELD, TICK, {"kind", ABSENT});
}

static void ts_must_be_an_integer_from_1_to_ts_max(void **state)
{
    (void)state;
    EXPECT("ok", TICK, {"ts", U(1)});
    EXPECT("ok", TICK, {"ts", U(PROTO_TS_MAX)});
    EXPECT(PROTO_R_OUT_OF_RANGE, TICK, {"ts", U(0)});
    EXPECT(PROTO_R_OUT_OF_RANGE, TICK, {"ts", U(PROTO_TS_MAX + 1)});
    EXPECT(PROTO_R_WRONG_TYPE, TICK, {"ts", I(-1)});
    EXPECT(PROTO_R_WRONG_TYPE, TICK, {"ts", F64(1e12)});
    EXPECT(PROTO_R_WRONG_TYPE, TICK, {"ts", S("1700000000000")});
    EXPECT(PROTO_R_MISSING_FIELD, TICK, {"ts", ABSENT});
}

static void rules_needs_a_lowercase_hex_hash_and_bounded_label_and_ts(void **state)
{
    (void)state;
    EXPECT_BASE("ok", RULES);
    EXPECT(PROTO_R_BAD_VALUE, RULES, {"hash", S("0123456789ABCDEF0123456789abcdef")});
    EXPECT_DETAIL("32 lowercase hex digits");
    EXPECT(PROTO_R_BAD_VALUE, RULES, {"hash", S("0123456789abcdef0123456789abcde")});
    EXPECT(PROTO_R_BAD_VALUE, RULES, {"hash", S("0123456789abcdef0123456789abcdeg")});
    EXPECT(PROTO_R_FIELD_TOO_LONG, RULES, {"hash", S("0123456789abcdef0123456789abcdef0")});
    EXPECT(PROTO_R_WRONG_TYPE, RULES, {"hash", U(1)});
    EXPECT("ok", RULES, {"label", SN(xs(), PROTO_LABEL_MAX)});
    assert_int_equal(strlen(g_entry.label), PROTO_LABEL_MAX);
    EXPECT(PROTO_R_FIELD_TOO_LONG, RULES, {"label", SN(xs(), PROTO_LABEL_MAX + 1)});
    EXPECT(PROTO_R_BAD_VALUE, RULES, {"label", S("")});
    EXPECT(PROTO_R_BAD_VALUE, RULES, {"label", S("a\0b")});
    EXPECT("ok", RULES, {"effective_ts", U(PROTO_TS_MAX)});
    assert_int_equal(g_entry.effective_ts, PROTO_TS_MAX);
    EXPECT(PROTO_R_OUT_OF_RANGE, RULES, {"effective_ts", U(0)});
    EXPECT(PROTO_R_OUT_OF_RANGE, RULES, {"effective_ts", U(PROTO_TS_MAX + 1)});
    EXPECT(PROTO_R_WRONG_TYPE, RULES, {"effective_ts", I(-5)});
}

static void transfer_needs_points_and_a_receiver_other_than_the_sender(void **state)
{
    (void)state;
    EXPECT_BASE("ok", TRANSFER);
    assert_string_equal(g_entry.to, "m-2");
    assert_int_equal(g_entry.points, 300);
    EXPECT(PROTO_R_BAD_VALUE, TRANSFER, {"to", S("m-1")});
    EXPECT_DETAIL("cannot transfer to itself");
    EXPECT(PROTO_R_OUT_OF_RANGE, TRANSFER, {"points", U(0)});
    EXPECT(PROTO_R_WRONG_TYPE, TRANSFER, {"points", I(-5)});
    EXPECT(PROTO_R_OUT_OF_RANGE, TRANSFER, {"points", U(PROTO_POINTS_MAX + 1)});
    EXPECT(PROTO_R_FIELD_TOO_LONG, TRANSFER, {"to", SN(xs(), PROTO_MEMBER_MAX + 1)});
    EXPECT(PROTO_R_BAD_VALUE, TRANSFER, {"to", S("m 2")});
}

static void set_tier_needs_a_tier_a_reason_and_a_future_until_ts(void **state)
{
    (void)state;
    EXPECT_BASE("ok", SET_TIER);
    assert_string_equal(g_entry.tier, "gold");
    assert_int_equal(g_entry.until_ts, 0);
    EXPECT("ok", SET_TIER, {"until_ts", U(TS + 1)});
    assert_int_equal(g_entry.until_ts, TS + 1);
    EXPECT(PROTO_R_BAD_VALUE, SET_TIER, {"until_ts", U(TS)});
    EXPECT_DETAIL("until_ts");
    EXPECT(PROTO_R_OUT_OF_RANGE, SET_TIER, {"until_ts", U(PROTO_TS_MAX + 1)});
    EXPECT(PROTO_R_BAD_VALUE, SET_TIER, {"reason", S("")});
    EXPECT(PROTO_R_FIELD_TOO_LONG, SET_TIER, {"tier", SN(xs(), PROTO_NAME_MAX + 1)});
}

/* Every kind's required fields, and v, kind and ts, are required. */
static void every_required_field_of_every_kind_is_required(void **state)
{
    (void)state;
    /* `extra` makes the base valid (redeem needs points) or is ignored. */
    static const struct {
        const struct kv *base;
        size_t count;
        struct kv extra;
    } kinds[] = {
        {PURCHASE, LEN(PURCHASE), {"note", S("ignored")}},
        {REFUND, LEN(REFUND), {"note", S("ignored")}},
        {REDEEM, LEN(REDEEM), {"points", U(10)}},
        {ADJUST, LEN(ADJUST), {"note", S("ignored")}},
        {ENROLL, LEN(ENROLL), {"note", S("ignored")}},
        {SCAN, LEN(SCAN), {"note", S("ignored")}},
        {TICK, LEN(TICK), {"note", S("ignored")}},
        {RULES, LEN(RULES), {"note", S("ignored")}},
        {TRANSFER, LEN(TRANSFER), {"note", S("ignored")}},
        {SET_TIER, LEN(SET_TIER), {"note", S("ignored")}},
    };
    for (size_t k = 0; k < LEN(kinds); k++) {
        assert_string_equal(try_kv(kinds[k].base, kinds[k].count, &kinds[k].extra, 1), "ok");
        for (size_t f = 0; f < kinds[k].count; f++) {
            const struct kv over[] = {{kinds[k].base[f].key, ABSENT}, kinds[k].extra};
            assert_string_equal(try_kv(kinds[k].base, kinds[k].count, over, 2),
                                PROTO_R_MISSING_FIELD);
            EXPECT_DETAIL(kinds[k].base[f].key);
        }
    }
}

static void unknown_keys_and_fields_of_other_kinds_are_ignored(void **state)
{
    (void)state;
    EXPECT("ok", TICK, {"amount", S("not checked: tick has no amount")}, {"member", NIL});
    assert_int_equal(g_entry.amount, 0);
    assert_string_equal(g_entry.member, "");
    EXPECT("ok", PURCHASE, {"pos", RAW("\x82\xa2id\x07\xa3ver\xa3" "1.2")}, {"\xff", BIN("x")});
    assert_int_equal(g_entry.amount, 1250);
}

static void key_given_twice_is_duplicate_key(void **state)
{
    (void)state;
    const struct kv twice[] = {COMMON("tick"), {"ts", U(TS)}};
    assert_string_equal(try_kv(twice, LEN(twice), NULL, 0), PROTO_R_DUPLICATE_KEY);
    EXPECT_DETAIL("'ts'");
    const struct kv unknown_twice[] = {COMMON("tick"), {"x", U(1)}, {"x", U(1)}};
    assert_string_equal(try_kv(unknown_twice, LEN(unknown_twice), NULL, 0),
                        PROTO_R_DUPLICATE_KEY);
    /* in a line: {sku, cat, qty, amount, sku} */
    EXPECT(PROTO_R_DUPLICATE_KEY, PURCHASE,
           {"lines", RAW("\x91\x85\xa3sku\xa1x\xa3" "cat\xa1y\xa3qty\x01\xa6" "amount\x01"
                         "\xa3sku\xa1z")});
    EXPECT_DETAIL("lines[0]");
    const struct kv empty_twice[] = {COMMON("tick"), {"", U(1)}, {"", S("")}};
    assert_string_equal(try_kv(empty_twice, LEN(empty_twice), NULL, 0), PROTO_R_DUPLICATE_KEY);
    EXPECT("ok", TICK, {"", S("")});
}

/* ---- field values ------------------------------------------------------- */

static void amount_must_be_a_non_negative_integer_in_range(void **state)
{
    (void)state;
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"amount", F64(12.5)});
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"amount", I(-5)});
    EXPECT_DETAIL("field 'amount': -5 is negative");
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"amount", S("100")});
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"amount", NIL});
    EXPECT(PROTO_R_OUT_OF_RANGE, PURCHASE, {"amount", U(0)});
    EXPECT(PROTO_R_OUT_OF_RANGE, REFUND, {"amount", U(PROTO_AMOUNT_MAX + 1)});
    EXPECT(PROTO_R_OUT_OF_RANGE, REFUND, {"amount", U(UINT64_MAX)});
    EXPECT("ok", REFUND, {"amount", U(PROTO_AMOUNT_MAX)});
    assert_int_equal(g_entry.amount, PROTO_AMOUNT_MAX);
}

static void txn_longer_than_64_bytes_is_field_too_long(void **state)
{
    (void)state;
    EXPECT("ok", PURCHASE, {"txn", SN(xs(), PROTO_TXN_MAX)});
    EXPECT(PROTO_R_FIELD_TOO_LONG, PURCHASE, {"txn", SN(xs(), PROTO_TXN_MAX + 1)});
    EXPECT_DETAIL("field 'txn': 65 bytes, at most 64");
    EXPECT(PROTO_R_FIELD_TOO_LONG, SCAN, {"member", SN(xs(), PROTO_MEMBER_MAX + 1)});
    EXPECT(PROTO_R_FIELD_TOO_LONG, SCAN, {"store", SN(xs(), PROTO_NAME_MAX + 1)});
    EXPECT(PROTO_R_FIELD_TOO_LONG, REDEEM, {"reward", SN(xs(), PROTO_NAME_MAX + 1)});
}

static void id_with_a_space_or_non_printable_byte_is_bad_value(void **state)
{
    (void)state;
    EXPECT(PROTO_R_BAD_VALUE, PURCHASE, {"member", S("m 1")});
    EXPECT_DETAIL("byte 1 (0x20)");
    EXPECT(PROTO_R_BAD_VALUE, PURCHASE, {"member", S("m\x7f")});
    EXPECT(PROTO_R_BAD_VALUE, PURCHASE, {"store", S("caf\xc3\xa9")});
    EXPECT(PROTO_R_BAD_VALUE, PURCHASE, {"txn", S("t\0")});
    EXPECT(PROTO_R_BAD_VALUE, REFUND, {"orig_txn", S("")});
    EXPECT("ok", PURCHASE, {"member", S("!~Az09{}")});
}

static void id_of_another_msgpack_type_is_wrong_type(void **state)
{
    (void)state;
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"member", BIN("m-1")});
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"member", U(42)});
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"txn", NIL});
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"store", RAW("\x91\xa1s")});
}

static void redeem_needs_exactly_one_of_points_and_reward(void **state)
{
    (void)state;
    EXPECT(PROTO_R_BAD_VALUE, REDEEM, {"points", U(10)}, {"reward", S("free-coffee")});
    EXPECT_DETAIL("both");
    EXPECT_BASE(PROTO_R_BAD_VALUE, REDEEM);
    EXPECT_DETAIL("neither");
    EXPECT(PROTO_R_OUT_OF_RANGE, REDEEM, {"points", U(0)});
    EXPECT(PROTO_R_OUT_OF_RANGE, REDEEM, {"points", U(PROTO_POINTS_MAX + 1)});
    EXPECT(PROTO_R_WRONG_TYPE, REDEEM, {"points", I(-10)});
    EXPECT("ok", REDEEM, {"reward", S("free-coffee")});
    assert_string_equal(g_entry.reward, "free-coffee");
}

static void adjust_points_are_signed_non_zero_and_in_range(void **state)
{
    (void)state;
    EXPECT(PROTO_R_BAD_VALUE, ADJUST, {"points", U(0)});
    EXPECT("ok", ADJUST, {"points", I(-PROTO_POINTS_MAX)});
    assert_int_equal(g_entry.points, -PROTO_POINTS_MAX);
    EXPECT("ok", ADJUST, {"points", U(PROTO_POINTS_MAX)});
    EXPECT(PROTO_R_OUT_OF_RANGE, ADJUST, {"points", I(-PROTO_POINTS_MAX - 1)});
    EXPECT(PROTO_R_OUT_OF_RANGE, ADJUST, {"points", I(INT64_MIN)});
    EXPECT(PROTO_R_OUT_OF_RANGE, ADJUST, {"points", U(PROTO_POINTS_MAX + 1)});
    EXPECT(PROTO_R_WRONG_TYPE, ADJUST, {"points", F64(-1.5)});
}

static void adjust_qualifying_is_an_optional_boolean(void **state)
{
    (void)state;
    EXPECT_BASE("ok", ADJUST);
    assert_false(g_entry.qualifying);
    EXPECT("ok", ADJUST, {"qualifying", RAW("\xc3")});
    assert_true(g_entry.qualifying);
    EXPECT("ok", ADJUST, {"qualifying", RAW("\xc2")});
    assert_false(g_entry.qualifying);
    EXPECT(PROTO_R_WRONG_TYPE, ADJUST, {"qualifying", U(1)});
    EXPECT_DETAIL("qualifying");
    EXPECT(PROTO_R_WRONG_TYPE, ADJUST, {"qualifying", S("true")});
    EXPECT(PROTO_R_WRONG_TYPE, ADJUST, {"qualifying", NIL});
    /* Another kind ignores it, as any key outside its contract. */
    EXPECT("ok", PURCHASE, {"qualifying", U(7)});
    assert_false(g_entry.qualifying);
    /* Written only when true, so an adjust without it keeps its bytes. */
    struct proto_entry e = {.kind = PROTO_ADJUST, .ts = TS, .txn = "t-4", .member = "m-1",
                            .points = 5, .reason = "migration"};
    msgpack_sbuffer plain, flagged;
    msgpack_sbuffer_init(&plain);
    msgpack_sbuffer_init(&flagged);
    assert_int_equal(proto_encode_entry(&plain, &e), 0);
    e.qualifying = true;
    assert_int_equal(proto_encode_entry(&flagged, &e), 0);
    assert_int_equal(flagged.size, plain.size + strlen("qualifying") + 2);
    assert_string_equal(try_bytes(flagged.data, flagged.size), "ok");
    assert_true(g_entry.qualifying);
    msgpack_sbuffer_destroy(&plain);
    msgpack_sbuffer_destroy(&flagged);
}

static void adjust_reason_is_1_to_128_bytes_of_text_without_nul(void **state)
{
    (void)state;
    EXPECT("ok", ADJUST, {"reason", SN(xs(), PROTO_REASON_MAX)});
    EXPECT(PROTO_R_FIELD_TOO_LONG, ADJUST, {"reason", SN(xs(), PROTO_REASON_MAX + 1)});
    EXPECT(PROTO_R_BAD_VALUE, ADJUST, {"reason", S("")});
    EXPECT(PROTO_R_BAD_VALUE, ADJUST, {"reason", S("a\0b")});
    EXPECT("ok", ADJUST, {"reason", S("caf\xc3\xa9 closed \t early")});
}

static void birthday_must_be_a_real_mm_dd_of_a_leap_year(void **state)
{
    (void)state;
    EXPECT("ok", ENROLL, {"birthday", S("02-29")});
    assert_int_equal(g_entry.birthday_month, 2);
    assert_int_equal(g_entry.birthday_day, 29);
    EXPECT("ok", ENROLL, {"birthday", S("12-31")});
    const char *bad[] = {"02-30", "04-31", "13-01", "00-10", "01-00", "2-03",
                         "02/03", "02-3a", "002-03", "", "+2-03"};
    for (size_t i = 0; i < LEN(bad); i++) {
        const struct kv over[] = {{"birthday", SN(bad[i], strlen(bad[i]))}};
        assert_string_equal(try_kv(ENROLL, LEN(ENROLL), over, 1), PROTO_R_BAD_VALUE);
    }
    EXPECT(PROTO_R_WRONG_TYPE, ENROLL, {"birthday", U(229)});
}

static void member_cannot_refer_itself(void **state)
{
    (void)state;
    EXPECT(PROTO_R_BAD_VALUE, ENROLL, {"referrer", S("m-2")});
    EXPECT_DETAIL("referrer");
    EXPECT("ok", ENROLL, {"referrer", S("m-1")});
    assert_string_equal(g_entry.referrer, "m-1");
}

static void lines_hold_at_most_64_items(void **state)
{
    (void)state;
    EXPECT("ok", PURCHASE, {"lines", LINES(PROTO_LINES_MAX, NULL)});
    assert_int_equal(g_entry.line_count, PROTO_LINES_MAX);
    EXPECT(PROTO_R_FIELD_TOO_LONG, PURCHASE, {"lines", LINES(PROTO_LINES_MAX + 1, NULL)});
    EXPECT("ok", PURCHASE, {"lines", LINES(0, NULL)});
    assert_int_equal(g_entry.line_count, 0);
}

static void every_line_needs_sku_cat_qty_and_amount(void **state)
{
    (void)state;
    EXPECT(PROTO_R_MISSING_FIELD, PURCHASE, {"lines", LINES(1, "sku")});
    EXPECT_DETAIL("field 'lines[0].sku' is missing");
    EXPECT(PROTO_R_MISSING_FIELD, PURCHASE, {"lines", LINES(3, "cat")});
    EXPECT(PROTO_R_MISSING_FIELD, PURCHASE, {"lines", LINES(1, "qty")});
    EXPECT(PROTO_R_MISSING_FIELD, PURCHASE, {"lines", LINES(1, "amount")});
}

static void malformed_lines_are_rejected_with_the_line_named(void **state)
{
    (void)state;
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"lines", RAW("\x81\xa3sku\xa1x")});
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"lines", RAW("\x91\x01")});
    EXPECT_DETAIL("lines[0]");
    EXPECT(PROTO_R_WRONG_TYPE, PURCHASE, {"lines", RAW("\x91\x81\x01\x02")});
    EXPECT(PROTO_R_OUT_OF_RANGE, PURCHASE,
           {"lines", RAW("\x91\x84\xa3sku\xa1x\xa3" "cat\xa1y\xa3qty\x00\xa6" "amount\x01")});
    EXPECT_DETAIL("lines[0].qty");
    EXPECT(PROTO_R_BAD_VALUE, PURCHASE,
           {"lines", RAW("\x91\x84\xa3sku\xa1 \xa3" "cat\xa1y\xa3qty\x01\xa6" "amount\x01")});
}

static void rejected_entry_leaves_the_output_zeroed(void **state)
{
    (void)state;
    EXPECT("ok", PURCHASE, {"lines", LINES(3, NULL)});
    EXPECT(PROTO_R_OUT_OF_RANGE, PURCHASE, {"lines", LINES(3, NULL)}, {"amount", U(0)});
    static const struct proto_entry zero;
    assert_memory_equal(&g_entry, &zero, sizeof zero);
}

/* ---- outputs ------------------------------------------------------------ */

static const struct proto_id SRC = {1700000000000ULL, 7};

/* Packs `v` alone and unpacks it into `zone`, to compare with msgpack-c. */
static msgpack_object object_of(const struct val *v, msgpack_zone *zone)
{
    struct packed p;
    packed_init(&p);
    pack_val(&p.pk, v);
    msgpack_object obj;
    size_t off = 0;
    /* Strings in obj point into the bytes: copy them into the zone first. */
    char *copy = msgpack_zone_malloc(zone, p.sb.size);
    memcpy(copy, p.sb.data, p.sb.size);
    assert_int_equal(msgpack_unpack(copy, p.sb.size, &off, zone, &obj),
                     MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer_destroy(&p.sb);
    return obj;
}

/* Encodes `o` from SRC at `seq`, unpacks it with msgpack-c, and checks that
 * it holds the fields every output has plus exactly the pairs in `want`. */
static void assert_output(const struct proto_output *o, uint32_t seq, const char *kind,
                          const struct kv *want, size_t count)
{
    char id[PROTO_OUT_ID_STR_MAX];
    snprintf(id, sizeof id, "1700000000000-7:%" PRIu32, seq);
    /* rules.changed is about no member: no member key. */
    bool no_member = o->kind == PROTO_OUT_RULES_CHANGED ||
                     o->kind == PROTO_OUT_CAMPAIGN_EXHAUSTED;
    const struct kv all[] = {{"v", U(1)}, {"kind", SN(kind, strlen(kind))},
                             {"id", SN(id, strlen(id))}, {"src", S("1700000000000-7")},
                             {"ts", U(TS)}, {"member", SN(o->member, strlen(o->member))}};
    const struct kv *common = all;
    const size_t common_len = LEN(all) - no_member;
    msgpack_sbuffer sb;
    msgpack_zone zone;
    msgpack_object map;
    size_t off = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_zone_init(&zone, 4096);
    assert_int_equal(proto_encode_output(&sb, o, SRC, seq), 0);
    assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, &zone, &map),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_int_equal(map.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(map.via.map.size, common_len + count);
    for (size_t i = 0; i < common_len + count; i++) {
        const struct kv *p = i < common_len ? &common[i] : &want[i - common_len];
        msgpack_object expected = object_of(&p->v, &zone);
        bool found = false;
        for (uint32_t j = 0; j < map.via.map.size; j++) {
            const msgpack_object *k = &map.via.map.ptr[j].key;
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(p->key) &&
                memcmp(k->via.str.ptr, p->key, k->via.str.size) == 0) {
                assert_true(msgpack_object_equal(map.via.map.ptr[j].val, expected));
                found = true;
            }
        }
        if (!found)
            fail_msg("output has no key '%s'", p->key);
    }
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
}

/* One output of each kind (redeem.result twice), and the pairs it must
 * have beyond v, kind, id, src, member and ts. */
static const struct output_case {
    struct proto_output o;
    const char *kind;
    struct kv want[4]; /* up to the first NULL key */
} OUTPUT_CASES[] = {
    {{.kind = PROTO_OUT_POINTS_CHANGED, .delta = -300, .balance = 1200,
      .cause = PROTO_CAUSE_REFUND},
     "points.changed", {{"delta", I(-300)}, {"balance", U(1200)}, {"cause", S("refund")}}},
    {{.kind = PROTO_OUT_TIER_CHANGED, .from = "silver", .to = "gold", .reason = "upgrade"},
     "tier.changed", {{"from", S("silver")}, {"to", S("gold")}, {"reason", S("upgrade")}}},
    {{.kind = PROTO_OUT_REWARD_ISSUED, .reward = "free-coffee", .cost = 500, .count = 1},
     "reward.issued", {{"reward", S("free-coffee")}, {"cost", U(500)}, {"count", U(1)}}},
    {{.kind = PROTO_OUT_REWARD_ISSUED, .reward = "voucher_5", .cost = 0, .count = 120},
     "reward.issued", {{"reward", S("voucher_5")}, {"cost", U(0)}, {"count", U(120)}}},
    {{.kind = PROTO_OUT_REDEEM_RESULT, .txn = "t-3", .ok = true, .error = "not when ok",
      .balance = 70},
     "redeem.result", {{"txn", S("t-3")}, {"ok", RAW("\xc3")}, {"balance", U(70)}}},
    {{.kind = PROTO_OUT_REDEEM_RESULT, .txn = "t-3", .ok = false,
      .error = "insufficient_points", .balance = 70},
     "redeem.result",
     {{"txn", S("t-3")}, {"ok", RAW("\xc2")}, {"error", S("insufficient_points")},
      {"balance", U(70)}}},
    {{.kind = PROTO_OUT_PERK_TRIGGERED, .perk = "lounge", .tier = "gold", .store = "s-1"},
     "perk.triggered", {{"perk", S("lounge")}, {"tier", S("gold")}, {"store", S("s-1")}}},
    {{.kind = PROTO_OUT_POINTS_EXPIRED, .points = 250, .balance = 0},
     "points.expired", {{"points", U(250)}, {"balance", U(0)}}},
    {{.kind = PROTO_OUT_SEGMENT_CHANGED, .dimension = "segment", .from = "new",
      .to = "champions", .rfm = {5, 4, 1}},
     "segment.changed",
     {{"dimension", S("segment")}, {"from", S("new")}, {"to", S("champions")},
      {"rfm", RAW("\x93\x05\x04\x01")}}},
    {{.kind = PROTO_OUT_RULES_CHANGED, .from = "", .to = "0123456789abcdef0123456789abcdef", .label = "first"},
     "rules.changed", {{"from", S("")}, {"to", S("0123456789abcdef0123456789abcdef")}, {"label", S("first")}}},
    {{.kind = PROTO_OUT_TRANSFER_RESULT, .txn = "t-6", .ok = false, .error = "daily_limit",
      .balance = 900},
     "transfer.result",
     {{"txn", S("t-6")}, {"ok", RAW("\xc2")}, {"error", S("daily_limit")}, {"balance", U(900)}}},
    {{.kind = PROTO_OUT_TRANSFER_RESULT, .txn = "t-6", .ok = true, .balance = 600},
     "transfer.result", {{"txn", S("t-6")}, {"ok", RAW("\xc3")}, {"balance", U(600)}}},
    {{.kind = PROTO_OUT_CAMPAIGN_EXHAUSTED, .campaign = "black_friday"},
     "campaign.exhausted", {{"campaign", S("black_friday")}}},
    {{.kind = PROTO_OUT_POINTS_CHANGED, .delta = -40, .balance = 10,
      .cause = PROTO_CAUSE_TRANSFER_OUT},
     "points.changed", {{"delta", I(-40)}, {"balance", U(10)}, {"cause", S("transfer_out")}}},
    {{.kind = PROTO_OUT_TIER_CHANGED, .from = "gold", .to = "silver", .reason = "manual_end"},
     "tier.changed", {{"from", S("gold")}, {"to", S("silver")}, {"reason", S("manual_end")}}},
    {{.kind = PROTO_OUT_POINTS_PENDING, .points = 150, .pending = 400,
      .release_ts = 1702592000000LL},
     "points.pending",
     {{"points", U(150)}, {"pending", U(400)}, {"release_ts", U(1702592000000LL)}}},
    {{.kind = PROTO_OUT_POINTS_PENDING, .points = -150, .pending = 250,
      .release_ts = 1702592000000LL},
     "points.pending",
     {{"points", I(-150)}, {"pending", U(250)}, {"release_ts", U(1702592000000LL)}}},
    {{.kind = PROTO_OUT_TIER_AT_RISK, .tier = "gold", .review_ts = 1703000000000LL,
      .needed = 350},
     "tier.at_risk",
     {{"tier", S("gold")}, {"review_ts", U(1703000000000LL)}, {"needed", U(350)}}},
    {{.kind = PROTO_OUT_POINTS_EXPIRING, .points = 80, .expire_ts = 1704067200000LL,
      .balance = 900},
     "points.expiring",
     {{"points", U(80)}, {"expire_ts", U(1704067200000LL)}, {"balance", U(900)}}},
};

/* Covers redeem.result's error being there only when the result is not ok. */
static void every_output_kind_carries_exactly_its_documented_fields(void **state)
{
    (void)state;
    bool seen[PROTO_OUT_KIND_COUNT] = {false};
    for (size_t i = 0; i < LEN(OUTPUT_CASES); i++) {
        const struct output_case *c = &OUTPUT_CASES[i];
        struct proto_output o = c->o;
        o.ts = TS;
        strcpy(o.member, "m-1");
        size_t count = 0;
        while (count < LEN(c->want) && c->want[count].key != NULL)
            count++;
        assert_output(&o, (uint32_t)i, c->kind, c->want, count);
        seen[o.kind] = true;
    }
    for (int k = 0; k < PROTO_OUT_KIND_COUNT; k++)
        assert_true(seen[k]);
}

static void output_id_is_src_and_seq_and_the_same_every_time(void **state)
{
    (void)state;
    const struct proto_output o = {.kind = PROTO_OUT_POINTS_EXPIRED, .ts = TS};
    msgpack_sbuffer a;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    struct proto_id max = {UINT64_MAX, UINT64_MAX};
    assert_int_equal(proto_encode_output(&a, &o, max, UINT32_MAX), 0);
    assert_int_equal(proto_encode_output(&b, &o, max, UINT32_MAX), 0);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    const char *id = "18446744073709551615-18446744073709551615:4294967295";
    bool found = false;
    for (size_t i = 0; i + strlen(id) <= a.size; i++)
        found = found || memcmp(a.data + i, id, strlen(id)) == 0;
    assert_true(found);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

static void wire_names_are_the_contract(void **state)
{
    (void)state;
    const char *kinds[] = {"purchase", "refund", "redeem",   "adjust",  "enroll",
                           "scan",     "tick",   "rules",    "transfer", "set_tier",
                           "transfer_credit", "transfer_return"};
    const char *outs[] = {"points.changed",  "tier.changed",   "reward.issued",
                          "redeem.result",   "perk.triggered", "points.expired",
                          "segment.changed", "rules.changed",  "transfer.result",
                          "campaign.exhausted", "points.pending", "tier.at_risk",
                          "points.expiring"};
    const char *causes[] = {"purchase", "refund",       "redeem",      "adjust",  "bonus",
                            "reward",   "expiry",       "transfer_out", "transfer_in",
                            "release",  "transfer_return"};
    _Static_assert(LEN(kinds) == PROTO_KIND_COUNT, "kinds");
    _Static_assert(LEN(outs) == PROTO_OUT_KIND_COUNT, "outs");
    _Static_assert(LEN(causes) == PROTO_CAUSE_COUNT, "causes");
    for (int i = 0; i < PROTO_KIND_COUNT; i++)
        assert_string_equal(proto_kind_name((enum proto_kind)i), kinds[i]);
    for (int i = 0; i < PROTO_OUT_KIND_COUNT; i++)
        assert_string_equal(proto_out_kind_name((enum proto_out_kind)i), outs[i]);
    for (int i = 0; i < PROTO_CAUSE_COUNT; i++)
        assert_string_equal(proto_cause_name((enum proto_cause)i), causes[i]);
}

/* ---- stream ids --------------------------------------------------------- */

static void id_parse_accepts_canonical_ids_up_to_u64_max(void **state)
{
    (void)state;
    const char *good[] = {"0-0", "1-2", "1700000000000-15",
                          "18446744073709551615-18446744073709551615"};
    for (size_t i = 0; i < LEN(good); i++) {
        struct proto_id id;
        char buf[PROTO_ID_STR_MAX];
        assert_int_equal(proto_id_parse(good[i], strlen(good[i]), &id), 0);
        assert_int_equal(proto_id_format(id, buf, sizeof buf), strlen(good[i]));
        assert_string_equal(buf, good[i]);
    }
    struct proto_id id;
    assert_int_equal(proto_id_parse("18446744073709551615-0", 22, &id), 0);
    assert_true(id.ms == UINT64_MAX && id.seq == 0);
}

/* Leading zeros ("01-2") are refused: Redis never writes them, and refusing
 * them keeps parse and format exact inverses. */
static void id_parse_refuses_anything_but_the_canonical_form(void **state)
{
    (void)state;
    const char *bad[] = {"",     "1",     "1-",    "-1",     "-",      "1--2",
                         "1-2-3", "01-2", "1-02",  "00-0",   "+1-2",   " 1-2",
                         "1-2 ", "1 -2",  "a-b",   "0x1-2",  "*",      "$",
                         "18446744073709551616-0", "0-18446744073709551616",
                         "99999999999999999999-0"};
    struct proto_id id = {42, 43};
    for (size_t i = 0; i < LEN(bad); i++) {
        if (proto_id_parse(bad[i], strlen(bad[i]), &id) != -1)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(proto_id_parse("1-2\0", 4, &id), -1);
    assert_true(id.ms == 42 && id.seq == 43); /* untouched on failure */
}

static void id_parse_reads_len_bytes_not_to_a_nul(void **state)
{
    (void)state;
    struct proto_id id;
    assert_int_equal(proto_id_parse("12-345", 4, &id), 0);
    assert_true(id.ms == 12 && id.seq == 3);
}

static void id_cmp_orders_by_ms_then_seq_without_overflow(void **state)
{
    (void)state;
    struct proto_id zero = {0, 0};
    struct proto_id max = {UINT64_MAX, UINT64_MAX};
    assert_true(proto_id_cmp((struct proto_id){1, 5}, (struct proto_id){2, 0}) < 0);
    assert_true(proto_id_cmp((struct proto_id){2, 0}, (struct proto_id){1, 5}) > 0);
    assert_true(proto_id_cmp((struct proto_id){1, 1}, (struct proto_id){1, 2}) < 0);
    assert_int_equal(proto_id_cmp((struct proto_id){3, 4}, (struct proto_id){3, 4}), 0);
    assert_true(proto_id_cmp(zero, max) < 0);
    assert_true(proto_id_cmp(max, zero) > 0);
    assert_true(proto_id_cmp((struct proto_id){0, UINT64_MAX}, (struct proto_id){1, 0}) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_input_kind_round_trips_through_encode_and_decode),
        cmocka_unit_test(purchase_at_every_limit_round_trips_within_entry_bytes_max),
        cmocka_unit_test(tick_is_encoded_as_v_kind_and_ts_only),
        cmocka_unit_test(rules_needs_a_lowercase_hex_hash_and_bounded_label_and_ts),
        cmocka_unit_test(transfer_needs_points_and_a_receiver_other_than_the_sender),
        cmocka_unit_test(set_tier_needs_a_tier_a_reason_and_a_future_until_ts),
        cmocka_unit_test(empty_entry_is_bad_msgpack),
        cmocka_unit_test(entry_over_entry_bytes_max_is_too_large),
        cmocka_unit_test(garbage_bytes_are_bad_msgpack),
        cmocka_unit_test(every_truncation_of_a_valid_entry_is_bad_msgpack),
        cmocka_unit_test(trailing_bytes_after_the_entry_are_bad_msgpack),
        cmocka_unit_test(array_claiming_4_billion_elements_in_5_bytes_is_bad_msgpack),
        cmocka_unit_test(string_claiming_more_bytes_than_follow_is_bad_msgpack),
        cmocka_unit_test(nesting_100_deep_is_too_deep),
        cmocka_unit_test(metadata_may_nest_one_level_deeper_than_lines_and_no_more),
        cmocka_unit_test(map_of_more_than_keys_max_keys_is_too_large),
        cmocka_unit_test(entry_that_is_not_a_map_is_not_a_map),
        cmocka_unit_test(version_other_than_integer_1_is_bad_version),
        cmocka_unit_test(missing_version_is_missing_field),
        cmocka_unit_test(unknown_kind_is_unknown_kind_and_shown_escaped),
        cmocka_unit_test(ts_must_be_an_integer_from_1_to_ts_max),
        cmocka_unit_test(every_required_field_of_every_kind_is_required),
        cmocka_unit_test(unknown_keys_and_fields_of_other_kinds_are_ignored),
        cmocka_unit_test(key_given_twice_is_duplicate_key),
        cmocka_unit_test(amount_must_be_a_non_negative_integer_in_range),
        cmocka_unit_test(txn_longer_than_64_bytes_is_field_too_long),
        cmocka_unit_test(id_with_a_space_or_non_printable_byte_is_bad_value),
        cmocka_unit_test(id_of_another_msgpack_type_is_wrong_type),
        cmocka_unit_test(redeem_needs_exactly_one_of_points_and_reward),
        cmocka_unit_test(adjust_points_are_signed_non_zero_and_in_range),
        cmocka_unit_test(adjust_qualifying_is_an_optional_boolean),
        cmocka_unit_test(adjust_reason_is_1_to_128_bytes_of_text_without_nul),
        cmocka_unit_test(birthday_must_be_a_real_mm_dd_of_a_leap_year),
        cmocka_unit_test(member_cannot_refer_itself),
        cmocka_unit_test(lines_hold_at_most_64_items),
        cmocka_unit_test(every_line_needs_sku_cat_qty_and_amount),
        cmocka_unit_test(malformed_lines_are_rejected_with_the_line_named),
        cmocka_unit_test(rejected_entry_leaves_the_output_zeroed),
        cmocka_unit_test(every_output_kind_carries_exactly_its_documented_fields),
        cmocka_unit_test(output_id_is_src_and_seq_and_the_same_every_time),
        cmocka_unit_test(wire_names_are_the_contract),
        cmocka_unit_test(id_parse_accepts_canonical_ids_up_to_u64_max),
        cmocka_unit_test(id_parse_refuses_anything_but_the_canonical_form),
        cmocka_unit_test(id_parse_reads_len_bytes_not_to_a_nul),
        cmocka_unit_test(id_cmp_orders_by_ms_then_seq_without_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
