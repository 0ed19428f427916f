/* cursor.c - see cursor.h.
 *
 * Every step is a reply handler (link.h runs their common prologue); a
 * step that cannot go on either drops the connection (a reconnection
 * starts recovery again) or moves to BEHIND and waits for an operator.
 */
#include "cursor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static void replay_next(struct cursor *cur);

static void behind(struct cursor *cur, const char *what)
{
    log_error("redis is behind this daemon: %s (progress marker %" PRIu64 "-%" PRIu64
              ", state at %" PRIu64 "-%" PRIu64 "). Consuming stopped: restore Redis from its "
              "AOF/RDB, or move the data dir's snapshots aside to rebuild from what Redis has",
              what, cur->target.ms, cur->target.seq, cur->st->last_id.ms, cur->st->last_id.seq);
    phase_set(cur->phase, PHASE_BEHIND);
}

static void replay_from(struct cursor *cur, const redisReply *r, size_t pos);

/* Goes on with a replay that waited for a rulebook text (rulesync.h). */
static void replay_resume(void *arg, const redisReply *entries, size_t pos)
{
    replay_from(arg, entries, pos);
}

static void on_replay(void *owner, const redisReply *r)
{
    replay_from(owner, r, 0);
}

/* Applies the XRANGE reply `r` from entry `pos` on, then asks for more. */
static void replay_from(struct cursor *cur, const redisReply *r, size_t pos)
{
    struct ingest_stats stats = {0, 0, 0};
    int rc = pipeline_replay(cur->pl, r, pos, &stats, replay_resume, cur);
    cur->m->replayed += stats.applied;
    if (rc == INGEST_NEED_TEXT)
        return; /* replay_resume goes on */
    if (rc != 0) {
        route_reset(cur->route, "malformed XRANGE reply");
        return;
    }
    if (r->elements == 0 && proto_id_cmp(cur->st->last_id, cur->target) < 0) {
        log_error("recovery: entries up to %" PRIu64 "-%" PRIu64 " are missing from %s; "
                  "cannot rebuild state; consuming stopped", cur->target.ms, cur->target.seq,
                  cur->keys->in);
        phase_set(cur->phase, PHASE_BEHIND);
        return;
    }
    replay_next(cur);
}

/* Replays (last applied, marker] without publishing, then goes on. */
static void replay_next(struct cursor *cur)
{
    if (proto_id_cmp(cur->st->last_id, cur->target) >= 0) {
        pipeline_start(cur->pl, cur->target);
        return;
    }
    char from[PROTO_ID_STR_MAX + 1] = "(", to[PROTO_ID_STR_MAX];
    proto_id_format(cur->st->last_id, from + 1, sizeof(from) - 1);
    proto_id_format(cur->target, to, sizeof(to));
    if (*cur->phase != PHASE_REPLAY)
        phase_set(cur->phase, PHASE_REPLAY);
    if (route_command(cur->route, &cur->replay, "XRANGE %s %s %s COUNT %s", cur->keys->in, from,
                     to, cur->count_arg) != 0)
        route_reset(cur->route, "cannot queue XRANGE");
}

/* Redis holds less than our state: rebuild from a snapshot that is not
 * ahead of it. Returns 0 when the state is now at or before the marker. */
static int rebuild(struct cursor *cur, const char *what)
{
    log_warn("redis lost writes the daemon had applied: %s; rebuilding from a snapshot "
             "not after %" PRIu64 "-%" PRIu64, what, cur->target.ms, cur->target.seq);
    pipeline_discard(cur->pl); /* their entries, if Redis still has them, are read again */
    if (cur->reload == NULL || cur->reload(cur->reload_arg, cur->target) != 0 ||
        proto_id_cmp(cur->st->last_id, cur->target) > 0) {
        behind(cur, what);
        return -1;
    }
    pipeline_set_committed(cur->pl, cur->st->last_id);
    return 0;
}

