/* test_proto_wire.c - the in-place msgpack writer of proto_encode.c writes
 * exactly the bytes msgpack-c's packer writes (the encoder used it until
 * issue 17's pipeline work): every output kind and input entry, with
 * integers at every encoding boundary and strings at every header size,
 * unpacked and packed again by msgpack-c must come out byte for byte the
 * same. Appending to a full buffer grows it without touching what it held.
 * The decoder that keeps its zone (proto_decode_with) gives proto_decode's
 * answers on good entries, every truncation of them and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "proto.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Each boundary of msgpack-c's integer encodings, both sides. */
static const int64_t INTS[] = {
    INT64_MIN, (int64_t)INT32_MIN - 1, INT32_MIN, -32769, -32768, -129, -128, -33, -32,
    -1, 0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (int64_t)UINT32_MAX + 1,
    INT64_MAX};
/* Each boundary of the string headers: fixstr, str8, str16, str32. */
static const size_t STR_LENS[] = {0, 1, 31, 32, 255, 256, 65535, 65536};

static char big[65537];

/* `bytes` is one msgpack object that msgpack-c packs back to itself. */
static void assert_msgpack_c_packs_the_same(const char *bytes, size_t len)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object obj;
    size_t off = 0;
    assert_int_equal(msgpack_unpack(bytes, len, &off, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &again, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_object(&pk, obj), 0);
    assert_int_equal(again.size, len);
    assert_memory_equal(again.data, bytes, len);
    msgpack_sbuffer_destroy(&again);
    msgpack_zone_destroy(&zone);
}

static void output_of_every_kind_with_every_int_and_str_size(struct proto_output *o, size_t i)
{
    int64_t v = INTS[i % LEN(INTS)];
    size_t n = STR_LENS[i % LEN(STR_LENS)];
    const char *s = big + sizeof big - 1 - n; /* n bytes of 'x' */
    o->ts = v < 0 ? -(v / 2) : v;
    o->delta = o->balance = o->points = o->cost = o->count = v;
    o->pending = o->release_ts = o->review_ts = o->needed = o->expire_ts = v;
    o->from = o->to = o->reason = o->reward = o->perk = o->tier = s;
    o->error = o->dimension = o->label = o->campaign = s;
    o->ok = i & 1;
    o->cause = (enum proto_cause)(i % PROTO_CAUSE_COUNT);
    for (int k = 0; k < 3; k++)
        o->rfm[k] = (uint8_t)(i * 61 + (size_t)k * 127);
    size_t m = n < PROTO_MEMBER_MAX ? n : PROTO_MEMBER_MAX;
    memset(o->member, 'm', m);
    o->member[m] = '\0';
    snprintf(o->store, sizeof o->store, "%.*s", (int)(n % 33), big);
    snprintf(o->txn, sizeof o->txn, "%.*s", (int)(n % 65), big);
}

