/* cmd_partitions.c - `loyaltyctl partitions`: who owns each partition of a
 * program, where its progress marker stands and how far its input runs
 * ahead of it. Read-only: what an operator looks at before and after a
 * hand-over (README "Scaling out"). On a Redis Cluster any node will do:
 * MOVED replies are followed to the node that serves each partition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "msgview.h"

/* Partitions a program may have (the daemon's PARTITION_COUNT_MAX). */
#define PART_COUNT_MAX 1024
/* Redis nodes followed through MOVED (the daemon's ROUTER_NODES_MAX). */
#define PART_NODES_MAX 64
/* Entries after the marker counted at most: a lag beyond says ">=". */
#define PART_LAG_MAX 10000
#define PART_IO_MS 5000

enum { OPT_PARTITIONS = CTL_OPT_FIRST_FREE };

static const char USAGE[] =
    "Usage: " CTL_PROG " partitions --partitions N [OPTIONS]\n"
    "Shows each of the program's N partitions (daemon.partitions): its owner\n"
    "instance and epoch (the hand-over fences by the epoch), its progress marker,\n"
    "its input's length and the entries after the marker (counted up to 10000),\n"
    "the Redis node serving it, and its transfers' credits not relayed yet to\n"
    "other partitions (points in flight: README, Transfers; counted up to 10000).\n"
    "Keys: <prefix>{p}:... (the plain prefix when N is 1). On a Redis Cluster give\n"
    "any node: MOVED is followed. Changes nothing.\n"
    "Exit status: 0 done, 1 a Redis error, 2 usage.\n\n"
    "  --partitions N      the program's partitions, 1..1024\n"
    CLIENT_BASE_USAGE CTL_JSON_USAGE;

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS, CTL_JSON_LONGOPT,
    {"partitions", required_argument, NULL, OPT_PARTITIONS}, {NULL, 0, NULL, 0},
};

struct part_opts {
    uint64_t partitions;
};

static int apply(void *opts, int opt, const char *arg, struct client_error *err)
{
    struct part_opts *p = opts;
    if (opt != OPT_PARTITIONS)
        return -1;
    return client_parse_u64("--partitions", arg, 1, PART_COUNT_MAX, &p->partitions, err);
}

/* The nodes connected so far; [0] is --redis. */
struct nodes {
    struct client_endpoint ep[PART_NODES_MAX];
    redisContext *c[PART_NODES_MAX];
    int count;
};

/* The node at "host:port", connected when new; -1 when it cannot be. */
static int node_at(struct nodes *n, const char *hostport)
{
    struct client_endpoint ep;
    struct client_error err;
    if (client_parse_endpoint(hostport, &ep, &err) != 0)
        return -1;
    for (int i = 0; i < n->count; i++)
        if (n->ep[i].port == ep.port && strcmp(n->ep[i].host, ep.host) == 0)
            return i;
    if (n->count == PART_NODES_MAX)
        return -1;
    n->c[n->count] = client_connect(&ep, CLIENT_CONNECT_MS, PART_IO_MS, &err);
    if (n->c[n->count] == NULL) {
        fprintf(stderr, CTL_PROG " partitions: %s\n", err.text);
        return -1;
    }
    n->ep[n->count] = ep;
    return n->count++;
}

/* Runs argv on node *at, following MOVED (which updates *at). Returns the
 * reply (the caller frees it), or NULL after saying why on stderr. */
static redisReply *run(struct nodes *n, int *at, int argc, const char **argv)
{
    for (int hops = 0; hops < 3; hops++) {
        redisReply *r = redisCommandArgv(n->c[*at], argc, argv, NULL);
        if (r == NULL) {
            fprintf(stderr, CTL_PROG " partitions: %s: %s\n", argv[0], n->c[*at]->errstr);
            return NULL;
        }
        if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "MOVED ", 6) != 0)
            return r;
        const char *to = strrchr(r->str, ' ');
        int next = to != NULL ? node_at(n, to + 1) : -1;
        freeReplyObject(r);
        if (next < 0)
            break;
        *at = next;
    }
    fprintf(stderr, CTL_PROG " partitions: %s: redirected too often\n", argv[0]);
    return NULL;
}

struct view {
    char owner[80], epoch[24], marker[48];
    long long entries, lag, unrelayed;
};

static void text_of(const redisReply *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "-");
}

/* Entries of `stream` after the id `marker` holds (all without it), up to
 * PART_LAG_MAX; -1 after a Redis error. */
static long long after(struct nodes *n, int *at, const char *stream, const char *marker)
{
    const char *get[] = {"GET", marker};
    redisReply *m = run(n, at, 2, get);
    if (m == NULL)
        return -1;
    char from[64], count[16];
    snprintf(from, sizeof(from), "(%s", m->type == REDIS_REPLY_STRING ? m->str : "0-0");
    snprintf(count, sizeof(count), "%d", PART_LAG_MAX);
    const char *xr[] = {"XRANGE", stream, m->type == REDIS_REPLY_STRING ? from : "-", "+",
                        "COUNT", count};
    freeReplyObject(m);
    redisReply *d = run(n, at, 6, xr);
    long long k = d != NULL && d->type == REDIS_REPLY_ARRAY ? (long long)d->elements : -1;
    freeReplyObject(d);
    return k;
}

