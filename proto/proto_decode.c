/* proto_decode.c - the bytes of an input entry to a validated proto_entry.
 *
 * Three steps, each bounded by the length of the input:
 *  1. scan: walk the msgpack token stream without building anything, and
 *     check that it is one well-formed object, no deeper than
 *     PROTO_DEPTH_MAX, no map wider than PROTO_KEYS_MAX, and that no array
 *     or map claims more elements than there are bytes left. msgpack-c
 *     allocates room for a container's elements as soon as it reads the
 *     header, so 5 bytes claiming 2^32 elements would otherwise cost 96 GiB.
 *  2. unpack: msgpack_unpack into a zone sized from the input, freed on
 *     every path. Strings in the result point into `buf`.
 *  3. validate: one table of field specs per kind says which keys are
 *     required or optional, their types and their limits; values are copied
 *     into the caller's struct.
 * Reason codes are the PROTO_R_* macros; details name the field and never
 * echo input bytes except as a short escaped prefix.
 */
#include "proto.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

/* Room for an escaped prefix of an input string in a detail message: up to
 * ESCAPE_BYTES_MAX bytes, each at most 4 characters, then "..." and NUL. */
#define ESCAPE_BYTES_MAX 16
#define ESCAPE_BUF_SIZE (ESCAPE_BYTES_MAX * 4 + 4)

__attribute__((format(printf, 3, 4))) static int
reject(struct proto_reject *rej, const char *code, const char *fmt, ...)
{
    rej->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rej->detail, sizeof rej->detail, fmt, ap);
    va_end(ap);
    return -1;
}

/* Writes a printable rendering of at most ESCAPE_BYTES_MAX bytes of s into
 * out: bytes 0x20..0x7e other than quote and backslash as they are, the rest
 * as \xNN, "..." when s is longer. Returns out. */
