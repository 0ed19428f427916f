/* pipeline.c - see pipeline.h.
 *
 * Ownership: replies belong to hiredis (link.h); ingest copies what it
 * needs into the batch, which the pipeline owns and keeps until its commit
 * is confirmed.
 */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "lyassert.h"
#include "monotime.h"

static void append_tick(struct pipeline *pl, bool catch_up);

/* The commit in flight is confirmed: the marker is at least its last id. */
static void settle(struct pipeline *pl)
{
    pl->in_flight = false;
    if (proto_id_cmp(pl->batch.last_id, pl->committed) > 0)
        pl->committed = pl->batch.last_id;
    if (pl->landed != NULL)
        pl->landed(pl->landed_arg, &pl->batch);
}

static void on_commit(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    char why[256];
    if (commit_check(r, why, sizeof(why)) != 0) {
        pl->m->commit_failures++;
        link_drop(pl->link, why);
        return;
    }
    settle(pl);
    metrics_batch(pl->m, monotime_us() - pl->batch.started_us);
    for (int k = 0; k < PROTO_OUT_KIND_COUNT; k++)
        pl->m->outputs[k] += pl->batch.out_by_kind[k];
    batch_reset(&pl->batch);
    if (pl->on_committed != NULL)
        pl->on_committed(pl->hook_arg);
    if (link_closing(pl->link)) {
        link_hangup(pl->link);
        return;
    }
    if (*pl->phase == PHASE_RESEND)
        phase_set(pl->phase, PHASE_PENDING);
    if (*pl->phase == PHASE_PENDING)
        pipeline_read(pl); /* live reads were pipelined behind the commit */
    else if (pl->cfg->tick_interval_ms > 0 && rules_due(pl->st))
        append_tick(pl, true); /* the last tick left members due: catch up now */
}

void pipeline_commit(struct pipeline *pl)
{
    pl->in_flight = true;
    if (commit_send(link_context(pl->link), pl->cfg, pl->keys, &pl->batch, link_on_reply,
                    &pl->commit) != 0)
        link_drop(pl->link, "cannot queue the commit");
}

/* The entries array of an XREADGROUP reply (one stream), or NULL. */
static const redisReply *stream_entries(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1)
        return NULL;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2)
        return NULL;
    return s->element[1];
}

/* Reads on, or, when stopping with nothing in hand, closes. */
static void read_or_close(struct pipeline *pl)
{
    if (!link_closing(pl->link))
        pipeline_read(pl);
    else
        link_hangup(pl->link);
}

/* No pending entry is left: consume new ones from now on. */
static void go_live(struct pipeline *pl)
{
    phase_set(pl->phase, PHASE_LIVE);
    link_reset_backoff(pl->link);
    pl->m->redis_up = 1;
    log_info("consuming %s as %s/%s from %s", pl->keys->in, pl->cfg->group, pl->cfg->consumer,
             pl->st->last_id.ms ? "where it stopped" : "the start");
}

static void on_read(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    LY_ASSERT(!pl->in_flight); /* replies arrive in order: the commit came first */
    if (r->type == REDIS_REPLY_NIL) { /* BLOCK timed out */
        read_or_close(pl);
        return;
    }
    const redisReply *entries = stream_entries(r);
    struct ingest_stats stats;
    batch_reset(&pl->batch);
    pl->batch.started_us = monotime_us();
    if (entries == NULL || ingest_entries(pl->apply, pl->apply_arg, pl->st, entries, &pl->batch,
                                          &pl->scratch, &stats) != 0) {
        link_drop(pl->link, "malformed XREADGROUP reply");
        return;
    }
    if (batch_empty(&pl->batch)) {
        if (*pl->phase == PHASE_PENDING)
            go_live(pl);
        read_or_close(pl);
        return;
    }
    pipeline_commit(pl);
    if (*pl->phase == PHASE_LIVE && !link_closing(pl->link))
        pipeline_read(pl); /* pipelined: runs after EXEC on the server */
}

void pipeline_read(struct pipeline *pl)
{
    bool live = *pl->phase == PHASE_LIVE;
    const char *a[12] = {"XREADGROUP", "GROUP", pl->cfg->group, pl->cfg->consumer, "COUNT",
                         pl->count_arg};
    int n = 6;
    if (live) {
        a[n++] = "BLOCK";
        a[n++] = pl->block_arg;
    }
    a[n++] = "STREAMS";
    a[n++] = pl->keys->in;
    a[n++] = live ? ">" : "0";
    if (link_command_argv(pl->link, &pl->read, n, a, NULL) != 0)
        link_drop(pl->link, "cannot queue XREADGROUP");
}

int pipeline_replay(struct pipeline *pl, const redisReply *entries, struct ingest_stats *stats)
{
    return ingest_entries(pl->apply, pl->apply_arg, pl->st, entries, NULL, &pl->scratch, stats);
}

static void on_tick_reply(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    (void)r;
    pl->m->ticks_appended++;
}