/* Reads partition `key_prefix`'s owner, marker, length and lag into *v. */
static int look(struct nodes *n, int *at, const char *key_prefix, struct view *v)
{
    char owner[CLIENT_KEY_MAX + 24], progress[CLIENT_KEY_MAX + 24], in[CLIENT_KEY_MAX + 24];
    snprintf(owner, sizeof(owner), "%sowner", key_prefix);
    snprintf(progress, sizeof(progress), "%sprogress", key_prefix);
    snprintf(in, sizeof(in), "%sin", key_prefix);
    char xfer[CLIENT_KEY_MAX + 24], relayed[CLIENT_KEY_MAX + 32];
    snprintf(xfer, sizeof(xfer), "%sxfer", key_prefix);
    snprintf(relayed, sizeof(relayed), "%sxfer:relayed", key_prefix);
    const char *hm[] = {"HMGET", owner, "instance", "epoch"}, *get[] = {"GET", progress};
    const char *xlen[] = {"XLEN", in};
    redisReply *a = run(n, at, 4, hm), *b = a ? run(n, at, 2, get) : NULL;
    redisReply *c = b ? run(n, at, 2, xlen) : NULL;
    int rc = c != NULL && a->type == REDIS_REPLY_ARRAY && a->elements == 2 &&
                     c->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (rc == 0) {
        text_of(a->element[0], v->owner, sizeof(v->owner));
        text_of(a->element[1], v->epoch, sizeof(v->epoch));
        text_of(b, v->marker, sizeof(v->marker));
        v->entries = c->integer;
    }
    freeReplyObject(a);
    freeReplyObject(b);
    freeReplyObject(c);
    v->lag = rc == 0 ? after(n, at, in, progress) : -1;
    v->unrelayed = v->lag >= 0 ? after(n, at, xfer, relayed) : -1;
    return v->unrelayed >= 0 ? 0 : -1;
}

static void print(const struct ctl_opts *o, uint32_t p, const struct view *v, const char *node)
{
    if (o->json) {
        printf("{\"partition\":%u,\"owner\":", p);
        msgview_json_string(stdout, v->owner, strlen(v->owner));
        printf(",\"epoch\":%s,\"marker\":", strcmp(v->epoch, "-") ? v->epoch : "null");
        msgview_json_string(stdout, v->marker, strlen(v->marker));
        printf(",\"entries\":%lld,\"after_marker\":%lld,\"after_marker_capped\":%s,"
               "\"node\":\"%s\",\"unrelayed\":%lld}\n", v->entries, v->lag,
               v->lag >= PART_LAG_MAX ? "true" : "false", node, v->unrelayed);
        return;
    }
    printf("%-9u %-20s %-6s %-28s %-9lld %s%-9lld %-21s %lld\n", p, v->owner, v->epoch,
           v->marker, v->entries, v->lag >= PART_LAG_MAX ? ">=" : "", v->lag, node,
           v->unrelayed);
}

int cmd_partitions(int argc, char **argv)
{
    struct ctl_opts o;
    struct part_opts po = {0};
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, apply, &po, 0, 0};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    if (po.partitions == 0) {
        fprintf(stderr, CTL_PROG " partitions: --partitions N is required\n%s", USAGE);
        return CLIENT_EXIT_USAGE;
    }
    static struct nodes n;
    char seed[CLIENT_HOST_MAX + 8];
    snprintf(seed, sizeof(seed), "%s:%d", o.base.redis.host, o.base.redis.port);
    if (node_at(&n, seed) != 0)
        return CLIENT_EXIT_FAIL;
    if (!o.json)
        printf("%-9s %-20s %-6s %-28s %-9s %-11s %-21s %s\n", "partition", "owner", "epoch",
               "marker", "entries", "after-mark", "node", "unrelayed");
    for (uint32_t p = 0; p < po.partitions && rc < 0; p++) {
        char key_prefix[CLIENT_KEY_MAX + 8], node[CLIENT_HOST_MAX + 8];
        struct view v;
        int at = 0;
        if (po.partitions == 1)
            snprintf(key_prefix, sizeof(key_prefix), "%s", o.base.prefix);
        else
            snprintf(key_prefix, sizeof(key_prefix), "%s{%u}:", o.base.prefix, p);
        if (look(&n, &at, key_prefix, &v) != 0)
            rc = CLIENT_EXIT_FAIL;
        snprintf(node, sizeof(node), "%s:%d", n.ep[at].host, n.ep[at].port);
        if (rc < 0)
            print(&o, p, &v, node);
    }
    for (int i = 0; i < n.count; i++)
        redisFree(n.c[i]);
    return rc < 0 ? CLIENT_EXIT_OK : rc;
}