static const char *escape_prefix(const char *s, size_t n, char out[ESCAPE_BUF_SIZE])
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < ESCAPE_BYTES_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c <= 0x7e && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
    }
    if (n > ESCAPE_BYTES_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* ---- step 1: scan ------------------------------------------------------ */

enum token_kind { TOK_BAD, TOK_SCALAR, TOK_ARRAY, TOK_MAP };

/* One msgpack token: `head` bytes of type and length, then `body` bytes of
 * payload (scalars) or `count` elements (arrays; maps hold 2 * count). */
struct token {
    enum token_kind kind;
    size_t head;
    uint64_t body;
    uint64_t count;
};

/* The formats 0xc0..0xdf: `len_bytes` big-endian bytes of length (or of
 * element count) after the type byte, and `fixed` payload bytes on top of
 * that length (the ext type byte, or the whole value of fixed-size types). */
struct format {
    uint8_t kind; /* enum token_kind; TOK_BAD for 0xc1, never used */
    uint8_t len_bytes;
    uint8_t fixed;
};

static const struct format FORMATS[0x20] = {
    [0x00] = {TOK_SCALAR, 0, 0}, /* nil */
    [0x02] = {TOK_SCALAR, 0, 0}, [0x03] = {TOK_SCALAR, 0, 0}, /* false, true */
    [0x04] = {TOK_SCALAR, 1, 0}, [0x05] = {TOK_SCALAR, 2, 0}, /* bin 8, 16 */
    [0x06] = {TOK_SCALAR, 4, 0},                              /* bin 32 */
    [0x07] = {TOK_SCALAR, 1, 1}, [0x08] = {TOK_SCALAR, 2, 1}, /* ext 8, 16 */
    [0x09] = {TOK_SCALAR, 4, 1},                              /* ext 32 */
    [0x0a] = {TOK_SCALAR, 0, 4}, [0x0b] = {TOK_SCALAR, 0, 8}, /* float 32, 64 */
    [0x0c] = {TOK_SCALAR, 0, 1}, [0x0d] = {TOK_SCALAR, 0, 2}, /* uint 8, 16 */
    [0x0e] = {TOK_SCALAR, 0, 4}, [0x0f] = {TOK_SCALAR, 0, 8}, /* uint 32, 64 */
    [0x10] = {TOK_SCALAR, 0, 1}, [0x11] = {TOK_SCALAR, 0, 2}, /* int 8, 16 */
    [0x12] = {TOK_SCALAR, 0, 4}, [0x13] = {TOK_SCALAR, 0, 8}, /* int 32, 64 */
    [0x14] = {TOK_SCALAR, 0, 2}, [0x15] = {TOK_SCALAR, 0, 3}, /* fixext 1, 2 */
    [0x16] = {TOK_SCALAR, 0, 5}, [0x17] = {TOK_SCALAR, 0, 9}, /* fixext 4, 8 */
    [0x18] = {TOK_SCALAR, 0, 17},                             /* fixext 16 */
    [0x19] = {TOK_SCALAR, 1, 0}, [0x1a] = {TOK_SCALAR, 2, 0}, /* str 8, 16 */
    [0x1b] = {TOK_SCALAR, 4, 0},                              /* str 32 */
    [0x1c] = {TOK_ARRAY, 2, 0},  [0x1d] = {TOK_ARRAY, 4, 0},  /* array 16, 32 */
    [0x1e] = {TOK_MAP, 2, 0},    [0x1f] = {TOK_MAP, 4, 0},    /* map 16, 32 */
};

/* Reads the token header at p[0..avail), avail >= 1. Returns 0, or -1 when
 * the type byte is not msgpack (t->kind == TOK_BAD) or the header is cut. */
static int token_head(const unsigned char *p, size_t avail, struct token *t)
{
    unsigned b = p[0];
    *t = (struct token){.kind = TOK_SCALAR, .head = 1};
    if (b <= 0x7f || b >= 0xe0) /* positive and negative fixint */
        return 0;
    if (b <= 0x9f) { /* fixmap, fixarray */
        t->kind = b <= 0x8f ? TOK_MAP : TOK_ARRAY;
        t->count = b & 0x0f;
        return 0;
    }
    if (b <= 0xbf) { /* fixstr */
        t->body = b & 0x1f;
        return 0;
    }
    const struct format *f = &FORMATS[b - 0xc0];
    t->kind = (enum token_kind)f->kind;
    t->head = 1 + (size_t)f->len_bytes;
    if (t->kind == TOK_BAD || t->head > avail)
        return -1;
    uint64_t n = 0;
    for (size_t i = 1; i < t->head; i++)
        n = n << 8 | p[i];
    if (t->kind == TOK_SCALAR)
        t->body = f->fixed + n;
    else
        t->count = n;
    return 0;
}

/* The walk: elements still to read in each open container. Level 0 is the
 * whole input, which holds exactly one object; the entry map is at depth 1,
 * `lines` at 2, a line map at 3, leaving producers one level for their own
 * metadata under keys we ignore. */
struct scan {
    const unsigned char *p;
    size_t len;
    size_t off;
    int depth;
    uint64_t pending[PROTO_DEPTH_MAX + 1];
    uint64_t outstanding; /* sum of pending: each needs >= 1 more byte */
};

static int scan_container(struct scan *s, const struct token *t, size_t at,
                          struct proto_reject *rej)
{
    const char *what = t->kind == TOK_MAP ? "map" : "array";
    uint64_t elements = t->kind == TOK_MAP ? 2 * t->count : t->count;
    if (s->outstanding + elements > s->len - s->off)
        return reject(rej, PROTO_R_BAD_MSGPACK, "%s at byte %zu claims %" PRIu64 " %s, "
                      "more than the %zu bytes left can hold", what, at, t->count,
                      t->kind == TOK_MAP ? "pairs" : "elements", s->len - s->off);
    if (s->depth + 1 > PROTO_DEPTH_MAX)
        return reject(rej, PROTO_R_TOO_DEEP, "%s at byte %zu nests deeper than %d levels",
                      what, at, PROTO_DEPTH_MAX);
    if (t->kind == TOK_MAP && t->count > PROTO_KEYS_MAX)
        return reject(rej, PROTO_R_TOO_LARGE, "map at byte %zu has %" PRIu64
                      " keys, at most %d", at, t->count, PROTO_KEYS_MAX);
    s->depth++;
    s->pending[s->depth] = elements;
    s->outstanding += elements;
    return 0;
}

/* Consumes the next token, which the innermost open container expects. */
static int scan_token(struct scan *s, struct proto_reject *rej)
{
    size_t at = s->off;
    struct token t;
    s->pending[s->depth]--;
    s->outstanding--;
    if (at == s->len)
        return reject(rej, PROTO_R_BAD_MSGPACK, "truncated: ends at byte %zu with %"
                      PRIu64 " more values expected", at, s->outstanding + 1);
    if (token_head(s->p + at, s->len - at, &t) != 0)
        return reject(rej, PROTO_R_BAD_MSGPACK, t.kind == TOK_BAD
                      ? "byte %zu (0x%02x) is not a msgpack type"
                      : "truncated: header at byte %zu (0x%02x) is cut short",
                      at, s->p[at]);
    s->off += t.head;
    if (t.kind != TOK_SCALAR)
        return scan_container(s, &t, at, rej);
    if (t.body > s->len - s->off)
        return reject(rej, PROTO_R_BAD_MSGPACK, "truncated: value at byte %zu needs %"
                      PRIu64 " bytes, %zu follow", at, t.body, s->len - s->off);
    s->off += (size_t)t.body;
    return 0;
}

/* Checks the shape of buf[0..len) before msgpack-c sees it. Every pass of
 * the loop consumes at least one byte, so it runs at most len times. */
static int scan(const char *buf, size_t len, struct proto_reject *rej)
{
    struct scan s = {.p = (const unsigned char *)buf, .len = len, .outstanding = 1};
    s.pending[0] = 1;
    while (s.outstanding > 0) {
        while (s.pending[s.depth] == 0)
            s.depth--;
        if (scan_token(&s, rej) != 0)
            return -1;
    }
    if (s.off != len)
        return reject(rej, PROTO_R_BAD_MSGPACK, "the entry ends at byte %zu, %zu more bytes "
                      "follow", s.off, len - s.off);
    return 0;
}

/* ---- step 3: validate -------------------------------------------------- */

enum field_type {
    F_ID,       /* str, 1..max bytes of 0x21..0x7e */
    F_TEXT,     /* str, 1..max bytes, no NUL */
    F_INT,      /* integer in min..max; negative ones are the wrong type when min >= 0 */
    F_DELTA,    /* integer in min..max, not zero */
    F_BOOL,     /* true or false, into a bool */
    F_BIRTHDAY, /* str "MM-DD", a day of a leap year; proto_entry only */
    F_LINES,    /* array of line maps; proto_entry only */
    F_PIECES,   /* array of [expire_ts, points] pairs; proto_entry only */
};

struct field_spec {
    const char *key;
    enum field_type type;
    bool required;
    size_t off; /* of a char[max + 1] (F_ID, F_TEXT), an int64_t (F_INT, F_DELTA) or a
                 * bool (F_BOOL) */
    int64_t min;
    int64_t max;
};

#define REQ true
#define OPT false
/* The wire key is the member's name; a string's limit is its array's size. */
#define STR_FIELD(type, m, ft, req) \
    {#m, ft, req, offsetof(type, m), 1, (int64_t)sizeof(((type *)0)->m) - 1}
/* _Generic makes the build fail unless the member is an int64_t. */
#define INT_FIELD(type, m, ft, req, lo, hi) \
    {#m, ft, req, _Generic(((type *)0)->m, int64_t: offsetof(type, m)), lo, hi}
/* _Generic makes the build fail unless the member is a bool. */
#define BOOL_FIELD(type, m, req) \
    {#m, F_BOOL, req, _Generic(((type *)0)->m, bool: offsetof(type, m)), 0, 1}
#define SPECIAL_FIELD(key, ft, req) {key, ft, req, 0, 0, 0}
#define E struct proto_entry

static const struct field_spec COMMON_FIELDS[] = {
    INT_FIELD(E, ts, F_INT, REQ, 1, PROTO_TS_MAX),
};
static const struct field_spec PURCHASE_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    STR_FIELD(E, store, F_ID, REQ),
    INT_FIELD(E, amount, F_INT, REQ, 1, PROTO_AMOUNT_MAX),
    SPECIAL_FIELD("lines", F_LINES, OPT),
};
static const struct field_spec REFUND_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, orig_txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    INT_FIELD(E, amount, F_INT, REQ, 1, PROTO_AMOUNT_MAX),
};
static const struct field_spec REDEEM_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    INT_FIELD(E, points, F_INT, OPT, 1, PROTO_POINTS_MAX),
    STR_FIELD(E, reward, F_ID, OPT),
};
static const struct field_spec ADJUST_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    INT_FIELD(E, points, F_DELTA, REQ, -PROTO_POINTS_MAX, PROTO_POINTS_MAX),
    STR_FIELD(E, reason, F_TEXT, REQ),
    BOOL_FIELD(E, qualifying, OPT),
};
static const struct field_spec ENROLL_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    SPECIAL_FIELD("birthday", F_BIRTHDAY, OPT),
    STR_FIELD(E, referrer, F_ID, OPT),
};
static const struct field_spec SCAN_FIELDS[] = {
    STR_FIELD(E, member, F_ID, REQ),
    STR_FIELD(E, store, F_ID, REQ),
    STR_FIELD(E, txn, F_ID, OPT),
};
static const struct field_spec RULES_FIELDS[] = {
    STR_FIELD(E, hash, F_ID, REQ),
    STR_FIELD(E, label, F_TEXT, OPT),
    INT_FIELD(E, effective_ts, F_INT, OPT, 1, PROTO_TS_MAX),
};
static const struct field_spec TRANSFER_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    STR_FIELD(E, to, F_ID, REQ),
    INT_FIELD(E, points, F_INT, REQ, 1, PROTO_POINTS_MAX),
};
static const struct field_spec SET_TIER_FIELDS[] = {
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    STR_FIELD(E, tier, F_ID, REQ),
    INT_FIELD(E, until_ts, F_INT, OPT, 1, PROTO_TS_MAX),
    STR_FIELD(E, reason, F_TEXT, REQ),
};
static const struct field_spec RELAY_FIELDS[] = { /* transfer_credit, transfer_return */
    STR_FIELD(E, txn, F_ID, REQ),
    STR_FIELD(E, member, F_ID, REQ),
    STR_FIELD(E, from, F_ID, REQ),
    SPECIAL_FIELD("pieces", F_PIECES, REQ),
};
static const struct field_spec LINE_FIELDS[] = {
    STR_FIELD(struct proto_line, sku, F_ID, REQ),
    STR_FIELD(struct proto_line, cat, F_ID, REQ),
    INT_FIELD(struct proto_line, qty, F_INT, REQ, 1, PROTO_QTY_MAX),
    INT_FIELD(struct proto_line, amount, F_INT, REQ, 0, PROTO_AMOUNT_MAX),
};
#undef E

