/* router.c - see router.h.
 *
 * Ownership: the router owns its nodes (and their links); routes live in
 * their owners' structs and are linked into the router's list. Links call
 * back into routes (their users) until the links are freed, which is why
 * router_free comes before the routes' owners are freed.
 */
#include "router.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fenced.h"
#include "log.h"
#include "lyassert.h"
#include "monotime.h"

struct router_node {
    struct router *r;
    struct link link;
    bool started; /* link_start called */
    bool up;      /* the current connection is up and has the library queued */
    struct link_cmd load, slots;
};

struct router {
    struct event_base *base;
    const struct config *cfg;
    struct metrics *m;
    struct router_node *nodes[ROUTER_NODES_MAX];
    uint32_t node_count;
    uint8_t slot_node[SLOT_COUNT]; /* node index + 1; 0: not known */
    bool map_known;
    bool refreshing;               /* a CLUSTER SLOTS is awaited */
    bool closing;
    struct route *routes;
    struct event *refresh_timer;
};

static void home(struct route *rt);
static void restart(struct route *rt, const char *why, unsigned pause_ms);
static void on_node(void *owner, enum link_event ev);

static struct route *route_of(struct link_user *u)
{
    return (struct route *)(void *)((char *)u - offsetof(struct route, user));
}

/* ---- nodes ---------------------------------------------------------------- */

static void ignore_reply(void *owner, const redisReply *r)
{
    (void)owner;
    (void)r;
}

static void on_slots(void *owner, const redisReply *r);

/* The node at `ep`, added (not connected yet) when new. Returns its
 * index, or -1 when ROUTER_NODES_MAX are known already (logged). */
static int node_at(struct router *r, const struct config_endpoint *ep)
{
    for (uint32_t i = 0; i < r->node_count; i++) {
        const struct config_endpoint *known = &r->nodes[i]->link.ep;
        if (known->port == ep->port && strcmp(known->host, ep->host) == 0)
            return (int)i;
    }
    if (r->node_count == ROUTER_NODES_MAX) {
        log_error("redis: more than %d nodes; %s:%d is ignored", ROUTER_NODES_MAX, ep->host,
                  ep->port);
        return -1;
    }
    struct router_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return -1;
    n->r = r;
    n->load = (struct link_cmd){ignore_reply, n, "FUNCTION LOAD", false, NULL};
    n->slots = (struct link_cmd){on_slots, n, "CLUSTER SLOTS", true, NULL};
    if (link_init(&n->link, r->base, r->cfg, ep, r->m, on_node, n) != 0) {
        link_free(&n->link);
        free(n);
        return -1;
    }
    r->nodes[r->node_count] = n;
    return (int)r->node_count++;
}

static void node_start(struct router_node *n)
{
    if (!n->started && !n->r->closing) {
        n->started = true;
        link_start(&n->link);
    }
}

/* Reads the slot map again from a node that is up (the seed, when none is). */
static void refresh(struct router *r)
{
    if (!r->cfg->cluster || r->refreshing || r->closing)
        return;
    for (uint32_t i = 0; i < r->node_count; i++) {
        struct router_node *n = r->nodes[i];
        if (!n->up)
            continue;
        if (link_command(&n->link, &n->slots, "CLUSTER SLOTS") != 0) {
            link_drop(&n->link, "cannot queue CLUSTER SLOTS");
            return;
        }
        r->refreshing = true;
        return;
    }
    node_start(r->nodes[0]);
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct router *r = arg;
    for (struct route *rt = r->routes; rt != NULL; rt = rt->next)
        if (rt->state == ROUTE_S_WAIT) {
            refresh(r);
            return;
        }
}

