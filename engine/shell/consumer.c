/* consumer.c - see consumer.h: wiring the link, the cursor and the
 * pipeline together, and stopping.
 *
 * Ownership: the consumer owns its three parts (embedded: their handlers
 * hold pointers into this struct, which never moves) and the stop timer.
 */
#include "consumer.h"

#include <stdlib.h>

#include <event2/event.h>

#include "commit.h"
#include "fenced.h"
#include "link.h"
#include "log.h"
#include "lyassert.h"
#include "phase.h"

struct consumer {
    struct commit_keys keys;
    enum consumer_phase phase;
    struct link link;
    struct pipeline pl;
    struct cursor cur;
    struct link_cmd load;
    struct event *stop_timer;
    void (*done)(void *);
    void *done_arg;
};

static void finish_stop(struct consumer *c)
{
    if (c->phase == PHASE_STOPPED)
        return;
    /* Stopping ends with no connection: no reply, and so no handler, can
     * come after this. */
    LY_ASSERT(!link_connected(&c->link));
    phase_set(&c->phase, PHASE_STOPPED);
    link_disarm(&c->link);
    pipeline_stop_ticks(&c->pl);
    event_del(c->stop_timer);
    if (c->done != NULL)
        c->done(c->done_arg);
}

static void on_load(void *owner, const redisReply *r)
{
    (void)owner;
    (void)r; /* an error drops the connection (link.h): the claim needs it */
}

/* The link's news moves the phase; the cursor takes over a new connection
 * once the fenced library is loaded (queued first: Redis runs it first).
 * A fenced partition hears nothing more: it is not served. */
static void on_link(void *owner, enum link_event ev)
{
    struct consumer *c = owner;
    if (c->phase == PHASE_FENCED && !(ev == LINK_DOWN && link_closing(&c->link)))
        return;
    switch (ev) {
    case LINK_CONNECTING:
        phase_set(&c->phase, PHASE_CONNECTING);
        break;
    case LINK_UP:
        phase_set(&c->phase, PHASE_SETUP);
        if (link_command(&c->link, &c->load, "FUNCTION LOAD REPLACE %s",
                         fenced_library_code) != 0) {
            link_drop(&c->link, "cannot queue FUNCTION LOAD");
            break;
        }
        cursor_begin(&c->cur);
        break;
    case LINK_DOWN:
        if (link_closing(&c->link))
            finish_stop(c);
        else if (c->phase != PHASE_BEHIND) /* BEHIND waits for a reconnection */
            phase_set(&c->phase, PHASE_IDLE);
        break;
    }
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct consumer *c = arg;
    log_warn("shutdown: Redis did not confirm the last commit in time; it will be "
             "reconciled at the next start");
    if (link_connected(&c->link))
        link_hangup(&c->link); /* LINK_DOWN finishes the stop */
    else
        finish_stop(c);
}

struct consumer *consumer_new(struct event_base *base, const struct config *cfg,
                              uint32_t partition, struct state *st, struct metrics *m)
{
    struct consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->phase = PHASE_IDLE;
    c->load = (struct link_cmd){on_load, c, "FUNCTION LOAD", false};
    commit_keys_init(&c->keys, cfg, partition);
    int rc = link_init(&c->link, base, cfg, m, on_link, c);
    rc |= pipeline_init(&c->pl, base, cfg, partition, st, m, &c->link, &c->keys, &c->phase);
    cursor_init(&c->cur, cfg, st, m, &c->link, &c->pl, &c->keys, &c->phase);
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
    c->done = NULL;
    link_free(&c->link); /* a connection still open finishes the stop */
    pipeline_free(&c->pl);
    if (c->stop_timer)
        event_free(c->stop_timer);
    free(c);
}

void consumer_start(struct consumer *c)
{
    pipeline_start_ticks(&c->pl);
    link_start(&c->link);
}

void consumer_stop(struct consumer *c, unsigned grace_ms, void (*done)(void *), void *arg)
{
    if (link_closing(&c->link))
        return;
    link_close(&c->link);
    c->done = done;
    c->done_arg = arg;
    pipeline_stop_ticks(&c->pl);
    if (!link_connected(&c->link)) {
        finish_stop(c);
        return;
    }
    struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};
    event_add(c->stop_timer, &tv);
    /* Entries a read in progress got are read again at the next start; a
     * fenced partition's commits will never be confirmed. */
    if (pipeline_in_flight(&c->pl) == 0 || c->phase == PHASE_FENCED)
        link_hangup(&c->link);
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
}

void consumer_trim(struct consumer *c, struct proto_id min_id)
{
    pipeline_trim(&c->pl, min_id);
}

const char *consumer_status(const struct consumer *c)
{
    if (link_closing(&c->link))
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
    return c->phase == PHASE_LIVE && !link_closing(&c->link);
}
