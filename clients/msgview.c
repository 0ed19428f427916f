/* msgview.c - looking into and printing msgpack values. See msgview.h. */
#include "msgview.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

/* How the value behind a tag byte in 0xc0..0xdf is laid out: `hdr` bytes of
 * header, of which `size_bytes` (after the tag) give a big-endian length or
 * count; `fixed` payload bytes of a scalar. hdr 0 marks 0xc1, never used. */
enum mp_layout { MP_SCALAR, MP_BYTES, MP_ARRAY, MP_MAP };
struct mp_shape {
    uint8_t hdr;
    uint8_t size_bytes;
    uint8_t fixed;
    uint8_t layout;
};

static const struct mp_shape MP_SHAPES[32] = {
    {1, 0, 0, MP_SCALAR}, {0, 0, 0, MP_SCALAR}, {1, 0, 0, MP_SCALAR},
    {1, 0, 0, MP_SCALAR}, /* c0 nil, c1 unused, c2 false, c3 true */
    {2, 1, 0, MP_BYTES},  {3, 2, 0, MP_BYTES},  {5, 4, 0, MP_BYTES}, /* bin */
    {3, 1, 0, MP_BYTES},  {4, 2, 0, MP_BYTES},  {6, 4, 0, MP_BYTES}, /* ext */
    {1, 0, 4, MP_SCALAR}, {1, 0, 8, MP_SCALAR}, /* float32, float64 */
    {1, 0, 1, MP_SCALAR}, {1, 0, 2, MP_SCALAR}, {1, 0, 4, MP_SCALAR},
    {1, 0, 8, MP_SCALAR}, /* uint8..uint64 */
    {1, 0, 1, MP_SCALAR}, {1, 0, 2, MP_SCALAR}, {1, 0, 4, MP_SCALAR},
    {1, 0, 8, MP_SCALAR}, /* int8..int64 */
    {2, 0, 1, MP_SCALAR}, {2, 0, 2, MP_SCALAR}, {2, 0, 4, MP_SCALAR},
    {2, 0, 8, MP_SCALAR}, {2, 0, 16, MP_SCALAR}, /* fixext 1..16 */
    {2, 1, 0, MP_BYTES},  {3, 2, 0, MP_BYTES},  {5, 4, 0, MP_BYTES}, /* str */
    {3, 2, 0, MP_ARRAY},  {5, 4, 0, MP_ARRAY},  /* array16, array32 */
    {3, 2, 0, MP_MAP},    {5, 4, 0, MP_MAP},    /* map16, map32 */
};

/* Reads the header of the value at p[0..left): sets the payload bytes that
 * follow it and the number of values it contains. Returns the header
 * length, or 0 when the header is malformed or cut short. */
static size_t mp_head(const unsigned char *p, size_t left, uint64_t *skip,
                      uint64_t *items)
{
    unsigned b = p[0];
    *skip = 0;
    *items = 0;
    if (b <= 0x7f || b >= 0xe0)
        return 1; /* fixint */
    if (b <= 0x9f) {
        *items = (b & 0x0f) * (b <= 0x8f ? 2u : 1u); /* fixmap, fixarray */
        return 1;
    }
    if (b <= 0xbf) {
        *skip = b & 0x1f; /* fixstr */
        return 1;
    }
    const struct mp_shape *s = &MP_SHAPES[b - 0xc0];
    if (s->hdr == 0 || left < s->hdr)
        return 0;
    uint64_t size = 0;
    for (unsigned i = 1; i <= s->size_bytes; i++)
        size = size << 8 | p[i];
    *skip = s->layout == MP_BYTES ? size : s->fixed;
    if (s->layout == MP_ARRAY || s->layout == MP_MAP)
        *items = size * (s->layout == MP_MAP ? 2u : 1u);
    return s->hdr;
}

/* 0 when p[0..len) is exactly one msgpack value in which no container
 * claims more values than there are bytes left (each needs at least one).
 * Every turn consumes a byte, so the walk is bounded by len. */
static int mp_check(const unsigned char *p, size_t len)
{
    uint64_t pending = 1;
    size_t pos = 0;
    while (pending > 0) {
        uint64_t skip, items;
        if (pos >= len)
            return -1;
        size_t hdr = mp_head(p + pos, len - pos, &skip, &items);
        if (hdr == 0)
            return -1;
        pos += hdr;
        if (skip > len - pos)
            return -1;
        pos += (size_t)skip;
        pending = pending - 1 + items;
        if (pending > len - pos)
            return -1;
    }
    return pos == len ? 0 : -1;
}

int msgview_unpack(const char *buf, size_t len, msgpack_unpacked *u,
                   struct client_error *err)
{
    size_t off = 0;
    if (len > MSGVIEW_BYTES_MAX) {
        snprintf(err->text, sizeof err->text, "%zu bytes, over the %d we decode",
                 len, MSGVIEW_BYTES_MAX);
        return -1;
    }
    if (len == 0 || mp_check((const unsigned char *)buf, len) != 0 ||
        msgpack_unpack_next(u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        snprintf(err->text, sizeof err->text, "%zu bytes of malformed msgpack",
                 len);
        return -1;
    }
    return 0;
}

const msgpack_object *msgview_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (msgview_is_str(&kv->key, key))
            return &kv->val;
    }
    return NULL;
}