/* One entry of CLUSTER SLOTS: [start, end, [host, port, id...], replicas...]. */
static int map_range(struct router *r, const struct router_node *asked, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    long long lo = e->element[0]->integer, hi = e->element[1]->integer;
    const redisReply *m = e->element[2];
    if (lo < 0 || hi < lo || hi >= SLOT_COUNT || m->type != REDIS_REPLY_ARRAY ||
        m->elements < 2 || m->element[0]->type != REDIS_REPLY_STRING ||
        m->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    struct config_endpoint ep;
    /* An empty host: the node answering does not know its own address. */
    const char *host = m->element[0]->len ? m->element[0]->str : asked->link.ep.host;
    if (strlen(host) > CONFIG_HOST_MAX || m->element[1]->integer < 1 ||
        m->element[1]->integer > 65535)
        return -1;
    snprintf(ep.host, sizeof(ep.host), "%s", host);
    ep.port = (int)m->element[1]->integer;
    int idx = node_at(r, &ep);
    for (long long s = lo; s <= hi; s++)
        r->slot_node[s] = (uint8_t)(idx + 1); /* 0 when it could not be added */
    return 0;
}

/* The map changed: every route not on its slot's node finds it again. */
static void rehome_all(struct router *r)
{
    for (struct route *rt = r->routes; rt != NULL; rt = rt->next) {
        int want = r->slot_node[rt->slot] - 1;
        if (rt->state == ROUTE_S_WAIT)
            home(rt);
        else if (rt->state == ROUTE_S_UP && want >= 0 && want != rt->node) {
            char why[160];
            snprintf(why, sizeof(why), "the slot map says slot %u is served by %s now, not %s",
                     rt->slot, link_name(&r->nodes[want]->link),
                     link_name(&r->nodes[rt->node]->link));
            restart(rt, why, 0);
        }
    }
}

static void on_slots(void *owner, const redisReply *r)
{
    struct router_node *n = owner;
    struct router *rt = n->r;
    rt->refreshing = false;
    if (r->type != REDIS_REPLY_ARRAY) {
        log_error("redis: CLUSTER SLOTS on %s: %.*s (daemon.cluster is set: is this a cluster "
                  "node?)", link_name(&n->link), r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
                  r->type == REDIS_REPLY_ERROR ? r->str : "");
        return;
    }
    memset(rt->slot_node, 0, sizeof(rt->slot_node));
    for (size_t i = 0; i < r->elements; i++)
        if (map_range(rt, n, r->element[i]) != 0) {
            log_error("redis: malformed CLUSTER SLOTS entry %zu from %s", i,
                      link_name(&n->link));
            return;
        }
    rt->map_known = true;
    log_debug("redis: slot map read from %s: %zu ranges, %u nodes", link_name(&n->link),
              r->elements, rt->node_count);
    rehome_all(rt);
}

/* The routes waiting on node `idx` come up. */
static void node_up(struct router *r, int idx)
{
    for (struct route *rt = r->routes; rt != NULL; rt = rt->next)
        if (rt->state == ROUTE_S_WAIT && rt->node == idx) {
            rt->state = ROUTE_S_UP;
            rt->on_event(rt->owner, ROUTE_UP);
        }
}

static int node_index(const struct router *r, const struct router_node *n)
{
    for (uint32_t i = 0; i < r->node_count; i++)
        if (r->nodes[i] == n)
            return (int)i;
    LY_ASSERT(!"a node not in its router");
    return -1;
}

static void on_node(void *owner, enum link_event ev)
{
    struct router_node *n = owner;
    struct router *r = n->r;
    int idx = node_index(r, n);
    if (ev == LINK_UP) {
        if (link_command(&n->link, &n->load, "FUNCTION LOAD REPLACE %s",
                         fenced_library_code) != 0) {
            link_drop(&n->link, "cannot queue FUNCTION LOAD");
            return;
        }
        n->up = true;
        if (r->cfg->cluster) {
            r->refreshing = false; /* a reply awaited elsewhere may never come */
            refresh(r);
        }
        node_up(r, idx);
        return;
    }
    n->up = false;
    if (ev != LINK_DOWN)
        return;
    /* Routes waiting on the node go on waiting (the link reconnects, or a
     * new map homes them elsewhere); those up on it go down, then wait. */
    for (struct route *rt = r->routes; rt != NULL; rt = rt->next) {
        if (rt->node != idx || rt->state != ROUTE_S_UP)
            continue;
        rt->state = ROUTE_S_IDLE;
        rt->on_event(rt->owner, ROUTE_DOWN);
        if (rt->state == ROUTE_S_IDLE)
            home(rt);
    }
    if (r->cfg->cluster)
        refresh(r); /* from another node: a failover may have moved the slots */
}

/* ---- routes ----------------------------------------------------------------- */

/* Finds the route's node and waits for it (or comes up at once). */
static void home(struct route *rt)
{
    struct router *r = rt->r;
    if (rt->closing || r->closing)
        return;
    if (rt->state != ROUTE_S_WAIT) {
        rt->state = ROUTE_S_WAIT;
        rt->on_event(rt->owner, ROUTE_CONNECTING);
        if (rt->state != ROUTE_S_WAIT)
            return; /* released meanwhile */
    }
    int idx = r->slot_node[rt->slot] - 1;
    if (idx < 0) {
        rt->node = -1;
        refresh(r); /* wait for the map; the refresh timer tries again */
        return;
    }
    if (rt->node >= 0 && rt->node != idx) /* a migration or a failover moved it */
        log_info("redis: partition %s: slot %u is served by %s now, not %s", rt->name,
                 rt->slot, link_name(&r->nodes[idx]->link), link_name(&r->nodes[rt->node]->link));
    rt->node = idx;
    node_start(r->nodes[idx]);
    if (r->nodes[idx]->up) {
        rt->state = ROUTE_S_UP;
        rt->on_event(rt->owner, ROUTE_UP);
    }
}

static void on_route_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct route *rt = arg;
    if (rt->state == ROUTE_S_IDLE)
        home(rt);
}