/* Appends a tick entry stamped with the wall clock: the one place the
 * daemon's clock enters the log, as an entry replayed like any other. */
static void append_tick(struct pipeline *pl, bool catch_up)
{
    if (*pl->phase != PHASE_LIVE || link_closing(pl->link) || !link_connected(pl->link))
        return;
    struct proto_entry e;
    struct timespec ts;
    memset(&e, 0, sizeof(e));
    clock_gettime(CLOCK_REALTIME, &ts);
    e.kind = PROTO_TICK;
    e.ts = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* Never older than the engine clock (an older tick does nothing); a
     * catch-up tick finishes the work due at the clock without moving it. */
    if (e.ts < pl->st->clock_ms || catch_up)
        e.ts = pl->st->clock_ms;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (proto_encode_entry(&buf, &e) == 0 &&
        link_command(pl->link, &pl->tick, "XADD %s * m %b", pl->keys->in, buf.data,
                     buf.size) != 0)
        link_drop(pl->link, "cannot queue a tick");
    msgpack_sbuffer_destroy(&buf);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    append_tick(arg, false);
}

void pipeline_start_ticks(struct pipeline *pl)
{
    if (pl->cfg->tick_interval_ms == 0)
        return;
    struct timeval tv = {pl->cfg->tick_interval_ms / 1000,
                         (pl->cfg->tick_interval_ms % 1000) * 1000};
    event_add(pl->tick_timer, &tv);
}

void pipeline_stop_ticks(struct pipeline *pl) { event_del(pl->tick_timer); }

static void on_trim(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    (void)r;
    pl->m->trims++;
}

void pipeline_trim(struct pipeline *pl, struct proto_id min_id)
{
    char id[PROTO_ID_STR_MAX];
    if (!pl->cfg->trim_input || !link_connected(pl->link) || link_closing(pl->link) ||
        (min_id.ms == 0 && min_id.seq == 0))
        return;
    proto_id_format(min_id, id, sizeof(id));
    if (link_command(pl->link, &pl->trim, "XTRIM %s MINID ~ %s", pl->keys->in, id) != 0)
        link_drop(pl->link, "cannot queue XTRIM");
}

bool pipeline_in_flight(const struct pipeline *pl) { return pl->in_flight; }

struct proto_id pipeline_batch_last(const struct pipeline *pl) { return pl->batch.last_id; }

void pipeline_landed(struct pipeline *pl)
{
    settle(pl);
    batch_reset(&pl->batch);
}

void pipeline_discard(struct pipeline *pl)
{
    pl->in_flight = false;
    batch_reset(&pl->batch);
}

struct proto_id pipeline_committed(const struct pipeline *pl) { return pl->committed; }

void pipeline_set_committed(struct pipeline *pl, struct proto_id id) { pl->committed = id; }

void pipeline_set_apply(struct pipeline *pl, ingest_apply_fn *apply, const void *arg)
{
    pl->apply = apply;
    pl->apply_arg = arg;
}

void pipeline_set_landed(struct pipeline *pl, pipeline_landed_fn *fn, void *arg)
{
    pl->landed = fn;
    pl->landed_arg = arg;
}

void pipeline_set_committed_hook(struct pipeline *pl, pipeline_committed_fn *fn, void *arg)
{
    pl->on_committed = fn;
    pl->hook_arg = arg;
}

int pipeline_init(struct pipeline *pl, struct event_base *base, const struct config *cfg,
                  uint32_t partition, struct state *st, struct metrics *m, struct link *link,
                  const struct commit_keys *keys, enum consumer_phase *phase)
{
    *pl = (struct pipeline){.cfg = cfg, .st = st, .m = m, .link = link, .keys = keys,
                            .phase = phase, .committed = st->last_id,
                            .apply = ingest_apply_rules, .apply_arg = &pl->rules,
                            .rules = {&cfg->rules, partition, cfg->partitions},
                            .read = {on_read, pl, "XREADGROUP", false},
                            .commit = {on_commit, pl, "EXEC", true},
                            .tick = {on_tick_reply, pl, "XADD tick", false},
                            .trim = {on_trim, pl, "XTRIM", false}};
    rules_outbox_init(&pl->scratch);
    snprintf(pl->count_arg, sizeof(pl->count_arg), "%u", cfg->batch_entries_max);
    snprintf(pl->block_arg, sizeof(pl->block_arg), "%u", cfg->block_ms);
    pl->tick_timer = event_new(base, -1, EV_PERSIST, on_tick, pl);
    if (pl->tick_timer == NULL || batch_init(&pl->batch, cfg->batch_entries_max) != 0)
        return -1;
    return 0;
}

void pipeline_free(struct pipeline *pl)
{
    if (pl->tick_timer != NULL)
        event_free(pl->tick_timer);
    pl->tick_timer = NULL;
    batch_free(&pl->batch);
    outbox_free(&pl->scratch);
}
