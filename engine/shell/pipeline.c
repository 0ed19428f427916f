/* pipeline.c - see pipeline.h.
 *
 * Ownership: replies belong to hiredis (link.h); ingest copies what it
 * needs into a batch of the ring, which the pipeline owns and keeps until
 * its commit is confirmed. Replies on one connection come in the order
 * the commands went, so a commit's reply is always the oldest batch's.
 */
#include "pipeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "lyassert.h"
#include "monotime.h"

static void append_tick(struct pipeline *pl, bool catch_up);
static void read_more(struct pipeline *pl);
static void read_ahead(struct pipeline *pl);

static struct batch *oldest(struct pipeline *pl) { return &pl->ring[pl->head]; }

/* The oldest batch in flight is confirmed: the marker is at least its
 * last id. */
static void settle(struct pipeline *pl)
{
    LY_ASSERT(pl->in_flight > 0);
    struct batch *b = oldest(pl);
    if (proto_id_cmp(b->last_id, pl->committed) > 0)
        pl->committed = b->last_id;
    if (pl->landed != NULL)
        pl->landed(pl->landed_arg, b);
    rulesync_landed(pl->rs);
    batch_reset(b);
    pl->head = (pl->head + 1) % pl->slots;
    pl->in_flight--;
}

static bool may_commit(const struct pipeline *pl)
{
    return *pl->phase == PHASE_RESEND || *pl->phase == PHASE_CATCHUP ||
           *pl->phase == PHASE_LIVE;
}

/* Another instance took the partition: this daemon stops serving it. */
static void fenced(struct pipeline *pl, const char *why)
{
    log_error("partition %s: %s; another instance owns it now: this daemon stops serving it "
              "(take it back only by a hand-over, README \"Scaling out\")", pl->keys->prefix,
              why);
    phase_set(pl->phase, PHASE_FENCED);
    pipeline_stop_ticks(pl);
}

/* The oldest batch in flight is confirmed: settle it, tell the owner, and
 * read on. */
static void confirmed(struct pipeline *pl)
{
    struct batch *b = oldest(pl);
    metrics_batch(pl->m, monotime_us() - b->started_us);
    for (int k = 0; k < PROTO_OUT_KIND_COUNT; k++)
        pl->m->outputs[k] += b->out_by_kind[k];
    settle(pl);
    bool idle = pl->in_flight == 0;
    bool hold = pl->on_committed != NULL && pl->on_committed(pl->hook_arg, idle);
    pl->hold = hold && !idle;
    if (route_closing(pl->route)) {
        if (idle)
            route_release(pl->route);
        return;
    }
    if (*pl->phase == PHASE_RESEND && !idle)
        return;
    if (*pl->phase == PHASE_RESEND)
        phase_set(pl->phase, PHASE_CATCHUP);
    else if (*pl->phase == PHASE_LIVE && pl->cfg->tick_interval_ms > 0 && rules_due(pl->st))
        append_tick(pl, true); /* the last tick left members due: catch up now */
    read_more(pl);
}

static void on_commit(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    enum fenced_refusal refusal;
    char why[256];
    if (!may_commit(pl))
        return; /* fenced: the batches behind the refused one are refused too */
    if (commit_check(r, &refusal, why, sizeof(why)) != 0) {
        pl->m->commit_failures++;
        if (refusal == FENCED_EPOCH)
            fenced(pl, why);
        else /* the marker moved, or a failure: recovery finds out what landed */
            route_reset(pl->route, why);
        return;
    }
    if (pl->cfg->wait_replicas == 0) {
        confirmed(pl);
        return;
    }
    LY_ASSERT(pl->written < pl->in_flight);
    pl->written++; /* its WAIT comes next */
}