static int check_redeem(const struct proto_entry *e, struct proto_reject *rej);
static int check_enroll(const struct proto_entry *e, struct proto_reject *rej);
static int check_rules(const struct proto_entry *e, struct proto_reject *rej);
static int check_transfer(const struct proto_entry *e, struct proto_reject *rej);
static int check_set_tier(const struct proto_entry *e, struct proto_reject *rej);
static int check_relay(const struct proto_entry *e, struct proto_reject *rej);

#define SPECS(a) a, sizeof a / sizeof a[0]
static const struct kind_spec {
    const struct field_spec *fields;
    size_t count;
    /* Checks across fields, after each one is valid; NULL when none. */
    int (*check)(const struct proto_entry *e, struct proto_reject *rej);
} KINDS[PROTO_KIND_COUNT] = {
    [PROTO_PURCHASE] = {SPECS(PURCHASE_FIELDS), NULL},
    [PROTO_REFUND] = {SPECS(REFUND_FIELDS), NULL},
    [PROTO_REDEEM] = {SPECS(REDEEM_FIELDS), check_redeem},
    [PROTO_ADJUST] = {SPECS(ADJUST_FIELDS), NULL},
    [PROTO_ENROLL] = {SPECS(ENROLL_FIELDS), check_enroll},
    [PROTO_SCAN] = {SPECS(SCAN_FIELDS), NULL},
    [PROTO_TICK] = {NULL, 0, NULL},
    [PROTO_RULES] = {SPECS(RULES_FIELDS), check_rules},
    [PROTO_TRANSFER] = {SPECS(TRANSFER_FIELDS), check_transfer},
    [PROTO_SET_TIER] = {SPECS(SET_TIER_FIELDS), check_set_tier},
    [PROTO_TRANSFER_CREDIT] = {SPECS(RELAY_FIELDS), check_relay},
    [PROTO_TRANSFER_RETURN] = {SPECS(RELAY_FIELDS), check_relay},
};

