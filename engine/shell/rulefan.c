/* rulefan.c - see rulefan.h. */
#include "rulefan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

/* The connections a push made, [0] the seed (cfg->redis). */
struct fan {
    const struct config *cfg;
    unsigned timeout_ms;
    redisContext *c[RULEFAN_NODES_MAX];
    char name[RULEFAN_NODES_MAX][CONFIG_HOST_MAX + 8];
    int count;
};

/* The node "host:port", connected when new; -1 with err set. */
static int node_at(struct fan *f, const char *hostport, char *err, size_t cap)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->name[i], hostport) == 0)
            return i;
    const char *colon = strrchr(hostport, ':');
    char host[CONFIG_HOST_MAX + 1];
    if (colon == NULL || (size_t)(colon - hostport) > CONFIG_HOST_MAX ||
        f->count == RULEFAN_NODES_MAX) {
        snprintf(err, cap, "cannot follow MOVED to '%s'", hostport);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    redisContext *c = rulepush_connect_to(f->cfg, host, atoi(colon + 1), f->timeout_ms, err,
                                          cap);
    if (c == NULL)
        return -1;
    f->c[f->count] = c;
    snprintf(f->name[f->count], sizeof(f->name[0]), "%s", hostport);
    return f->count++;
}

/* The node a "redis: MOVED <slot> <host:port>" error names, or NULL. */
static const char *moved_to(const char *err)
{
    static const char head[] = "redis: MOVED ";
    if (strncmp(err, head, sizeof(head) - 1) != 0)
        return NULL;
    const char *to = strrchr(err, ' ');
    return to != NULL ? to + 1 : NULL;
}

/* True for an error that passes while a slot moves or a failover ends:
 * the transaction was refused as a whole (EXECABORT), so trying again
 * writes nothing twice. */
static bool passing(const char *err)
{
    static const char *const codes[] = {"redis: ASK ", "redis: TRYAGAIN", "redis: CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strncmp(err, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

/* Pushes to partition p from node *at, following MOVED (*at moves with
 * it) and waiting out a slot's migration (ASK, TRYAGAIN) or a failover
 * (CLUSTERDOWN) for up to RULEFAN_WAITS x RULEFAN_WAIT_MS. Returns 0 with
 * the entry's id, or -1 with err set. */
static int push_one(struct fan *f, int *at, uint32_t p, const struct rulepush_book *b,
                    const char *label, int64_t effective_ts, char *id, size_t idcap,
                    char *err, size_t cap)
{
    char prefix[CONFIG_KEY_MAX + 16];
    config_partition_prefix(f->cfg, p, prefix, sizeof(prefix));
    int hops = 0, waits = 0;
    while (hops < 3) { /* MOVED once; twice while a slot moves */
        if (rulepush_send(f->c[*at], prefix, b, label, effective_ts, id, idcap, err, cap) == 0)
            return 0;
        if (passing(err) && waits++ < RULEFAN_WAITS) {
            struct timespec pause = {0, RULEFAN_WAIT_MS * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        const char *to = moved_to(err);
        char target[CONFIG_HOST_MAX + 8];
        if (to == NULL)
            return -1;
        hops++;
        snprintf(target, sizeof(target), "%s", to);
        int next = node_at(f, target, err, cap);
        if (next < 0)
            return -1;
        *at = next;
    }
    snprintf(err, cap, "partition %u: redirected too often", p);
    return -1;
}

uint32_t rulefan_push(const struct config *cfg, const struct rulepush_book *b,
                      const char *label, int64_t effective_ts, unsigned timeout_ms,
                      rulefan_report_fn *report, void *arg, char *err, size_t cap)
{
    static struct fan f; /* the tools push once per run */
    memset(&f, 0, sizeof(f));
    f.cfg = cfg;
    f.timeout_ms = timeout_ms;
    char seed[CONFIG_HOST_MAX + 8];
    snprintf(seed, sizeof(seed), "%s:%d", cfg->redis.host, cfg->redis.port);
    int at = node_at(&f, seed, err, cap);
    uint32_t done = 0;
    for (uint32_t p = 0; at >= 0 && p < cfg->partitions; p++) {
        char id[PROTO_ID_STR_MAX], prefix[CONFIG_KEY_MAX + 24];
        if (push_one(&f, &at, p, b, label, effective_ts, id, sizeof(id), err, cap) != 0)
            break;
        config_partition_prefix(cfg, p, prefix, sizeof(prefix));
        strncat(prefix, "in", sizeof(prefix) - strlen(prefix) - 1);
        report(arg, p, prefix, id, f.name[at]);
        done++;
    }
    for (int i = 0; i < f.count; i++)
        redisFree(f.c[i]);
    return done;
}
