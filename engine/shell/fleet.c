/* fleet.c - see fleet.h. */
#include "fleet.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lyassert.h"
#include "router.h"

struct fleet {
    const struct config *cfg;
    struct router *router;
    struct xrelay *relay; /* NULL with one partition */
    struct part *parts;   /* cfg->serve_count of them, in cfg->serve order */
    struct snapper_gate gate; /* the partitions' snapshots take turns */
    uint32_t count;
    uint32_t stopping;    /* consumers not stopped yet, once fleet_stop began */
    void (*done)(void *);
    void *done_arg;
};

/* A snapshot writer finished: the first partition whose snapshot came due
 * meanwhile and that is consuming with nothing in flight (its state equals
 * what Redis holds) goes now; a busy one starts at its next commit. */
static void snapshot_gate_free(void *arg)
{
    struct fleet *f = arg;
    for (uint32_t i = 0; i < f->count; i++) {
        struct part *pt = &f->parts[i];
        if (pt->snapper != NULL && consumer_healthy(pt->consumer) &&
            consumer_all_committed(pt->consumer) && snapper_due(pt->snapper)) {
            snapper_maybe(pt->snapper);
            return;
        }
    }
}

struct fleet *fleet_new(struct event_base *base, const struct config *cfg, struct metrics *m,
                        const struct fleet_options *o)
{
    struct fleet *f = calloc(1, sizeof(*f));
    if (f == NULL || (f->parts = calloc(cfg->serve_count, sizeof(f->parts[0]))) == NULL ||
        (f->router = router_new(base, cfg, m)) == NULL) {
        log_error("start-up: out of memory");
        fleet_free(f);
        return NULL;
    }
    f->cfg = cfg;
    f->gate = (struct snapper_gate){0, snapshot_gate_free, f};
    for (uint32_t i = 0; i < cfg->serve_count; i++) {
        f->count++;
        if (part_open(&f->parts[i], base, cfg, f->router, cfg->serve[i], m, o->dlq,
                      o->snapshots ? &f->gate : NULL) != 0) {
            fleet_free(f);
            return NULL;
        }
        if (o->apply != NULL)
            consumer_set_apply(f->parts[i].consumer, o->apply, o->apply_arg);
        /* A blocking read holds the connection: only a partition alone on
         * it may wait for new entries there. */
        consumer_set_blocking(f->parts[i].consumer, cfg->serve_count == 1);
    }
    int err;
    f->relay = xrelay_new(base, cfg, f->router, m, &err);
    if (err != 0) {
        log_error("start-up: out of memory");
        fleet_free(f);
        return NULL;
    }
    for (uint32_t i = 0; i < f->count; i++)
        f->parts[i].relay = f->relay;
    return f;
}

void fleet_free(struct fleet *f)
{
    if (f == NULL)
        return;
    router_free(f->router); /* first: its links call back into the consumers */
    for (uint32_t i = 0; i < f->count; i++)
        part_close(&f->parts[i]);
    xrelay_free(f->relay);
    free(f->parts);
    free(f);
}

int fleet_take(struct fleet *f, const char *list)
{
    static uint16_t take[PARTITION_COUNT_MAX];
    uint32_t n = 0;
    char why[160];
    if (config_parse_serve(list, f->cfg->partitions, take, &n, why, sizeof(why)) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const struct part *pt = fleet_find(f, take[i]);
        if (pt == NULL)
            return -1;
        consumer_take(pt->consumer);
    }
    return 0;
}

void fleet_start(struct fleet *f)
{
    for (uint32_t i = 0; i < f->count; i++)
        consumer_start(f->parts[i].consumer);
    if (f->relay != NULL)
        xrelay_start(f->relay);
}

static void on_consumer_stopped(void *arg)
{
    struct fleet *f = arg;
    LY_ASSERT(f->stopping > 0);
    if (--f->stopping > 0)
        return;
    router_close(f->router);
    if (f->done != NULL)
        f->done(f->done_arg);
}

void fleet_stop(struct fleet *f, unsigned grace_ms, void (*done)(void *), void *arg)
{
    if (f->stopping > 0 || f->done != NULL)
        return; /* stopping already */
    f->done = done;
    f->done_arg = arg;
    f->stopping = f->count;
    if (f->relay != NULL)
        xrelay_stop(f->relay); /* what it has not noted is carried at the next start */
    for (uint32_t i = 0; i < f->count; i++)
        consumer_stop(f->parts[i].consumer, grace_ms, on_consumer_stopped, f);
}

uint32_t fleet_count(const struct fleet *f) { return f->count; }

struct part *fleet_part(struct fleet *f, uint32_t i)
{
    LY_ASSERT(i < f->count);
    return &f->parts[i];
}

const struct part *fleet_part_c(const struct fleet *f, uint32_t i)
{
    LY_ASSERT(i < f->count);
    return &f->parts[i];
}

const struct part *fleet_find(const struct fleet *f, uint32_t p)
{
    uint32_t lo = 0, hi = f->count; /* parts are in ascending partition order */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->parts[mid].p == p)
            return &f->parts[mid];
        if (f->parts[mid].p < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *fleet_status(const struct fleet *f)
{
    static const char *const urgency[] = {"stopping", "stopped", "redis_behind", "fenced",
                                          "connecting", "recovering", "unknown"};
    const char *first = consumer_status(f->parts[0].consumer);
    for (size_t u = 0; u < sizeof(urgency) / sizeof(urgency[0]); u++)
        for (uint32_t i = 0; i < f->count; i++)
            if (strcmp(consumer_status(f->parts[i].consumer), urgency[u]) == 0)
                return urgency[u];
    return first; /* all "consuming" */
}

bool fleet_healthy(const struct fleet *f)
{
    for (uint32_t i = 0; i < f->count; i++)
        if (!consumer_healthy(f->parts[i].consumer))
            return false;
    return true;
}

void fleet_view(const struct fleet *f, const struct state **states, struct metrics_view *v)
{
    v->redis_up = fleet_healthy(f);
    v->redis_behind = 0;
    for (uint32_t i = 0; i < f->count; i++) {
        states[i] = &f->parts[i].st;
        if (consumer_behind(f->parts[i].consumer))
            v->redis_behind = 1;
    }
    v->states = states;
    v->count = f->count;
}
