/* commit.c - see commit.h. */
#include "commit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

void commit_keys_init(struct commit_keys *k, const struct config *cfg, uint32_t p)
{
    config_partition_prefix(cfg, p, k->prefix, sizeof(k->prefix));
    snprintf(k->in, sizeof(k->in), "%sin", k->prefix);
    snprintf(k->out, sizeof(k->out), "%sout", k->prefix);
    snprintf(k->dlq, sizeof(k->dlq), "%sdlq", k->prefix);
    snprintf(k->progress, sizeof(k->progress), "%sprogress", k->prefix);
    snprintf(k->owner, sizeof(k->owner), "%sowner", k->prefix);
    snprintf(k->xfer, sizeof(k->xfer), "%sxfer", k->prefix);
}

/* Makes room for `more` bytes in b->cmd (doubling). Returns 0 or -1. */
static int reserve(struct batch *b, size_t more)
{
    if (b->cmd_len + more <= b->cmd_cap)
        return 0;
    size_t cap = b->cmd_cap ? b->cmd_cap : 4096;
    while (cap < b->cmd_len + more)
        cap *= 2;
    char *p = realloc(b->cmd, cap);
    if (p == NULL)
        return -1;
    b->cmd = p;
    b->cmd_cap = cap;
    return 0;
}

/* Appends `<mark><n>\r\n` (mark: '*' a command's arity, '$' a length). */
static void put_count(struct batch *b, char mark, uint64_t n)
{
    char *p = b->cmd + b->cmd_len;
    *p++ = mark;
    p += proto_u64_digits(n, p);
    *p++ = '\r';
    *p++ = '\n';
    b->cmd_len = (size_t)(p - b->cmd);
}

/* Bytes a bulk string of `len` bytes takes in RESP, at most. */
#define BULK_OVERHEAD 26 /* '$', 20 digits, 2 x CRLF */

static void put_bulk(struct batch *b, const char *s, size_t len)
{
    put_count(b, '$', len);
    memcpy(b->cmd + b->cmd_len, s, len);
    b->cmd_len += len;
    b->cmd[b->cmd_len++] = '\r';
    b->cmd[b->cmd_len++] = '\n';
}

static void put_str(struct batch *b, const char *s) { put_bulk(b, s, strlen(s)); }

static void put_u64(struct batch *b, uint64_t v)
{
    char digits[20];
    put_bulk(b, digits, proto_u64_digits(v, digits));
}

/* The bytes the call's arguments take: one bound for the whole batch, so
 * the buffer grows at most once per batch. */
static size_t call_bytes(const struct batch *b, const struct commit_keys *k, size_t nargs)
{
    size_t n = nargs * BULK_OVERHEAD + b->buf.size + 64 + sizeof(FENCED_COMMIT) +
               strlen(k->out) + strlen(k->dlq) + strlen(k->progress) + strlen(k->owner) +
               strlen(k->xfer) + 3 * PROTO_ID_STR_MAX + 20 * (size_t)b->relay_count;
    for (uint32_t i = 0; i < b->dlq_count; i++)
        n += strlen(b->dlq[i].src) + strlen(b->dlq[i].reason) + strlen(b->dlq[i].detail);
    return n;
}

int commit_format(struct batch *b, const struct commit_keys *k, const char *epoch,
                  uint64_t maxlen)
{
    LY_ASSERT(!batch_empty(b) && b->last_id_str[0] != '\0');
    /* FCALL name 5 keys... epoch expected marker n_out n_dlq maxlen n_xfer ... */
    size_t nargs = 3 + 5 + 7 + (size_t)b->out_count + 4 * (size_t)b->dlq_count +
                   2 * (size_t)b->relay_count;
    b->cmd_len = 0;
    if (reserve(b, call_bytes(b, k, nargs)) != 0)
        return -1;
    put_count(b, '*', nargs);
    put_str(b, "FCALL");
    put_str(b, FENCED_COMMIT);
    put_u64(b, 5);
    put_str(b, k->out);
    put_str(b, k->dlq);
    put_str(b, k->progress);
    put_str(b, k->owner);
    put_str(b, k->xfer);
    put_str(b, epoch);
    put_str(b, b->expect_str);
    put_str(b, b->last_id_str);
    put_u64(b, b->out_count);
    put_u64(b, b->dlq_count);
    put_u64(b, maxlen);
    put_u64(b, b->relay_count);
    for (uint32_t i = 0; i < b->out_count; i++)
        put_bulk(b, b->buf.data + b->outs[i].off, b->outs[i].len);
    for (uint32_t i = 0; i < b->dlq_count; i++) {
        const struct batch_dlq *d = &b->dlq[i];
        /* An entry without `m` keeps no bytes: buf.data may still be NULL. */
        put_bulk(b, d->m.len ? b->buf.data + d->m.off : "", d->m.len);
        put_str(b, d->src);
        put_str(b, d->reason);
        put_str(b, d->detail);
    }
    for (uint32_t i = 0; i < b->relay_count; i++) {
        put_bulk(b, b->buf.data + b->relays[i].m.off, b->relays[i].m.len);
        put_u64(b, b->relays[i].partition);
    }
    LY_ASSERT(b->cmd_len <= b->cmd_cap);
    return 0;
}

int commit_check(const redisReply *reply, enum fenced_refusal *refusal, char *why, size_t cap)
{
    *refusal = FENCED_NOT_REFUSED;
    if (reply == NULL) {
        snprintf(why, cap, "connection lost before the commit was answered");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        *refusal = fenced_refusal_of(reply->str, reply->len);
        snprintf(why, cap, "commit refused: %.*s", (int)reply->len, reply->str);
        return -1;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
        snprintf(why, cap, "commit answered with reply type %d, not an integer", reply->type);
        return -1;
    }
    return 0;
}
