/* lebuf.h - little-endian fields in and out of a byte stream: how a
 * snapshot (snapshot.h) writes the state field by field, so that its
 * bytes do not depend on the layout of any C struct or on the machine.
 *
 * Writing goes through a fixed buffer flushed to a sink (a file, memory),
 * so a state of any size is written with bounded memory; the first error
 * of the sink sticks and every later put does nothing. Reading walks a
 * buffer in memory; reading past its end sets `overrun` and yields zeros,
 * so a decoder checks once, after a record, instead of after every field.
 */
#ifndef LOYALTY_LEBUF_H
#define LOYALTY_LEBUF_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes gathered before each call of the sink. */
#define LEBUF_CHUNK 65536

/* Takes p[0..n); returns 0, or -1 (the write failed). */
typedef int lebuf_sink_fn(void *ctx, const void *p, size_t n);

struct lebuf_out {
    unsigned char buf[LEBUF_CHUNK];
    size_t len;
    lebuf_sink_fn *sink;
    void *ctx;
    int failed; /* the sink failed once: nothing more is written */
};

struct lebuf_in {
    const unsigned char *p;
    size_t len, off;
    bool overrun; /* a get went past the end */
};

/* Starts writing to `sink(ctx, ...)`. */
void lebuf_out_init(struct lebuf_out *o, lebuf_sink_fn *sink, void *ctx);

void lebuf_put_bytes(struct lebuf_out *o, const void *p, size_t n);

/* The puts and gets of fixed-width fields are inline: a snapshot has
 * hundreds of millions of them. Each converts with htole / letoh (a no-op
 * on little-endian hosts) and copies bytes, so no alignment is assumed. */
static inline void lebuf_put_fixed(struct lebuf_out *o, const void *le, size_t n)
{
    if (o->len + n <= LEBUF_CHUNK && !o->failed) {
        memcpy(o->buf + o->len, le, n);
        o->len += n;
    } else {
        lebuf_put_bytes(o, le, n);
    }
}

static inline void lebuf_put_u8(struct lebuf_out *o, uint8_t v) { lebuf_put_fixed(o, &v, 1); }

static inline void lebuf_put_u16(struct lebuf_out *o, uint16_t v)
{
    v = htole16(v);
    lebuf_put_fixed(o, &v, 2);
}

static inline void lebuf_put_u32(struct lebuf_out *o, uint32_t v)
{
    v = htole32(v);
    lebuf_put_fixed(o, &v, 4);
}

static inline void lebuf_put_u64(struct lebuf_out *o, uint64_t v)
{
    v = htole64(v);
    lebuf_put_fixed(o, &v, 8);
}

static inline void lebuf_put_i64(struct lebuf_out *o, int64_t v) { lebuf_put_u64(o, (uint64_t)v); }

/* A string of at most 255 bytes: its length in one byte, then the bytes. */
void lebuf_put_str8(struct lebuf_out *o, const char *s);

/* Hands what is gathered to the sink. Returns 0, or -1 when a write
 * failed (now or before). */
int lebuf_flush(struct lebuf_out *o);

/* Starts reading p[0..len). */
void lebuf_in_init(struct lebuf_in *in, const void *p, size_t len);

/* Points at the next n bytes and skips them, or returns NULL (overrun). */
static inline const void *lebuf_get_bytes(struct lebuf_in *in, size_t n)
{
    if (in->overrun || n > in->len - in->off) {
        in->overrun = true;
        return NULL;
    }
    const void *at = in->p + in->off;
    in->off += n;
    return at;
}

/* Copies the next n bytes to `dst`, or zeros past the end (overrun). */
static inline void lebuf_get_fixed(struct lebuf_in *in, void *dst, size_t n)
{
    const void *b = lebuf_get_bytes(in, n);
    if (b != NULL)
        memcpy(dst, b, n);
    else
        memset(dst, 0, n);
}

static inline uint8_t lebuf_get_u8(struct lebuf_in *in)
{
    uint8_t v;
    lebuf_get_fixed(in, &v, 1);
    return v;
}

static inline uint16_t lebuf_get_u16(struct lebuf_in *in)
{
    uint16_t v;
    lebuf_get_fixed(in, &v, 2);
    return le16toh(v);
}

static inline uint32_t lebuf_get_u32(struct lebuf_in *in)
{
    uint32_t v;
    lebuf_get_fixed(in, &v, 4);
    return le32toh(v);
}

static inline uint64_t lebuf_get_u64(struct lebuf_in *in)
{
    uint64_t v;
    lebuf_get_fixed(in, &v, 8);
    return le64toh(v);
}

static inline int64_t lebuf_get_i64(struct lebuf_in *in) { return (int64_t)lebuf_get_u64(in); }

/* Reads a lebuf_put_str8 string into dst[0..cap) (NUL-terminated).
 * Returns its length, or -1 when it does not fit (or overran). */
int lebuf_get_str8(struct lebuf_in *in, char *dst, size_t cap);

/* Little-endian values at fixed offsets of an image (format 2 records). */
uint16_t lebuf_u16_at(const void *p, size_t off);
uint32_t lebuf_u32_at(const void *p, size_t off);
uint64_t lebuf_u64_at(const void *p, size_t off);

#endif