/* Decides what to do with the marker Redis holds (see cursor.h). */
static void reconcile(struct cursor *cur)
{
    bool has_state = cur->st->last_id.ms != 0 || cur->st->last_id.seq != 0;
    if (cur->marker_missing && has_state) {
        behind(cur, "Redis has no progress marker but the daemon has state, so Redis lost "
                    "its data; refusing to make up state");
        return;
    }
    if (proto_id_cmp(cur->target, pipeline_committed(cur->pl)) < 0 &&
        rebuild(cur, "marker older than a commit Redis confirmed") != 0)
        return;
    uint32_t in_flight = pipeline_in_flight(cur->pl);
    if (in_flight > 0 && pipeline_reconcile(cur->pl, cur->target) < in_flight)
        log_info("recovery: %u commit(s) in flight had landed",
                 in_flight - pipeline_in_flight(cur->pl));
    if (pipeline_in_flight(cur->pl) > 0) {
        log_info("recovery: sending %u unconfirmed commit(s) again",
                 pipeline_in_flight(cur->pl));
        pipeline_resend(cur->pl);
        return;
    }
    if (proto_id_cmp(cur->st->last_id, cur->target) > 0 &&
        rebuild(cur, "marker older than the state") != 0)
        return;
    if (proto_id_cmp(cur->st->last_id, cur->target) == 0) {
        replay_next(cur);
        return;
    }
    /* Replay needs every entry after the state's id: check none was
     * trimmed or deleted (Redis 7 records the largest deleted id). */
    if (route_command(cur->route, &cur->history, "XINFO STREAM %s", cur->keys->in) != 0)
        route_reset(cur->route, "cannot queue XINFO");
}

/* What XINFO STREAM says about the input's history (Redis 7). */
struct history {
    struct proto_id max_deleted, first, last_generated;
    bool has_first;
    long long length, added;
};

static void parse_history(const redisReply *r, struct history *h)
{
    memset(h, 0, sizeof(*h));
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "max-deleted-entry-id") == 0 && v->type == REDIS_REPLY_STRING)
            proto_id_parse(v->str, v->len, &h->max_deleted);
        else if (strcmp(k->str, "last-generated-id") == 0 && v->type == REDIS_REPLY_STRING)
            proto_id_parse(v->str, v->len, &h->last_generated);
        else if (strcmp(k->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER)
            h->length = v->integer;
        else if (strcmp(k->str, "entries-added") == 0 && v->type == REDIS_REPLY_INTEGER)
            h->added = v->integer;
        else if (strcmp(k->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
                 v->elements == 2 && v->element[0]->type == REDIS_REPLY_STRING)
            h->has_first = proto_id_parse(v->element[0]->str, v->element[0]->len,
                                          &h->first) == 0;
    }
}

/* True when an entry after `after` may have been removed. XDEL records the
 * largest id it deleted; trimming (XTRIM, MAXLEN) removes a prefix without
 * recording it in Redis 7.0, so: entries were removed and the oldest left
 * (or, when none is left, the newest ever added) is after `after`. */
static bool history_gap(const struct history *h, struct proto_id after)
{
    if (proto_id_cmp(h->max_deleted, after) > 0)
        return true;
    if (h->added <= h->length)
        return false; /* nothing was ever removed */
    return proto_id_cmp(h->has_first ? h->first : h->last_generated, after) > 0;
}

static void on_history(void *owner, const redisReply *r)
{
    struct cursor *cur = owner;
    struct history h;
    parse_history(r, &h);
    if (history_gap(&h, cur->st->last_id)) {
        behind(cur, "entries needed to replay from the state's id were trimmed or deleted "
                    "from the input stream (restore a newer snapshot, or Redis from a backup)");
        return;
    }
    replay_next(cur);
}

