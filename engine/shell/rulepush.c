/* rulepush.c - see rulepush.h. */
#include "rulepush.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static int failf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int failf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

void rulepush_key(const char *prefix, const char *hash, char *buf, size_t cap)
{
    snprintf(buf, cap, "%srules:%s", prefix, hash ? hash : "current");
}

int rulepush_encode(msgpack_sbuffer *buf, const char *hash, const char *label,
                    int64_t effective_ts, int64_t ts)
{
    struct proto_entry e;
    memset(&e, 0, sizeof(e));
    e.kind = PROTO_RULES;
    e.ts = ts;
    e.effective_ts = effective_ts;
    snprintf(e.hash, sizeof(e.hash), "%s", hash);
    snprintf(e.label, sizeof(e.label), "%s", label);
    return proto_encode_entry(buf, &e);
}

const char *rulepush_limits(const struct rulebook *rb, uint32_t expiry_months_max, char *buf,
                            size_t cap)
{
    if (rb->expiry_months <= expiry_months_max)
        return NULL;
    snprintf(buf, cap, "expiry.months is %u, more than this daemon's expiry_months_max (%u)",
             rb->expiry_months, expiry_months_max);
    return buf;
}

int rulepush_book_of(const struct rulebook *rb, struct rulepush_book *b)
{
    memset(b, 0, sizeof(*b));
    b->rb = malloc(sizeof(*b->rb));
    b->text = rulecanon_text(rb);
    if (b->rb == NULL || b->text == NULL) {
        rulepush_book_free(b);
        return -1;
    }
    memcpy(b->rb, rb, sizeof(*rb));
    rulecanon_hash_text(b->text, b->hash);
    return 0;
}

int rulepush_load(const char *path, uint32_t expiry_months_max, struct rulepush_book *b,
                  char *err, size_t cap)
{
    struct config_error cerr;
    char why[160];
    memset(b, 0, sizeof(*b));
    struct config *cfg = malloc(sizeof(*cfg));
    if (cfg == NULL)
        return failf(err, cap, "out of memory");
    config_defaults(cfg);
    int rc = config_load(cfg, path, &cerr);
    if (rc != 0)
        failf(err, cap, "%s", cerr.text);
    else if (rulepush_limits(&cfg->rules, expiry_months_max, why, sizeof(why)) != NULL)
        rc = failf(err, cap, "%s: %s", path, why);
    else if ((rc = rulepush_book_of(&cfg->rules, b)) != 0)
        failf(err, cap, "out of memory");
    free(cfg);
    return rc;
}

void rulepush_book_free(struct rulepush_book *b)
{
    free(b->rb);
    free(b->text);
    memset(b, 0, sizeof(*b));
}

redisContext *rulepush_connect(const struct config *cfg, unsigned timeout_ms, char *err,
                               size_t cap)
{
    return rulepush_connect_to(cfg, cfg->redis.host, cfg->redis.port, timeout_ms, err, cap);
}

redisContext *rulepush_connect_to(const struct config *cfg, const char *host, int port,
                                  unsigned timeout_ms, char *err, size_t cap)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
        failf(err, cap, "cannot connect to Redis at %s:%d: %s", host, port,
              c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (cfg->redis_password[0] == '\0')
        return c;
    const char *argv[3] = {"AUTH", cfg->redis_user, cfg->redis_password};
    int argc = cfg->redis_user[0] ? 3 : 2;
    if (argc == 2)
        argv[1] = cfg->redis_password;
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        failf(err, cap, "redis: AUTH as '%s' refused: %s",
              cfg->redis_user[0] ? cfg->redis_user : "default", r ? r->str : c->errstr);
        freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    return c;
}

