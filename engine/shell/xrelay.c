/* xrelay.c - see xrelay.h. A round is a small state machine (enum
 * xround, moved by round_set only); every reply handler first counts its
 * reply in, and a reply that belongs to a dropped round changes nothing
 * but that count. Replies on one route arrive in order, and a route that
 * goes down delivers none of its outstanding ones (link.h: a deaf user),
 * so they are subtracted at its ROUTE_DOWN. */
#include "xrelay.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "ingest.h"
#include "log.h"
#include "lyassert.h"
#include "monotime.h"

enum xround {
    XR_IDLE,   /* nothing in flight for a round */
    XR_MARKER, /* GET marker sent */
    XR_RANGE,  /* XRANGE of the xfer stream sent */
    XR_APPEND, /* XADDs to the partitions' inputs sent */
    XR_NOTE,   /* SET marker (and XTRIM) sent */
    XR_DRAIN,  /* the round failed: waiting for its replies, then a retry */
};

struct xslot {
    struct xrelay *x;
    uint32_t q;              /* the partition */
    bool served, due;        /* a source of this daemon; has entries to carry */
    unsigned pending;        /* relay commands in flight on its route */
    struct route route;      /* to the node of the partition's slot */
    struct commit_keys keys; /* its in and xfer */
    char marker[COMMIT_KEY_MAX + 8];
    struct link_cmd get, range, add, wait, note, trim;
};

struct xrelay {
    const struct config *cfg;
    struct metrics *m;
    struct event *retry;
    struct xslot *slots; /* one per partition of the program */
    uint32_t count;
    enum xround round;
    uint32_t src;       /* the round's partition */
    uint32_t next;      /* where the search for a due partition starts */
    unsigned in_flight; /* relay commands in flight on all routes */
    unsigned awaiting;  /* XADDs (and WAITs) of the round not confirmed yet */
    unsigned carried;   /* entries the round appended */
    bool more, stopped;
    uint64_t warned_us; /* when a failure last logged as a warning */
    char last_id[PROTO_ID_STR_MAX]; /* the round's last entry */
};

static void round_set(struct xrelay *x, enum xround to)
{
    enum xround from = x->round;
    bool ok = to == XR_IDLE ? from != XR_IDLE
            : to == XR_DRAIN ? from != XR_IDLE && from != XR_DRAIN
            : to == XR_MARKER ? from == XR_IDLE
            : (unsigned)to == (unsigned)from + 1u;
    LY_ASSERT(ok);
    x->round = to;
}

static void next_round(struct xrelay *x);

/* After any reply: a drained failed round waits for its retry; an idle
 * relay with nothing in flight starts the next round. */
static void settle(struct xrelay *x)
{
    if (x->in_flight > 0 || x->stopped)
        return;
    if (x->round == XR_DRAIN) {
        round_set(x, XR_IDLE);
        struct timeval tv = {0, XRELAY_RETRY_MS * 1000};
        event_add(x->retry, &tv);
    } else if (x->round == XR_IDLE) {
        next_round(x);
    }
}

/* Drops the round: its partition is due again after XRELAY_RETRY_MS. A
 * round dropped already (a route that went down while a command was being
 * queued reports it first) stays dropped. Failures repeating within
 * XRELAY_QUIET_MS log at debug level. */
static void fail(struct xrelay *x, const char *why)
{
    if (x->round == XR_IDLE || x->round == XR_DRAIN)
        return;
    uint64_t now = monotime_us();
    bool quiet = x->warned_us != 0 && now - x->warned_us < XRELAY_QUIET_MS * 1000ull;
    log_line(quiet ? LOG_DEBUG : LOG_WARN, "transfer relay of partition %u: %s; retrying "
             "from its marker%s", x->src, why, quiet ? "" : " (repeats within 5 s: debug level)");
    if (!quiet)
        x->warned_us = now;
    x->m->relay_failures++;
    x->slots[x->src].due = true;
    round_set(x, XR_DRAIN);
    settle(x);
}