/* The type of `o` with its article, for messages: "an integer". */
static const char *type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_EXT: return "an ext";
    }
    return "an unknown type";
}

/* Whether str object `o` holds the n bytes at p. msgpack-c gives an empty
 * string a NULL pointer, which memcmp must not see even for 0 bytes. */
static bool str_eq(const msgpack_object *o, const char *p, size_t n)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           (n == 0 || memcmp(o->via.str.ptr, p, n) == 0);
}

static bool str_is(const msgpack_object *o, const char *s)
{
    return str_eq(o, s, strlen(s));
}

/* The value under `key`, or NULL. Keys are known to be distinct strings. */
static const msgpack_object *map_get(const msgpack_object_map *m, const char *key)
{
    for (uint32_t i = 0; i < m->size; i++)
        if (str_is(&m->ptr[i].key, key))
            return &m->ptr[i].val;
    return NULL;
}

/* Every key of `m` (`what`, e.g. "the entry") is a string, none twice. A
 * map has at most PROTO_KEYS_MAX keys (the scan saw to it), so the pairwise
 * comparison is bounded. */
static int check_keys(const msgpack_object_map *m, const char *what,
                      const char *non_str_code, struct proto_reject *rej)
{
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return reject(rej, non_str_code, "key %" PRIu32 " of %s is %s, not a string",
                          i, what, type_name(k));
        for (uint32_t j = 0; j < i; j++) {
            if (str_eq(&m->ptr[j].key, k->via.str.ptr, k->via.str.size)) {
                char esc[ESCAPE_BUF_SIZE];
                return reject(rej, PROTO_R_DUPLICATE_KEY, "key '%s' of %s is given twice",
                              escape_prefix(k->via.str.ptr, k->via.str.size, esc), what);
            }
        }
    }
    return 0;
}

