/* daemon.c - see daemon.h. */
#include "daemon.h"

#include <signal.h>
#include <string.h>

#include <event2/event.h>

#include "consumer.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "state.h"

#define DAEMON_STOP_GRACE_MS 10000 /* wait this long for the last commit */

struct daemon {
    const struct config *cfg;
    struct event_base *base;
    struct state st;
    struct metrics metrics;
    struct consumer *consumer;
    struct http *http;
    struct event *sigterm;
    struct event *sigint;
};

static void on_stopped(void *arg)
{
    struct daemon *d = arg;
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
    consumer_stop(d->consumer, DAEMON_STOP_GRACE_MS, on_stopped, d);
}

static int start(struct daemon *d)
{
    struct config_error err;
    d->base = event_base_new();
    if (d->base == NULL || state_init(&d->st, d->cfg) != 0) {
        log_error("start-up: out of memory");
        return -1;
    }
    d->consumer = consumer_new(d->base, d->cfg, &d->st, &d->metrics);
    if (d->consumer == NULL) {
        log_error("start-up: out of memory");
        return -1;
    }
    struct http_sources src = {d->cfg, &d->st, &d->metrics, d->consumer};
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
    consumer_free(d->consumer);
    state_free(&d->st);
    if (d->base)
        event_base_free(d->base);
}

int daemon_run(const struct config *cfg)
{
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    int rc = start(&d);
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
