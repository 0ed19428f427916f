/* daemon.c - see daemon.h. */
#include "daemon.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "consumer.h"
#include "dlqring.h"
#include "fleet.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"

#define DAEMON_STOP_GRACE_MS 10000 /* wait this long for the last commits */

struct daemon {
    const struct config *cfg;
    const char *config_path; /* re-read on SIGHUP; NULL: built-in defaults */
    struct event_base *base;
    struct metrics metrics;
    struct fleet *fleet;
    struct http *http;
    struct notify *notify;
    struct dlqring *dlq;
    struct archiver *archiver; /* NULL unless trim_input and archive */
    bool stopping;
    struct event *sigterm;
    struct event *sigint;
};

static void on_stopped(void *arg)
{
    struct daemon *d = arg;
    uint64_t members = 0;
    for (uint32_t i = 0; i < fleet_count(d->fleet); i++) {
        struct part *pt = fleet_part(d->fleet, i);
        part_final_snapshot(pt);
        members += pt->st.members.count;
    }
    if (fleet_count(d->fleet) == 1)
        log_info("stopped: last entry applied %llu-%llu, %llu members",
                 (unsigned long long)fleet_part(d->fleet, 0)->st.last_id.ms,
                 (unsigned long long)fleet_part(d->fleet, 0)->st.last_id.seq,
                 (unsigned long long)members);
    else
        log_info("stopped: %u partitions, %llu members", fleet_count(d->fleet),
                 (unsigned long long)members);
    event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;
    log_info("%s: finishing the batches in hand, then stopping",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_stopping(d->notify);
    fleet_stop(d->fleet, DAEMON_STOP_GRACE_MS, on_stopped, d);
}

/* Makes rulebook `rb` the one each served partition's consumer appends to
 * its input once caught up (rulesync.h). Returns 0, or -1 when out of
 * memory. */
static int want_rules(struct daemon *d, const struct rulebook *rb, const char *label)
{
    for (uint32_t i = 0; i < fleet_count(d->fleet); i++)
        if (consumer_want_rules(fleet_part(d->fleet, i)->consumer, rb, label) != 0)
            return -1;
    return 0;
}

/* SIGHUP: the rule sections of the configuration file, read again, become
 * the version in force through the log of every served partition
 * (rulesync.h). A file that does not load changes nothing: the daemon
 * carries on with the version in force. */
static int reload_rules(void *arg)
{
    struct daemon *d = arg;
    struct config_error err;
    if (d->config_path == NULL || !d->cfg->append_file_rulebook) {
        log_info("SIGHUP: %s: nothing to reload (push a rulebook instead: loyaltyctl rules "
                 "push)", d->config_path ? "append_file_rulebook is false"
                                         : "no configuration file");
        return 0;
    }
    struct config *fresh = malloc(sizeof(*fresh));
    if (fresh == NULL) {
        log_error("SIGHUP: out of memory; carrying on with the rulebook in force");
        return -1;
    }
    config_defaults(fresh);
    int rc = config_load(fresh, d->config_path, &err);
    if (rc != 0)
        log_error("SIGHUP: %s; carrying on with the rulebook in force", err.text);
    else if ((rc = want_rules(d, &fresh->rules, "SIGHUP reload")) != 0)
        log_error("SIGHUP: out of memory; carrying on with the rulebook in force");
    else
        log_info("SIGHUP: %s read: rulebook %s (daemon settings are read at start only)",
                 d->config_path, consumer_file_rules(fleet_part(d->fleet, 0)->consumer));
    free(fresh);
    return rc;
}

static int start(struct daemon *d, const char *take)
{
    struct config_error err;
    d->base = event_base_new();
    d->dlq = dlqring_new();
    if (d->base == NULL || d->dlq == NULL) {
        log_error("start-up: out of memory");
        return -1;
    }
    struct fleet_options o = {true, NULL, NULL, d->dlq};
    d->fleet = fleet_new(d->base, d->cfg, &d->metrics, &o);
    if (d->fleet == NULL)
        return -1;
    if (take != NULL && fleet_take(d->fleet, take) != 0) {
        log_error("start-up: --take-partitions %s: not partitions this daemon serves", take);
        return -1;
    }
    d->notify = notify_new(d->base, d->fleet);
    if (d->notify == NULL ||
        (d->cfg->append_file_rulebook && want_rules(d, &d->cfg->rules, "start-up") != 0)) {
        log_error("start-up: cannot set up systemd notification or SIGHUP");
        return -1;
    }
    notify_set_reload(d->notify, reload_rules, d);
    struct http_sources src = {d->cfg, d->fleet, &d->metrics, d->dlq, d->fleet};
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
    fleet_free(d->fleet);
    dlqring_free(d->dlq);
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
    return 0;
}

int daemon_run(const struct config *cfg, const char *take, const char *config_path)
{
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    d.config_path = config_path;
    int rc = start(&d, take);
    if (rc == 0) {
        if (cfg->partitions == 1)
            log_info("listening on http://%s:%d, Redis %s:%d, streams %sin -> %sout",
                     cfg->http.host, cfg->http.port, cfg->redis.host, cfg->redis.port,
                     cfg->prefix, cfg->prefix);
        else
            log_info("listening on http://%s:%d, Redis %s:%d%s, serving %u of %u partitions "
                     "(%s{p}:in -> %s{p}:out)", cfg->http.host, cfg->http.port,
                     cfg->redis.host, cfg->redis.port, cfg->cluster ? " (cluster)" : "",
                     cfg->serve_count, cfg->partitions, cfg->prefix, cfg->prefix);
        fleet_start(d.fleet);
        event_base_dispatch(d.base);
    }
    stop(&d);
    return rc;
}
