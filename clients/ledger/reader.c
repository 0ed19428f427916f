/* reader.c - see reader.h. */
#include "reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "lyassert.h"

#define READER_KEY_MAX (LCONF_KEY_MAX + 3)  /* "<prefix>out" */
#define READER_CONNECT_MS 2000              /* a Redis on the same network answers at once */
#define READER_IO_SLACK_MS 5000             /* socket timeout beyond the longest BLOCK */
/* XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS, then a key and an id each. */
#define READER_READ_ARGS_MAX (9 + 2 * LCONF_PREFIXES_MAX)

_Static_assert(LBATCH_STREAMS_MAX == LCONF_PREFIXES_MAX, "one batch covers every stream");

struct reader {
    const struct lconf *cfg;
    redisContext *c;
    uint32_t n;
    char keys[LCONF_PREFIXES_MAX][READER_KEY_MAX + 1];
    /* While the pending entries of stream i are read: the id after which
     * to read them; "" once they are all read (then new ones, ">"). */
    char pending_after[LCONF_PREFIXES_MAX][PROTO_ID_STR_MAX];
    redisReply *last; /* the reply the last entries point into */
};

__attribute__((format(printf, 3, 4))) static int fail(struct reader *r, struct reader_error *err,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    reader_disconnect(r);
    return -1;
}

struct reader *reader_new(const struct lconf *cfg)
{
    struct reader *r = calloc(1, sizeof *r);
    LY_ALLOC_CHECK(r != NULL);
    r->cfg = cfg;
    r->n = cfg->prefix_count;
    for (uint32_t i = 0; i < r->n; i++)
        snprintf(r->keys[i], sizeof r->keys[i], "%sout", cfg->prefixes[i]);
    return r;
}

void reader_free(struct reader *r)
{
    if (r == NULL)
        return;
    reader_disconnect(r);
    free(r);
}

const char *reader_key(const struct reader *r, uint32_t i)
{
    LY_ASSERT(i < r->n);
    return r->keys[i];
}

bool reader_connected(const struct reader *r)
{
    return r->c != NULL;
}