/* Where a field sits, for messages: "" or "lines[3].". */
struct field_ctx {
    const struct field_spec *spec;
    const char *prefix;
    struct proto_reject *rej;
};

static int wrong_type(const struct field_ctx *c, const msgpack_object *v, const char *want)
{
    return reject(c->rej, PROTO_R_WRONG_TYPE, "field '%s%s': got %s, expected %s",
                  c->prefix, c->spec->key, type_name(v), want);
}

static int decode_str(const struct field_ctx *c, const msgpack_object *v, char *dst)
{
    if (v->type != MSGPACK_OBJECT_STR)
        return wrong_type(c, v, "a string");
    const char *s = v->via.str.ptr;
    uint32_t n = v->via.str.size;
    if (n == 0)
        return reject(c->rej, PROTO_R_BAD_VALUE, "field '%s%s' is empty", c->prefix,
                      c->spec->key);
    if (n > c->spec->max)
        return reject(c->rej, PROTO_R_FIELD_TOO_LONG, "field '%s%s': %" PRIu32
                      " bytes, at most %" PRId64, c->prefix, c->spec->key, n, c->spec->max);
    for (uint32_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        bool ok = c->spec->type == F_ID ? b >= 0x21 && b <= 0x7e : b != 0;
        if (!ok)
            return reject(c->rej, PROTO_R_BAD_VALUE, "field '%s%s': byte %" PRIu32
                          " (0x%02x) is not allowed%s", c->prefix, c->spec->key, i, b,
                          c->spec->type == F_ID ? " in an id" : "");
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int decode_int(const struct field_ctx *c, const msgpack_object *v, int64_t *dst)
{
    const struct field_spec *f = c->spec;
    int64_t x;
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && f->min >= 0)
        return reject(c->rej, PROTO_R_WRONG_TYPE, "field '%s%s': %" PRId64 " is negative",
                      c->prefix, f->key, v->via.i64);
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        x = v->via.i64;
    else if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return wrong_type(c, v, "an integer");
    else if (v->via.u64 > (uint64_t)f->max)
        return reject(c->rej, PROTO_R_OUT_OF_RANGE, "field '%s%s': %" PRIu64
                      " is over %" PRId64, c->prefix, f->key, v->via.u64, f->max);
    else
        x = (int64_t)v->via.u64;
    if (x < f->min || x > f->max)
        return reject(c->rej, PROTO_R_OUT_OF_RANGE, "field '%s%s': %" PRId64
                      " is outside %" PRId64 "..%" PRId64, c->prefix, f->key, x, f->min, f->max);
    if (x == 0 && f->type == F_DELTA)
        return reject(c->rej, PROTO_R_BAD_VALUE, "field '%s%s' is zero", c->prefix, f->key);
    *dst = x;
    return 0;
}

/* Reads two decimal digits. Returns false when either is not a digit. */
static bool two_digits(const char *s, unsigned *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *out = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    return true;
}

/* "MM-DD", a day that exists in a leap year (so 02-29 is a birthday). */
static int decode_birthday(const struct field_ctx *c, const msgpack_object *v,
                           struct proto_entry *out)
{
    static const uint8_t DAYS[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (v->type != MSGPACK_OBJECT_STR)
        return wrong_type(c, v, "a string");
    const char *s = v->via.str.ptr;
    unsigned month = 0;
    unsigned day = 0;
    if (v->via.str.size != 5 || s[2] != '-' || !two_digits(s, &month) ||
        !two_digits(s + 3, &day))
        return reject(c->rej, PROTO_R_BAD_VALUE, "field 'birthday': %" PRIu32
                      " bytes that are not \"MM-DD\"", v->via.str.size);
    if (month < 1 || month > 12 || day < 1 || day > DAYS[month - 1])
        return reject(c->rej, PROTO_R_BAD_VALUE,
                      "field 'birthday': month %u day %u is not a day of the year", month, day);
    out->birthday_month = (uint8_t)month;
    out->birthday_day = (uint8_t)day;
    return 0;
}

static int decode_fields(const msgpack_object_map *m, const struct field_spec *specs,
                         size_t count, void *base, const char *prefix,
                         struct proto_reject *rej);

static int decode_lines(const struct field_ctx *c, const msgpack_object *v,
                        struct proto_entry *out)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type(c, v, "an array");
    uint32_t n = v->via.array.size;
    if (n > PROTO_LINES_MAX)
        return reject(c->rej, PROTO_R_FIELD_TOO_LONG, "field 'lines': %" PRIu32
                      " items, at most %d", n, PROTO_LINES_MAX);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *item = &v->via.array.ptr[i];
        char what[24];
        char prefix[sizeof what + 1];
        snprintf(what, sizeof what, "lines[%" PRIu32 "]", i);
        snprintf(prefix, sizeof prefix, "%s.", what);
        if (item->type != MSGPACK_OBJECT_MAP)
            return reject(c->rej, PROTO_R_WRONG_TYPE, "field '%s': got %s, expected a map",
                          what, type_name(item));
        if (check_keys(&item->via.map, what, PROTO_R_WRONG_TYPE, c->rej) != 0 ||
            decode_fields(&item->via.map, SPECS(LINE_FIELDS), &out->lines[i], prefix,
                          c->rej) != 0)
            return -1;
    }
    out->line_count = n;
    return 0;
}