static void on_wait(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    if (!may_commit(pl))
        return;
    LY_ASSERT(pl->written > 0);
    pl->written--;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < (long long)pl->cfg->wait_replicas) {
        if (pl->m->commits_unreplicated++ == 0)
            log_warn("partition %s: a commit reached %lld replica(s) within %u ms, not %u: a "
                     "failover now may lose it (counted in "
                     "loyalty_commits_unreplicated_total; logged once)", pl->keys->prefix,
                     r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL,
                     pl->cfg->wait_timeout_ms, pl->cfg->wait_replicas);
    }
    confirmed(pl);
}

/* Formats and queues the commit of `b`. Returns 0, or -1 after dropping
 * the connection. */
static int send_commit(struct pipeline *pl, struct batch *b)
{
    uint64_t maxlen = pl->commits++ % PIPELINE_TRIM_EVERY == 0 ? pl->cfg->out_maxlen : 0;
    if (commit_format(b, pl->keys, pl->epoch, maxlen) != 0 ||
        route_formatted(pl->route, &pl->commit, b->cmd, b->cmd_len) != 0 ||
        (pl->cfg->wait_replicas > 0 &&
         route_command(pl->route, &pl->wait, "WAIT %s %s", pl->wait_args[0],
                       pl->wait_args[1]) != 0)) {
        route_reset(pl->route, "cannot queue the commit");
        return -1;
    }
    return 0;
}

void pipeline_resend(struct pipeline *pl)
{
    LY_ASSERT(pl->in_flight > 0);
    phase_set(pl->phase, PHASE_RESEND);
    pl->read_from = pl->st->last_id;
    for (uint32_t i = 0; i < pl->in_flight; i++)
        if (send_commit(pl, &pl->ring[(pl->head + i) % pl->slots]) != 0)
            return;
}

/* The entries array of an XREAD reply (one stream), or NULL. */
static const redisReply *stream_entries(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1)
        return NULL;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2)
        return NULL;
    return s->element[1];
}

/* No entry is left to catch up on: consume new ones from now on. */
static void go_live(struct pipeline *pl)
{
    phase_set(pl->phase, PHASE_LIVE);
    route_reset_backoff(pl->route);
    log_info("consuming %s from %s", pl->keys->in,
             pl->st->last_id.ms ? "where it stopped" : "the start");
}

static void on_check(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    struct proto_id got = {0, 0};
    if (*pl->phase != PHASE_LIVE || route_closing(pl->route))
        return;
    if (r->type == REDIS_REPLY_STRING && proto_id_parse(r->str, r->len, &got) != 0)
        got.ms = got.seq = UINT64_MAX; /* not an id: not ours either */
    if (proto_id_cmp(got, pl->committed) != 0)
        route_reset(pl->route, "the progress marker moved under this daemon (Redis lost or "
                            "rewrote data)");
}

/* Idle: once every block_ms, the marker must still be the last one this
 * daemon committed (no commit is in flight: the GET runs after them all,
 * and before any commit sent later). */
static void check_marker(struct pipeline *pl)
{
    uint64_t now = monotime_us();
    if (pl->in_flight > 0 || now - pl->checked_us < (uint64_t)pl->cfg->block_ms * 1000u)
        return;
    pl->checked_us = now;
    if (route_command(pl->route, &pl->check, "GET %s", pl->keys->progress) != 0)
        route_reset(pl->route, "cannot queue GET");
}

/* A read found nothing new. */
static void nothing_new(struct pipeline *pl)
{
    if (*pl->phase == PHASE_CATCHUP)
        go_live(pl);
    if (*pl->phase == PHASE_LIVE)
        rulesync_caught_up(pl->rs);
    check_marker(pl);
    if (pl->blocking) {
        read_more(pl);
        return;
    }
    struct timeval tv = {0, (suseconds_t)pl->poll_ms * 1000};
    event_add(pl->poll_timer, &tv);
    pl->poll_ms = pl->poll_ms * 2 > PIPELINE_POLL_MAX_MS ? PIPELINE_POLL_MAX_MS : pl->poll_ms * 2;
}

/* The id of the last entry of an XREAD reply's entries, or -1. */
static int last_entry_id(const redisReply *entries, struct proto_id *id)
{
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return -1;
    const redisReply *e = entries->element[entries->elements - 1];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    return proto_id_parse(e->element[0]->str, e->element[0]->len, id);
}

