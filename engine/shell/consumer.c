/* consumer.c - see consumer.h.
 *
 * Ownership: hiredis owns every reply and frees it after the callback
 * returns; we never keep a pointer into one (ingest copies what it needs
 * into the batch). hiredis owns the async context: after a disconnect
 * callback it frees it, so c->ac is cleared there and nowhere else. When
 * the connection drops, hiredis calls every pending callback with a NULL
 * reply before the disconnect callback: callbacks just return on NULL and
 * the disconnect callback decides what happens next.
 */
#include "consumer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "batch.h"
#include "commit.h"
#include "ingest.h"
#include "log.h"
#include "lyassert.h"

#define CONSUMER_BACKOFF_MIN_MS 100u
/* A Redis that answers nothing for this long beyond the BLOCK time is
 * treated as gone (paused, partitioned): the connection is dropped and
 * re-established, which reconciles against the marker as after any
 * disconnect. */
#define CONSUMER_REPLY_TIMEOUT_MS 5000u
#define CONSUMER_WATCHDOG_MS 500u

enum phase {
    PH_IDLE,       /* not started, or waiting to reconnect */
    PH_CONNECTING,
    PH_SETUP,      /* group, key types, marker */
    PH_REPLAY,     /* re-applying (state, marker] with outputs suppressed */
    PH_RESEND,     /* committing a batch whose first commit went unanswered */
    PH_PENDING,    /* re-reading entries delivered before but not acked */
    PH_LIVE,       /* consuming new entries */
    PH_BEHIND,     /* Redis is behind our state: consuming stopped */
    PH_STOPPED,
};

struct consumer {
    struct event_base *base;
    const struct config *cfg;
    struct state *st;
    struct metrics *m;
    struct commit_keys keys;
    redisAsyncContext *ac;
    enum phase phase;
    struct batch batch;
    struct outbox scratch; /* outputs of the entry being applied */
    bool in_flight;          /* batch applied, commit not yet confirmed */
    struct proto_id committed; /* last marker Redis confirmed to us */
    struct proto_id target;  /* marker read at setup */
    unsigned backoff_ms;
    struct event *retry_timer;
    struct event *tick_timer;
    struct event *stop_timer;
    struct event *watchdog;
    uint64_t last_reply_us;  /* last reply, or last moment nothing was awaited */
    bool stopping;
    void (*done)(void *);
    void *done_arg;
    char count_arg[16];
    char block_arg[16];
    consumer_committed_fn *on_committed;
    consumer_reload_fn *reload;
    void *hook_arg;
    consumer_landed_fn *landed;
    void *landed_arg;
    bool marker_missing;     /* Redis had no progress marker at set-up */
};

static void connect_now(struct consumer *c);
static void retry_later(struct consumer *c);
static void read_next(struct consumer *c);
static void append_tick(struct consumer *c, bool catch_up);

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Drops the connection after an unexpected reply; the disconnect callback
 * reconnects. Safe inside a callback (hiredis defers the free). */
static void drop(struct consumer *c, const char *why)
{
    log_warn("redis: %s; reconnecting", why);
    if (c->ac != NULL)
        redisAsyncFree(c->ac);
}