/* One [expire_ts, points] pair of a credit's pieces (proto.h). */
static int decode_piece(const struct field_ctx *c, const msgpack_object *v, uint32_t i,
                        struct proto_piece *out)
{
    static const struct field_spec expire = {"expire_ts", F_INT, REQ, 0, 0, PROTO_TS_MAX};
    static const struct field_spec points = {"points", F_INT, REQ, 0, 1, PROTO_POINTS_MAX};
    char prefix[32];
    snprintf(prefix, sizeof prefix, "pieces[%" PRIu32 "].", i);
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2)
        return reject(c->rej, PROTO_R_WRONG_TYPE, "field 'pieces[%" PRIu32 "]': expected an "
                      "array [expire_ts, points]", i);
    struct field_ctx ce = {.spec = &expire, .prefix = prefix, .rej = c->rej};
    struct field_ctx cp = {.spec = &points, .prefix = prefix, .rej = c->rej};
    if (decode_int(&ce, &v->via.array.ptr[0], &out->expire_ts) != 0 ||
        decode_int(&cp, &v->via.array.ptr[1], &out->points) != 0)
        return -1;
    return 0;
}

static int decode_pieces(const struct field_ctx *c, const msgpack_object *v,
                         struct proto_entry *out)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type(c, v, "an array");
    uint32_t n = v->via.array.size;
    if (n == 0 || n > PROTO_PIECES_MAX)
        return reject(c->rej, PROTO_R_FIELD_TOO_LONG, "field 'pieces': %" PRIu32
                      " items, 1..%d expected", n, PROTO_PIECES_MAX);
    out->points = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (decode_piece(c, &v->via.array.ptr[i], i, &out->pieces[i]) != 0)
            return -1;
        out->points += out->pieces[i].points; /* 40 x 1e12 cannot overflow */
    }
    out->piece_count = n;
    return 0;
}

/* Decodes one present field into `base` (a proto_entry or a proto_line, as
 * the spec's table says). */