static void every_output_is_the_bytes_msgpack_c_packs(void **state)
{
    (void)state;
    memset(big, 'x', sizeof big - 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t checked = 0;
    for (size_t i = 0; i < 3 * LEN(INTS) * LEN(STR_LENS); i++) {
        struct proto_output o = {.kind = (enum proto_out_kind)(i % PROTO_OUT_KIND_COUNT)};
        output_of_every_kind_with_every_int_and_str_size(&o, i);
        size_t before = sb.size;
        struct proto_id src = {(uint64_t)INTS[i % LEN(INTS)], i};
        assert_int_equal(proto_encode_output(&sb, &o, src, (uint32_t)i), 0);
        assert_true(sb.size > before);
        assert_msgpack_c_packs_the_same(sb.data + before, sb.size - before);
        checked++;
    }
    /* everything appended to one buffer, none overwritten: it all unpacks */
    size_t off = 0, objects = 0;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object obj;
    while (off < sb.size) {
        msgpack_unpack_return r = msgpack_unpack(sb.data, sb.size, &off, &zone, &obj);
        assert_true(r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES);
        objects++;
    }
    assert_int_equal(objects, checked);
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
}

static void entry_with_lines_and_pieces_is_the_bytes_msgpack_c_packs(void **state)
{
    (void)state;
    static struct proto_entry e;
    for (size_t i = 0; i < LEN(INTS); i++) {
        memset(&e, 0, sizeof e);
        e.kind = (enum proto_kind)(i % PROTO_KIND_COUNT);
        e.ts = 1700000000000;
        snprintf(e.txn, sizeof e.txn, "t%zu", i);
        snprintf(e.member, sizeof e.member, "member-%zu", i);
        snprintf(e.store, sizeof e.store, "s");
        e.amount = e.points = e.effective_ts = e.until_ts = INTS[i];
        e.line_count = (uint32_t)(i * 3 % (PROTO_LINES_MAX + 1));
        for (uint32_t l = 0; l < e.line_count; l++) {
            snprintf(e.lines[l].sku, sizeof e.lines[l].sku, "sku-%u", l);
            snprintf(e.lines[l].cat, sizeof e.lines[l].cat, "c");
            e.lines[l].qty = INTS[(i + l) % LEN(INTS)];
            e.lines[l].amount = INTS[(i + 2 * l) % LEN(INTS)];
        }
        e.piece_count = (uint32_t)(i * 2 % (PROTO_PIECES_MAX + 1));
        for (uint32_t p = 0; p < e.piece_count; p++)
            e.pieces[p] = (struct proto_piece){INTS[p % LEN(INTS)], INTS[(p + i) % LEN(INTS)]};
        e.birthday_month = (uint8_t)(1 + i % 12);
        e.birthday_day = 9;
        e.qualifying = i & 1;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(proto_encode_entry(&sb, &e), 0);
        assert_msgpack_c_packs_the_same(sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* A 64 KiB string does not fit the first room tried: the buffer grows,
 * the event is written whole after what the buffer held. */
static void event_larger_than_the_first_room_grows_the_buffer(void **state)
{
    (void)state;
    memset(big, 'x', sizeof big - 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(msgpack_sbuffer_write(&sb, "\xc0", 1), 0); /* a nil before it */
    struct proto_output o = {.kind = PROTO_OUT_TIER_CHANGED, .ts = 5, .from = "a",
                             .to = big, .reason = "r"};
    assert_int_equal(proto_encode_output(&sb, &o, (struct proto_id){1, 2}, 0), 0);
    assert_true(sb.size > sizeof big);
    assert_int_equal((unsigned char)sb.data[0], 0xc0);
    assert_msgpack_c_packs_the_same(sb.data + 1, sb.size - 1);
    msgpack_sbuffer_destroy(&sb);
}

/* Both decoders on `buf[0..len)`: the same verdict, entry and reason. */
static void assert_decoders_agree(struct proto_decoder *d, const char *buf, size_t len)
{
    static struct proto_entry a, b;
    struct proto_reject ra, rb;
    int rc_a = proto_decode(buf, len, &a, &ra);
    int rc_b = proto_decode_with(d, buf, len, &b, &rb);
    assert_int_equal(rc_a, rc_b);
    assert_memory_equal(&a, &b, sizeof a);
    if (rc_a != 0) {
        assert_string_equal(ra.code, rb.code);
        assert_string_equal(ra.detail, rb.detail);
    }
}

static void decoder_with_a_kept_zone_answers_as_proto_decode(void **state)
{
    (void)state;
    struct proto_decoder d;
    assert_int_equal(proto_decoder_init(&d), 0);
    static struct proto_entry e;
    size_t good = 0;
    for (size_t i = 0; i < 2 * PROTO_KIND_COUNT; i++) {
        memset(&e, 0, sizeof e);
        e.kind = (enum proto_kind)(i % PROTO_KIND_COUNT);
        e.ts = 1700000000000 + (int64_t)i;
        snprintf(e.txn, sizeof e.txn, "t%zu", i);
        snprintf(e.member, sizeof e.member, "m%zu", i);
        snprintf(e.to, sizeof e.to, "other");
        snprintf(e.store, sizeof e.store, "s1");
        snprintf(e.reason, sizeof e.reason, "why");
        memset(e.hash, 'a', PROTO_HASH_LEN); /* lowercase hex */
        e.amount = 1000;
        e.points = 5;
        e.line_count = (uint32_t)(i % 3);
        for (uint32_t l = 0; l < e.line_count; l++)
            e.lines[l] = (struct proto_line){"sku", "cat", 1, 500};
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(proto_encode_entry(&sb, &e), 0);
        struct proto_entry out;
        struct proto_reject rej;
        good += proto_decode(sb.data, sb.size, &out, &rej) == 0;
        for (size_t len = 0; len <= sb.size; len++) /* every truncation, then whole */
            assert_decoders_agree(&d, sb.data, len);
        msgpack_sbuffer_destroy(&sb);
    }
    assert_true(good >= PROTO_KIND_COUNT); /* most kinds decode: both paths were compared */
    static char junk[PROTO_ENTRY_BYTES_MAX + 1];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    assert_decoders_agree(&d, junk, 64);
    assert_decoders_agree(&d, junk, sizeof junk); /* too large */
    proto_decoder_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_output_is_the_bytes_msgpack_c_packs),
        cmocka_unit_test(entry_with_lines_and_pieces_is_the_bytes_msgpack_c_packs),
        cmocka_unit_test(event_larger_than_the_first_room_grows_the_buffer),
        cmocka_unit_test(decoder_with_a_kept_zone_answers_as_proto_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