static void finish_stop(struct consumer *c)
{
    if (c->phase == PH_STOPPED)
        return;
    c->phase = PH_STOPPED;
    event_del(c->retry_timer);
    event_del(c->tick_timer);
    event_del(c->stop_timer);
    event_del(c->watchdog);
    if (c->done != NULL)
        c->done(c->done_arg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct consumer *c = ac->data;
    (void)status;
    c->ac = NULL;
    c->m->redis_up = 0;
    if (c->stopping) {
        finish_stop(c);
        return;
    }
    if (c->phase != PH_BEHIND)
        c->phase = PH_IDLE;
    log_warn("redis: disconnected (%s); retrying in %u ms", ac->errstr[0] ? ac->errstr : "closed",
             c->backoff_ms);
    retry_later(c);
}

/* Called by every reply callback: Redis is alive. */
static void alive(struct consumer *c) { c->last_reply_us = now_us(); }

static bool reply_ok(struct consumer *c, const redisReply *r, const char *what)
{
    if (r != NULL)
        alive(c);
    if (r == NULL)
        return false; /* connection going away: on_disconnect handles it */
    if (r->type != REDIS_REPLY_ERROR)
        return true;
    char why[256];
    snprintf(why, sizeof(why), "%s failed: %.*s", what, (int)r->len, r->str);
    drop(c, why);
    return false;
}

static void on_commit(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    char why[256];
    (void)ac;
    if (reply == NULL)
        return; /* unknown outcome: reconcile against the marker later */
    alive(c);
    if (commit_check(reply, why, sizeof(why)) != 0) {
        c->m->commit_failures++;
        drop(c, why);
        return;
    }
    c->in_flight = false;
    if (proto_id_cmp(c->batch.last_id, c->committed) > 0)
        c->committed = c->batch.last_id;
    metrics_batch(c->m, now_us() - c->batch.started_us);
    for (int k = 0; k < PROTO_OUT_KIND_COUNT; k++)
        c->m->outputs[k] += c->batch.out_by_kind[k];
    if (c->landed != NULL)
        c->landed(c->landed_arg, &c->batch);
    batch_reset(&c->batch);
    if (c->on_committed != NULL)
        c->on_committed(c->hook_arg);
    if (c->stopping) {
        redisAsyncFree(c->ac);
        return;
    }
    if (c->phase == PH_RESEND)
        c->phase = PH_PENDING;
    if (c->phase == PH_PENDING)
        read_next(c); /* live reads were pipelined behind the commit */
    else if (c->cfg->tick_interval_ms > 0 && rules_due(c->st))
        append_tick(c, true); /* the last tick left members due: catch up now */
}

static void commit_batch(struct consumer *c)
{
    c->in_flight = true;
    if (commit_send(c->ac, c->cfg, &c->keys, &c->batch, on_commit, c) != 0)
        drop(c, "cannot queue the commit");
}

/* Applies `entries` with the rules (or, --bare-consumer, the baseline)
 * into batch `b` (NULL: a replay, outputs suppressed). */
static int ingest(struct consumer *c, const redisReply *entries, struct batch *b,
                  struct ingest_stats *stats)
{
    if (c->cfg->bare)
        return ingest_bare(c->st, entries, b, &c->scratch, stats);
    return ingest_entries(c->st, &c->cfg->rules, entries, b, &c->scratch, stats);
}

/* The entries array of an XREADGROUP reply (one stream), or NULL. */
static const redisReply *stream_entries(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1)
        return NULL;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2)
        return NULL;
    return s->element[1];
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    (void)ac;
    if (!reply_ok(c, r, "XREADGROUP") || c->phase == PH_STOPPED)
        return;
    LY_ASSERT(!c->in_flight); /* replies arrive in order: the commit came first */
    if (r->type == REDIS_REPLY_NIL) { /* BLOCK timed out */
        if (!c->stopping)
            read_next(c);
        else
            redisAsyncFree(c->ac);
        return;
    }
    const redisReply *entries = stream_entries(r);
    struct ingest_stats stats;
    batch_reset(&c->batch);
    c->batch.started_us = now_us();
    if (entries == NULL || ingest(c, entries, &c->batch, &stats) != 0) {
        drop(c, "malformed XREADGROUP reply");
        return;
    }
    if (batch_empty(&c->batch)) {
        if (c->phase == PH_PENDING) {
            c->phase = PH_LIVE;
            c->backoff_ms = CONSUMER_BACKOFF_MIN_MS;
            c->m->redis_up = 1;
            log_info("consuming %s as %s/%s from %s", c->keys.in, c->cfg->group,
                     c->cfg->consumer, c->st->last_id.ms ? "where it stopped" : "the start");
        }
        if (!c->stopping)
            read_next(c);
        else
            redisAsyncFree(c->ac);
        return;
    }
    commit_batch(c);
    if (c->phase == PH_LIVE && !c->stopping)
        read_next(c); /* pipelined: runs after EXEC on the server */
}