static int decode_value(const struct field_ctx *c, const msgpack_object *v, void *base)
{
    char *dst = (char *)base + c->spec->off;
    switch (c->spec->type) {
    case F_ID:
    case F_TEXT:
        return decode_str(c, v, dst);
    case F_INT:
    case F_DELTA: {
        int64_t x = 0;
        if (decode_int(c, v, &x) != 0)
            return -1;
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case F_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return wrong_type(c, v, "a boolean");
        *(bool *)(void *)dst = v->via.boolean;
        return 0;
    case F_BIRTHDAY:
        return decode_birthday(c, v, base);
    case F_LINES:
        return decode_lines(c, v, base);
    case F_PIECES:
        return decode_pieces(c, v, base);
    }
    LY_ASSERT(!"not a field type");
    return -1;
}

static int decode_fields(const msgpack_object_map *m, const struct field_spec *specs,
                         size_t count, void *base, const char *prefix,
                         struct proto_reject *rej)
{
    for (size_t i = 0; i < count; i++) {
        struct field_ctx c = {.spec = &specs[i], .prefix = prefix, .rej = rej};
        const msgpack_object *v = map_get(m, specs[i].key);
        if (v == NULL && specs[i].required)
            return reject(rej, PROTO_R_MISSING_FIELD, "field '%s%s' is missing", prefix,
                          specs[i].key);
        if (v != NULL && decode_value(&c, v, base) != 0)
            return -1;
    }
    return 0;
}

static int check_redeem(const struct proto_entry *e, struct proto_reject *rej)
{
    bool has_points = e->points != 0;
    bool has_reward = e->reward[0] != '\0';
    if (has_points == has_reward)
        return reject(rej, PROTO_R_BAD_VALUE, "redeem needs exactly one of 'points' and "
                      "'reward', got %s", has_points ? "both" : "neither");
    return 0;
}

static int check_enroll(const struct proto_entry *e, struct proto_reject *rej)
{
    if (strcmp(e->referrer, e->member) == 0)
        return reject(rej, PROTO_R_BAD_VALUE, "field 'referrer': a member cannot refer "
                      "itself");
    return 0;
}

/* A rulebook's identity: exactly PROTO_HASH_LEN lowercase hex digits. */
static int check_rules(const struct proto_entry *e, struct proto_reject *rej)
{
    size_t n = strlen(e->hash);
    if (n != PROTO_HASH_LEN || strspn(e->hash, "0123456789abcdef") != n)
        return reject(rej, PROTO_R_BAD_VALUE, "field 'hash' must be %d lowercase hex digits "
                      "(a rulebook's identity)", PROTO_HASH_LEN);
    return 0;
}

static int check_transfer(const struct proto_entry *e, struct proto_reject *rej)
{
    if (strcmp(e->to, e->member) == 0)
        return reject(rej, PROTO_R_BAD_VALUE, "field 'to': a member cannot transfer to "
                      "itself");
    return 0;
}

/* A credit names two members, and its points are the sum of its pieces. */
static int check_relay(const struct proto_entry *e, struct proto_reject *rej)
{
    if (strcmp(e->from, e->member) == 0)
        return reject(rej, PROTO_R_BAD_VALUE, "field 'from': a member cannot transfer to "
                      "itself");
    if (e->points > PROTO_POINTS_MAX)
        return reject(rej, PROTO_R_OUT_OF_RANGE, "field 'pieces': %" PRId64 " points in all, "
                      "at most %lld", e->points, PROTO_POINTS_MAX);
    return 0;
}

/* A status held until a time that has already passed is a mistake. */
static int check_set_tier(const struct proto_entry *e, struct proto_reject *rej)
{
    if (e->until_ts != 0 && e->until_ts <= e->ts)
        return reject(rej, PROTO_R_BAD_VALUE, "field 'until_ts' must be after the entry's "
                      "ts");
    return 0;
}

static int decode_version(const msgpack_object_map *m, struct proto_reject *rej)
{
    const msgpack_object *v = map_get(m, "v");
    if (v == NULL)
        return reject(rej, PROTO_R_MISSING_FIELD, "field 'v' is missing");
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == PROTO_VERSION)
        return 0;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return reject(rej, PROTO_R_BAD_VERSION, "version %" PRIu64 " is not supported, "
                      "only %d", v->via.u64, PROTO_VERSION);
    return reject(rej, PROTO_R_BAD_VERSION, "field 'v': got %s, expected the integer %d",
                  type_name(v), PROTO_VERSION);
}

static int decode_kind(const msgpack_object_map *m, enum proto_kind *kind,
                       struct proto_reject *rej)
{
    const msgpack_object *v = map_get(m, "kind");
    if (v == NULL)
        return reject(rej, PROTO_R_MISSING_FIELD, "field 'kind' is missing");
    if (v->type != MSGPACK_OBJECT_STR)
        return reject(rej, PROTO_R_WRONG_TYPE, "field 'kind': got %s, expected a string",
                      type_name(v));
    for (int k = 0; k < PROTO_KIND_COUNT; k++) {
        if (str_is(v, proto_kind_name((enum proto_kind)k))) {
            *kind = (enum proto_kind)k;
            return 0;
        }
    }
    char esc[ESCAPE_BUF_SIZE];
    return reject(rej, PROTO_R_UNKNOWN_KIND, "kind '%s' is not an input kind",
                  escape_prefix(v->via.str.ptr, v->via.str.size, esc));
}

static int decode_object(const msgpack_object *top, struct proto_entry *out,
                         struct proto_reject *rej)
{
    if (top->type != MSGPACK_OBJECT_MAP)
        return reject(rej, PROTO_R_NOT_A_MAP, "the entry is %s, not a map", type_name(top));
    const msgpack_object_map *m = &top->via.map;
    if (check_keys(m, "the entry", PROTO_R_NOT_A_MAP, rej) != 0 ||
        decode_version(m, rej) != 0 || decode_kind(m, &out->kind, rej) != 0 ||
        decode_fields(m, SPECS(COMMON_FIELDS), out, "", rej) != 0)
        return -1;
    const struct kind_spec *k = &KINDS[out->kind];
    if (decode_fields(m, k->fields, k->count, out, "", rej) != 0)
        return -1;
    return k->check != NULL ? k->check(out, rej) : 0;
}

