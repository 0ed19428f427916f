/* proto_encode.c - input entries and output events to msgpack, and the wire
 * names of kinds and causes.
 *
 * Which fields each kind carries is data: a table of the fields of a struct
 * (key, how to write it, where it is) and per kind the set of rows it
 * carries, copied from the contract in proto.h. Every map is filled twice
 * by the same code: once through a writer that only counts pairs (to size
 * the map header), once for real, so header and pairs cannot disagree.
 */
#include "proto.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

static const char *const KIND_NAMES[PROTO_KIND_COUNT] = {
    [PROTO_PURCHASE] = "purchase", [PROTO_REFUND] = "refund",
    [PROTO_REDEEM] = "redeem",     [PROTO_ADJUST] = "adjust",
    [PROTO_ENROLL] = "enroll",     [PROTO_SCAN] = "scan",
    [PROTO_TICK] = "tick",         [PROTO_RULES] = "rules",
    [PROTO_TRANSFER] = "transfer", [PROTO_SET_TIER] = "set_tier",
    [PROTO_TRANSFER_CREDIT] = "transfer_credit",
    [PROTO_TRANSFER_RETURN] = "transfer_return",
};

static const char *const OUT_KIND_NAMES[PROTO_OUT_KIND_COUNT] = {
    [PROTO_OUT_POINTS_CHANGED] = "points.changed",
    [PROTO_OUT_TIER_CHANGED] = "tier.changed",
    [PROTO_OUT_REWARD_ISSUED] = "reward.issued",
    [PROTO_OUT_REDEEM_RESULT] = "redeem.result",
    [PROTO_OUT_PERK_TRIGGERED] = "perk.triggered",
    [PROTO_OUT_POINTS_EXPIRED] = "points.expired",
    [PROTO_OUT_SEGMENT_CHANGED] = "segment.changed",
    [PROTO_OUT_RULES_CHANGED] = "rules.changed",
    [PROTO_OUT_TRANSFER_RESULT] = "transfer.result",
    [PROTO_OUT_CAMPAIGN_EXHAUSTED] = "campaign.exhausted",
    [PROTO_OUT_POINTS_PENDING] = "points.pending",
    [PROTO_OUT_TIER_AT_RISK] = "tier.at_risk",
    [PROTO_OUT_POINTS_EXPIRING] = "points.expiring",
};

static const char *const CAUSE_NAMES[PROTO_CAUSE_COUNT] = {
    [PROTO_CAUSE_PURCHASE] = "purchase", [PROTO_CAUSE_REFUND] = "refund",
    [PROTO_CAUSE_REDEEM] = "redeem",     [PROTO_CAUSE_ADJUST] = "adjust",
    [PROTO_CAUSE_BONUS] = "bonus",       [PROTO_CAUSE_REWARD] = "reward",
    [PROTO_CAUSE_EXPIRY] = "expiry",
    [PROTO_CAUSE_TRANSFER_OUT] = "transfer_out", [PROTO_CAUSE_TRANSFER_IN] = "transfer_in",
    [PROTO_CAUSE_RELEASE] = "release",
    [PROTO_CAUSE_TRANSFER_RETURN] = "transfer_return",
};

/* "<src id>:<u32>" and its NUL: 41 + 1 + 10 + 1 bytes at the most. */
_Static_assert(PROTO_OUT_ID_STR_MAX >= PROTO_ID_STR_MAX - 1 + 1 + 10,
               "output id buffer too small");

const char *proto_kind_name(enum proto_kind k)
{
    LY_ASSERT((unsigned)k < PROTO_KIND_COUNT);
    return KIND_NAMES[k];
}

const char *proto_out_kind_name(enum proto_out_kind k)
{
    LY_ASSERT((unsigned)k < PROTO_OUT_KIND_COUNT);
    return OUT_KIND_NAMES[k];
}