static void read_next(struct consumer *c)
{
    const char *a[12] = {"XREADGROUP", "GROUP", c->cfg->group, c->cfg->consumer, "COUNT",
                         c->count_arg};
    int n = 6;
    if (c->phase == PH_LIVE) {
        a[n++] = "BLOCK";
        a[n++] = c->block_arg;
    }
    a[n++] = "STREAMS";
    a[n++] = c->keys.in;
    a[n++] = c->phase == PH_LIVE ? ">" : "0";
    if (redisAsyncCommandArgv(c->ac, on_read, c, n, a, NULL) != REDIS_OK)
        drop(c, "cannot queue XREADGROUP");
}

static void replay_next(struct consumer *c);

static void on_replay(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    struct ingest_stats stats;
    (void)ac;
    if (!reply_ok(c, r, "XRANGE") || c->phase == PH_STOPPED)
        return;
    if (ingest(c, r, NULL, &stats) != 0) {
        drop(c, "malformed XRANGE reply");
        return;
    }
    c->m->replayed += stats.applied;
    if (stats.entries == 0 && proto_id_cmp(c->st->last_id, c->target) < 0) {
        log_error("recovery: entries up to %" PRIu64 "-%" PRIu64 " are missing from %s; "
                  "cannot rebuild state; consuming stopped", c->target.ms, c->target.seq,
                  c->keys.in);
        c->phase = PH_BEHIND;
        c->m->redis_behind = 1;
        return;
    }
    replay_next(c);
}

/* Replays (last applied, marker] without publishing, then goes on. */
static void replay_next(struct consumer *c)
{
    if (proto_id_cmp(c->st->last_id, c->target) >= 0) {
        c->committed = c->target;
        c->phase = PH_PENDING;
        read_next(c);
        return;
    }
    char from[PROTO_ID_STR_MAX + 1] = "(", to[PROTO_ID_STR_MAX];
    proto_id_format(c->st->last_id, from + 1, sizeof(from) - 1);
    proto_id_format(c->target, to, sizeof(to));
    c->phase = PH_REPLAY;
    if (redisAsyncCommand(c->ac, on_replay, c, "XRANGE %s %s %s COUNT %s", c->keys.in, from, to,
                          c->count_arg) != REDIS_OK)
        drop(c, "cannot queue XRANGE");
}

static void behind(struct consumer *c, const char *what)
{
    log_error("redis is behind this daemon: %s (progress marker %" PRIu64 "-%" PRIu64
              ", state at %" PRIu64 "-%" PRIu64 "). Consuming stopped: restore Redis from its "
              "AOF/RDB, or move the data dir's snapshots aside to rebuild from what Redis has",
              what, c->target.ms, c->target.seq, c->st->last_id.ms, c->st->last_id.seq);
    c->phase = PH_BEHIND;
    c->m->redis_behind = 1;
}

/* Redis holds less than our state: rebuild from a snapshot that is not
 * ahead of it. Returns 0 when the state is now at or before the marker. */
static int rebuild(struct consumer *c, const char *what)
{
    log_warn("redis lost writes the daemon had applied: %s; rebuilding from a snapshot "
             "not after %" PRIu64 "-%" PRIu64, what, c->target.ms, c->target.seq);
    c->in_flight = false; /* its entries, if Redis still has them, are pending again */
    batch_reset(&c->batch);
    if (c->reload == NULL || c->reload(c->hook_arg, c->target) != 0 ||
        proto_id_cmp(c->st->last_id, c->target) > 0) {
        behind(c, what);
        return -1;
    }
    c->committed = c->st->last_id;
    return 0;
}

