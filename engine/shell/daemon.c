/* daemon.c - see daemon.h. */
#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "consumer.h"
#include "dlqring.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "snapdir.h"
#include "snapper.h"
#include "state.h"

#define DAEMON_STOP_GRACE_MS 10000 /* wait this long for the last commit */

struct daemon {
    const struct config *cfg;
    struct event_base *base;
    struct state st;
    struct metrics metrics;
    struct consumer *consumer;
    struct http *http;
    struct snapdir snapdir;
    struct snapper *snapper;
    struct notify *notify;
    struct dlqring *dlq;
    struct event *sigterm;
    struct event *sigint;
};

static void on_stopped(void *arg)
{
    struct daemon *d = arg;
    /* A snapshot must not hold effects Redis has not committed; with a
     * commit unconfirmed, the next start reconciles from the last one. */
    if (consumer_all_committed(d->consumer))
        snapper_write_now(d->snapper);
    else
        log_warn("shutdown: the last commit is unconfirmed; no snapshot written");
    log_info("stopped: last entry applied %llu-%llu, %u members",
             (unsigned long long)d->st.last_id.ms, (unsigned long long)d->st.last_id.seq,
             (unsigned)d->st.members.count);
    event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;
    log_info("%s: finishing the batch in hand, then stopping",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_stopping(d->notify);
    consumer_stop(d->consumer, DAEMON_STOP_GRACE_MS, on_stopped, d);
}

/* A snapshot needs the state to equal what Redis holds: when one is due,
 * reading holds until no batch is in flight. */
static bool on_committed(void *arg, bool idle)
{
    struct daemon *d = arg;
    if (!snapper_due(d->snapper))
        return false;
    if (!idle)
        return true;
    snapper_maybe(d->snapper);
    return false;
}

static void on_snapshot_written(void *arg, struct proto_id oldest_kept)
{
    struct daemon *d = arg;
    consumer_trim(d->consumer, oldest_kept);
}

static void on_landed(void *arg, const struct batch *b)
{
    struct daemon *d = arg;
    dlqring_add_batch(d->dlq, b);
}

/* Replaces the state with the newest snapshot not after `not_after`, or
 * with an empty state when there is none (then the whole stream is
 * replayed, if Redis still has it: the consumer checks). */
static int reload(void *arg, struct proto_id not_after)
{
    struct daemon *d = arg;
    snapper_reset(d->snapper); /* first: a writer of the old state must not land */
    dlqring_clear(d->dlq);     /* its rejections will be committed again */
    state_free(&d->st);
    if (state_init(&d->st, &d->cfg->rules, d->cfg->members_max) != 0)
        return -1;
    if (snapdir_load(&d->snapdir, &d->cfg->rules, d->cfg->members_max, not_after, &d->st) < 0)
        return -1;
    snapdir_discard_after(&d->snapdir, not_after);
    snapper_reset(d->snapper);
    return 0;
}

static int open_state(struct daemon *d)
{
    struct snapshot_error serr;
    struct proto_id newest = {UINT64_MAX, UINT64_MAX};
    char dir[CONFIG_PATH_MAX + 16];
    /* One partition: the data dir itself, as before partitions existed. */
    if (d->cfg->partitions == 1)
        snprintf(dir, sizeof(dir), "%s", d->cfg->data_dir);
    else
        snprintf(dir, sizeof(dir), "%s/p%u", d->cfg->data_dir, d->cfg->serve[0]);
    if (snapdir_open(&d->snapdir, dir, d->cfg->snapshot_keep, log_snapdir, &serr) != 0) {
        log_error("start-up: %s", serr.text);
        return -1;
    }
    if (state_init(&d->st, &d->cfg->rules, d->cfg->members_max) != 0 ||
        snapdir_load(&d->snapdir, &d->cfg->rules, d->cfg->members_max, newest, &d->st) < 0) {
        log_error("start-up: out of memory");
        return -1;
    }
    if (d->st.members.count == 0 && d->st.last_id.ms == 0)
        log_info("no snapshot in %s: state will be rebuilt from the input stream",
                 d->cfg->data_dir);
    return 0;
}

static int start(struct daemon *d)
{
    struct config_error err;
    d->snapdir.lock_fd = -1;
    d->base = event_base_new();
    if (d->base == NULL) {
        log_error("start-up: out of memory");
        return -1;
    }
    if (open_state(d) != 0)
        return -1;
    d->consumer = consumer_new(d->base, d->cfg, d->cfg->serve[0], &d->st, &d->metrics);
    d->snapper = snapper_new(d->base, d->cfg, &d->st, &d->snapdir, &d->metrics,
                             on_snapshot_written, d);
    d->dlq = dlqring_new();
    if (d->consumer == NULL || d->snapper == NULL || d->dlq == NULL) {
        log_error("start-up: out of memory");
        return -1;
    }
    consumer_set_hooks(d->consumer, on_committed, reload, d);
    consumer_set_landed(d->consumer, on_landed, d);
    d->notify = notify_new(d->base, d->consumer);
    if (d->notify == NULL) {
        log_error("start-up: cannot set up systemd notification or SIGHUP");
        return -1;
    }
    struct http_sources src = {d->cfg, &d->st, &d->metrics, d->consumer, d->dlq};
    d->http = http_new(d->base, &src, &err);
    if (d->http == NULL) {
        log_error("start-up: %s", err.text);
        return -1;
    }
    d->sigterm = evsignal_new(d->base, SIGTERM, on_signal, d);
    d->sigint = evsignal_new(d->base, SIGINT, on_signal, d);
    if (d->sigterm == NULL || d->sigint == NULL || evsignal_add(d->sigterm, NULL) != 0 ||
        evsignal_add(d->sigint, NULL) != 0) {
        log_error("start-up: cannot install signal handlers");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void stop(struct daemon *d)
{
    if (d->sigterm)
        event_free(d->sigterm);
    if (d->sigint)
        event_free(d->sigint);
    http_free(d->http);
    notify_free(d->notify);
    consumer_free(d->consumer);
    snapper_free(d->snapper);
    dlqring_free(d->dlq);
    state_free(&d->st);
    snapdir_close(&d->snapdir);
    if (d->base)
        event_base_free(d->base);
}

static int apply_overrides(struct config *cfg, const struct daemon_overrides *o,
                           const char *prog)
{
    struct config_error err;
    if (o->redis && cfg_parse_endpoint(o->redis, &cfg->redis, &err) != 0) {
        fprintf(stderr, "%s: --redis: %s\n", prog, err.text);
        return -1;
    }
    if (o->http && cfg_parse_endpoint(o->http, &cfg->http, &err) != 0) {
        fprintf(stderr, "%s: --http: %s\n", prog, err.text);
        return -1;
    }
    if (o->data) {
        if (strlen(o->data) == 0 || strlen(o->data) > CONFIG_PATH_MAX) {
            fprintf(stderr, "%s: --data: path must be 1..%d bytes\n", prog, CONFIG_PATH_MAX);
            return -1;
        }
        snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", o->data);
    }
    char why[160];
    if (o->serve && config_parse_serve(o->serve, cfg->partitions, cfg->serve, &cfg->serve_count,
                                       why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: --serve: %s\n", prog, why);
        return -1;
    }
    return 0;
}

/* --take-partitions names partitions this daemon serves. */
static int check_take(const struct config *cfg, const char *take, const char *prog)
{
    static uint16_t list[PARTITION_COUNT_MAX];
    uint32_t n = 0;
    char why[160];
    if (config_parse_serve(take, cfg->partitions, list, &n, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: --take-partitions: %s\n", prog, why);
        return -1;
    }
    for (uint32_t i = 0, k = 0; i < n; i++) {
        while (k < cfg->serve_count && cfg->serve[k] < list[i])
            k++;
        if (k == cfg->serve_count || cfg->serve[k] != list[i]) {
            fprintf(stderr, "%s: --take-partitions: partition %u is not served by this "
                            "daemon (daemon.serve or --serve)\n", prog, list[i]);
            return -1;
        }
    }
    return 0;
}

int daemon_configure(struct config *cfg, const char *path, const struct daemon_overrides *o,
                     const char *prog)
{
    struct config_error err;
    config_defaults(cfg);
    if (path && config_load(cfg, path, &err) != 0) {
        fprintf(stderr, "%s: bad configuration: %s\n", prog, err.text);
        return -1;
    }
    if (o != NULL && apply_overrides(cfg, o, prog) != 0)
        return -1;
    if (config_finish(cfg, &err) != 0) {
        fprintf(stderr, "%s: bad configuration: %s\n", prog, err.text);
        return -1;
    }
    if (o != NULL && o->take != NULL && check_take(cfg, o->take, prog) != 0)
        return -1;
    if (cfg->serve_count != 1) {
        fprintf(stderr, "%s: bad configuration: this build serves one partition per daemon: "
                        "set daemon.serve to one of the %u partitions\n", prog, cfg->partitions);
        return -1;
    }
    return 0;
}

int daemon_run(const struct config *cfg, const char *take)
{
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    int rc = start(&d);
    if (rc == 0 && take != NULL)
        consumer_take(d.consumer); /* the one partition served (checked) */
    if (rc == 0) {
        log_info("listening on http://%s:%d, Redis %s:%d, streams %sin -> %sout",
                 cfg->http.host, cfg->http.port, cfg->redis.host, cfg->redis.port, cfg->prefix,
                 cfg->prefix);
        consumer_start(d.consumer);
        event_base_dispatch(d.base);
    }
    stop(&d);
    return rc;
}
