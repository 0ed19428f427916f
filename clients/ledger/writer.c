/* writer.c - see writer.h. */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "lyassert.h"
#include "lbatch.h"
#include "llog.h"
#include "reader.h"
#include "wcache.h"

#define BACKOFF_FIRST_MS 100
#define GAP_CHECK_MS 10000 /* how often the streams are checked for trimmed entries */

struct writer {
    const struct lconf *cfg;
    struct lstatus *status;
    void (*done)(void *arg);
    void *done_arg;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards stop, for the condition variable */
    pthread_cond_t wake;
    bool stop;
    int result;
    struct reader *reader;
    struct db *db;
    struct lbatch *batch;
    struct wcache *cache;
    struct lb_entry *entries;
    const char *keys[LCONF_PREFIXES_MAX];
    struct db_stream streams[LCONF_PREFIXES_MAX]; /* committed */
    bool gap[LCONF_PREFIXES_MAX];
    struct lstatus_view view; /* this thread's copy, published */
    uint32_t backoff_ms;
    struct timespec next_gap_check;
};

struct writer *writer_new(const struct lconf *cfg, struct lstatus *status,
                          void (*done)(void *arg), void *arg)
{
    struct writer *w = calloc(1, sizeof *w);
    LY_ALLOC_CHECK(w != NULL);
    w->cfg = cfg;
    w->status = status;
    w->done = done;
    w->done_arg = arg;
    LY_ALLOC_CHECK(pthread_mutex_init(&w->lock, NULL) == 0);
    LY_ALLOC_CHECK(pthread_cond_init(&w->wake, NULL) == 0);
    w->reader = reader_new(cfg);
    w->batch = lbatch_new(cfg->batch_entries_max);
    w->cache = wcache_new(cfg->wallet_cache_members);
    w->entries = calloc(cfg->batch_entries_max, sizeof *w->entries);
    LY_ALLOC_CHECK(w->entries != NULL);
    for (uint32_t i = 0; i < cfg->prefix_count; i++)
        w->keys[i] = reader_key(w->reader, i);
    w->view.nstreams = cfg->prefix_count;
    return w;
}