static void on_marker(void *owner, const redisReply *r)
{
    struct cursor *cur = owner;
    memset(&cur->target, 0, sizeof(cur->target));
    cur->marker_missing = r->type == REDIS_REPLY_NIL;
    if (r->type == REDIS_REPLY_STRING) {
        if (proto_id_parse(r->str, r->len, &cur->target) != 0) {
            log_error("%s holds '%.*s', not a stream id; consuming stopped", cur->keys->progress,
                      (int)(r->len > 64 ? 64 : r->len), r->str);
            phase_set(cur->phase, PHASE_BEHIND);
            return;
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        route_reset(cur->route, "progress marker is not a string");
        return;
    }
    reconcile(cur);
}

/* The claim's reply: [epoch, how, former owner] (fenced.h). */
static void on_claim(void *owner, const redisReply *r)
{
    struct cursor *cur = owner;
    if (r->type == REDIS_REPLY_ERROR) {
        if (fenced_refusal_of(r->str, r->len) != FENCED_EPOCH) {
            char why[256];
            snprintf(why, sizeof(why), "the claim failed: %.*s", (int)r->len, r->str);
            route_reset(cur->route, why);
            return;
        }
        log_error("partition %s: not served: %.*s (this instance is '%s'; to move the "
                  "partition here, start with --take-partitions, README \"Scaling out\")",
                  cur->keys->prefix, (int)r->len, r->str, cur->cfg->consumer);
        phase_set(cur->phase, PHASE_FENCED);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING) {
        route_reset(cur->route, "malformed claim reply");
        return;
    }
    char epoch[24];
    snprintf(epoch, sizeof(epoch), "%lld", r->element[0]->integer);
    pipeline_set_epoch(cur->pl, epoch);
    if (strcmp(r->element[1]->str, "resumed") != 0 || cur->take)
        log_info("partition %s: %s at epoch %s by '%s'%s%s", cur->keys->prefix,
                 r->element[1]->str, epoch, cur->cfg->consumer,
                 r->element[2]->len ? " from " : "", r->element[2]->str);
    cur->take = false;
    int rc = route_command(cur->route, &cur->type, "TYPE %s", cur->keys->out);
    rc |= route_command(cur->route, &cur->type, "TYPE %s", cur->keys->dlq);
    rc |= route_command(cur->route, &cur->marker, "GET %s", cur->keys->progress);
    if (rc != 0)
        route_reset(cur->route, "cannot queue set-up commands");
}

static void on_type(void *owner, const redisReply *r)
{
    struct cursor *cur = owner;
    if (r->type != REDIS_REPLY_STATUS ||
        (strcmp(r->str, "none") != 0 && strcmp(r->str, "stream") != 0)) {
        log_error("a key under prefix '%s' is not a stream (TYPE says %s); consuming stopped",
                  cur->cfg->prefix, r->str ? r->str : "?");
        phase_set(cur->phase, PHASE_BEHIND);
        route_reset(cur->route, "an unusable key: looking again later");
    }
}

void cursor_begin(struct cursor *cur)
{
    if (route_command(cur->route, &cur->claim, "FCALL " FENCED_CLAIM " 1 %s %s %s",
                     cur->keys->owner, cur->cfg->consumer, cur->take ? "1" : "0") != 0)
        route_reset(cur->route, "cannot queue the claim");
}

void cursor_set_take(struct cursor *cur) { cur->take = true; }

void cursor_set_reload(struct cursor *cur, cursor_reload_fn *reload, void *arg)
{
    cur->reload = reload;
    cur->reload_arg = arg;
}

void cursor_init(struct cursor *cur, const struct config *cfg, struct state *st,
                 struct metrics *m, struct route *route, struct pipeline *pl,
                 const struct commit_keys *keys, enum consumer_phase *phase)
{
    *cur = (struct cursor){.cfg = cfg, .st = st, .m = m, .route = route, .pl = pl, .keys = keys,
                           .phase = phase,
                           .claim = {on_claim, cur, "the claim", true, route_user(route)},
                           .type = {on_type, cur, "TYPE", false, route_user(route)},
                           .marker = {on_marker, cur, "GET progress", false, route_user(route)},
                           .history = {on_history, cur, "XINFO STREAM", false,
                                       route_user(route)},
                           .replay = {on_replay, cur, "XRANGE", false, route_user(route)}};
    snprintf(cur->count_arg, sizeof(cur->count_arg), "%u", cfg->batch_entries_max);
}
