/* proto_id.c - Redis stream entry ids: parse, format, compare.
 *
 * Only the canonical form Redis itself writes is accepted: "<ms>-<seq>", two
 * decimal u64 without sign, spaces or leading zeros ("0" alone is fine). So
 * proto_id_parse accepts a string exactly when proto_id_format would write
 * it, and an id read back from anywhere compares and prints the same.
 */
#include "proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lyassert.h"

#define U64_DIGITS_MAX 20 /* 18446744073709551615 */

/* "<u64>-<u64>" and its NUL must fit the buffers the header promises. */
_Static_assert(PROTO_ID_STR_MAX >= 2 * U64_DIGITS_MAX + 2, "id buffer too small");

/* Parses s[0..len) as a canonical decimal u64. Returns 0, or -1 when empty,
 * not all digits, with a leading zero, or over UINT64_MAX. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > U64_DIGITS_MAX || (s[0] == '0' && len > 1))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int proto_id_parse(const char *s, size_t len, struct proto_id *out)
{
    LY_ASSERT(out != NULL);
    LY_ASSERT(s != NULL || len == 0);
    if (len == 0)
        return -1;
    const char *dash = memchr(s, '-', len);
    if (dash == NULL)
        return -1;
    size_t ms_len = (size_t)(dash - s);
    struct proto_id id;
    if (parse_u64(s, ms_len, &id.ms) != 0 ||
        parse_u64(dash + 1, len - ms_len - 1, &id.seq) != 0)
        return -1;
    *out = id;
    return 0;
}

/* By hand: ids are formatted for every output, and snprintf's format
 * parsing costs more than the digits. */
size_t proto_u64_digits(uint64_t v, char *out)
{
    char tmp[U64_DIGITS_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int proto_id_format(struct proto_id id, char *buf, size_t cap)
{
    LY_ASSERT(buf != NULL && cap >= PROTO_ID_STR_MAX);
    size_t n = proto_u64_digits(id.ms, buf);
    buf[n++] = '-';
    n += proto_u64_digits(id.seq, buf + n);
    buf[n] = '\0';
    return (int)n;
}

int proto_id_format_seq(const char *id_s, size_t id_len, uint32_t seq, char *buf, size_t cap)
{
    LY_ASSERT(id_len + 1 + 10 < cap); /* a u32 has at most 10 digits */
    memcpy(buf, id_s, id_len);
    buf[id_len] = ':';
    size_t n = id_len + 1 + proto_u64_digits(seq, buf + id_len + 1);
    buf[n] = '\0';
    return (int)n;
}

int proto_id_cmp(struct proto_id a, struct proto_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}