static void on_history(redisAsyncContext *ac, void *reply, void *priv);

/* Decides what to do with the marker Redis holds (see consumer.h). */
static void reconcile(struct consumer *c)
{
    bool has_state = c->st->last_id.ms != 0 || c->st->last_id.seq != 0;
    if (c->marker_missing && has_state) {
        behind(c, "Redis has no progress marker but the daemon has state, so Redis lost "
                  "its data; refusing to make up state");
        return;
    }
    if (proto_id_cmp(c->target, c->committed) < 0 &&
        rebuild(c, "marker older than a commit Redis confirmed") != 0)
        return;
    if (c->in_flight) {
        if (proto_id_cmp(c->target, c->batch.last_id) >= 0) {
            log_info("recovery: the commit in flight had landed");
            c->in_flight = false;
            if (proto_id_cmp(c->batch.last_id, c->committed) > 0)
                c->committed = c->batch.last_id;
            if (c->landed != NULL)
                c->landed(c->landed_arg, &c->batch);
            batch_reset(&c->batch);
        } else {
            log_info("recovery: sending the unconfirmed commit again");
            c->phase = PH_RESEND;
            commit_batch(c);
            return;
        }
    }
    if (proto_id_cmp(c->st->last_id, c->target) > 0 &&
        rebuild(c, "marker older than the state") != 0)
        return;
    c->m->redis_behind = 0;
    if (proto_id_cmp(c->st->last_id, c->target) == 0) {
        replay_next(c);
        return;
    }
    /* Replay needs every entry after the state's id: check none was
     * trimmed or deleted (Redis 7 records the largest deleted id). */
    if (redisAsyncCommand(c->ac, on_history, c, "XINFO STREAM %s", c->keys.in) != REDIS_OK)
        drop(c, "cannot queue XINFO");
}

/* What XINFO STREAM says about the input's history (Redis 7). */
struct history {
    struct proto_id max_deleted, first, last_generated;
    bool has_first;
    long long length, added;
};

static void parse_history(const redisReply *r, struct history *h)
{
    memset(h, 0, sizeof(*h));
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "max-deleted-entry-id") == 0 && v->type == REDIS_REPLY_STRING)
            proto_id_parse(v->str, v->len, &h->max_deleted);
        else if (strcmp(k->str, "last-generated-id") == 0 && v->type == REDIS_REPLY_STRING)
            proto_id_parse(v->str, v->len, &h->last_generated);
        else if (strcmp(k->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER)
            h->length = v->integer;
        else if (strcmp(k->str, "entries-added") == 0 && v->type == REDIS_REPLY_INTEGER)
            h->added = v->integer;
        else if (strcmp(k->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
                 v->elements == 2 && v->element[0]->type == REDIS_REPLY_STRING)
            h->has_first = proto_id_parse(v->element[0]->str, v->element[0]->len,
                                          &h->first) == 0;
    }
}

/* True when an entry after `after` may have been removed. XDEL records the
 * largest id it deleted; trimming (XTRIM, MAXLEN) removes a prefix without
 * recording it in Redis 7.0, so: entries were removed and the oldest left
 * (or, when none is left, the newest ever added) is after `after`. */
static bool history_gap(const struct history *h, struct proto_id after)
{
    if (proto_id_cmp(h->max_deleted, after) > 0)
        return true;
    if (h->added <= h->length)
        return false; /* nothing was ever removed */
    return proto_id_cmp(h->has_first ? h->first : h->last_generated, after) > 0;
}

static void on_history(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    struct history h;
    (void)ac;
    if (!reply_ok(c, r, "XINFO STREAM") || c->phase == PH_STOPPED)
        return;
    parse_history(r, &h);
    if (history_gap(&h, c->st->last_id)) {
        behind(c, "entries needed to replay from the state's id were trimmed or deleted from "
                  "the input stream (restore a newer snapshot, or Redis from a backup)");
        return;
    }
    replay_next(c);
}

