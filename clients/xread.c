/* xread.c - following Redis streams with XREAD. See xread.h. */
#include "xread.h"

#include <stdio.h>
#include <string.h>

#include "lyassert.h"

/* Copies a stream id reply into cursor storage; -1 when it is not one. */
static int copy_id(const redisReply *r, char *buf, size_t cap)
{
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= cap)
        return -1;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    return 0;
}

static int reply_error(const redisContext *c, const redisReply *r,
                       const char *what, struct client_error *err)
{
    if (r == NULL)
        snprintf(err->text, sizeof err->text, "%s: %s", what, c->errstr);
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err->text, sizeof err->text, "%s: %s", what, r->str);
    else
        snprintf(err->text, sizeof err->text, "%s: unexpected reply", what);
    return -1;
}

int xread_start(redisContext *c, struct xread_cursor *cur, const char *key,
                const char *from, struct client_error *err)
{
    LY_ASSERT(strlen(key) <= CLIENT_KEY_MAX);
    snprintf(cur->key, sizeof cur->key, "%s", key);
    if (from != NULL) {
        struct proto_id id;
        if (proto_id_parse(from, strlen(from), &id) != 0) {
            snprintf(err->text, sizeof err->text,
                     "bad stream id '%.48s': expected <ms>-<seq>", from);
            return -1;
        }
        proto_id_format(id, cur->last_id, sizeof cur->last_id);
        return 0;
    }
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", key);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        goto fail;
    snprintf(cur->last_id, sizeof cur->last_id, "0-0");
    if (r->elements == 1 && (r->element[0]->type != REDIS_REPLY_ARRAY ||
                             r->element[0]->elements != 2 ||
                             copy_id(r->element[0]->element[0], cur->last_id,
                                     sizeof cur->last_id) != 0))
        goto fail;
    freeReplyObject(r);
    return 0;
fail:
    reply_error(c, r, "XREVRANGE", err);
    if (r != NULL)
        freeReplyObject(r);
    return -1;
}

/* Walks the entries of one stream of an XREAD reply: [key, [[id, fields]...]]. */
static int walk_stream(const redisReply *s, struct xread_cursor *cur, int n,
                       xread_fn fn, void *ctx)
{
    int idx;
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
        s->element[0]->type != REDIS_REPLY_STRING ||
        s->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    for (idx = 0; idx < n; idx++)
        if (strcmp(cur[idx].key, s->element[0]->str) == 0)
            break;
    if (idx == n)
        return -1;
    const redisReply *entries = s->element[1];
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            copy_id(e->element[0], cur[idx].last_id, sizeof cur[idx].last_id))
            return -1;
        struct xread_entry xe = {.stream = idx, .id = cur[idx].last_id,
                                 .fields = e->element[1]};
        fn(ctx, &xe);
    }
    return (int)entries->elements;
}

/* Formats the argv of XREAD [BLOCK ms] COUNT n STREAMS k.. id.. */
static int xread_argv(const struct xread_cursor *cur, int n, uint32_t block_ms,
                      const char **argv, char *block, char *count)
{
    int argc = 0;
    argv[argc++] = "XREAD";
    if (block_ms > 0) {
        snprintf(block, CLIENT_NUMBER_MAX, "%u", (unsigned)block_ms);
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    snprintf(count, CLIENT_NUMBER_MAX, "%d", XREAD_COUNT_MAX);
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    argv[argc++] = "STREAMS";
    for (int i = 0; i < n; i++)
        argv[argc++] = cur[i].key;
    for (int i = 0; i < n; i++)
        argv[argc++] = cur[i].last_id;
    return argc;
}

int xread_poll(redisContext *c, struct xread_cursor *cur, int n,
               uint32_t block_ms, xread_fn fn, void *ctx,
               struct client_error *err)
{
    LY_ASSERT(n >= 1 && n <= XREAD_STREAMS_MAX);
    const char *argv[6 + 2 * XREAD_STREAMS_MAX];
    char block[CLIENT_NUMBER_MAX], count[CLIENT_NUMBER_MAX];
    int argc = xread_argv(cur, n, block_ms, argv, block, count);
    int total = 0;

    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_ARRAY))
        goto fail;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        int got = walk_stream(r->element[i], cur, n, fn, ctx);
        if (got < 0)
            goto fail;
        total += got;
    }
    freeReplyObject(r);
    return total;
fail:
    reply_error(c, r, "XREAD", err);
    if (r != NULL)
        freeReplyObject(r);
    return -1;
}

const char *xread_field(const struct xread_entry *e, const char *name,
                        size_t *len)
{
    const redisReply *f = e->fields;
    if (f->type != REDIS_REPLY_ARRAY)
        return NULL;
    size_t pairs = f->elements / 2;
    for (size_t i = 0; i < pairs && i < XREAD_FIELDS_MAX; i++) {
        const redisReply *k = f->element[2 * i];
        const redisReply *v = f->element[2 * i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            k->len == strlen(name) && memcmp(k->str, name, k->len) == 0) {
            *len = v->len;
            return v->str;
        }
    }
    return NULL;
}