/* Counts a reply on `s` in; true when it belongs to the round in `want`. */
static bool landed(struct xslot *s, const redisReply *r, enum xround want)
{
    struct xrelay *x = s->x;
    LY_ASSERT(s->pending > 0 && x->in_flight > 0);
    s->pending--;
    x->in_flight--;
    if (x->round != want || x->stopped) {
        settle(x);
        return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf(why, sizeof(why), "partition %u answered %.100s", s->q, r->str);
        fail(x, why);
        return false;
    }
    return true;
}

static int relay_send(struct xslot *s, const struct link_cmd *cmd, int argc,
                      const char **argv, const size_t *lens)
{
    if (route_command_argv(&s->route, cmd, argc, argv, lens) != 0) {
        route_reset(&s->route, "transfer relay: a command could not be queued");
        return -1;
    }
    s->pending++;
    s->x->in_flight++;
    return 0;
}

static void send_note(struct xrelay *x)
{
    struct xslot *s = &x->slots[x->src];
    const char *set[] = {"SET", s->marker, x->last_id};
    const char *trim[] = {"XTRIM", s->keys.xfer, "MINID", x->last_id};
    size_t set_len[] = {3, strlen(s->marker), strlen(x->last_id)};
    size_t trim_len[] = {5, strlen(s->keys.xfer), 5, strlen(x->last_id)};
    round_set(x, XR_NOTE);
    if (relay_send(s, &s->note, 3, set, set_len) != 0 ||
        relay_send(s, &s->trim, 4, trim, trim_len) != 0)
        fail(x, "the marker could not be sent");
}

static void on_get(void *owner, const redisReply *r)
{
    struct xslot *s = owner;
    struct xrelay *x = s->x;
    if (!landed(s, r, XR_MARKER))
        return;
    char start[PROTO_ID_STR_MAX + 1] = "-";
    if (r->type == REDIS_REPLY_STRING && r->len < PROTO_ID_STR_MAX)
        snprintf(start, sizeof(start), "(%s", r->str); /* after the last one carried */
    else if (r->type != REDIS_REPLY_NIL) {
        fail(x, "its marker is not an entry id");
        return;
    }
    char count[16];
    snprintf(count, sizeof(count), "%d", XRELAY_BATCH);
    const char *argv[] = {"XRANGE", s->keys.xfer, start, "+", "COUNT", count};
    size_t lens[] = {6, strlen(s->keys.xfer), strlen(start), 1, 5, strlen(count)};
    round_set(x, XR_RANGE);
    if (relay_send(s, &s->range, 6, argv, lens) != 0)
        fail(x, "XRANGE could not be sent");
}

/* The partition field `p` of an xfer entry, or -1. */
static long entry_partition(const redisReply *fields, uint32_t count)
{
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == 1 && k->str[0] == 'p' &&
            v->type == REDIS_REPLY_STRING) {
            char *end;
            unsigned long p = strtoul(v->str, &end, 10);
            return end != v->str && *end == '\0' && p < count ? (long)p : -1;
        }
    }
    return -1;
}

/* XADDs entry `e` ([id, fields]) to its partition's input. Returns 0, or
 * -1 when the round failed. */