/* The EXEC reply of the push: [OK, id]. */
static int push_result(redisContext *c, redisReply *r, char *id, size_t idcap, char *err,
                       size_t cap)
{
    if (r == NULL)
        return failf(err, cap, "redis: %s", c->errstr);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return failf(err, cap, "redis: the transaction did not run (%s)",
                     r->type == REDIS_REPLY_ERROR ? r->str : "no result");
    for (size_t i = 0; i < 2; i++)
        if (r->element[i]->type == REDIS_REPLY_ERROR)
            return failf(err, cap, "redis: %s", r->element[i]->str);
    if (r->element[1]->type != REDIS_REPLY_STRING)
        return failf(err, cap, "redis: XADD returned no id");
    snprintf(id, idcap, "%s", r->element[1]->str);
    return 0;
}

int rulepush_send(redisContext *c, const char *prefix, const struct rulepush_book *b,
                  const char *label, int64_t effective_ts, char *id, size_t idcap, char *err,
                  size_t cap)
{
    char key[RULEPUSH_KEY_MAX + 1], in[CONFIG_KEY_MAX + 8];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    msgpack_sbuffer m;
    msgpack_sbuffer_init(&m);
    if (rulepush_encode(&m, b->hash, label, effective_ts,
                        (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000) != 0) {
        msgpack_sbuffer_destroy(&m);
        return failf(err, cap, "cannot encode the rules entry (label: 1..%d bytes of text)",
                     PROTO_LABEL_MAX);
    }
    rulepush_key(prefix, b->hash, key, sizeof(key));
    snprintf(in, sizeof(in), "%sin", prefix);
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "SET %s %s", key, b->text);
    redisAppendCommand(c, "XADD %s * m %b", in, m.data, m.size);
    redisAppendCommand(c, "EXEC");
    msgpack_sbuffer_destroy(&m);
    int rc = 0;
    bool io = true; /* every reply is read, so that the connection stays usable */
    redisReply *r = NULL;
    for (int i = 0; i < 3 && io; i++) { /* MULTI and the QUEUED answers */
        io = redisGetReply(c, (void **)&r) == REDIS_OK;
        if (rc == 0 && (!io || r->type == REDIS_REPLY_ERROR))
            rc = failf(err, cap, "redis: %s", io ? r->str : c->errstr);
        freeReplyObject(r);
        r = NULL;
    }
    if (io && redisGetReply(c, (void **)&r) != REDIS_OK)
        r = NULL;
    if (rc == 0)
        rc = push_result(c, r, id, idcap, err, cap);
    freeReplyObject(r);
    return rc;
}

/* Copies string `key` of object `o` into buf[0..cap); absent or null: "". */
static int json_str(const json_t *o, const char *key, char *buf, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return -1;
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int parse_current(const char *text, size_t len, struct rulepush_current *cur)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    const json_t *next = j ? json_object_get(j, "scheduled") : NULL;
    int rc = j == NULL || !json_is_object(j) || json_str(j, "hash", cur->hash, sizeof(cur->hash)) ||
             json_str(j, "label", cur->label, sizeof(cur->label)) ||
             json_str(json_object_get(j, "since"), "id", cur->since_id, sizeof(cur->since_id))
             ? -1 : 0;
    if (rc == 0 && json_is_object(next)) {
        cur->has_next = true;
        cur->next_effective_ts = json_integer_value(json_object_get(next, "effective_ts"));
        rc = json_str(next, "hash", cur->next_hash, sizeof(cur->next_hash));
    }
    json_decref(j);
    return rc;
}

int rulepush_read_current(redisContext *c, const char *prefix, struct rulepush_current *cur,
                          char *err, size_t cap)
{
    char key[RULEPUSH_KEY_MAX + 1];
    memset(cur, 0, sizeof(*cur));
    rulepush_key(prefix, NULL, key, sizeof(key));
    redisReply *r = redisCommand(c, "GET %s", key);
    int rc = 0;
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        rc = failf(err, cap, "redis: GET %s: %s", key, r ? r->str : c->errstr);
    else if (r->type == REDIS_REPLY_STRING && parse_current(r->str, r->len, cur) != 0)
        rc = failf(err, cap, "%s does not hold a rulebook summary", key);
    else
        cur->found = r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    return rc;
}