static void on_marker(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    (void)ac;
    if (!reply_ok(c, r, "GET progress") || c->phase == PH_STOPPED)
        return;
    memset(&c->target, 0, sizeof(c->target));
    c->marker_missing = r->type == REDIS_REPLY_NIL;
    if (r->type == REDIS_REPLY_STRING) {
        if (proto_id_parse(r->str, r->len, &c->target) != 0) {
            log_error("%s holds '%.*s', not a stream id; consuming stopped", c->keys.progress,
                      (int)(r->len > 64 ? 64 : r->len), r->str);
            c->phase = PH_BEHIND;
            return;
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        drop(c, "progress marker is not a string");
        return;
    }
    reconcile(c);
}

static void on_group(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    (void)ac;
    if (r == NULL)
        return;
    alive(c);
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
        drop(c, "XGROUP CREATE failed");
}

static void on_type(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    (void)ac;
    if (!reply_ok(c, r, "TYPE"))
        return;
    if (r->type != REDIS_REPLY_STATUS ||
        (strcmp(r->str, "none") != 0 && strcmp(r->str, "stream") != 0)) {
        log_error("a key under prefix '%s' is not a stream (TYPE says %s); consuming stopped",
                  c->cfg->prefix, r->str ? r->str : "?");
        c->phase = PH_BEHIND;
        redisAsyncFree(c->ac);
    }
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    const redisReply *r = reply;
    (void)ac;
    if (r == NULL)
        return;
    alive(c);
    if (r->type == REDIS_REPLY_ERROR) {
        /* The reply names no secret; ours is never logged. */
        const char *user = c->cfg->redis_user[0] ? c->cfg->redis_user : "default";
        log_error("redis: AUTH as '%s' refused: %.*s", user,
                  (int)(r->len > 120 ? 120 : r->len), r->str);
        redisAsyncFree(c->ac);
    }
}

/* AUTH [user] password, before anything else on a new connection. */
static int send_auth(struct consumer *c, redisAsyncContext *a)
{
    const char *argv[3] = {"AUTH", c->cfg->redis_user, c->cfg->redis_password};
    if (c->cfg->redis_password[0] == '\0')
        return REDIS_OK;
    if (c->cfg->redis_user[0] == '\0') {
        argv[1] = c->cfg->redis_password;
        return redisAsyncCommandArgv(a, on_auth, c, 2, argv, NULL);
    }
    return redisAsyncCommandArgv(a, on_auth, c, 3, argv, NULL);
}

/* Schedules the next connection attempt with exponential backoff. */
static void retry_later(struct consumer *c)
{
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    event_add(c->retry_timer, &tv);
    c->backoff_ms = c->backoff_ms * 2 > c->cfg->reconnect_max_ms ? c->cfg->reconnect_max_ms
                                                                 : c->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct consumer *c = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees a context that never connected without calling
         * the disconnect callback: forget it here and retry. */
        log_warn("redis: cannot connect to %s:%d: %s; retrying in %u ms", c->cfg->redis.host,
                 c->cfg->redis.port, ac->errstr, c->backoff_ms);
        c->ac = NULL;
        c->phase = PH_IDLE;
        if (c->stopping)
            finish_stop(c);
        else
            retry_later(c);
        return;
    }
    c->m->reconnects++;
    log_info("redis: connected to %s:%d", c->cfg->redis.host, c->cfg->redis.port);
    c->phase = PH_SETUP;
    redisAsyncContext *a = c->ac;
    int rc = send_auth(c, a);
    rc |= redisAsyncCommand(a, on_group, c, "XGROUP CREATE %s %s 0 MKSTREAM", c->keys.in,
                               c->cfg->group);
    rc |= redisAsyncCommand(a, on_type, c, "TYPE %s", c->keys.out);
    rc |= redisAsyncCommand(a, on_type, c, "TYPE %s", c->keys.dlq);
    rc |= redisAsyncCommand(a, on_marker, c, "GET %s", c->keys.progress);
    if (rc != REDIS_OK)
        drop(c, "cannot queue set-up commands");
}

