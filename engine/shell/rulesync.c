/* rulesync.c - see rulesync.h.
 *
 * Ownership: replies belong to hiredis (link.h) and are gone once a
 * handler returns, hence the deep copy of the entries a fetch waits with
 * (made with hiredis's own layout, so freeReplyObject frees it).
 */
#include "rulesync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "lyassert.h"
#include "rulecanon.h"
#include "rulejson.h"

/* ---- the copy of a reply --------------------------------------------- */

static redisReply *reply_copy(const redisReply *r)
{
    redisReply *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->type = r->type;
    c->integer = r->integer;
    if (r->str != NULL) {
        c->str = malloc(r->len + 1);
        if (c->str == NULL)
            goto fail;
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        c->element = calloc(r->elements, sizeof(*c->element));
        if (c->element == NULL)
            goto fail;
        c->elements = r->elements;
        for (size_t i = 0; i < r->elements; i++)
            if ((c->element[i] = reply_copy(r->element[i])) == NULL)
                goto fail;
    }
    return c;
fail:
    freeReplyObject(c);
    return NULL;
}

static void release_held(struct rulesync *rs)
{
    if (rs->held != NULL)
        freeReplyObject(rs->held);
    rs->held = NULL;
    rs->waiting = false;
}

/* ---- resolving -------------------------------------------------------- */

static enum ingest_text resolve(void *ctx, const struct state *st, const char *hash,
                                struct rules_text *rt)
{
    struct rulesync *rs = ctx;
    const struct versions *v = st->ver;
    const struct rulebook *known = NULL;
    if (strcmp(hash, versions_current(v)->hash) == 0)
        known = &v->now;
    else if (v->has_next && strcmp(hash, v->next_info.hash) == 0)
        known = &v->next;
    if (known != NULL) {
        /* A copy: the core copies what it is handed over its own versions. */
        memcpy(rs->scratch, known, sizeof(*rs->scratch));
        rt->rb = rs->scratch;
        return INGEST_TEXT_KNOWN;
    }
    if (rs->slot_hash[0] != '\0' && strcmp(hash, rs->slot_hash) == 0) {
        rt->rb = rs->slot_ok ? rs->slot_rb : NULL;
        rt->problem = rs->slot_ok ? NULL : rs->slot_problem;
        if (!rs->slot_ok)
            rs->slot_hash[0] = '\0'; /* once: a missing text may be stored later */
        return INGEST_TEXT_KNOWN;
    }
    snprintf(rs->wanted, sizeof(rs->wanted), "%s", hash);
    return INGEST_TEXT_UNKNOWN;
}

/* rulecanon's errors start "rulebook <short hash>", which the core's
 * detail already names: what comes after it (":LINE: problem" or ": the
 * text hashes to ..."). */
static const char *after_name(const char *text)
{
    size_t skip = strlen("rulebook ") + RULECANON_SHORT_LEN;
    return strncmp(text, "rulebook ", 9) == 0 && strlen(text) > skip ? text + skip : text;
}

/* Judges the answer to GET <prefix>rules:<wanted> into the slot. */
static void judge(struct rulesync *rs, const redisReply *r)
{
    char key[RULEPUSH_KEY_MAX + 1];
    struct config_error err;
    rulepush_key(rs->keys->prefix, rs->wanted, key, sizeof(key));
    memcpy(rs->slot_hash, rs->wanted, sizeof(rs->slot_hash));
    rs->slot_ok = false;
    char *p = rs->slot_problem;
    size_t cap = sizeof(rs->slot_problem);
    if (r->type == REDIS_REPLY_NIL)
        snprintf(p, cap, "its text was not found at %s", key);
    else if (r->type != REDIS_REPLY_STRING)
        snprintf(p, cap, "%s is not a string", key);
    else if (r->len > RULEPUSH_TEXT_MAX || strlen(r->str) != r->len)
        snprintf(p, cap, "the text at %s is over %d bytes or holds a NUL byte", key,
                 RULEPUSH_TEXT_MAX);
    else if (rulecanon_verify(r->str, rs->wanted, rs->slot_rb, &err) != 0)
        snprintf(p, cap, "text%.*s", (int)cap - 5, after_name(err.text));
    else
        rs->slot_ok = true;
    if (!rs->slot_ok)
        log_warn("rulebook %.*s: %s", RULECANON_SHORT_LEN, rs->wanted, p);
}