void reader_disconnect(struct reader *r)
{
    freeReplyObject(r->last);
    r->last = NULL;
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

/* Runs one command; returns its reply (the caller frees it), or NULL after
 * failing with err set. An error reply is returned as it is. */
static redisReply *command(struct reader *r, int argc, const char **argv, struct reader_error *err)
{
    redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
    if (rep == NULL)
        fail(r, err, "redis: %s failed: %s", argv[0], r->c ? r->c->errstr : "disconnected");
    return rep;
}

/* Creates the group of stream i at `from`, or moves it there. */
static int prepare_group(struct reader *r, uint32_t i, struct proto_id from,
                         struct reader_error *err)
{
    char id[PROTO_ID_STR_MAX];
    proto_id_format(from, id, sizeof id);
    const char *create[] = {"XGROUP", "CREATE", r->keys[i], r->cfg->group, id, "MKSTREAM"};
    redisReply *rep = command(r, 6, create, err);
    if (rep == NULL)
        return -1;
    bool exists = rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) == 0;
    if (rep->type == REDIS_REPLY_ERROR && !exists) {
        fail(r, err, "redis: XGROUP CREATE %s: %s", r->keys[i], rep->str);
        freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    if (!exists)
        return 0;
    const char *setid[] = {"XGROUP", "SETID", r->keys[i], r->cfg->group, id};
    if ((rep = command(r, 5, setid, err)) == NULL)
        return -1;
    int rc = rep->type == REDIS_REPLY_ERROR
                 ? fail(r, err, "redis: XGROUP SETID %s: %s", r->keys[i], rep->str)
                 : 0;
    freeReplyObject(rep);
    return rc;
}

static int authenticate(struct reader *r, struct reader_error *err)
{
    if (r->cfg->redis_password[0] == '\0')
        return 0;
    const char *argv[3] = {"AUTH", r->cfg->redis_user, r->cfg->redis_password};
    int argc = r->cfg->redis_user[0] ? 3 : 2;
    if (argc == 2)
        argv[1] = r->cfg->redis_password;
    redisReply *rep = command(r, argc, argv, err);
    if (rep == NULL)
        return -1;
    int rc = rep->type == REDIS_REPLY_ERROR ? fail(r, err, "redis: AUTH refused: %s", rep->str)
                                            : 0;
    freeReplyObject(rep);
    return rc;
}

int reader_connect(struct reader *r, const struct db_stream *streams, struct reader_error *err)
{
    reader_disconnect(r);
    struct timeval connect_tv = {READER_CONNECT_MS / 1000, 0};
    r->c = redisConnectWithTimeout(r->cfg->redis.host, r->cfg->redis.port, connect_tv);
    if (r->c == NULL || r->c->err)
        return fail(r, err, "redis: cannot connect to %s:%d: %s", r->cfg->redis.host,
                    r->cfg->redis.port, r->c ? r->c->errstr : "out of memory");
    uint32_t io_ms = r->cfg->block_ms + READER_IO_SLACK_MS;
    struct timeval io_tv = {io_ms / 1000, (io_ms % 1000) * 1000};
    if (redisSetTimeout(r->c, io_tv) != REDIS_OK || authenticate(r, err) != 0)
        return r->c ? fail(r, err, "redis: cannot set the socket timeout") : -1;
    for (uint32_t i = 0; i < r->n; i++) {
        if (prepare_group(r, i, streams[i].last, err) != 0)
            return -1;
        snprintf(r->pending_after[i], sizeof r->pending_after[i], "0-0");
    }
    return 0;
}

/* The value of field "m" of an entry's field list, or NULL. */
static const redisReply *field_m(const redisReply *fields)
{
    for (size_t k = 0; k + 1 < fields->elements; k += 2) {
        const redisReply *name = fields->element[k];
        if (name->type == REDIS_REPLY_STRING && name->len == 1 && name->str[0] == 'm' &&
            fields->element[k + 1]->type == REDIS_REPLY_STRING)
            return fields->element[k + 1];
    }
    return NULL;
}

static int ack_ids(struct reader *r, uint32_t stream, const char *const *ids, uint32_t n,
                   struct reader_error *err);

/* Takes the entries of one stream's part of the reply. */
static int take_stream(struct reader *r, uint32_t s, const redisReply *list, bool pending,
                       struct lb_entry *out, uint32_t max, uint32_t *n, uint64_t *gone,
                       struct reader_error *err)
{
    if (list->type != REDIS_REPLY_ARRAY)
        return fail(r, err, "redis: XREADGROUP: entries of %s are not a list", r->keys[s]);
    for (size_t k = 0; k < list->elements; k++) {
        const redisReply *e = list->element[k];
        struct proto_id id;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            proto_id_parse(e->element[0]->str, e->element[0]->len, &id) != 0 ||
            id.ms > INT64_MAX || id.seq > INT64_MAX || *n >= max)
            return fail(r, err, "redis: XREADGROUP: an entry of %s is malformed", r->keys[s]);
        if (pending)
            snprintf(r->pending_after[s], sizeof r->pending_after[s], "%s", e->element[0]->str);
        const redisReply *fields = e->element[1];
        if (fields->type != REDIS_REPLY_ARRAY) { /* deleted while pending */
            const char *ids[1] = {e->element[0]->str};
            if (ack_ids(r, s, ids, 1, err) != 0)
                return -1;
            (*gone)++;
            continue;
        }
        const redisReply *m = field_m(fields);
        out[(*n)++] = (struct lb_entry){s, id, m ? m->str : NULL, m ? m->len : 0};
    }
    if (pending && list->elements == 0)
        r->pending_after[s][0] = '\0'; /* all pending entries read */
    return 0;
}

/* XREADGROUP of the streams with pending entries still to read (no
 * blocking), or of all streams for new entries. Returns the argument count;
 * which[] lists the streams asked for. */
static int read_args(struct reader *r, uint32_t max, const char **argv, uint32_t *which,
                     uint32_t *nwhich, char *count, char *block, bool *pending)
{
    int argc = 0;
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = r->cfg->group;
    argv[argc++] = r->cfg->consumer;
    argv[argc++] = "COUNT";
    snprintf(count, 16, "%u", max);
    argv[argc++] = count;
    *nwhich = 0;
    for (uint32_t i = 0; i < r->n; i++)
        if (r->pending_after[i][0] != '\0')
            which[(*nwhich)++] = i;
    *pending = *nwhich > 0;
    if (!*pending) {
        snprintf(block, 16, "%u", r->cfg->block_ms);
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
        for (uint32_t i = 0; i < r->n; i++)
            which[(*nwhich)++] = i;
    }
    argv[argc++] = "STREAMS";
    for (uint32_t i = 0; i < *nwhich; i++)
        argv[argc++] = r->keys[which[i]];
    for (uint32_t i = 0; i < *nwhich; i++)
        argv[argc++] = *pending ? r->pending_after[which[i]] : ">";
    LY_ASSERT(argc <= READER_READ_ARGS_MAX);
    return argc;
}

static int stream_index(const struct reader *r, const redisReply *key)
{
    for (uint32_t i = 0; key->type == REDIS_REPLY_STRING && i < r->n; i++)
        if (strlen(r->keys[i]) == key->len && memcmp(r->keys[i], key->str, key->len) == 0)
            return (int)i;
    return -1;
}

