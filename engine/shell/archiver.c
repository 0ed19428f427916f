/* archiver.c - see archiver.h.
 *
 * Threads: the event loop calls archiver_trim (sets the target under the
 * mutex, signals); the worker owns the archive, its Redis connection and
 * every I/O, and hands each archived target back through a pipe the loop
 * reads (`done` under the mutex). Metrics are added by the worker with
 * atomic operations (several partitions' archivers share them).
 */
#include "archiver.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "archive.h"
#include "ingest.h"
#include "log.h"
#include "lyassert.h"
#include "rulecanon.h"

#define ARCHIVER_CONNECT_MS 2000  /* connecting to Redis */
#define ARCHIVER_REPLY_MS 30000   /* one XRANGE of ARCHIVER_CHUNK entries, or the XTRIM */
#define ARCHIVER_KEY_MAX (CONFIG_KEY_MAX + 8 + PROTO_HASH_LEN)
#define ARCHIVER_REDIRECTS 3      /* MOVED replies followed per command (a resharding) */

struct archiver {
    const struct config *cfg;
    struct metrics *m;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                    /* under mu; also read by the worker between chunks */
    struct proto_id target;       /* under mu: archive and trim below this */
    struct proto_id attempted;    /* worker: the last target a run was made for */
    struct archive *ar;           /* worker: NULL until opened (again) */
    redisContext *rc;             /* worker */
    struct config_endpoint node;  /* worker: where rc goes (the seed, or a MOVED target) */
    char dir[ARCH_DIR_MAX + 1];
    char in_key[CONFIG_KEY_MAX + 24];
    struct archive_stats shown;   /* worker: what publish_stats added to the metrics */
    struct proto_id done;         /* under mu: archived below this, not yet handed back */
    bool has_done;                /* under mu */
    int pipe_fd[2];               /* worker writes a byte per archived target; loop reads */
    struct event *ev;             /* the loop's read event on pipe_fd[0] */
    archiver_done_fn *done_fn;
    void *done_arg;
    char own_hash[RULECANON_HASH_LEN + 1];
    char *own_text;               /* the configured rulebook, canonical */
    struct proto_decoder dec;     /* worker: tells rules entries apart, allocating nothing */
    bool dec_ready;
};

static bool stopping(struct archiver *a)
{
    pthread_mutex_lock(&a->mu);
    bool s = a->stop;
    pthread_mutex_unlock(&a->mu);
    return s;
}

static void note(void *arg, const char *text)
{
    (void)arg;
    log_warn("%s", text);
}

static void failed(struct archiver *a, const char *what, const char *why)
{
    __atomic_add_fetch(&a->m->archive_failures, 1, __ATOMIC_RELAXED);
    log_error("archive: %s: %s; <prefix>in is not trimmed until this succeeds", what, why);
}

static void disconnect(struct archiver *a)
{
    if (a->rc != NULL)
        redisFree(a->rc);
    a->rc = NULL;
}

static int connect_redis(struct archiver *a)
{
    const struct config *cfg = a->cfg;
    struct timeval ct = {ARCHIVER_CONNECT_MS / 1000, 0}, rt = {ARCHIVER_REPLY_MS / 1000, 0};
    if (a->rc != NULL)
        return 0;
    a->rc = redisConnectWithTimeout(a->node.host, a->node.port, ct);
    if (a->rc == NULL || a->rc->err || redisSetTimeout(a->rc, rt) != REDIS_OK) {
        failed(a, "cannot connect to Redis", a->rc ? a->rc->errstr : "out of memory");
        disconnect(a);
        return -1;
    }
    if (cfg->redis_password[0] == '\0')
        return 0;
    redisReply *r = cfg->redis_user[0]
                        ? redisCommand(a->rc, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
                        : redisCommand(a->rc, "AUTH %s", cfg->redis_password);
    bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!ok) {
        failed(a, "Redis refused AUTH", "see the daemon's AUTH error");
        disconnect(a);
        return -1;
    }
    return 0;
}

/* redisCommandArgv, following "MOVED <slot> <host>:<port>" (a Redis
 * Cluster) to the node named. NULL when the connection failed. */
static redisReply *command_argv(struct archiver *a, int argc, const char **argv)
{
    for (int hop = 0;; hop++) {
        if (connect_redis(a) != 0)
            return NULL;
        redisReply *r = redisCommandArgv(a->rc, argc, argv, NULL);
        char host[CONFIG_HOST_MAX + 1];
        unsigned slot, port;
        if (r == NULL || r->type != REDIS_REPLY_ERROR || hop == ARCHIVER_REDIRECTS ||
            sscanf(r->str, "MOVED %u %255[^:]:%u", &slot, host, &port) != 3 || port > 65535)
            return r;
        freeReplyObject(r);
        disconnect(a);
        snprintf(a->node.host, sizeof(a->node.host), "%s", host);
        a->node.port = (int)port;
    }
}

