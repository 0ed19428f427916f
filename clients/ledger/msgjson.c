/* msgjson.c - see msgjson.h. */
#include "msgjson.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

/* Lower-case hex of n bytes, malloc'd. */
static char *hex(const char *p, size_t n)
{
    static const char DIGITS[] = "0123456789abcdef";
    char *out = malloc(2 * n + 1);
    LY_ALLOC_CHECK(out != NULL);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = DIGITS[(unsigned char)p[i] >> 4];
        out[2 * i + 1] = DIGITS[(unsigned char)p[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

static json_t *string_value(const char *p, size_t n)
{
    json_t *s = json_stringn(n ? p : "", n);
    if (s != NULL)
        return s;
    char *copy = malloc(n + 1); /* not UTF-8: keep the ASCII, mark the rest */
    LY_ALLOC_CHECK(copy != NULL);
    for (size_t i = 0; i < n; i++)
        copy[i] = (unsigned char)p[i] < 0x80 ? p[i] : '?';
    s = json_stringn(copy, n);
    free(copy);
    return s;
}

static json_t *tagged_hex(const char *tag, json_t *tag_value, const char *p, size_t n)
{
    char *h = hex(p, n);
    json_t *o = json_object();
    LY_ALLOC_CHECK(o != NULL);
    if (tag_value != NULL) {
        json_object_set_new(o, tag, tag_value);
        json_object_set_new(o, "hex", json_string(h));
    } else {
        json_object_set_new(o, tag, json_string(h));
    }
    free(h);
    return o;
}

static json_t *map_value(const msgpack_object_map *m)
{
    json_t *o = json_object();
    LY_ALLOC_CHECK(o != NULL);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        json_t *v = msgjson_value(&m->ptr[i].val);
        if (k->type == MSGPACK_OBJECT_STR) {
            json_t *ks = string_value(k->via.str.ptr, k->via.str.size);
            LY_ALLOC_CHECK(ks != NULL);
            json_object_set_new(o, json_string_value(ks), v);
            json_decref(ks);
        } else {
            char *text = msgjson_text(k);
            json_object_set_new(o, text, v);
            free(text);
        }
    }
    return o;
}

json_t *msgjson_value(const msgpack_object *o)
{
    json_t *v = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: v = json_null(); break;
    case MSGPACK_OBJECT_BOOLEAN: v = json_boolean(o->via.boolean); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v = o->via.u64 <= INT64_MAX ? json_integer((json_int_t)o->via.u64)
                                    : json_real((double)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: v = json_integer(o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: /* JSON has no NaN or infinity */
        v = isfinite(o->via.f64) ? json_real(o->via.f64) : json_string("non-finite");
        break;
    case MSGPACK_OBJECT_STR: v = string_value(o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        v = tagged_hex("$bin", NULL, o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        v = tagged_hex("$ext", json_integer(o->via.ext.type), o->via.ext.ptr, o->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        v = json_array();
        for (uint32_t i = 0; v && i < o->via.array.size; i++)
            json_array_append_new(v, msgjson_value(&o->via.array.ptr[i]));
        break;
    case MSGPACK_OBJECT_MAP: v = map_value(&o->via.map); break;
    }
    LY_ALLOC_CHECK(v != NULL);
    return v;
}

char *msgjson_text(const msgpack_object *o)
{
    json_t *v = msgjson_value(o);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    LY_ALLOC_CHECK(text != NULL);
    return text;
}