/* ---- step 2, unpack, and the three steps together ----------------------- */

/* msgpack-c makes at most one msgpack_object per input byte (every element
 * of an array or map takes a byte or more; strings point into the input),
 * so this first chunk holds the whole entry and the zone never grows. The
 * extra pointer a byte covers alignment. */
#define ZONE_BYTES_PER_INPUT_BYTE (sizeof(msgpack_object) + sizeof(void *))
#define ZONE_SLACK_BYTES 256

/* Running out of memory says nothing about the entry: rejecting it would
 * send a good entry to the DLQ and acknowledge it, losing it. Stopping lets
 * the restart replay it. The zone is bounded by PROTO_ENTRY_BYTES_MAX, so
 * this takes a machine that is out of memory anyway. */
_Noreturn static void die_no_memory(void)
{
    fprintf(stderr, "loyaltyd: out of memory decoding an entry\n");
    abort();
}

/* The checks before the unpack: size, then the shape scan. */
static int precheck(const char *buf, size_t len, struct proto_reject *rej)
{
    LY_ASSERT(rej != NULL);
    LY_ASSERT(buf != NULL || len == 0);
    *rej = (struct proto_reject){0};
    if (len > PROTO_ENTRY_BYTES_MAX)
        return reject(rej, PROTO_R_TOO_LARGE, "the entry is %zu bytes, at most %d", len,
                      PROTO_ENTRY_BYTES_MAX);
    if (len == 0)
        return reject(rej, PROTO_R_BAD_MSGPACK, "the entry is empty");
    return scan(buf, len, rej);
}

/* Unpacks the scanned `buf` into `zone`, which has room for it. Returns 0,
 * or -1 with `rej` set (the zone is left to the caller). */
static int unpack_into(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *top,
                       struct proto_reject *rej)
{
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack(buf, len, &off, zone, top);
    if (ret == MSGPACK_UNPACK_SUCCESS && off == len)
        return 0;
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        die_no_memory();
    /* the scan accepts only what msgpack-c does; kept for safety */
    return reject(rej, PROTO_R_BAD_MSGPACK, "msgpack-c refused the entry (%d)", (int)ret);
}

int proto_unpack(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *top,
                 struct proto_reject *rej)
{
    LY_ASSERT(zone != NULL && top != NULL);
    if (precheck(buf, len, rej) != 0)
        return -1;
    if (!msgpack_zone_init(zone, len * ZONE_BYTES_PER_INPUT_BYTE + ZONE_SLACK_BYTES))
        die_no_memory();
    if (unpack_into(buf, len, zone, top, rej) == 0)
        return 0;
    msgpack_zone_destroy(zone);
    return -1;
}

/* Step 3 on what was unpacked; `out` zeroed when rejected. */
static int decode_top(const msgpack_object *top, struct proto_entry *out,
                      struct proto_reject *rej)
{
    int rc = decode_object(top, out, rej);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int proto_decode(const char *buf, size_t len, struct proto_entry *out,
                 struct proto_reject *rej)
{
    LY_ASSERT(out != NULL && rej != NULL);
    memset(out, 0, sizeof *out);
    msgpack_zone zone;
    msgpack_object top;
    if (proto_unpack(buf, len, &zone, &top, rej) != 0)
        return -1;
    int rc = decode_top(&top, out, rej);
    msgpack_zone_destroy(&zone);
    return rc;
}

/* Room for the largest entry: the zone's one chunk never grows. */
#define DECODER_ZONE_BYTES (PROTO_ENTRY_BYTES_MAX * ZONE_BYTES_PER_INPUT_BYTE + ZONE_SLACK_BYTES)

int proto_decoder_init(struct proto_decoder *d)
{
    LY_ASSERT(d != NULL);
    return msgpack_zone_init(&d->zone, DECODER_ZONE_BYTES) ? 0 : -1;
}

void proto_decoder_free(struct proto_decoder *d)
{
    msgpack_zone_destroy(&d->zone);
}

int proto_decode_with(struct proto_decoder *d, const char *buf, size_t len,
                      struct proto_entry *out, struct proto_reject *rej)
{
    LY_ASSERT(d != NULL && out != NULL && rej != NULL);
    memset(out, 0, sizeof *out);
    if (precheck(buf, len, rej) != 0)
        return -1;
    msgpack_zone_clear(&d->zone); /* keeps its first chunk, which holds any entry */
    msgpack_object top;
    if (unpack_into(buf, len, &d->zone, &top, rej) != 0)
        return -1;
    return decode_top(&top, out, rej);
}