static void text_in(void *arg, const redisReply *entries, size_t pos);

/* Ingest stopped before a rules entry whose text must be fetched
 * (rulesync.h). What batch `b` holds so far (the entries before it) is
 * committed as a batch of its own; reading waits, so that no later batch
 * is taken (or committed) before that entry, and starts again from it once
 * the text is in (the resolver then holds it). Returns 0, or -1 after
 * resetting the route. */
static int pause_for_text(struct pipeline *pl, struct batch *b, const redisReply *entries,
                          size_t pos)
{
    pl->paused = true;
    if (rulesync_fetch(pl->rs, entries, pos, text_in, pl) != 0) {
        batch_reset(b);
        route_reset(pl->route, "cannot fetch a rulebook text");
        return -1;
    }
    if (batch_empty(b))
        return 0; /* read_from stays before the entry */
    pl->read_from = b->last_id;
    pl->in_flight++;
    return send_commit(pl, b);
}

/* Applies the entries read after `prev` (the last being `last`) into the
 * next batch of the ring and sends its commit (expecting the marker at
 * `prev`), reading ahead first. Returns 0, 1 when reading waits for a
 * rulebook text, or -1 after resetting the route. */
static int take_batch(struct pipeline *pl, const redisReply *entries, struct proto_id prev,
                      struct proto_id last)
{
    LY_ASSERT(pl->in_flight < pl->slots);
    struct batch *b = &pl->ring[(pl->head + pl->in_flight) % pl->slots];
    struct ingest_stats stats = {0, 0, 0};
    size_t pos = 0;
    batch_reset(b);
    b->started_us = monotime_us();
    if (prev.ms != 0 || prev.seq != 0)
        proto_id_format(prev, b->expect_str, sizeof(b->expect_str));
    int rc = ingest_entries(pl->apply, pl->apply_arg, pl->st, entries, &pos, b, &pl->scratch,
                            &stats);
    if (rc == INGEST_NEED_TEXT)
        return pause_for_text(pl, b, entries, pos) == 0 ? 1 : -1;
    if (rc != 0 || b->last_id_str[0] == '\0' || proto_id_cmp(b->last_id, last) != 0) {
        batch_reset(b); /* XREAD returns entries after read_from only */
        route_reset(pl->route, "malformed XREAD reply");
        return -1;
    }
    pl->read_from = last;
    /* Read ahead first: Redis answers the next read before this batch's
     * commit, so the daemon has the next batch in hand while Redis commits
     * this one (up to `depth` commits in flight, and this read). */
    read_ahead(pl);
    pl->in_flight++;
    return send_commit(pl, b);
}

static void on_read(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    pl->reading = false;
    if (*pl->phase != PHASE_CATCHUP && *pl->phase != PHASE_LIVE)
        return; /* fenced meanwhile: read nothing more */
    if (route_closing(pl->route)) { /* the entries stay: the next start reads them */
        if (pl->in_flight == 0)
            route_release(pl->route);
        return;
    }
    if (r->type == REDIS_REPLY_NIL) {
        nothing_new(pl);
        return;
    }
    const redisReply *entries = stream_entries(r);
    struct proto_id last;
    if (entries == NULL || last_entry_id(entries, &last) != 0) {
        route_reset(pl->route, "malformed XREAD reply");
        return;
    }
    pl->poll_ms = PIPELINE_POLL_MIN_MS;
    if (take_batch(pl, entries, pl->read_from, last) != 0)
        return; /* reset, or waiting for a text */
    if (*pl->phase == PHASE_LIVE && entries->elements < pl->cfg->batch_entries_max)
        rulesync_caught_up(pl->rs); /* the stream held no more than this */
    read_more(pl);
}

/* The text ingest waited for is in (the resolver holds it, or its
 * problem): read again from the rules entry. */