static int open_archive(struct archiver *a)
{
    struct arch_error err;
    if (a->ar != NULL)
        return 0;
    a->ar = archive_open(a->dir, a->own_hash, a->own_text, note, a, &err);
    if (a->ar == NULL) {
        failed(a, "cannot open the archive", err.text);
        return -1;
    }
    return 0;
}

/* The text of rulebook `hash` for the archive: the configured one's, or
 * <prefix>rules:<hash>. `*held` is a reply to free (or NULL). */
static const char *rules_text(struct archiver *a, const char *hash, size_t *len,
                              redisReply **held)
{
    *held = NULL;
    if (strcmp(hash, a->own_hash) == 0) {
        *len = strlen(a->own_text);
        return a->own_text;
    }
    char key[ARCHIVER_KEY_MAX];
    snprintf(key, sizeof(key), "%srules:%s", a->cfg->prefix, hash);
    const char *argv[] = {"GET", key};
    redisReply *r = command_argv(a, 2, argv);
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return NULL; /* not stored: the daemon found none either */
    }
    *held = r;
    *len = r->len;
    return r->str;
}

/* Archives one XRANGE entry [id, fields]. */
static int archive_entry(struct archiver *a, const redisReply *ent, struct arch_error *err)
{
    struct proto_id id;
    if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
        ent->element[0]->type != REDIS_REPLY_STRING ||
        proto_id_parse(ent->element[0]->str, ent->element[0]->len, &id) != 0) {
        snprintf(err->text, sizeof(err->text), "malformed XRANGE reply");
        return -1;
    }
    const redisReply *m = ingest_field_m(ent->element[1]);
    if (m == NULL)
        return archive_append(a->ar, id, NULL, 0, false, err);
    struct proto_entry e; /* ~6 KiB: the worker's stack is the default 8 MiB */
    struct proto_reject rej;
    if (proto_decode_with(&a->dec, m->str, m->len, &e, &rej) != 0 || e.kind != PROTO_RULES)
        return archive_append(a->ar, id, m->str, m->len, true, err);
    size_t len = 0;
    redisReply *held;
    const char *text = rules_text(a, e.hash, &len, &held);
    int rc = archive_append_rules(a->ar, id, m->str, m->len, e.hash, text, len, err);
    freeReplyObject(held);
    return rc;
}

/* XRANGE from after the last archived entry to before `min_id`, chunk by
 * chunk, into the archive. */
static int archive_below(struct archiver *a, struct proto_id min_id)
{
    char start[PROTO_ID_STR_MAX + 1], end[PROTO_ID_STR_MAX + 1], count[16];
    struct arch_error err = {{0}};
    snprintf(count, sizeof(count), "%d", ARCHIVER_CHUNK);
    end[0] = '(';
    proto_id_format(min_id, end + 1, sizeof(end) - 1);
    for (;;) {
        struct proto_id last = archive_last(a->ar);
        if (proto_id_cmp(last, min_id) >= 0 || stopping(a))
            return stopping(a) ? -1 : 0;
        start[0] = '(';
        proto_id_format(last, start + 1, sizeof(start) - 1);
        const char *argv[] = {"XRANGE", a->in_key, last.ms || last.seq ? start : "-", end,
                              "COUNT", count};
        redisReply *r = command_argv(a, 6, argv);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            failed(a, "XRANGE failed", r ? (r->str ? r->str : "unexpected reply")
                                         : a->rc ? a->rc->errstr : "no connection");
            freeReplyObject(r);
            disconnect(a);
            return -1;
        }
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++)
            if (archive_entry(a, r->element[i], &err) != 0) {
                freeReplyObject(r);
                failed(a, "cannot append", err.text);
                archive_close(a->ar); /* reopened from HEAD next time */
                a->ar = NULL;
                return -1;
            }
        freeReplyObject(r);
        if (n < ARCHIVER_CHUNK)
            return 0;
    }
}

static void publish_stats(struct archiver *a)
{
    struct archive_stats s; /* each archiver adds its change: the figures sum partitions */
    archive_get_stats(a->ar, &s);
    __atomic_add_fetch(&a->m->archive_bytes, s.bytes - a->shown.bytes, __ATOMIC_RELAXED);
    __atomic_add_fetch(&a->m->archive_segments, (uint64_t)s.segments - (uint64_t)a->shown.segments,
                       __ATOMIC_RELAXED);
    uint64_t added = s.appended >= a->shown.appended ? s.appended - a->shown.appended
                                                     : s.appended; /* reopened: counts anew */
    __atomic_add_fetch(&a->m->archive_entries, added, __ATOMIC_RELAXED);
    a->shown = s;
}