static int append(struct xrelay *x, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= PROTO_ID_STR_MAX) {
        fail(x, "its xfer stream answered an entry that is not [id, fields]");
        return -1;
    }
    memcpy(x->last_id, e->element[0]->str, e->element[0]->len + 1);
    const redisReply *m = ingest_field_m(e->element[1]);
    long q = entry_partition(e->element[1], x->count);
    if (m == NULL || q < 0) { /* not ours: our commits write both fields */
        log_error("transfer relay of partition %u: entry %s has no m or partition; skipped",
                  x->src, x->last_id);
        return 0;
    }
    struct xslot *d = &x->slots[q];
    const char *argv[] = {"XADD", d->keys.in, "*", "m", m->str};
    size_t lens[] = {4, strlen(d->keys.in), 1, 1, m->len};
    if (relay_send(d, &d->add, 5, argv, lens) != 0) {
        fail(x, "XADD could not be sent");
        return -1;
    }
    x->awaiting++;
    x->carried++;
    if (x->cfg->wait_replicas == 0)
        return 0;
    /* As a commit does (README, Durability): the marker moves only once
     * the replicas have the appends, or the wait timed out. */
    char n[12], ms[12];
    snprintf(n, sizeof(n), "%u", x->cfg->wait_replicas);
    snprintf(ms, sizeof(ms), "%u", x->cfg->wait_timeout_ms);
    const char *wait[] = {"WAIT", n, ms};
    size_t wait_lens[] = {4, strlen(n), strlen(ms)};
    if (relay_send(d, &d->wait, 3, wait, wait_lens) != 0) {
        fail(x, "WAIT could not be sent");
        return -1;
    }
    x->awaiting++;
    return 0;
}

static void on_range(void *owner, const redisReply *r)
{
    struct xslot *s = owner;
    struct xrelay *x = s->x;
    if (!landed(s, r, XR_RANGE))
        return;
    if (r->type != REDIS_REPLY_ARRAY) {
        fail(x, "XRANGE answered something else than entries");
        return;
    }
    if (r->elements == 0) {
        round_set(x, XR_IDLE); /* all carried */
        settle(x);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        long q = r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 2
                     ? entry_partition(r->element[i]->element[1], x->count) : -1;
        if (q >= 0 && !route_ready(&x->slots[q].route)) {
            char why[96];
            snprintf(why, sizeof(why), "partition %ld's node is not reachable yet", q);
            fail(x, why);
            return;
        }
    }
    round_set(x, XR_APPEND);
    x->awaiting = 0;
    x->carried = 0;
    x->more = r->elements == XRELAY_BATCH;
    for (size_t i = 0; i < r->elements; i++)
        if (append(x, r->element[i]) != 0)
            return;
    if (x->awaiting == 0)
        send_note(x);
}

/* An append's reply, or its WAIT's (fewer replicas within the timeout:
 * carried on anyway, as commits are: availability first). */
static void on_add(void *owner, const redisReply *r)
{
    struct xslot *s = owner;
    struct xrelay *x = s->x;
    if (!landed(s, r, XR_APPEND))
        return;
    LY_ASSERT(x->awaiting > 0);
    if (--x->awaiting == 0)
        send_note(x);
}

static void on_note(void *owner, const redisReply *r)
{
    struct xslot *s = owner;
    struct xrelay *x = s->x;
    if (!landed(s, r, XR_NOTE))
        return;
    log_debug("transfer relay of partition %u: carried up to %s", x->src, x->last_id);
    x->m->transfers_relayed += x->carried;
    if (x->more)
        x->slots[x->src].due = true;
    round_set(x, XR_IDLE);
    settle(x);
}

/* The trim only saves memory: a failure is retried with the next round. */
static void on_trim(void *owner, const redisReply *r)
{
    struct xslot *s = owner;
    (void)r;
    LY_ASSERT(s->pending > 0 && s->x->in_flight > 0);
    s->pending--;
    s->x->in_flight--;
    settle(s->x);
}

/* Starts a round for the next due served partition whose node is up (one
 * that is not waits for its ROUTE_UP). */
static void next_round(struct xrelay *x)
{
    if (x->stopped || x->round != XR_IDLE || x->in_flight > 0)
        return;
    for (uint32_t k = 0; k < x->count; k++) {
        struct xslot *s = &x->slots[(x->next + k) % x->count];
        if (!s->served || !s->due || !route_ready(&s->route))
            continue;
        s->due = false;
        x->src = s->q;
        x->next = (s->q + 1) % x->count;
        const char *argv[] = {"GET", s->marker};
        size_t lens[] = {3, strlen(s->marker)};
        round_set(x, XR_MARKER);
        if (relay_send(s, &s->get, 2, argv, lens) != 0)
            fail(x, "GET could not be sent");
        return;
    }
}

