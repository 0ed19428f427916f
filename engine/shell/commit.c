/* commit.c - see commit.h. */
#include "commit.h"

#include <inttypes.h>
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
}

/* XADD key * : the head of every XADD; the caller appends the fields. */
static int xadd_head(const char *key, const char **a, size_t *al)
{
    a[0] = "XADD", al[0] = 4;
    a[1] = key, al[1] = strlen(key);
    a[2] = "*", al[2] = 1;
    return 3;
}

/* One XTRIM per stream and batch (not MAXLEN on every XADD): the stream is
 * kept near out_maxlen entries at a fraction of the cost. */
static int send_trims(redisAsyncContext *ac, const struct config *cfg,
                      const struct commit_keys *k, const struct batch *b)
{
    char maxlen[24];
    if (cfg->out_maxlen == 0)
        return 0;
    snprintf(maxlen, sizeof(maxlen), "%" PRIu64, cfg->out_maxlen);
    if (b->out_count > 0 &&
        redisAsyncCommand(ac, NULL, NULL, "XTRIM %s MAXLEN ~ %s", k->out, maxlen) != REDIS_OK)
        return -1;
    if (b->dlq_count > 0 &&
        redisAsyncCommand(ac, NULL, NULL, "XTRIM %s MAXLEN ~ %s", k->dlq, maxlen) != REDIS_OK)
        return -1;
    return 0;
}

static int send_outputs(redisAsyncContext *ac, const struct config *cfg,
                        const struct commit_keys *k, const struct batch *b)
{
    const char *a[16];
    size_t al[16];
    (void)cfg;
    for (uint32_t i = 0; i < b->out_count; i++) {
        int n = xadd_head(k->out, a, al);
        a[n] = "m", al[n++] = 1;
        a[n] = b->buf.data + b->outs[i].off, al[n++] = b->outs[i].len;
        if (redisAsyncCommandArgv(ac, NULL, NULL, n, a, al) != REDIS_OK)
            return -1;
    }
    for (uint32_t i = 0; i < b->dlq_count; i++) {
        const struct batch_dlq *d = &b->dlq[i];
        int n = xadd_head(k->dlq, a, al);
        a[n] = "m", al[n++] = 1;
        /* An entry without `m` keeps no bytes: buf.data may still be NULL. */
        a[n] = d->m.len ? b->buf.data + d->m.off : "", al[n++] = d->m.len;
        a[n] = "src", al[n++] = 3;
        a[n] = d->src, al[n++] = strlen(d->src);
        a[n] = "reason", al[n++] = 6;
        a[n] = d->reason, al[n++] = strlen(d->reason);
        a[n] = "detail", al[n++] = 6;
        a[n] = d->detail, al[n++] = strlen(d->detail);
        if (redisAsyncCommandArgv(ac, NULL, NULL, n, a, al) != REDIS_OK)
            return -1;
    }
    return 0;
}

static int send_acks(redisAsyncContext *ac, const struct config *cfg,
                     const struct commit_keys *k, const struct batch *b)
{
    size_t argc = 3 + (size_t)b->ack_count;
    const char **a = malloc(argc * sizeof(*a));
    size_t *al = malloc(argc * sizeof(*al));
    int rc = -1;
    if (a == NULL || al == NULL)
        goto fail;
    a[0] = "XACK", al[0] = 4;
    a[1] = k->in, al[1] = strlen(k->in);
    a[2] = cfg->group, al[2] = strlen(cfg->group);
    for (uint32_t i = 0; i < b->ack_count; i++)
        a[3 + i] = b->acks[i], al[3 + i] = strlen(b->acks[i]);
    rc = redisAsyncCommandArgv(ac, NULL, NULL, (int)argc, a, al) == REDIS_OK ? 0 : -1;
fail:
    free(a);
    free(al);
    return rc;
}

int commit_send(redisAsyncContext *ac, const struct config *cfg, const struct commit_keys *k,
                const struct batch *b, redisCallbackFn *cb, void *priv)
{
    LY_ASSERT(!batch_empty(b));
    if (redisAsyncCommand(ac, NULL, NULL, "MULTI") != REDIS_OK ||
        send_outputs(ac, cfg, k, b) != 0 || send_trims(ac, cfg, k, b) != 0 ||
        send_acks(ac, cfg, k, b) != 0)
        return -1;
    /* A batch of entries applied before (delivered again) only acknowledges:
     * the marker never moves back. */
    if (b->last_id_str[0] != '\0' &&
        redisAsyncCommand(ac, NULL, NULL, "SET %s %s", k->progress, b->last_id_str) != REDIS_OK)
        return -1;
    return redisAsyncCommand(ac, cb, priv, "EXEC") == REDIS_OK ? 0 : -1;
}

int commit_check(const redisReply *reply, char *why, size_t cap)
{
    if (reply == NULL) {
        snprintf(why, cap, "connection lost before EXEC answered");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, cap, "EXEC failed: %.*s", (int)reply->len, reply->str);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        snprintf(why, cap, "EXEC returned no results (transaction aborted)");
        return -1;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *r = reply->element[i];
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(why, cap, "command %zu of the commit failed: %.*s", i, (int)r->len,
                     r->str);
            return -1;
        }
    }
    return 0;
}