static void text_in(void *arg, const redisReply *entries, size_t pos)
{
    struct pipeline *pl = arg;
    (void)entries;
    (void)pos;
    pl->paused = false;
    if (!route_closing(pl->route)) /* closing: released once nothing is in flight */
        read_more(pl);
}

/* Queues the next XREAD when a batch may be taken now; it may wait for
 * new entries (BLOCK) when `may_block`, the partition has the connection
 * to itself and is LIVE. */
static void read_next(struct pipeline *pl, bool may_block)
{
    bool live = *pl->phase == PHASE_LIVE;
    if (pl->reading || pl->hold || pl->paused || pl->in_flight >= pl->depth || route_closing(pl->route) ||
        !route_ready(pl->route) || (!live && *pl->phase != PHASE_CATCHUP))
        return;
    char from[PROTO_ID_STR_MAX];
    proto_id_format(pl->read_from, from, sizeof(from));
    const char *a[10] = {"XREAD", "COUNT", pl->count_arg};
    int n = 3;
    if (may_block && live && pl->blocking) {
        a[n++] = "BLOCK";
        a[n++] = pl->block_arg;
    }
    a[n++] = "STREAMS";
    a[n++] = pl->keys->in;
    a[n++] = from;
    if (route_command_argv(pl->route, &pl->read, n, a, NULL) != 0) {
        route_reset(pl->route, "cannot queue XREAD");
        return;
    }
    pl->reading = true;
}

static void read_more(struct pipeline *pl) { read_next(pl, true); }

/* The read sent before a commit: never BLOCK, which would hold the commit
 * queued behind it until new entries come. */
static void read_ahead(struct pipeline *pl) { read_next(pl, false); }

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    read_more(arg);
}

void pipeline_start(struct pipeline *pl, struct proto_id marker)
{
    LY_ASSERT(pl->in_flight == 0);
    pl->committed = marker;
    pl->read_from = marker;
    pl->reading = false;
    pl->paused = false;
    pl->written = 0;
    pl->hold = false;
    pl->poll_ms = PIPELINE_POLL_MIN_MS;
    pl->checked_us = monotime_us();
    phase_set(pl->phase, PHASE_CATCHUP);
    read_more(pl);
}

uint32_t pipeline_reconcile(struct pipeline *pl, struct proto_id marker)
{
    while (pl->in_flight > 0 && proto_id_cmp(oldest(pl)->last_id, marker) <= 0)
        settle(pl);
    pl->reading = false; /* a new connection: no read, WAIT or GET is queued on it */
    pl->paused = false;
    pl->written = 0;
    return pl->in_flight;
}

int pipeline_replay(struct pipeline *pl, const redisReply *entries, size_t from,
                    struct ingest_stats *stats, rulesync_resume_fn *resume, void *arg)
{
    size_t pos = from;
    int rc = ingest_entries(pl->apply, pl->apply_arg, pl->st, entries, &pos, NULL,
                            &pl->scratch, stats);
    if (rc != INGEST_NEED_TEXT)
        return rc;
    return rulesync_fetch(pl->rs, entries, pos, resume, arg) == 0 ? INGEST_NEED_TEXT : -1;
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
    if (*pl->phase != PHASE_LIVE || route_closing(pl->route) || !route_ready(pl->route))
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
        route_command(pl->route, &pl->tick, "XADD %s * m %b", pl->keys->in, buf.data,
                     buf.size) != 0)
        route_reset(pl->route, "cannot queue a tick");
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

void pipeline_stop_ticks(struct pipeline *pl)
{
    event_del(pl->tick_timer);
    event_del(pl->poll_timer);
}

static void on_trim(void *owner, const redisReply *r)
{
    struct pipeline *pl = owner;
    if (r->type == REDIS_REPLY_ERROR) /* fenced: the next commit says so too */
        log_warn("partition %s: input trim refused: %.*s", pl->keys->prefix, (int)r->len,
                 r->str);
    else
        pl->m->trims++;
}