void writer_free(struct writer *w)
{
    if (w == NULL)
        return;
    db_close(w->db);
    reader_free(w->reader);
    lbatch_free(w->batch);
    wcache_free(w->cache);
    free(w->entries);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static bool stopping(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    bool s = w->stop;
    pthread_mutex_unlock(&w->lock);
    return s;
}

void writer_stop(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

static struct timespec after_ms(uint32_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits the current backoff (cut short by writer_stop) and doubles it.
 * Returns true when the writer should stop. */
static bool back_off(struct writer *w)
{
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (w->backoff_ms > w->cfg->retry_max_ms)
        w->backoff_ms = w->cfg->retry_max_ms;
    struct timespec until = after_ms(w->backoff_ms);
    pthread_mutex_lock(&w->lock);
    while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
        ;
    bool s = w->stop;
    pthread_mutex_unlock(&w->lock);
    return s;
}

static void publish(struct writer *w)
{
    w->view.redis_up = reader_connected(w->reader);
    w->view.db_up = w->db != NULL;
    memcpy(w->view.streams, w->streams, sizeof w->streams);
    lstatus_publish(w->status, &w->view);
}

static void note_error(struct writer *w, uint64_t *counter, const char *text)
{
    (*counter)++;
    snprintf(w->view.last_error, sizeof w->view.last_error, "%s", text);
    llog_warn("%s (retrying in up to %u ms)", text, w->cfg->retry_max_ms);
    publish(w);
}

/* Connects to the database when not connected: schema, then progress. */
static int ensure_db(struct writer *w, bool *fatal)
{
    struct db_error err = {0};
    if (w->db != NULL)
        return 0;
    w->db = db_open(w->cfg->database, DB_WRITER, w->cfg->db_timeout_ms, &err);
    if (w->db == NULL || db_prepare_schema(w->db, DB_WRITER, &err) != 0 ||
        db_load_streams(w->db, w->keys, w->cfg->prefix_count, w->streams, &err) != 0) {
        db_close(w->db);
        w->db = NULL;
        *fatal = err.fatal;
        note_error(w, &w->view.db_errors, err.text);
        return -1;
    }
    llog_info("database: connected (%s), schema version %d", db_backend(w->db),
              DB_SCHEMA_VERSION);
    publish(w);
    return 0;
}

static int ensure_redis(struct writer *w)
{
    struct reader_error err;
    if (reader_connected(w->reader))
        return 0;
    if (reader_connect(w->reader, w->streams, &err) != 0) {
        note_error(w, &w->view.redis_errors, err.text);
        return -1;
    }
    llog_info("redis: connected to %s:%d, group '%s' at the database's progress",
              w->cfg->redis.host, w->cfg->redis.port, w->cfg->group);
    publish(w);
    return 0;
}

/* Writes the n entries in hand until it works. Returns 0, 1 when asked to
 * stop first (nothing acknowledged: the entries stay pending), or -1 on a
 * fatal database error. */
static int store(struct writer *w, uint32_t n)
{
    for (;;) {
        bool fatal = false;
        if (ensure_db(w, &fatal) == 0) {
            struct db_error err = {0};
            lbatch_build(w->batch, w->entries, n, w->streams, w->cfg->prefix_count);
            uint64_t reconciled = w->view.counts.reconciled;
            if (lbatch_write(w->batch, w->db, w->cache, &w->view.counts, &err) == 0) {
                memcpy(w->streams, lbatch_streams(w->batch),
                       w->cfg->prefix_count * sizeof *w->streams);
                w->view.batches++;
                if (w->view.counts.reconciled > reconciled)
                    llog_warn("%llu wallet(s) reconciled: the ledger lacks part of their "
                              "history (see README, Ledger)",
                              (unsigned long long)(w->view.counts.reconciled - reconciled));
                return 0;
            }
            fatal = err.fatal;
            db_close(w->db); /* a new connection after any failure */
            w->db = NULL;
            note_error(w, &w->view.db_errors, err.text);
        }
        if (fatal)
            return -1;
        if (back_off(w))
            return 1;
    }
}

static void check_gaps(struct writer *w)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < w->next_gap_check.tv_sec)
        return;
    w->next_gap_check.tv_sec = now.tv_sec + GAP_CHECK_MS / 1000;
    for (uint32_t i = 0; i < w->cfg->prefix_count && reader_connected(w->reader); i++) {
        struct reader_error err;
        struct proto_id deleted;
        bool gap = false;
        if (reader_check_gap(w->reader, i, w->streams[i].last, &gap, &deleted, &err) != 0) {
            note_error(w, &w->view.redis_errors, err.text);
            return;
        }
        if (gap && !w->gap[i]) {
            char a[PROTO_ID_STR_MAX], b[PROTO_ID_STR_MAX];
            proto_id_format(w->streams[i].last, a, sizeof a);
            proto_id_format(deleted, b, sizeof b);
            llog_error("%s: entries after %s up to %s were trimmed before the ledger stored "
                       "them: they are missing from the ledger (raise the daemon's "
                       "out_maxlen)", w->keys[i], a, b);
            w->view.gaps++;
        }
        w->gap[i] = gap;
    }
}

/* Reads, stores and acknowledges one batch. Returns 0, 1 to stop, -1 on a
 * fatal error. */
static int step(struct writer *w)
{
    bool fatal = false;
    if (ensure_db(w, &fatal) != 0)
        return fatal ? -1 : back_off(w);
    if (ensure_redis(w) != 0)
        return back_off(w);
    uint32_t n = 0;
    struct reader_error err;
    if (reader_read(w->reader, w->entries, w->cfg->batch_entries_max, &n, &w->view.gone,
                    &err) != 0) {
        note_error(w, &w->view.redis_errors, err.text);
        return back_off(w);
    }
    if (n > 0) {
        int rc = store(w, n);
        if (rc != 0)
            return rc;
        if (reader_ack(w->reader, w->entries, n, &err) != 0)
            note_error(w, &w->view.redis_errors, err.text); /* they come back as pending */
    }
    w->backoff_ms = 0;
    check_gaps(w);
    publish(w);
    return 0;
}

static void *run(void *arg)
{
    struct writer *w = arg;
    int rc = 0;
    while (rc == 0 && !stopping(w))
        rc = step(w);
    w->result = rc < 0 ? -1 : 0;
    if (rc < 0)
        llog_error("writer stopped: %s", w->view.last_error);
    w->view.stopped = true;
    publish(w);
    w->done(w->done_arg);
    return NULL;
}

int writer_start(struct writer *w)
{
    LY_ASSERT(!w->started);
    publish(w);
    if (pthread_create(&w->thread, NULL, run, w) != 0)
        return -1;
    w->started = true;
    return 0;
}

int writer_join(struct writer *w)
{
    if (!w->started)
        return 0;
    pthread_join(w->thread, NULL);
    w->started = false;
    return w->result;
}