static void on_route(void *owner, enum route_event ev)
{
    struct xslot *s = owner;
    struct xrelay *x = s->x;
    if (ev == ROUTE_DOWN) {
        LY_ASSERT(x->in_flight >= s->pending);
        x->in_flight -= s->pending; /* their replies will not come */
        bool ours = s->pending > 0;
        s->pending = 0;
        if (ours && x->round != XR_IDLE && x->round != XR_DRAIN && !x->stopped)
            fail(x, "a connection went down");
        else
            settle(x);
    } else if (ev == ROUTE_UP && s->served) {
        s->due = true; /* resume from the marker */
        next_round(x);
    } else if (ev == ROUTE_UP) {
        next_round(x); /* a round may have waited for this node */
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    next_round(arg);
}

static int slot_init(struct xslot *s, struct xrelay *x, const struct config *cfg,
                     struct router *r, uint32_t q)
{
    s->x = x;
    s->q = q;
    commit_keys_init(&s->keys, cfg, q);
    snprintf(s->marker, sizeof(s->marker), "%s:relayed", s->keys.xfer);
    struct link_user *u = &s->route.user;
    s->get = (struct link_cmd){on_get, s, "GET (transfer relay marker)", true, u};
    s->range = (struct link_cmd){on_range, s, "XRANGE (transfer relay)", true, u};
    s->add = (struct link_cmd){on_add, s, "XADD (transfer relay)", true, u};
    s->wait = (struct link_cmd){on_add, s, "WAIT (transfer relay)", true, u};
    s->note = (struct link_cmd){on_note, s, "SET (transfer relay marker)", true, u};
    s->trim = (struct link_cmd){on_trim, s, "XTRIM (transfer relay)", true, u};
    return route_init(&s->route, r, s->keys.in, s->keys.prefix, on_route, s);
}

struct xrelay *xrelay_new(struct event_base *base, const struct config *cfg, struct router *r,
                          struct metrics *m, int *err)
{
    *err = 0;
    if (cfg->partitions <= 1)
        return NULL;
    struct xrelay *x = calloc(1, sizeof(*x));
    if (x == NULL || (x->slots = calloc(cfg->partitions, sizeof(x->slots[0]))) == NULL ||
        (x->retry = evtimer_new(base, on_retry, x)) == NULL) {
        xrelay_free(x);
        *err = -1;
        return NULL;
    }
    x->cfg = cfg;
    x->m = m;
    for (uint32_t q = 0; q < cfg->partitions; q++) {
        x->count++;
        if (slot_init(&x->slots[q], x, cfg, r, q) != 0) {
            xrelay_free(x);
            *err = -1;
            return NULL;
        }
    }
    for (uint32_t i = 0; i < cfg->serve_count; i++)
        x->slots[cfg->serve[i]].served = true;
    return x;
}

void xrelay_free(struct xrelay *x)
{
    if (x == NULL)
        return;
    for (uint32_t q = 0; x->slots != NULL && q < x->count; q++)
        route_free(&x->slots[q].route);
    if (x->retry != NULL)
        event_free(x->retry);
    free(x->slots);
    free(x);
}

void xrelay_start(struct xrelay *x)
{
    for (uint32_t q = 0; q < x->count; q++)
        route_start(&x->slots[q].route);
}

void xrelay_stop(struct xrelay *x)
{
    x->stopped = true;
    event_del(x->retry);
    for (uint32_t q = 0; q < x->count; q++)
        route_release(&x->slots[q].route);
}

void xrelay_kick(struct xrelay *x, uint32_t p)
{
    LY_ASSERT(p < x->count && x->slots[p].served);
    x->slots[p].due = true;
    next_round(x);
}