void pipeline_trim(struct pipeline *pl, struct proto_id min_id)
{
    char id[PROTO_ID_STR_MAX];
    if (!pl->cfg->trim_input || !route_ready(pl->route) || route_closing(pl->route) ||
        !may_commit(pl) || (min_id.ms == 0 && min_id.seq == 0))
        return;
    proto_id_format(min_id, id, sizeof(id));
    if (route_command(pl->route, &pl->trim, "FCALL " FENCED_TRIM " 2 %s %s %s %s", pl->keys->in,
                     pl->keys->owner, pl->epoch, id) != 0)
        route_reset(pl->route, "cannot queue the input trim");
}

uint32_t pipeline_in_flight(const struct pipeline *pl) { return pl->in_flight; }

void pipeline_discard(struct pipeline *pl)
{
    for (uint32_t i = 0; i < pl->slots; i++)
        batch_reset(&pl->ring[i]);
    pl->head = pl->in_flight = pl->written = 0;
}

struct proto_id pipeline_committed(const struct pipeline *pl) { return pl->committed; }

void pipeline_set_committed(struct pipeline *pl, struct proto_id id) { pl->committed = id; }

void pipeline_set_epoch(struct pipeline *pl, const char *epoch)
{
    snprintf(pl->epoch, sizeof(pl->epoch), "%s", epoch);
}

void pipeline_set_blocking(struct pipeline *pl, bool blocking) { pl->blocking = blocking; }

void pipeline_set_rulesync(struct pipeline *pl, struct rulesync *rs)
{
    pl->rs = rs;
    pl->apply_arg = rulesync_resolver(rs);
}

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
                  struct state *st, struct metrics *m, struct route *route,
                  const struct commit_keys *keys, enum consumer_phase *phase)
{
    *pl = (struct pipeline){.cfg = cfg, .st = st, .m = m, .route = route, .keys = keys,
                            .phase = phase, .committed = st->last_id, .blocking = true,
                            .depth = cfg->batches_in_flight, .poll_ms = PIPELINE_POLL_MIN_MS,
                            .apply = ingest_apply_rules,
                            .read = {on_read, pl, "XREAD", false, route_user(route)},
                            .commit = {on_commit, pl, "the commit", true, route_user(route)},
                            .wait = {on_wait, pl, "WAIT", false, route_user(route)},
                            .tick = {on_tick_reply, pl, "XADD tick", false, route_user(route)},
                            .trim = {on_trim, pl, "the input trim", true, route_user(route)},
                            .check = {on_check, pl, "GET progress", false, route_user(route)}};
    LY_ASSERT(pl->depth >= 1 && pl->depth <= PIPELINE_DEPTH_MAX);
    pl->slots = pl->depth + 1;
    rules_outbox_init(&pl->scratch);
    snprintf(pl->count_arg, sizeof(pl->count_arg), "%u", cfg->batch_entries_max);
    snprintf(pl->block_arg, sizeof(pl->block_arg), "%u", cfg->block_ms);
    snprintf(pl->wait_args[0], sizeof(pl->wait_args[0]), "%u", cfg->wait_replicas);
    snprintf(pl->wait_args[1], sizeof(pl->wait_args[1]), "%u", cfg->wait_timeout_ms);
    pl->tick_timer = event_new(base, -1, EV_PERSIST, on_tick, pl);
    pl->poll_timer = evtimer_new(base, on_poll, pl);
    if (pl->tick_timer == NULL || pl->poll_timer == NULL)
        return -1;
    for (uint32_t i = 0; i < pl->slots; i++)
        if (batch_init(&pl->ring[i], cfg->batch_entries_max) != 0)
            return -1;
    return 0;
}

void pipeline_free(struct pipeline *pl)
{
    if (pl->tick_timer != NULL)
        event_free(pl->tick_timer);
    if (pl->poll_timer != NULL)
        event_free(pl->poll_timer);
    pl->tick_timer = pl->poll_timer = NULL;
    for (uint32_t i = 0; i < PIPELINE_DEPTH_MAX + 1; i++)
        batch_free(&pl->ring[i]);
    outbox_free(&pl->scratch);
}