static void on_text(void *owner, const redisReply *r)
{
    struct rulesync *rs = owner;
    if (!rs->waiting)
        return; /* asked on a connection since lost; the caller started over */
    rs->waiting = false;
    judge(rs, r);
    rs->resume(rs->resume_arg, rs->held, rs->held_pos);
    if (!rs->waiting) /* the caller went through the entries */
        release_held(rs);
}

int rulesync_fetch(struct rulesync *rs, const redisReply *entries, size_t pos,
                   rulesync_resume_fn *fn, void *arg)
{
    char key[RULEPUSH_KEY_MAX + 1];
    LY_ASSERT(rs->wanted[0] != '\0' && pos < entries->elements);
    if (entries != rs->held) {
        redisReply *copy = reply_copy(entries);
        if (copy == NULL)
            return -1;
        release_held(rs);
        rs->held = copy;
    }
    rs->held_pos = pos;
    rs->resume = fn;
    rs->resume_arg = arg;
    rulepush_key(rs->keys->prefix, rs->wanted, key, sizeof(key));
    if (route_command(rs->route, &rs->get, "GET %s", key) != 0)
        return -1;
    rs->waiting = true;
    return 0;
}

/* ---- appending the file's rulebook ----------------------------------- */

static void on_queued(void *owner, const redisReply *r)
{
    (void)owner;
    (void)r; /* OK or QUEUED; an error drops the connection (link.h) */
}

static void on_appended(void *owner, const redisReply *r)
{
    struct rulesync *rs = owner;
    rs->sending = false;
    rs->want_pending = false;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_STRING ||
        proto_id_parse(r->element[1]->str, r->element[1]->len, &rs->sent_id) != 0) {
        log_error("rulebook %.*s: appending its rules entry failed (%s); the file's rulebook "
                  "is not in force: fix Redis, then send SIGHUP", RULECANON_SHORT_LEN,
                  rs->want.hash, r->type == REDIS_REPLY_ERROR ? r->str : "no result");
        return;
    }
    memcpy(rs->sent_hash, rs->want.hash, sizeof(rs->sent_hash));
    log_info("rulebook %s: stored its text and appended rules entry %s (label '%s')",
             rs->want.hash, r->element[1]->str, rs->want_label);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SET the text, XADD the entry, in one MULTI/EXEC (rulepush.h). */
static void append(struct rulesync *rs)
{
    char key[RULEPUSH_KEY_MAX + 1];
    msgpack_sbuffer m;
    msgpack_sbuffer_init(&m);
    rulepush_key(rs->keys->prefix, rs->want.hash, key, sizeof(key));
    int rc = rulepush_encode(&m, rs->want.hash, rs->want_label, 0, wall_ms());
    rc |= route_command(rs->route, &rs->queued, "MULTI");
    rc |= route_command(rs->route, &rs->queued, "SET %s %s", key, rs->want.text);
    rc |= route_command(rs->route, &rs->queued, "XADD %s * m %b", rs->keys->in, m.data, m.size);
    rc |= route_command(rs->route, &rs->appended, "EXEC");
    msgpack_sbuffer_destroy(&m);
    if (rc != 0) {
        route_reset(rs->route, "cannot queue the rulebook's append");
        return;
    }
    rs->sending = true;
}

/* Appends the file's rulebook unless the log already makes it (or is
 * about to make it) the version in force or the scheduled one. */
static void check_want(struct rulesync *rs)
{
    if (!rs->want_pending || rs->sending || rs->want.rb == NULL)
        return;
    const struct versions *v = rs->st->ver;
    const char *now = versions_current(v)->hash;
    const char *want = rs->want.hash;
    bool ours_ahead = rs->sent_hash[0] != '\0' && proto_id_cmp(rs->st->last_id, rs->sent_id) < 0;
    bool there = ours_ahead ? strcmp(want, rs->sent_hash) == 0
                            : strcmp(want, now) == 0 ||
                                  (v->has_next && strcmp(want, v->next_info.hash) == 0);
    if (there) {
        rs->want_pending = false;
        log_info("rulebook %.*s of the file is %s", RULECANON_SHORT_LEN, want,
                 ours_ahead ? "appended already" : strcmp(want, now) == 0
                                                      ? "the version in force"
                                                      : "the scheduled version");
        return;
    }
    log_info("rulebook: the file's %s differs from the version in force %s; appending a "
             "rules entry (%s)", want, now[0] ? now : "(start-up version, none named)",
             rs->want_label);
    append(rs);
}