int reader_read(struct reader *r, struct lb_entry *out, uint32_t max, uint32_t *n,
                uint64_t *gone, struct reader_error *err)
{
    LY_ASSERT(r->c != NULL && max > 0);
    const char *argv[READER_READ_ARGS_MAX];
    uint32_t which[LCONF_PREFIXES_MAX], nwhich;
    char count[16], block[16];
    bool pending;
    int argc = read_args(r, max, argv, which, &nwhich, count, block, &pending);
    freeReplyObject(r->last);
    r->last = NULL;
    *n = 0;
    redisReply *rep = command(r, argc, argv, err);
    if (rep == NULL)
        return -1;
    r->last = rep;
    if (rep->type == REDIS_REPLY_NIL)
        return 0; /* BLOCK timed out */
    if (rep->type != REDIS_REPLY_ARRAY)
        return fail(r, err, "redis: XREADGROUP: %s", rep->type == REDIS_REPLY_ERROR
                                                          ? rep->str
                                                          : "unexpected reply");
    bool seen[LCONF_PREFIXES_MAX] = {false};
    for (size_t k = 0; k < rep->elements; k++) {
        const redisReply *sr = rep->element[k];
        int s = sr->type == REDIS_REPLY_ARRAY && sr->elements == 2
                    ? stream_index(r, sr->element[0])
                    : -1;
        if (s < 0)
            return fail(r, err, "redis: XREADGROUP: a reply for an unknown stream");
        seen[s] = true;
        if (take_stream(r, (uint32_t)s, sr->element[1], pending, out, max, n, gone, err) != 0)
            return -1;
    }
    for (uint32_t i = 0; pending && i < nwhich; i++)
        if (!seen[which[i]])
            r->pending_after[which[i]][0] = '\0';
    return 0;
}

static int ack_ids(struct reader *r, uint32_t stream, const char *const *ids, uint32_t n,
                   struct reader_error *err)
{
    const char **argv = malloc((3 + (size_t)n) * sizeof *argv);
    LY_ALLOC_CHECK(argv != NULL);
    argv[0] = "XACK";
    argv[1] = r->keys[stream];
    argv[2] = r->cfg->group;
    memcpy(&argv[3], ids, n * sizeof *ids);
    redisReply *rep = command(r, 3 + (int)n, argv, err);
    free(argv);
    if (rep == NULL)
        return -1;
    int rc = rep->type == REDIS_REPLY_INTEGER ? 0 : fail(r, err, "redis: XACK refused");
    freeReplyObject(rep);
    return rc;
}

int reader_ack(struct reader *r, const struct lb_entry *entries, uint32_t n,
               struct reader_error *err)
{
    LY_ASSERT(r->c != NULL);
    char(*text)[PROTO_ID_STR_MAX] = malloc((n ? n : 1) * sizeof *text);
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    LY_ALLOC_CHECK(text != NULL && ids != NULL);
    int rc = 0;
    for (uint32_t s = 0; rc == 0 && s < r->n; s++) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (entries[i].stream != s)
                continue;
            proto_id_format(entries[i].id, text[k], sizeof text[k]);
            ids[k] = text[k];
            k++;
        }
        if (k > 0)
            rc = ack_ids(r, s, ids, k, err);
    }
    free(ids);
    free(text);
    return rc;
}

int reader_check_gap(struct reader *r, uint32_t i, struct proto_id watermark, bool *gap,
                     struct proto_id *deleted, struct reader_error *err)
{
    LY_ASSERT(r->c != NULL && i < r->n);
    const char *argv[3] = {"XINFO", "STREAM", r->keys[i]};
    redisReply *rep = command(r, 3, argv, err);
    if (rep == NULL)
        return -1;
    *gap = false;
    *deleted = (struct proto_id){0, 0};
    for (size_t k = 0; rep->type == REDIS_REPLY_ARRAY && k + 1 < rep->elements; k += 2) {
        const redisReply *name = rep->element[k], *v = rep->element[k + 1];
        if (name->type == REDIS_REPLY_STRING && strcmp(name->str, "max-deleted-entry-id") == 0 &&
            v->type == REDIS_REPLY_STRING && proto_id_parse(v->str, v->len, deleted) == 0)
            *gap = proto_id_cmp(*deleted, watermark) > 0;
    }
    int rc = rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "ERR no such key", 15) != 0
                 ? fail(r, err, "redis: XINFO STREAM %s: %s", r->keys[i], rep->str)
                 : 0;
    freeReplyObject(rep);
    return rc;
}