const char *proto_cause_name(enum proto_cause c)
{
    LY_ASSERT((unsigned)c < PROTO_CAUSE_COUNT);
    return CAUSE_NAMES[c];
}

/* Writes msgpack straight into a byte range, in the encodings msgpack-c's
 * packer chooses (smallest form of each integer, fixstr/str8/16/32, fixmap
 * or map16), so the bytes are those msgpack_pack_* would write, without a
 * callback and a capacity check per primitive. `rc` sticks at -1 once the
 * range is full; later writes are skipped (the caller grows and retries).
 * `pairs` counts the pairs of the map being filled. */
struct kv_writer {
    unsigned char *p, *end;
    uint32_t pairs;
    int rc;
};

static void put(struct kv_writer *w, const void *b, size_t n)
{
    if (w->rc != 0 || (size_t)(w->end - w->p) < n) {
        w->rc = -1;
        return;
    }
    memcpy(w->p, b, n);
    w->p += n;
}

/* A type byte followed by `n` bytes of `v`, big-endian. */
static void put_be(struct kv_writer *w, unsigned char type, uint64_t v, int n)
{
    unsigned char b[9];
    b[0] = type;
    for (int i = 0; i < n; i++)
        b[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    put(w, b, (size_t)n + 1);
}

/* Header of a container of `n` elements: fix (n < 16), 16 or 32 bits. */
static void put_container(struct kv_writer *w, unsigned char fix, unsigned char t16, size_t n)
{
    if (n < 16)
        put_be(w, (unsigned char)(fix | n), 0, 0);
    else if (n < 65536)
        put_be(w, t16, n, 2);
    else
        put_be(w, (unsigned char)(t16 + 1), n, 4);
}

static void put_str(struct kv_writer *w, const char *s, size_t n)
{
    if (n < 32)
        put_be(w, (unsigned char)(0xa0 | n), 0, 0);
    else if (n < 256)
        put_be(w, 0xd9, n, 1);
    else if (n < 65536)
        put_be(w, 0xda, n, 2);
    else
        put_be(w, 0xdb, n, 4);
    put(w, s, n);
}

static void put_int(struct kv_writer *w, int64_t d)
{
    if (d >= -32 && d < 128) {
        put_be(w, (unsigned char)d, 0, 0); /* positive or negative fixint */
    } else if (d < 0) {
        if (d >= -128)
            put_be(w, 0xd0, (uint64_t)d, 1);
        else if (d >= -32768)
            put_be(w, 0xd1, (uint64_t)d, 2);
        else if (d >= INT32_MIN)
            put_be(w, 0xd2, (uint64_t)d, 4);
        else
            put_be(w, 0xd3, (uint64_t)d, 8);
    } else if (d < 256) {
        put_be(w, 0xcc, (uint64_t)d, 1);
    } else if (d < 65536) {
        put_be(w, 0xcd, (uint64_t)d, 2);
    } else if (d <= UINT32_MAX) {
        put_be(w, 0xce, (uint64_t)d, 4);
    } else {
        put_be(w, 0xcf, (uint64_t)d, 8);
    }
}

/* A map is written in one pass: a one-byte placeholder, the pairs, then the
 * header, moved out to map16 in the rare map of 16 pairs or more. */
struct kv_map {
    unsigned char *hdr;
    uint32_t outer_pairs;
};

static struct kv_map map_begin(struct kv_writer *w)
{
    struct kv_map m = {.hdr = w->p, .outer_pairs = w->pairs};
    put_be(w, 0x80, 0, 0);
    w->pairs = 0;
    return m;
}

static void map_end(struct kv_writer *w, struct kv_map m)
{
    uint32_t n = w->pairs;
    w->pairs = m.outer_pairs;
    if (w->rc != 0)
        return;
    LY_ASSERT(n < 65536); /* bounded by the field tables and PROTO_LINES_MAX */
    if (n < 16) {
        *m.hdr = (unsigned char)(0x80 | n);
        return;
    }
    unsigned char *body = m.hdr + 1;
    size_t len = (size_t)(w->p - body);
    put(w, "\0\0", 2); /* room for the longer header */
    if (w->rc != 0)
        return;
    memmove(body + 2, body, len);
    m.hdr[0] = 0xde;
    m.hdr[1] = (unsigned char)(n >> 8);
    m.hdr[2] = (unsigned char)n;
}

/* Counts a pair and writes its key (`len` bytes). */
static void kv_key(struct kv_writer *w, const char *key, size_t len)
{
    w->pairs++;
    put_str(w, key, len);
}

#define KEY(lit) lit, sizeof(lit) - 1

static void kv_str(struct kv_writer *w, const char *key, size_t klen, const char *val)
{
    LY_ASSERT(val != NULL);
    kv_key(w, key, klen);
    put_str(w, val, strlen(val));
}

static void kv_int(struct kv_writer *w, const char *key, size_t klen, int64_t val)
{
    kv_key(w, key, klen);
    put_int(w, val);
}

static void kv_bool(struct kv_writer *w, const char *key, size_t klen, bool val)
{
    kv_key(w, key, klen);
    put_be(w, val ? 0xc3 : 0xc2, 0, 0);
}

/* ---- field tables ------------------------------------------------------- */

/* How a struct member is written. */
enum field_type {
    FT_CHARS,    /* char[], as a string */
    FT_CSTR,     /* const char *, as a string */
    FT_ERROR,    /* proto_output's error: FT_CSTR, there only when !ok */
    FT_INT,      /* int64_t */
    FT_BOOL,     /* bool */
    FT_CAUSE,    /* enum proto_cause, as its wire name */
    FT_RFM,      /* uint8_t[3], as an array of 3 integers */
    FT_BIRTHDAY, /* proto_entry's birthday_month and _day, as "MM-DD" */
    FT_LINES,    /* proto_entry's lines, as an array of maps */
    FT_PIECES,   /* proto_entry's pieces, as an array of [expire_ts, points] */
};

struct field {
    const char *key;
    size_t key_len; /* strlen(key), known at compile time */
    enum field_type type;
    size_t off;
};

/* Which fields of a table (bit i: row i) a kind carries, and which of those
 * are optional: written only when set. */
struct field_set {
    unsigned carried;
    unsigned optional;
};

/* The key is the member's name; _Generic makes the build fail unless the
 * member has the C type the field type reads. */
#define FIELD(st, m, ft, ctype) {KEY(#m), ft, _Generic(((st *)0)->m, ctype: offsetof(st, m))}
#define CHARS(st, m) FIELD(st, m, FT_CHARS, char *)
#define CSTR(st, m) FIELD(st, m, FT_CSTR, const char *)
#define INT(st, m) FIELD(st, m, FT_INT, int64_t)
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

enum entry_field_id {
    E_TXN, E_ORIG_TXN, E_MEMBER, E_STORE, E_AMOUNT, E_LINES, E_POINTS, E_REWARD,
    E_REASON, E_BIRTHDAY, E_REFERRER, E_HASH, E_LABEL, E_EFFECTIVE_TS, E_TO, E_TIER,
    E_UNTIL_TS, E_QUALIFYING, E_FROM, E_PIECES, E_FIELD_COUNT
};
#define E struct proto_entry
static const struct field ENTRY_FIELDS[E_FIELD_COUNT] = {
    [E_TXN] = CHARS(E, txn),       [E_ORIG_TXN] = CHARS(E, orig_txn),
    [E_MEMBER] = CHARS(E, member), [E_STORE] = CHARS(E, store),
    [E_AMOUNT] = INT(E, amount),   [E_LINES] = {KEY("lines"), FT_LINES, 0},
    [E_POINTS] = INT(E, points),   [E_REWARD] = CHARS(E, reward),
    [E_REASON] = CHARS(E, reason), [E_BIRTHDAY] = {KEY("birthday"), FT_BIRTHDAY, 0},
    [E_REFERRER] = CHARS(E, referrer),
    [E_HASH] = CHARS(E, hash),     [E_LABEL] = CHARS(E, label),
    [E_EFFECTIVE_TS] = INT(E, effective_ts),
    [E_TO] = CHARS(E, to),         [E_TIER] = CHARS(E, tier),
    [E_UNTIL_TS] = INT(E, until_ts),
    [E_QUALIFYING] = FIELD(E, qualifying, FT_BOOL, bool),
    [E_FROM] = CHARS(E, from),     [E_PIECES] = {KEY("pieces"), FT_PIECES, 0},
};
#undef E

/* As documented above struct proto_entry. */
#define B(name) (1u << E_##name)
static const struct field_set ENTRY_KINDS[PROTO_KIND_COUNT] = {
    [PROTO_PURCHASE] = {B(TXN) | B(MEMBER) | B(STORE) | B(AMOUNT) | B(LINES), B(LINES)},
    [PROTO_REFUND] = {B(TXN) | B(ORIG_TXN) | B(MEMBER) | B(AMOUNT), 0},
    [PROTO_REDEEM] = {B(TXN) | B(MEMBER) | B(POINTS) | B(REWARD), B(POINTS) | B(REWARD)},
    [PROTO_ADJUST] = {B(TXN) | B(MEMBER) | B(POINTS) | B(REASON) | B(QUALIFYING),
                      B(QUALIFYING)},
    [PROTO_ENROLL] = {B(TXN) | B(MEMBER) | B(BIRTHDAY) | B(REFERRER),
                      B(BIRTHDAY) | B(REFERRER)},
    [PROTO_SCAN] = {B(MEMBER) | B(STORE) | B(TXN), B(TXN)},
    [PROTO_TICK] = {0, 0},
    [PROTO_RULES] = {B(HASH) | B(LABEL) | B(EFFECTIVE_TS), B(LABEL) | B(EFFECTIVE_TS)},
    [PROTO_TRANSFER] = {B(TXN) | B(MEMBER) | B(TO) | B(POINTS), 0},
    [PROTO_SET_TIER] = {B(TXN) | B(MEMBER) | B(TIER) | B(UNTIL_TS) | B(REASON), B(UNTIL_TS)},
    [PROTO_TRANSFER_CREDIT] = {B(TXN) | B(MEMBER) | B(FROM) | B(PIECES), 0},
    [PROTO_TRANSFER_RETURN] = {B(TXN) | B(MEMBER) | B(FROM) | B(PIECES), 0},
};
#undef B

#define L struct proto_line
static const struct field LINE_FIELDS[] = {CHARS(L, sku), CHARS(L, cat), INT(L, qty),
                                           INT(L, amount)};
#undef L
static const struct field_set LINE_ALL = {(1u << LEN(LINE_FIELDS)) - 1, 0};

enum out_field_id {
    O_DELTA, O_BALANCE, O_CAUSE, O_FROM, O_TO, O_REASON, O_REWARD, O_COST, O_TXN, O_OK,
    O_ERROR, O_PERK, O_TIER, O_STORE, O_POINTS, O_RFM, O_DIMENSION, O_LABEL, O_CAMPAIGN,
    O_COUNT, O_PENDING, O_RELEASE_TS, O_REVIEW_TS, O_NEEDED, O_EXPIRE_TS, O_FIELD_COUNT
};
#define O struct proto_output
static const struct field OUT_FIELDS[O_FIELD_COUNT] = {
    [O_DELTA] = INT(O, delta),   [O_BALANCE] = INT(O, balance),
    [O_CAUSE] = FIELD(O, cause, FT_CAUSE, enum proto_cause),
    [O_FROM] = CSTR(O, from),    [O_TO] = CSTR(O, to),
    [O_REASON] = CSTR(O, reason), [O_REWARD] = CSTR(O, reward),
    [O_COST] = INT(O, cost),     [O_TXN] = CHARS(O, txn),
    [O_OK] = FIELD(O, ok, FT_BOOL, bool),
    [O_ERROR] = FIELD(O, error, FT_ERROR, const char *),
    [O_PERK] = CSTR(O, perk),    [O_TIER] = CSTR(O, tier),
    [O_STORE] = CHARS(O, store), [O_POINTS] = INT(O, points),
    [O_RFM] = FIELD(O, rfm, FT_RFM, uint8_t *),
    [O_DIMENSION] = CSTR(O, dimension),
    [O_LABEL] = CSTR(O, label),
    [O_CAMPAIGN] = CSTR(O, campaign),
    [O_COUNT] = INT(O, count),   [O_PENDING] = INT(O, pending),
    [O_RELEASE_TS] = INT(O, release_ts), [O_REVIEW_TS] = INT(O, review_ts),
    [O_NEEDED] = INT(O, needed), [O_EXPIRE_TS] = INT(O, expire_ts),
};
#undef O

/* As documented above struct proto_output. */
_Static_assert(E_FIELD_COUNT <= 32 && O_FIELD_COUNT <= 32, "a field set is 32 bits");
#define B(name) (1u << O_##name)
static const struct field_set OUT_KINDS[PROTO_OUT_KIND_COUNT] = {
    [PROTO_OUT_POINTS_CHANGED] = {B(DELTA) | B(BALANCE) | B(CAUSE), 0},
    [PROTO_OUT_TIER_CHANGED] = {B(FROM) | B(TO) | B(REASON), 0},
    [PROTO_OUT_REWARD_ISSUED] = {B(REWARD) | B(COST) | B(COUNT), 0},
    [PROTO_OUT_REDEEM_RESULT] = {B(TXN) | B(OK) | B(ERROR) | B(BALANCE), B(ERROR)},
    [PROTO_OUT_PERK_TRIGGERED] = {B(PERK) | B(TIER) | B(STORE), 0},
    [PROTO_OUT_POINTS_EXPIRED] = {B(POINTS) | B(BALANCE), 0},
    [PROTO_OUT_SEGMENT_CHANGED] = {B(DIMENSION) | B(FROM) | B(TO) | B(RFM), 0},
    [PROTO_OUT_RULES_CHANGED] = {B(FROM) | B(TO) | B(LABEL), 0},
    [PROTO_OUT_TRANSFER_RESULT] = {B(TXN) | B(OK) | B(ERROR) | B(BALANCE), B(ERROR)},
    [PROTO_OUT_CAMPAIGN_EXHAUSTED] = {B(CAMPAIGN), 0},
    [PROTO_OUT_POINTS_PENDING] = {B(POINTS) | B(PENDING) | B(RELEASE_TS), 0},
    [PROTO_OUT_TIER_AT_RISK] = {B(TIER) | B(REVIEW_TS) | B(NEEDED), 0},
    [PROTO_OUT_POINTS_EXPIRING] = {B(POINTS) | B(EXPIRE_TS) | B(BALANCE), 0},
};
#undef B

/* ---- writing fields ----------------------------------------------------- */

static void fill_fields(struct kv_writer *w, const void *base, const struct field *fields,
                        size_t count, struct field_set set);

static void kv_lines(struct kv_writer *w, const struct field *f, const struct proto_entry *e)
{
    LY_ASSERT(e->line_count <= PROTO_LINES_MAX);
    kv_key(w, f->key, f->key_len);
    put_container(w, 0x90, 0xdc, e->line_count);
    for (uint32_t i = 0; i < e->line_count && w->rc == 0; i++) {
        struct kv_map m = map_begin(w);
        fill_fields(w, &e->lines[i], LINE_FIELDS, LEN(LINE_FIELDS), LINE_ALL);
        map_end(w, m);
    }
}

static void kv_pieces(struct kv_writer *w, const struct field *f, const struct proto_entry *e)
{
    LY_ASSERT(e->piece_count <= PROTO_PIECES_MAX);
    kv_key(w, f->key, f->key_len);
    put_container(w, 0x90, 0xdc, e->piece_count);
    for (uint32_t i = 0; i < e->piece_count && w->rc == 0; i++) {
        put_be(w, 0x92, 0, 0); /* an array of 2 */
        put_int(w, e->pieces[i].expire_ts);
        put_int(w, e->pieces[i].points);
    }
}

static void kv_rfm(struct kv_writer *w, const struct field *f, const uint8_t *rfm)
{
    kv_key(w, f->key, f->key_len);
    put_be(w, 0x93, 0, 0); /* an array of 3 */
    for (int i = 0; i < 3; i++)
        put_int(w, rfm[i]);
}

static void kv_birthday(struct kv_writer *w, const struct field *f, const struct proto_entry *e)
{
    char mmdd[8];
    snprintf(mmdd, sizeof mmdd, "%02u-%02u", (unsigned)e->birthday_month,
             (unsigned)e->birthday_day);
    kv_str(w, f->key, f->key_len, mmdd);
}

/* `base` is the struct the field's table describes; `f->off` is the offset
 * of a member of the C type its field type names, so the casts are exact. */
static void kv_field(struct kv_writer *w, const void *base, const struct field *f)
{
    const char *at = (const char *)base + f->off;
    const char *k = f->key;
    size_t kl = f->key_len;
    switch (f->type) {
    case FT_CHARS: kv_str(w, k, kl, at); break;
    case FT_CSTR:
    case FT_ERROR: kv_str(w, k, kl, *(const char *const *)at); break;
    case FT_INT: kv_int(w, k, kl, *(const int64_t *)at); break;
    case FT_CAUSE: kv_str(w, k, kl, proto_cause_name(*(const enum proto_cause *)at)); break;
    case FT_RFM: kv_rfm(w, f, (const uint8_t *)at); break;
    case FT_BIRTHDAY: kv_birthday(w, f, base); break;
    case FT_LINES: kv_lines(w, f, base); break;
    case FT_PIECES: kv_pieces(w, f, base); break;
    case FT_BOOL: kv_bool(w, k, kl, *(const bool *)at); break;
    }
}

/* Whether an optional field is set, so written. */
static bool field_is_set(const void *base, const struct field *f)
{
    const char *at = (const char *)base + f->off;
    switch (f->type) {
    case FT_CHARS: return at[0] != '\0';
    case FT_CSTR: return *(const char *const *)at != NULL;
    case FT_ERROR: return !((const struct proto_output *)base)->ok;
    case FT_INT: return *(const int64_t *)at != 0;
    case FT_BIRTHDAY: return ((const struct proto_entry *)base)->birthday_month != 0;
    case FT_LINES: return ((const struct proto_entry *)base)->line_count != 0;
    case FT_PIECES: return ((const struct proto_entry *)base)->piece_count != 0;
    case FT_BOOL: return *(const bool *)at; /* an optional flag is written when true */
    case FT_CAUSE:
    case FT_RFM: return true;
    }
    return true;
}

static void fill_fields(struct kv_writer *w, const void *base, const struct field *fields,
                        size_t count, struct field_set set)
{
    for (size_t i = 0; i < count; i++) {
        bool carried = set.carried >> i & 1;
        bool optional = set.optional >> i & 1;
        if (carried && (!optional || field_is_set(base, &fields[i])))
            kv_field(w, base, &fields[i]);
    }
}

static void fill_entry(struct kv_writer *w, const void *obj)
{
    const struct proto_entry *e = obj;
    kv_int(w, KEY("v"), PROTO_VERSION);
    kv_str(w, KEY("kind"), proto_kind_name(e->kind));
    kv_int(w, KEY("ts"), e->ts);
    fill_fields(w, e, ENTRY_FIELDS, E_FIELD_COUNT, ENTRY_KINDS[e->kind]);
}

/* An output with the ids it is published under. */
struct output_ctx {
    const struct proto_output *o;
    const char *id;
    size_t id_len;
    const char *src;
    size_t src_len;
};

static void fill_output(struct kv_writer *w, const void *obj)
{
    const struct output_ctx *c = obj;
    kv_int(w, KEY("v"), PROTO_VERSION);
    kv_str(w, KEY("kind"), proto_out_kind_name(c->o->kind));
    kv_key(w, KEY("id"));
    put_str(w, c->id, c->id_len);
    kv_key(w, KEY("src"));
    put_str(w, c->src, c->src_len);
    if (c->o->kind != PROTO_OUT_RULES_CHANGED &&
        c->o->kind != PROTO_OUT_CAMPAIGN_EXHAUSTED) /* about no member */
        kv_str(w, KEY("member"), c->o->member);
    kv_int(w, KEY("ts"), c->o->ts);
    fill_fields(w, c->o, OUT_FIELDS, O_FIELD_COUNT, OUT_KINDS[c->o->kind]);
}

/* Room an encoding is first tried in; an event is a few hundred bytes. */
#define ENCODE_ROOM_FIRST 1024
/* Largest room tried: far above any event the limits in proto.h allow. */
#define ENCODE_ROOM_MAX (64u << 20)

/* Makes room for `room` bytes after buf->size. Returns 0 or -1. */
static int sbuffer_room(msgpack_sbuffer *buf, size_t room)
{
    if (buf->alloc - buf->size >= room)
        return 0;
    size_t cap = buf->alloc ? buf->alloc * 2 : 8192;
    while (cap - buf->size < room)
        cap *= 2;
    char *p = realloc(buf->data, cap); /* msgpack_sbuffer frees with free() */
    if (p == NULL)
        return -1;
    buf->data = p;
    buf->alloc = cap;
    return 0;
}

/* Appends the map `fill` describes to `buf`, written in place in its free
 * room (grown and tried again when the map does not fit). On failure `buf`
 * is left as it was, so a caller never sees half an entry. */
static int encode_map(msgpack_sbuffer *buf, void (*fill)(struct kv_writer *, const void *),
                      const void *obj)
{
    for (size_t room = ENCODE_ROOM_FIRST; room <= ENCODE_ROOM_MAX; room *= 4) {
        if (sbuffer_room(buf, room) != 0)
            return -1;
        unsigned char *at = (unsigned char *)buf->data + buf->size;
        struct kv_writer w = {.p = at, .end = (unsigned char *)buf->data + buf->alloc};
        struct kv_map m = map_begin(&w);
        fill(&w, obj);
        map_end(&w, m);
        if (w.rc == 0) {
            buf->size += (size_t)(w.p - at);
            return 0;
        }
    }
    return -1;
}

int proto_encode_entry(msgpack_sbuffer *buf, const struct proto_entry *e)
{
    LY_ASSERT(buf != NULL && e != NULL);
    LY_ASSERT((unsigned)e->kind < PROTO_KIND_COUNT);
    return encode_map(buf, fill_entry, e);
}

int proto_encode_output(msgpack_sbuffer *buf, const struct proto_output *o,
                        struct proto_id src, uint32_t seq)
{
    LY_ASSERT(buf != NULL && o != NULL);
    LY_ASSERT((unsigned)o->kind < PROTO_OUT_KIND_COUNT);
    char src_s[PROTO_ID_STR_MAX];
    char id_s[PROTO_OUT_ID_STR_MAX];
    int len = proto_id_format(src, src_s, sizeof src_s);
    int id_len = proto_id_format_seq(src_s, (size_t)len, seq, id_s, sizeof id_s);
    struct output_ctx ctx = {.o = o, .id = id_s, .id_len = (size_t)id_len, .src = src_s,
                              .src_len = (size_t)len};
    return encode_map(buf, fill_output, &ctx);
}