int rulesync_want(struct rulesync *rs, const struct rulebook *rb, const char *label)
{
    struct rulepush_book b;
    if (rulepush_book_of(rb, &b) != 0)
        return -1;
    rulepush_book_free(&rs->want);
    rs->want = b;
    snprintf(rs->want_label, sizeof(rs->want_label), "%s", label);
    rs->want_pending = true;
    return 0;
}

const char *rulesync_file_hash(const struct rulesync *rs)
{
    return rs->want.hash;
}

/* ---- the summary ------------------------------------------------------ */

static void on_summary(void *owner, const redisReply *r)
{
    (void)owner;
    (void)r;
}

static void write_summary(struct rulesync *rs)
{
    const struct versions *v = rs->st->ver;
    const struct rulebook_version *cur = versions_current(v);
    char sig[sizeof(rs->summary_sig)], since[PROTO_ID_STR_MAX], next[PROTO_ID_STR_MAX];
    char key[RULEPUSH_KEY_MAX + 1];
    if (!rs->enabled || !route_ready(rs->route) || route_closing(rs->route))
        return;
    proto_id_format(cur->since_id, since, sizeof(since));
    proto_id_format(v->has_next ? v->next_info.entry_id : (struct proto_id){0, 0}, next,
                    sizeof(next));
    snprintf(sig, sizeof(sig), "%s %s %s %s", cur->hash, since,
             v->has_next ? v->next_info.hash : "-", next);
    if (strcmp(sig, rs->summary_sig) == 0)
        return;
    json_t *j = rulejson_versions(v, rs->st->last_id, false);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    rulepush_key(rs->keys->prefix, NULL, key, sizeof(key));
    if (text == NULL || route_command(rs->route, &rs->summary, "SET %s %s", key, text) != 0)
        log_warn("rulebook: cannot write %s", key);
    else
        memcpy(rs->summary_sig, sig, sizeof(sig));
    free(text);
}

void rulesync_caught_up(struct rulesync *rs)
{
    if (!rs->enabled)
        return;
    write_summary(rs);
    check_want(rs);
}

void rulesync_landed(struct rulesync *rs)
{
    write_summary(rs);
}

/* ---- life cycle ------------------------------------------------------- */

const struct ingest_rules *rulesync_resolver(struct rulesync *rs)
{
    return &rs->resolver;
}

void rulesync_disable(struct rulesync *rs)
{
    rs->enabled = false;
}

void rulesync_link_up(struct rulesync *rs)
{
    release_held(rs);
    rs->sending = false;
    rs->summary_sig[0] = '\0';
}

int rulesync_init(struct rulesync *rs, const struct config *cfg, struct state *st,
                  struct route *route, const struct commit_keys *keys, uint32_t partition)
{
    struct link_user *u = route_user(route);
    *rs = (struct rulesync){.cfg = cfg, .st = st, .route = route, .keys = keys,
                            .resolver = {resolve, rs, partition, cfg->partitions},
                            .enabled = true,
                            .get = {on_text, rs, "GET rules text", false, u},
                            .queued = {on_queued, rs, "MULTI (rules entry)", false, u},
                            .appended = {on_appended, rs, "EXEC (rules entry)", true, u},
                            .summary = {on_summary, rs, "SET rules:current", false, u}};
    rs->slot_rb = malloc(sizeof(*rs->slot_rb));
    rs->scratch = malloc(sizeof(*rs->scratch));
    return rs->slot_rb != NULL && rs->scratch != NULL ? 0 : -1;
}

void rulesync_free(struct rulesync *rs)
{
    release_held(rs);
    rulepush_book_free(&rs->want);
    free(rs->slot_rb);
    free(rs->scratch);
    rs->slot_rb = rs->scratch = NULL;
}