/* Retention, by the wall clock (files, not state). */
static void prune(struct archiver *a)
{
    struct arch_error err;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    int n = archive_prune(a->ar, now_ms, a->cfg->archive_keep_days, a->cfg->archive_keep_bytes,
                          &err);
    if (n < 0)
        log_error("archive retention: %s", err.text);
    else if (n > 0)
        log_info("archive retention: deleted %d old segment(s)", n);
}

/* One request: archive, commit, prune, then hand `min_id` to the loop,
 * which sends the fenced trim. */
static int run(struct archiver *a, struct proto_id min_id)
{
    struct arch_error err;
    if (open_archive(a) != 0 || connect_redis(a) != 0 || archive_below(a, min_id) != 0)
        return -1;
    if (archive_commit(a->ar, &err) != 0) {
        failed(a, "cannot commit", err.text);
        archive_close(a->ar);
        a->ar = NULL;
        return -1;
    }
    publish_stats(a);
    prune(a);
    publish_stats(a);
    pthread_mutex_lock(&a->mu);
    a->done = min_id;
    a->has_done = true;
    pthread_mutex_unlock(&a->mu);
    char byte = 1; /* the pipe is non-blocking: when full, the loop has a wake-up queued */
    if (write(a->pipe_fd[1], &byte, 1) < 0) {
        /* EAGAIN: the pipe is full, so the loop has a wake-up queued already */
    }
    return 0;
}

/* The loop: the worker archived below a target; the trim may go. */
static void on_archived(evutil_socket_t fd, short what, void *arg)
{
    struct archiver *a = arg;
    char buf[64];
    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
        /* drained: one wake-up stands for every byte */
    }
    pthread_mutex_lock(&a->mu);
    bool has = a->has_done;
    struct proto_id id = a->done;
    a->has_done = false;
    pthread_mutex_unlock(&a->mu);
    if (has)
        a->done_fn(a->done_arg, id);
}

static void *worker(void *arg)
{
    struct archiver *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->stop && proto_id_cmp(a->target, a->attempted) <= 0)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stop)
            break;
        struct proto_id min_id = a->target;
        pthread_mutex_unlock(&a->mu);
        run(a, min_id); /* a failure waits for the next, newer request */
        pthread_mutex_lock(&a->mu);
        a->attempted = min_id;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

void archiver_trim(struct archiver *a, struct proto_id min_id)
{
    pthread_mutex_lock(&a->mu);
    if (proto_id_cmp(min_id, a->target) > 0) {
        a->target = min_id;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
}

struct archiver *archiver_new(const struct config *cfg, struct metrics *m, const char *dir,
                              const char *prefix, struct event_base *base,
                              archiver_done_fn *done, void *arg)
{
    struct archiver *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->cfg = cfg;
    a->m = m;
    a->node = cfg->redis;
    a->done_fn = done;
    a->done_arg = arg;
    a->pipe_fd[0] = a->pipe_fd[1] = -1;
    snprintf(a->dir, sizeof(a->dir), "%s", dir);
    snprintf(a->in_key, sizeof(a->in_key), "%sin", prefix);
    a->own_text = rulecanon_text(&cfg->rules);
    if (a->own_text == NULL || pthread_mutex_init(&a->mu, NULL) != 0 ||
        pthread_cond_init(&a->cv, NULL) != 0) {
        free(a->own_text);
        free(a);
        return NULL;
    }
    a->dec_ready = proto_decoder_init(&a->dec) == 0;
    if (!a->dec_ready || pipe(a->pipe_fd) != 0 ||
        evutil_make_socket_nonblocking(a->pipe_fd[0]) != 0 ||
        evutil_make_socket_nonblocking(a->pipe_fd[1]) != 0 ||
        evutil_make_socket_closeonexec(a->pipe_fd[0]) != 0 ||
        evutil_make_socket_closeonexec(a->pipe_fd[1]) != 0 ||
        (a->ev = event_new(base, a->pipe_fd[0], EV_READ | EV_PERSIST, on_archived, a)) == NULL ||
        event_add(a->ev, NULL) != 0) {
        archiver_free(a);
        return NULL;
    }
    rulecanon_hash_text(a->own_text, a->own_hash);
    if (open_archive(a) == 0) {
        publish_stats(a);
        log_info("archive: %s holds entries up to %" PRIu64 "-%" PRIu64, a->dir,
                 archive_last(a->ar).ms, archive_last(a->ar).seq);
    }
    if (pthread_create(&a->thread, NULL, worker, a) != 0) {
        archiver_free(a);
        return NULL;
    }
    a->started = true;
    return a;
}

void archiver_free(struct archiver *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->started)
        pthread_join(a->thread, NULL);
    disconnect(a);
    archive_close(a->ar);
    if (a->ev != NULL)
        event_free(a->ev);
    for (int i = 0; i < 2; i++)
        if (a->pipe_fd[i] >= 0)
            close(a->pipe_fd[i]);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    if (a->dec_ready)
        proto_decoder_free(&a->dec);
    free(a->own_text);
    free(a);
}