/* Homes the route from the event loop, after the pause restart chose. */
static void home_later(struct route *rt)
{
    struct timeval tv = {rt->next_ms / 1000, (suseconds_t)(rt->next_ms % 1000) * 1000};
    rt->state = ROUTE_S_IDLE;
    event_add(rt->timer, &tv);
}

static void on_drained(struct link_user *u)
{
    struct route *rt = route_of(u);
    rt->user.deaf = false;
    if (rt->state == ROUTE_S_DRAIN)
        home_later(rt);
}

/* Leaves UP (or WAIT) and drains: the common start of a reset. */
static void detach(struct route *rt)
{
    bool was = rt->state == ROUTE_S_UP || rt->state == ROUTE_S_WAIT;
    rt->state = ROUTE_S_DRAIN;
    rt->user.deaf = true;
    if (was)
        rt->on_event(rt->owner, ROUTE_DOWN);
    if (rt->state == ROUTE_S_DRAIN && rt->user.outstanding == 0)
        on_drained(&rt->user);
}

/* Starts the route over, homing it again after `pause_ms`. */
static void restart(struct route *rt, const char *why, unsigned pause_ms)
{
    if (rt->state == ROUTE_S_DRAIN || rt->state == ROUTE_S_CLOSED)
        return; /* starting over already */
    uint64_t now = monotime_us();
    bool quiet = rt->warned_us != 0 && now - rt->warned_us < ROUTER_QUIET_MS * 1000ull;
    log_line(quiet ? LOG_DEBUG : LOG_WARN, "redis: partition %s: %s; starting over in %u ms%s",
             rt->name, why, pause_ms, quiet ? "" : " (repeats within 5 s: debug level)");
    if (!quiet)
        rt->warned_us = now;
    rt->next_ms = pause_ms;
    detach(rt);
}

void route_reset(struct route *rt, const char *why)
{
    unsigned pause_ms = rt->backoff_ms; /* a failure: the pause doubles */
    rt->backoff_ms = rt->backoff_ms * 2 > rt->r->cfg->reconnect_max_ms
                         ? rt->r->cfg->reconnect_max_ms : rt->backoff_ms * 2;
    restart(rt, why, pause_ms);
}

/* "MOVED 3999 127.0.0.1:6381": the slot and the node. Returns the node's
 * index, or -1. */
static int redirect_target(struct router *r, const redisReply *e, unsigned *slot)
{
    char host[CONFIG_HOST_MAX + 1];
    struct config_endpoint ep;
    const char *sp = memchr(e->str, ' ', e->len);
    if (sp == NULL || sscanf(sp + 1, "%u %255s", slot, host) != 2 || *slot >= SLOT_COUNT)
        return -1;
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return -1;
    *colon = '\0';
    ep.port = atoi(colon + 1);
    snprintf(ep.host, sizeof(ep.host), "%s", host);
    return ep.port > 0 && ep.port <= 65535 ? node_at(r, &ep) : -1;
}

static void on_redirect(struct link_user *u, const redisReply *e, const struct link *from)
{
    struct route *rt = route_of(u);
    struct router *r = rt->r;
    unsigned slot = rt->slot;
    int to = -1;
    char why[256];
    bool moved = e->len > 6 && memcmp(e->str, "MOVED ", 6) == 0;
    bool ask = e->len > 4 && memcmp(e->str, "ASK ", 4) == 0;
    if ((moved || ask) && ((to = redirect_target(r, e, &slot)) < 0 || slot != rt->slot)) {
        route_reset(rt, "unusable redirection");
        return;
    }
    if (moved) {
        r->slot_node[slot] = (uint8_t)(to + 1);
        snprintf(why, sizeof(why), "MOVED: slot %u is served by %s now, not %s", slot,
                 link_name(&r->nodes[to]->link), link_name(from));
    } else if (ask) {
        snprintf(why, sizeof(why), "ASK: slot %u is moving from %s to %s; trying %s again "
                 "until the move is over", slot, link_name(from),
                 link_name(&r->nodes[to]->link), link_name(from));
    } else {
        snprintf(why, sizeof(why), "%s answered %.*s for slot %u", link_name(from),
                 (int)(e->len > 120 ? 120 : e->len), e->str, slot);
    }
    restart(rt, why, moved ? 0 : ROUTER_RETRY_MS);
    r->refreshing = false;
    refresh(r);
}