static void connect_now(struct consumer *c)
{
    LY_ASSERT(c->ac == NULL);
    c->phase = PH_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(c->cfg->redis.host, c->cfg->redis.port);
    if (ac == NULL || ac->err) {
        log_warn("redis: cannot connect to %s:%d: %s", c->cfg->redis.host, c->cfg->redis.port,
                 ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        c->phase = PH_IDLE;
        retry_later(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct consumer *c = arg;
    if (!c->stopping && c->ac == NULL)
        connect_now(c);
}

static void on_tick_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    (void)ac;
    if (reply_ok(c, reply, "XADD tick"))
        c->m->ticks_appended++;
}

/* Appends a tick entry stamped with the wall clock: the one place the
 * daemon's clock enters the log, as an entry replayed like any other. */
static void append_tick(struct consumer *c, bool catch_up)
{
    if (c->phase != PH_LIVE || c->stopping || c->ac == NULL)
        return;
    struct proto_entry e;
    struct timespec ts;
    memset(&e, 0, sizeof(e));
    clock_gettime(CLOCK_REALTIME, &ts);
    e.kind = PROTO_TICK;
    e.ts = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* Never older than the engine clock (an older tick does nothing); a
     * catch-up tick finishes the work due at the clock without moving it. */
    if (e.ts < c->st->clock_ms || catch_up)
        e.ts = c->st->clock_ms;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (proto_encode_entry(&buf, &e) == 0 &&
        redisAsyncCommand(c->ac, on_tick_reply, c, "XADD %s * m %b", c->keys.in, buf.data,
                          buf.size) != REDIS_OK)
        drop(c, "cannot queue a tick");
    msgpack_sbuffer_destroy(&buf);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    append_tick(arg, false);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct consumer *c = arg;
    uint64_t now = now_us();
    if (c->ac == NULL || c->ac->replies.head == NULL) {
        c->last_reply_us = now; /* nothing awaited: nothing overdue */
        return;
    }
    uint64_t limit_us = ((uint64_t)c->cfg->block_ms + CONSUMER_REPLY_TIMEOUT_MS) * 1000u;
    if (now - c->last_reply_us > limit_us) {
        char why[96];
        unsigned waited_ms = (unsigned)((now - c->last_reply_us) / 1000);
        snprintf(why, sizeof(why), "no reply for %u ms", waited_ms);
        c->m->redis_timeouts++;
        c->last_reply_us = now;
        drop(c, why);
    }
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct consumer *c = arg;
    log_warn("shutdown: Redis did not confirm the last commit in time; it will be "
             "reconciled at the next start");
    if (c->ac != NULL)
        redisAsyncFree(c->ac); /* on_disconnect finishes the stop */
    else
        finish_stop(c);
}

struct consumer *consumer_new(struct event_base *base, const struct config *cfg,
                              struct state *st, struct metrics *m)
{
    struct consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->base = base;
    c->cfg = cfg;
    c->st = st;
    c->m = m;
    c->committed = st->last_id;
    c->backoff_ms = CONSUMER_BACKOFF_MIN_MS;
    rules_outbox_init(&c->scratch);
    commit_keys_init(&c->keys, cfg);
    snprintf(c->count_arg, sizeof(c->count_arg), "%u", cfg->batch_entries_max);
    snprintf(c->block_arg, sizeof(c->block_arg), "%u", cfg->block_ms);
    c->retry_timer = evtimer_new(base, on_retry, c);
    c->tick_timer = event_new(base, -1, EV_PERSIST, on_tick, c);
    c->stop_timer = evtimer_new(base, on_stop_deadline, c);
    c->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, c);
    if (batch_init(&c->batch, cfg->batch_entries_max) != 0 || c->retry_timer == NULL ||
        c->tick_timer == NULL || c->stop_timer == NULL || c->watchdog == NULL) {
        consumer_free(c);
        return NULL;
    }
    return c;
}

void consumer_free(struct consumer *c)
{
    if (c == NULL)
        return;
    c->stopping = true;
    c->done = NULL;
    if (c->ac != NULL)
        redisAsyncFree(c->ac);
    if (c->retry_timer)
        event_free(c->retry_timer);
    if (c->tick_timer)
        event_free(c->tick_timer);
    if (c->stop_timer)
        event_free(c->stop_timer);
    if (c->watchdog)
        event_free(c->watchdog);
    batch_free(&c->batch);
    outbox_free(&c->scratch);
    free(c);
}

void consumer_start(struct consumer *c)
{
    struct timeval wd = {0, CONSUMER_WATCHDOG_MS * 1000};
    c->last_reply_us = now_us();
    event_add(c->watchdog, &wd);
    if (c->cfg->tick_interval_ms > 0) {
        struct timeval tv = {c->cfg->tick_interval_ms / 1000,
                             (c->cfg->tick_interval_ms % 1000) * 1000};
        event_add(c->tick_timer, &tv);
    }
    connect_now(c);
}

void consumer_stop(struct consumer *c, unsigned grace_ms, void (*done)(void *), void *arg)
{
    if (c->stopping)
        return;
    c->stopping = true;
    c->done = done;
    c->done_arg = arg;
    event_del(c->tick_timer);
    event_del(c->retry_timer);
    if (c->ac == NULL) {
        finish_stop(c);
        return;
    }
    struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};
    event_add(c->stop_timer, &tv);
    if (!c->in_flight) {
        /* Entries a read in progress got stay pending for the next start.
         * hiredis skips the disconnect callback for a context that never
         * connected, so finish here too (finish_stop runs once). */
        redisAsyncFree(c->ac);
        c->ac = NULL;
        finish_stop(c);
    }
}

