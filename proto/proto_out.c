/* proto_out.c - see proto_out.h. A table says which keys each treated kind
 * must carry; every value read goes through one of two checked readers. */
#include "proto_out.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if __has_include("lyassert.h")
#include "lyassert.h"
#else
#include "../engine/lyassert.h"
#endif

__attribute__((format(printf, 3, 4))) static int
out_reject(struct proto_reject *rej, const char *code, const char *fmt, ...)
{
    rej->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rej->detail, sizeof rej->detail, fmt, ap);
    va_end(ap);
    return -1;
}

static bool key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           (n == 0 || memcmp(k->via.str.ptr, s, n) == 0);
}

/* The value under `key`, or NULL. */
static const msgpack_object *lookup(const msgpack_object_map *m, const char *key)
{
    for (uint32_t i = 0; i < m->size; i++)
        if (key_is(&m->ptr[i].key, key))
            return &m->ptr[i].val;
    return NULL;
}

/* Keys are strings, none given twice; at most PROTO_KEYS_MAX of them (the
 * shape check saw to it), so the pairwise comparison is bounded. */
static int distinct_string_keys(const msgpack_object_map *m, struct proto_reject *rej)
{
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return out_reject(rej, PROTO_R_NOT_A_MAP, "key %" PRIu32 " is not a string", i);
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *o = &m->ptr[j].key;
            if (o->via.str.size == k->via.str.size &&
                (k->via.str.size == 0 ||
                 memcmp(o->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0))
                return out_reject(rej, PROTO_R_DUPLICATE_KEY, "key %" PRIu32
                                  " is given twice", i);
        }
    }
    return 0;
}

/* Copies the string under `key` into dst[cap]: at most cap - 1 bytes, no
 * NUL inside. A missing key leaves "" and is an error only when required;
 * an empty string is allowed only when `min_len` is 0. */
static int read_str(const msgpack_object_map *m, const char *key, bool required,
                    size_t min_len, char *dst, size_t cap, struct proto_reject *rej)
{
    const msgpack_object *v = lookup(m, key);
    dst[0] = '\0';
    if (v == NULL)
        return required ? out_reject(rej, PROTO_R_MISSING_FIELD, "field '%s' is missing", key)
                        : 0;
    if (v->type != MSGPACK_OBJECT_STR)
        return out_reject(rej, PROTO_R_WRONG_TYPE, "field '%s' is not a string", key);
    size_t n = v->via.str.size;
    if (n < min_len || n >= cap)
        return out_reject(rej, n < min_len ? PROTO_R_BAD_VALUE : PROTO_R_FIELD_TOO_LONG,
                          "field '%s': %zu bytes, expected %zu..%zu", key, n, min_len,
                          cap - 1);
    if (n > 0 && memchr(v->via.str.ptr, '\0', n) != NULL)
        return out_reject(rej, PROTO_R_BAD_VALUE, "field '%s' holds a NUL byte", key);
    if (n > 0)
        memcpy(dst, v->via.str.ptr, n);
    dst[n] = '\0';
    return 0;
}

/* Reads the integer under `key` (required) into *dst, which must lie in
 * min..max. */
static int read_int(const msgpack_object_map *m, const char *key, int64_t min, int64_t max,
                    int64_t *dst, struct proto_reject *rej)
{
    const msgpack_object *v = lookup(m, key);
    if (v == NULL)
        return out_reject(rej, PROTO_R_MISSING_FIELD, "field '%s' is missing", key);
    int64_t x;
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        x = v->via.i64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        x = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return out_reject(rej, PROTO_R_OUT_OF_RANGE, "field '%s' is over 2^63", key);
    else
        return out_reject(rej, PROTO_R_WRONG_TYPE, "field '%s' is not an integer", key);
    if (x < min || x > max)
        return out_reject(rej, PROTO_R_OUT_OF_RANGE, "field '%s': %" PRId64
                          " is outside %" PRId64 "..%" PRId64, key, x, min, max);
    *dst = x;
    return 0;
}

static int read_points(const msgpack_object_map *m, struct proto_out_event *ev,
                       struct proto_reject *rej)
{
    if (read_int(m, "delta", INT64_MIN, INT64_MAX, &ev->delta, rej) != 0 ||
        read_int(m, "balance", INT64_MIN, INT64_MAX, &ev->balance, rej) != 0 ||
        read_str(m, "cause", true, 1, ev->cause, sizeof ev->cause, rej) != 0)
        return -1;
    if (ev->delta == 0)
        return out_reject(rej, PROTO_R_BAD_VALUE, "field 'delta' is zero");
    int64_t before;
    if (__builtin_sub_overflow(ev->balance, ev->delta, &before))
        return out_reject(rej, PROTO_R_OUT_OF_RANGE, "balance - delta overflows");
    ev->has_points = true;
    ev->has_balance = true;
    return 0;
}

static int read_change(const msgpack_object_map *m, struct proto_out_event *ev,
                       struct proto_reject *rej)
{
    return read_str(m, "to", true, 1, ev->to, sizeof ev->to, rej) != 0 ||
                   read_str(m, "from", false, 0, ev->from, sizeof ev->from, rej) != 0 ||
                   read_str(m, "label", false, 0, ev->label, sizeof ev->label, rej) != 0
               ? -1
               : 0;
}

int proto_out_read(const msgpack_object *top, struct proto_out_event *ev,
                   struct proto_reject *rej)
{
    LY_ASSERT(top != NULL && ev != NULL && rej != NULL);
    memset(ev, 0, sizeof *ev);
    *rej = (struct proto_reject){0};
    if (top->type != MSGPACK_OBJECT_MAP)
        return out_reject(rej, PROTO_R_NOT_A_MAP, "the event is not a map");
    const msgpack_object_map *m = &top->via.map;
    if (distinct_string_keys(m, rej) != 0 ||
        read_str(m, "kind", true, 1, ev->kind, sizeof ev->kind, rej) != 0 ||
        read_str(m, "id", true, 1, ev->id, sizeof ev->id, rej) != 0 ||
        read_str(m, "src", true, 1, ev->src, sizeof ev->src, rej) != 0 ||
        read_int(m, "ts", 0, PROTO_TS_MAX, &ev->ts, rej) != 0 ||
        read_str(m, "member", false, 0, ev->member, sizeof ev->member, rej) != 0)
        return -1;
    if (strcmp(ev->kind, proto_out_kind_name(PROTO_OUT_POINTS_CHANGED)) == 0)
        return read_points(m, ev, rej);
    if ((strcmp(ev->kind, PROTO_OUT_RULES_CHANGED_NAME) == 0 ||
         strcmp(ev->kind, proto_out_kind_name(PROTO_OUT_TIER_CHANGED)) == 0) &&
        read_change(m, ev, rej) != 0)
        return -1;
    const msgpack_object *b = lookup(m, "balance");
    if (b != NULL && (b->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                      (b->type == MSGPACK_OBJECT_POSITIVE_INTEGER && b->via.u64 <= INT64_MAX))) {
        ev->balance = b->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? b->via.i64
                                                                  : (int64_t)b->via.u64;
        ev->has_balance = true;
    }
    return 0;
}