bool msgview_is_str(const msgpack_object *o, const char *s)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR &&
           o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Length (1..4) of the valid UTF-8 sequence at p[0..left) and its code
 * point, or 0 when the bytes there are not valid UTF-8. */
static size_t utf8_seq(const unsigned char *p, size_t left, uint32_t *cp)
{
    uint32_t c = p[0];
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, c &= 0x07;
    else
        return 0;
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
        (n == 4 && (c < 0x10000 || c > 0x10ffff)))
        return 0;
    *cp = c;
    return n;
}

void msgview_print_bytes(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == '\\') {
            fprintf(f, "\\x%02x", p[i]);
            i++;
            continue;
        }
        fwrite(p + i, 1, n, f);
        i += n;
    }
}

static void hex_bytes(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", (unsigned char)s[i]);
}

/* Prints the numbers, booleans and nil both printers share; false when *o
 * is of another type. */
static bool print_scalar(FILE *f, const msgpack_object *o, bool json)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputs(json ? "null" : "nil", f);
        return true;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs(o->via.boolean ? "true" : "false", f);
        return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf(f, "%" PRIu64, o->via.u64);
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf(f, "%" PRId64, o->via.i64);
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (json && !isfinite(o->via.f64))
            fputs("null", f);
        else
            fprintf(f, "%.17g", o->via.f64);
        return true;
    default:
        return false;
    }
}

void msgview_json_string(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    fputc('"', f);
    while (i < len) {
        uint32_t cp = 0;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0) {
            fputs("\\ufffd", f); /* one invalid byte, one replacement */
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (int)cp);
        else if (cp < 0x20 || cp == 0x7f)
            fprintf(f, "\\u%04x", (unsigned)cp);
        else
            fwrite(p + i, 1, n, f);
        i += n;
    }
    fputc('"', f);
}

/* Both printers are one walk over the value; `json` picks the notation. */
static void print_value(FILE *f, const msgpack_object *o, int depth, bool json);

/* A JSON object key: strings as they are, anything else as the string of
 * its text form (the contract only has string keys). */
static void json_key(FILE *f, const msgpack_object *k)
{
    char *text = NULL;
    size_t len = 0;
    if (k->type == MSGPACK_OBJECT_STR) {
        msgview_json_string(f, k->via.str.ptr, k->via.str.size);
        return;
    }
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL) {
        fputs("\"?\"", f);
        return;
    }
    print_value(mem, k, MSGVIEW_DEPTH_MAX - 1, false);
    fclose(mem);
    msgview_json_string(f, text, len);
    free(text);
}

/* bin and ext: hex, quoted in JSON; an ext in text only by type and size. */
static void print_opaque(FILE *f, const msgpack_object *o, bool json)
{
    bool bin = o->type == MSGPACK_OBJECT_BIN;
    const char *p = bin ? o->via.bin.ptr : o->via.ext.ptr;
    uint32_t size = bin ? o->via.bin.size : o->via.ext.size;
    if (!json && !bin) {
        fprintf(f, "<ext %d, %u bytes>", o->via.ext.type, (unsigned)size);
        return;
    }
    fputs(json ? "\"" : "0x", f);
    hex_bytes(f, p, size);
    fputs(json ? "\"" : "", f);
}

/* [a,b] and {k=v} in text, [a,b] and {"k":v} in JSON. */
static void print_container(FILE *f, const msgpack_object *o, int depth, bool json)
{
    bool map = o->type == MSGPACK_OBJECT_MAP;
    uint32_t n = map ? o->via.map.size : o->via.array.size;
    fputc(map ? '{' : '[', f);
    for (uint32_t i = 0; i < n; i++) {
        fputs(i ? "," : "", f);
        if (!map) {
            print_value(f, &o->via.array.ptr[i], depth + 1, json);
            continue;
        }
        if (json)
            json_key(f, &o->via.map.ptr[i].key);
        else
            print_value(f, &o->via.map.ptr[i].key, depth + 1, false);
        fputc(json ? ':' : '=', f);
        print_value(f, &o->via.map.ptr[i].val, depth + 1, json);
    }
    fputc(map ? '}' : ']', f);
}

static void print_value(FILE *f, const msgpack_object *o, int depth, bool json)
{
    if (print_scalar(f, o, json))
        return;
    if (depth >= MSGVIEW_DEPTH_MAX) {
        fputs(json ? "\"...\"" : "...", f);
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        if (json)
            msgview_json_string(f, o->via.str.ptr, o->via.str.size);
        else
            msgview_print_bytes(f, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
    case MSGPACK_OBJECT_EXT:
        print_opaque(f, o, json);
        break;
    default:
        LY_ASSERT(o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP);
        print_container(f, o, depth, json);
        break;
    }
}

void msgview_print_text(FILE *f, const msgpack_object *o)
{
    if (o == NULL)
        fputc('-', f);
    else
        print_value(f, o, 0, false);
}

void msgview_print_json(FILE *f, const msgpack_object *o)
{
    if (o == NULL)
        fputs("null", f);
    else
        print_value(f, o, 0, true);
}
