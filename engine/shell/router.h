/* router.h - the daemon's connections to Redis, one per node, and the route
 * of each served partition over them.
 *
 * Standalone (daemon.cluster false, the default): one node, daemon.redis;
 * every route goes there. Cluster: daemon.redis is a seed node; the router
 * reads the slot map with CLUSTER SLOTS (not CLUSTER SHARDS, whose slot
 * ranges Redis 7.0 reports with quirks), and connects to every master that
 * serves a partition's slot (slot.h), one connection per node, shared by
 * the partitions on that node. The map is read again when a command is
 * redirected, when a connection comes up (a reconnection) or goes down (a
 * failover may follow), and every ROUTER_REFRESH_MS while a partition waits
 * for its node.
 *
 * On every new connection the router first loads the fenced library
 * (fenced.h): Redis runs commands in order, so a partition's commands on
 * that connection always find it.
 *
 * A route is one partition's way to Redis, a connection of its own in all
 * but the socket: it comes UP when its node's connection is up, and goes
 * DOWN when that connection is lost or the route is reset. A reset (a
 * redirection, a refused commit, an unexpected error) concerns that
 * partition only: its commands still in flight are drained (their replies
 * ignored, link.h), then it finds its node again (after a backoff when the
 * reset was a failure) and comes UP anew, so the consumer recovers as after
 * a reconnection. MOVED homes the route on the node named at once (the
 * map is updated and read again). ASK (a key of the slot has moved to the
 * node importing it), TRYAGAIN, CLUSTERDOWN, LOADING, READONLY and
 * MASTERDOWN retry at the slot's owner after ROUTER_RETRY_MS, with a fresh
 * map, until the migration ends in MOVED (or the cluster is up again).
 * ASK is not followed command by command: a partition's commands must
 * never be split between two nodes halfway through a migration, since the
 * claim sent to the importing node would create a second owner key there
 * (fencing lost; MIGRATE of the real one then fails with BUSYKEY). A
 * partition's keys move in one MIGRATE with redis-cli --cluster reshard,
 * so the pause is short. The log names the partition, the slot and the
 * nodes of every redirection.
 */
#ifndef LOYALTY_ROUTER_H
#define LOYALTY_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "link.h"
#include "metrics.h"
#include "slot.h"

struct event;
struct event_base;
struct router;

/* Redis nodes one daemon talks to at most: a cluster's masters and the
 * replicas promoted over time; the map's slot table stores an index. */
#define ROUTER_NODES_MAX 64
/* How often the map is read again while a partition waits for its node
 * (a failover takes the cluster's node timeout; this is well below it). */
#define ROUTER_REFRESH_MS 1000u
/* The pause before a partition tries its slot's owner again after ASK or
 * TRYAGAIN (a migration under way) or a cluster that is not serving: short
 * and fixed, since none of these is a failure of ours. */
#define ROUTER_RETRY_MS 100u
/* A partition starting over again within this long logs at debug level:
 * a cluster down for seconds writes a line per partition, not dozens. */
#define ROUTER_QUIET_MS 5000u

enum route_event {
    ROUTE_CONNECTING, /* finding its node, or waiting for its connection */
    ROUTE_UP,         /* commands may be queued */
    ROUTE_DOWN,       /* lost or reset: a new UP follows, unless closing */
};

typedef void route_event_fn(void *owner, enum route_event ev);

enum route_state { ROUTE_S_IDLE, ROUTE_S_WAIT, ROUTE_S_UP, ROUTE_S_DRAIN, ROUTE_S_CLOSED };

struct route {
    struct router *r;
    struct link_user user;   /* its commands on the links (link.h) */
    char name[CONFIG_KEY_MAX + 16]; /* the partition's key prefix, for the log */
    uint16_t slot;
    int node;                /* the node it is homed on, -1: none */
    bool closing;            /* the consumer stops: no new home */
    unsigned next_ms;        /* the pause before the next home */
    enum route_state state;
    unsigned backoff_ms;     /* the pause after the next failure */
    uint64_t warned_us;      /* when it last logged starting over as a warning */
    struct event *timer;     /* the next home */
    route_event_fn *on_event;
    void *owner;
    struct route *next;      /* the router's list */
};

/* Creates the router for `cfg` (with `m`, must outlive it) on `base`.
 * Does not connect yet. Returns NULL when out of memory. */
struct router *router_new(struct event_base *base, const struct config *cfg,
                          struct metrics *m);

/* Frees the router: its connections first (a reply still awaited reaches
 * no handler), so free it before the routes' owners. */
void router_free(struct router *r);

/* Closes every connection and makes no new one (the daemon stops; its
 * routes are released). */
void router_close(struct router *r);

/* Prepares route `rt` to the node of the slot of key `key` (a partition's
 * key; `name` names the partition in the log); `on_event(owner, ...)`
 * hears of it. Returns 0, or -1 when out of memory. */
int route_init(struct route *rt, struct router *r, const char *key, const char *name,
               route_event_fn *on_event, void *owner);

/* Frees what route_init made (after router_free or route_release). */
void route_free(struct route *rt);

/* Starts finding the route's node (and connecting to it). */
void route_start(struct route *rt);

/* True while UP: commands may be queued. */
bool route_ready(const struct route *rt);

/* True after route_close. */
bool route_closing(const struct route *rt);

/* The consumer stops: the route will not be homed again. It stays UP (the
 * last commits may be confirmed) until route_release. */
void route_close(struct route *rt);

/* Leaves the route for good; DOWN is delivered if it was UP or waiting. */
void route_release(struct route *rt);

/* The partition's connection starts over (see above), after a backoff:
 * `why` is logged. Safe inside a reply handler. */
void route_reset(struct route *rt, const char *why);

/* The route is consuming: the next reset starts from the shortest delay. */
void route_reset_backoff(struct route *rt);

/* Queue commands on the route's node (needs route_ready), whose replies
 * go to `cmd` (which must name the route's user, route_user). Return 0,
 * or -1 when hiredis could not queue (the caller resets the route). */
int route_command(struct route *rt, const struct link_cmd *cmd, const char *fmt, ...);
int route_command_argv(struct route *rt, const struct link_cmd *cmd, int argc,
                       const char **argv, const size_t *argvlen);
int route_formatted(struct route *rt, const struct link_cmd *cmd, const char *buf, size_t len);

/* The user a route's commands must carry (struct link_cmd.user). */
struct link_user *route_user(struct route *rt);

/* For /healthz: "host:port" of the node the route is homed on, or "". */
const char *route_node_name(const struct route *rt);

#endif
