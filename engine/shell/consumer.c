/* consumer.c - see consumer.h: wiring the route, the cursor and the
 * pipeline together, and stopping.
 *
 * Ownership: the consumer owns its route and its two other parts
 * (embedded: their handlers hold pointers into this struct, which never
 * moves) and the stop timer; the router owns the connections.
 */
#include "consumer.h"

#include <stdlib.h>

#include <event2/event.h>

#include "commit.h"
#include "log.h"
#include "lyassert.h"
#include "phase.h"

struct consumer {
    struct commit_keys keys;
    enum consumer_phase phase;
    struct route route;
    struct pipeline pl;
    struct cursor cur;
    struct rulesync rs;
    struct event *stop_timer;
    void (*done)(void *);
    void *done_arg;
};

static void finish_stop(struct consumer *c)
{
    if (c->phase == PHASE_STOPPED)
        return;
    phase_set(&c->phase, PHASE_STOPPED);
    pipeline_stop_ticks(&c->pl);
    event_del(c->stop_timer);
    /* Stopping ends with the route released: no reply reaches a handler
     * after this (link.h: a deaf user). Its ROUTE_DOWN finds us stopped. */
    if (c->route.state != ROUTE_S_CLOSED)
        route_release(&c->route);
    if (c->done != NULL)
        c->done(c->done_arg);
}

/* The route's news moves the phase; the cursor takes over when it comes
 * up. A fenced partition hears nothing more: it is not served. */
static void on_route(void *owner, enum route_event ev)
{
    struct consumer *c = owner;
    if (route_closing(&c->route)) {
        if (ev == ROUTE_DOWN)
            finish_stop(c);
        return;
    }
    if (c->phase == PHASE_FENCED)
        return;
    switch (ev) {
    case ROUTE_CONNECTING:
        phase_set(&c->phase, PHASE_CONNECTING);
        break;
    case ROUTE_UP:
        rulesync_link_up(&c->rs);
        phase_set(&c->phase, PHASE_SETUP);
        cursor_begin(&c->cur);
        break;
    case ROUTE_DOWN:
        if (c->phase != PHASE_BEHIND) /* BEHIND waits for the next attempt */
            phase_set(&c->phase, PHASE_IDLE);
        break;
    }
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct consumer *c = arg;
    log_warn("shutdown: Redis did not confirm the last commit of %s in time; it will be "
             "reconciled at the next start", c->keys.prefix);
    finish_stop(c);
}

struct consumer *consumer_new(struct event_base *base, const struct config *cfg,
                              struct router *r, uint32_t partition, struct state *st,
                              struct metrics *m)
{
    struct consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->phase = PHASE_IDLE;
    commit_keys_init(&c->keys, cfg, partition);
    int rc = route_init(&c->route, r, c->keys.in, c->keys.prefix, on_route, c);
    rc |= pipeline_init(&c->pl, base, cfg, st, m, &c->route, &c->keys, &c->phase);
    rc |= rulesync_init(&c->rs, cfg, st, &c->route, &c->keys, partition);
    pipeline_set_rulesync(&c->pl, &c->rs);
    cursor_init(&c->cur, cfg, st, m, &c->route, &c->pl, &c->keys, &c->phase);
    c->stop_timer = evtimer_new(base, on_stop_deadline, c);
    if (rc != 0 || c->stop_timer == NULL) {
        consumer_free(c);
        return NULL;
    }
    return c;
}

void consumer_free(struct consumer *c)
{
    if (c == NULL)
        return;
    route_free(&c->route);
    pipeline_free(&c->pl);
    rulesync_free(&c->rs);
    if (c->stop_timer)
        event_free(c->stop_timer);
    free(c);
}

void consumer_start(struct consumer *c)
{
    pipeline_start_ticks(&c->pl);
    route_start(&c->route);
}

void consumer_stop(struct consumer *c, unsigned grace_ms, void (*done)(void *), void *arg)
{
    if (route_closing(&c->route) || c->phase == PHASE_STOPPED)
        return;
    c->done = done;
    c->done_arg = arg;
    pipeline_stop_ticks(&c->pl);
    route_close(&c->route); /* releases it unless UP */
    if (!route_ready(&c->route)) {
        finish_stop(c);
        return;
    }
    struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};
    event_add(c->stop_timer, &tv);
    /* Entries a read in progress got are read again at the next start; a
     * fenced partition's commits will never be confirmed. */
    if (pipeline_in_flight(&c->pl) == 0 || c->phase == PHASE_FENCED)
        finish_stop(c);
}

void consumer_take(struct consumer *c) { cursor_set_take(&c->cur); }

void consumer_set_hooks(struct consumer *c, consumer_committed_fn *committed,
                        consumer_reload_fn *reload, void *arg)
{
    pipeline_set_committed_hook(&c->pl, committed, arg);
    cursor_set_reload(&c->cur, reload, arg);
}

void consumer_set_landed(struct consumer *c, consumer_landed_fn *landed, void *arg)
{
    pipeline_set_landed(&c->pl, landed, arg);
}

void consumer_set_apply(struct consumer *c, ingest_apply_fn *apply, const void *arg)
{
    pipeline_set_apply(&c->pl, apply, arg);
    rulesync_disable(&c->rs); /* its own rules: no rulebook of ours to append */
}

int consumer_want_rules(struct consumer *c, const struct rulebook *rb, const char *label)
{
    return rulesync_want(&c->rs, rb, label);
}

const char *consumer_file_rules(const struct consumer *c)
{
    return rulesync_file_hash(&c->rs);
}

void consumer_set_blocking(struct consumer *c, bool blocking)
{
    pipeline_set_blocking(&c->pl, blocking);
}

void consumer_trim(struct consumer *c, struct proto_id min_id)
{
    pipeline_trim(&c->pl, min_id);
}

const char *consumer_status(const struct consumer *c)
{
    if (route_closing(&c->route))
        return c->phase == PHASE_STOPPED ? "stopped" : "stopping";
    switch (c->phase) {
    case PHASE_IDLE:
    case PHASE_CONNECTING: return "connecting";
    case PHASE_SETUP:
    case PHASE_REPLAY:
    case PHASE_RESEND:
    case PHASE_CATCHUP: return "recovering";
    case PHASE_LIVE: return "consuming";
    case PHASE_BEHIND: return "redis_behind";
    case PHASE_FENCED: return "fenced";
    case PHASE_STOPPED: return "stopped";
    case PHASE_COUNT: break;
    }
    return "unknown";
}

bool consumer_all_committed(const struct consumer *c)
{
    return pipeline_in_flight(&c->pl) == 0;
}

bool consumer_healthy(const struct consumer *c)
{
    return c->phase == PHASE_LIVE && !route_closing(&c->route);
}

bool consumer_behind(const struct consumer *c) { return c->phase == PHASE_BEHIND; }

const char *consumer_prefix(const struct consumer *c) { return c->keys.prefix; }

const char *consumer_node(const struct consumer *c) { return route_node_name(&c->route); }
