/* lebuf.c - see lebuf.h. */
#include "lebuf.h"

#include <string.h>

void lebuf_out_init(struct lebuf_out *o, lebuf_sink_fn *sink, void *ctx)
{
    o->len = 0;
    o->sink = sink;
    o->ctx = ctx;
    o->failed = 0;
}

int lebuf_flush(struct lebuf_out *o)
{
    if (!o->failed && o->len > 0 && o->sink(o->ctx, o->buf, o->len) != 0)
        o->failed = 1;
    o->len = 0;
    return o->failed ? -1 : 0;
}

void lebuf_put_bytes(struct lebuf_out *o, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0 && !o->failed) {
        if (o->len == LEBUF_CHUNK)
            lebuf_flush(o);
        size_t take = LEBUF_CHUNK - o->len < n ? LEBUF_CHUNK - o->len : n;
        memcpy(o->buf + o->len, b, take);
        o->len += take;
        b += take;
        n -= take;
    }
}

void lebuf_put_str8(struct lebuf_out *o, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255; /* callers pass bounded names: ids, hashes, labels */
    lebuf_put_u8(o, (uint8_t)n);
    lebuf_put_bytes(o, s, n);
}

void lebuf_in_init(struct lebuf_in *in, const void *p, size_t len)
{
    in->p = p;
    in->len = len;
    in->off = 0;
    in->overrun = false;
}

int lebuf_get_str8(struct lebuf_in *in, char *dst, size_t cap)
{
    size_t n = lebuf_get_u8(in);
    const char *s = lebuf_get_bytes(in, n);
    if (s == NULL || n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return (int)n;
}

static uint64_t le_at(const void *p, size_t off, size_t n)
{
    const unsigned char *b = (const unsigned char *)p + off;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

uint16_t lebuf_u16_at(const void *p, size_t off) { return (uint16_t)le_at(p, off, 2); }
uint32_t lebuf_u32_at(const void *p, size_t off) { return (uint32_t)le_at(p, off, 4); }
uint64_t lebuf_u64_at(const void *p, size_t off) { return le_at(p, off, 8); }