static void on_failed(struct link_user *u, const char *why) { route_reset(route_of(u), why); }

static const struct link_user_fns route_fns = {on_drained, on_redirect, on_failed};

int route_init(struct route *rt, struct router *r, const char *key, const char *name,
               route_event_fn *on_event, void *owner)
{
    *rt = (struct route){.r = r, .user = {0, false, &route_fns}, .slot = slot_of(key, strlen(key)),
                         .node = -1, .state = ROUTE_S_IDLE, .backoff_ms = LINK_BACKOFF_MIN_MS,
                         .on_event = on_event, .owner = owner};
    snprintf(rt->name, sizeof(rt->name), "%s", name);
    rt->timer = evtimer_new(r->base, on_route_timer, rt);
    if (rt->timer == NULL)
        return -1;
    rt->next = r->routes;
    r->routes = rt;
    return 0;
}

void route_free(struct route *rt)
{
    if (rt->timer != NULL)
        event_free(rt->timer);
    rt->timer = NULL;
}

void route_start(struct route *rt) { home(rt); }

bool route_ready(const struct route *rt) { return rt->state == ROUTE_S_UP; }

bool route_closing(const struct route *rt) { return rt->closing; }

void route_close(struct route *rt)
{
    rt->closing = true;
    event_del(rt->timer);
    if (rt->state != ROUTE_S_UP)
        route_release(rt);
}

void route_release(struct route *rt)
{
    bool was = rt->state == ROUTE_S_UP || rt->state == ROUTE_S_WAIT;
    rt->closing = true;
    rt->state = ROUTE_S_CLOSED;
    rt->user.deaf = true;
    event_del(rt->timer);
    if (was)
        rt->on_event(rt->owner, ROUTE_DOWN);
}

void route_reset_backoff(struct route *rt)
{
    rt->backoff_ms = LINK_BACKOFF_MIN_MS;
    if (rt->node >= 0)
        link_reset_backoff(&rt->r->nodes[rt->node]->link);
}

struct link_user *route_user(struct route *rt) { return &rt->user; }

const char *route_node_name(const struct route *rt)
{
    return rt->node >= 0 ? link_name(&rt->r->nodes[rt->node]->link) : "";
}

/* The link to queue on: the route's node's. */
static struct link *route_link(struct route *rt)
{
    LY_ASSERT(rt->state == ROUTE_S_UP && rt->node >= 0);
    return &rt->r->nodes[rt->node]->link;
}

int route_command(struct route *rt, const struct link_cmd *cmd, const char *fmt, ...)
{
    LY_ASSERT(cmd->user == &rt->user);
    struct link *l = route_link(rt);
    if (l == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = link_vcommand(l, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int route_command_argv(struct route *rt, const struct link_cmd *cmd, int argc,
                       const char **argv, const size_t *argvlen)
{
    LY_ASSERT(cmd->user == &rt->user);
    struct link *l = route_link(rt);
    return l == NULL ? -1 : link_command_argv(l, cmd, argc, argv, argvlen);
}

int route_formatted(struct route *rt, const struct link_cmd *cmd, const char *buf, size_t len)
{
    LY_ASSERT(cmd->user == &rt->user);
    struct link *l = route_link(rt);
    return l == NULL ? -1 : link_formatted(l, cmd, buf, len);
}

/* ---- the router ------------------------------------------------------------- */

struct router *router_new(struct event_base *base, const struct config *cfg,
                          struct metrics *m)
{
    struct router *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->base = base;
    r->cfg = cfg;
    r->m = m;
    r->refresh_timer = event_new(base, -1, EV_PERSIST, on_refresh_timer, r);
    struct timeval tv = {ROUTER_REFRESH_MS / 1000, (ROUTER_REFRESH_MS % 1000) * 1000};
    if (r->refresh_timer == NULL || node_at(r, &cfg->redis) != 0) {
        router_free(r);
        return NULL;
    }
    if (!cfg->cluster) { /* one node serves every slot */
        memset(r->slot_node, 1, sizeof(r->slot_node));
        r->map_known = true;
    } else {
        event_add(r->refresh_timer, &tv);
    }
    return r;
}

void router_close(struct router *r)
{
    r->closing = true;
    event_del(r->refresh_timer);
    for (uint32_t i = 0; i < r->node_count; i++) {
        link_close(&r->nodes[i]->link);
        link_hangup(&r->nodes[i]->link);
        link_disarm(&r->nodes[i]->link);
    }
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    for (uint32_t i = 0; i < r->node_count; i++) {
        link_free(&r->nodes[i]->link);
        free(r->nodes[i]);
    }
    if (r->refresh_timer != NULL)
        event_free(r->refresh_timer);
    free(r);
}