void consumer_set_hooks(struct consumer *c, consumer_committed_fn *committed,
                        consumer_reload_fn *reload, void *arg)
{
    c->on_committed = committed;
    c->reload = reload;
    c->hook_arg = arg;
}

void consumer_set_landed(struct consumer *c, consumer_landed_fn *landed, void *arg)
{
    c->landed = landed;
    c->landed_arg = arg;
}

static void on_trim(redisAsyncContext *ac, void *reply, void *priv)
{
    struct consumer *c = priv;
    (void)ac;
    if (reply_ok(c, reply, "XTRIM"))
        c->m->trims++;
}

void consumer_trim(struct consumer *c, struct proto_id min_id)
{
    char id[PROTO_ID_STR_MAX];
    if (!c->cfg->trim_input || c->ac == NULL || c->stopping || (min_id.ms == 0 && min_id.seq == 0))
        return;
    proto_id_format(min_id, id, sizeof(id));
    if (redisAsyncCommand(c->ac, on_trim, c, "XTRIM %s MINID ~ %s", c->keys.in, id) != REDIS_OK)
        drop(c, "cannot queue XTRIM");
}

const char *consumer_status(const struct consumer *c)
{
    if (c->stopping)
        return c->phase == PH_STOPPED ? "stopped" : "stopping";
    switch (c->phase) {
    case PH_IDLE:
    case PH_CONNECTING: return "connecting";
    case PH_SETUP:
    case PH_REPLAY:
    case PH_RESEND:
    case PH_PENDING: return "recovering";
    case PH_LIVE: return "consuming";
    case PH_BEHIND: return "redis_behind";
    case PH_STOPPED: return "stopped";
    }
    return "unknown";
}

bool consumer_all_committed(const struct consumer *c)
{
    return !c->in_flight;
}

bool consumer_healthy(const struct consumer *c)
{
    return c->phase == PH_LIVE && !c->stopping;
}
