/* http.c - see http.h. Every handler ends with exactly one reply, sent by
 * reply_json() or reply_text(). */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>

#include "caltime.h"
#include "ledgerproxy.h"
#include "liabview.h"
#include "httppreview.h"
#include "log.h"
#include "lyassert.h"
#include "partition.h"
#include "rulecanon.h"
#include "rulejson.h"
#include "progview.h"
#include "notices.h"
#include "pending.h"
#include "segments.h"
#include "ui.h"
#include "wallet.h"

#define HTTP_MEMBERS_PATH "/v1/members/"
#define HTTP_HISTORY_SUFFIX "/history"
#define HTTP_HEADERS_MAX 8192 /* request line + headers: ids are short */
#define HTTP_PREVIEW_PATH "/v1/preview"
#define HTTP_BODY_MAX HTTPPREVIEW_BODY_MAX /* a preview's purchase; GETs carry none */
#define HTTP_TIMEOUT_S 10     /* idle or slow clients are dropped */

/* When accept() fails (out of file descriptors: clients holding idle
 * connections until HTTP_TIMEOUT_S), accepting pauses this long instead of
 * retrying at once, which would spin and flood the log. */
#define HTTP_ACCEPT_PAUSE_MS 200

struct http {
    struct evhttp *ev;
    struct http_sources src;
    struct ledgerproxy *ledger; /* NULL: no ledger configured */
    struct httppreview *preview; /* NULL: src.preview not given */
};

static void reply_text(struct evhttp_request *req, int code, const char *type,
                       struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, NULL, body);
}

/* Sends `obj` (reference stolen) as the JSON body. */
static void reply_json(struct evhttp_request *req, int code, json_t *obj)
{
    struct evbuffer *body = evbuffer_new();
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (body == NULL || text == NULL) {
        evhttp_send_error(req, 500, "out of memory");
    } else {
        evbuffer_add(body, text, strlen(text));
        evbuffer_add(body, "\n", 1);
        reply_text(req, code, "application/json", body);
    }
    free(text);
    json_decref(obj);
    if (body)
        evbuffer_free(body);
}

static void reply_error(struct evhttp_request *req, int code, const char *error,
                        const char *detail)
{
    reply_json(req, code, json_pack("{s:s, s:s}", "error", error, "detail", detail));
}

static json_t *perks_json(const struct rulebook_tier *t)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < t->perk_count; i++)
        json_array_append_new(a, json_string(t->perks[i]));
    return a;
}

static json_t *next_tier_json(const struct rulebook *rb, const struct member *m,
                              int64_t qualifying)
{
    if (m->tier + 1u >= rb->tier_count)
        return json_null();
    const struct rulebook_tier *n = &rb->tiers[m->tier + 1];
    return json_pack("{s:s, s:I, s:I}", "name", n->name, "threshold", (json_int_t)n->threshold,
                     "remaining", (json_int_t)(n->threshold - qualifying));
}

/* Points expiring within 30, 60 and 90 days of the engine clock. */
static json_t *expiring_json(const struct state *st, uint32_t pos)
{
    int64_t now = st->clock_ms;
    int64_t next = wallet_next_expiry(&st->members, pos);
    json_int_t in30 = wallet_expiring(&st->members, pos, now + 30 * CALTIME_DAY_MS);
    json_int_t in60 = wallet_expiring(&st->members, pos, now + 60 * CALTIME_DAY_MS);
    json_int_t in90 = wallet_expiring(&st->members, pos, now + 90 * CALTIME_DAY_MS);
    return json_pack("{s:I, s:I, s:I, s:o}", "30", in30, "60", in60, "90", in90, "next_ts",
                     next == INT64_MAX ? json_null() : json_integer(next));
}

/* Points waiting out the return window, by release day (pending.h):
 * {"points": total, "releases": [{"release_ts", "points"}, ...]}. */
static json_t *pending_json(const struct member *m)
{
    json_t *releases = json_array();
    for (uint32_t i = 0; releases && i < pending_count(m); i++)
        json_array_append_new(releases,
                              json_pack("{s:I, s:I}", "release_ts",
                                        (json_int_t)m->pend_day[i] * CALTIME_DAY_MS, "points",
                                        (json_int_t)m->pend_points[i]));
    return json_pack("{s:I, s:o}", "points", (json_int_t)pending_total(m), "releases",
                     releases ? releases : json_null());
}

/* Whether the next review (or grace end) would take the member's tier,
 * with what is missing (notices.h), or null. */
static json_t *at_risk_json(const struct state *st, const struct rulebook *rb, uint32_t pos)
{
    int64_t review, needed;
    if (!notices_at_risk(st, rb, pos, &review, &needed))
        return json_null();
    return json_pack("{s:s, s:I, s:I}", "tier", rb->tiers[members_at(&st->members, pos)->tier].name,
                     "review_ts", (json_int_t)review, "needed", (json_int_t)needed);
}

/* RFM scores, segment, stage, value class, days since the last
 * purchase, window spend and lifetime value (segments.h). */
static json_t *segment_json(const struct state *st, uint32_t pos)
{
    const struct rulebook *rb = &st->ver->now; /* the partition's version in force */
    const struct member *m = members_at(&st->members, pos);
    int64_t spend, count;
    segments_window(st, rb, pos, &spend, &count);
    int vc = segments_value_class(st, rb, pos);
    json_t *days = m->last_purchase_ts == 0
                       ? json_null()
                       : json_integer((st->clock_ms - m->last_purchase_ts) / CALTIME_DAY_MS);
    return json_pack("{s:[i,i,i], s:s, s:s, s:o, s:o, s:I, s:I, s:I}", "rfm", m->rfm[0],
                     m->rfm[1], m->rfm[2], "segment", rb->seg.segments[m->segment].name,
                     "stage", segments_stage_name((enum rulebook_stage)m->stage), "value_class",
                     vc < 0 ? json_null() : json_string(rb->seg.value_classes[vc].name),
                     "days_since_last_purchase", days, "window_spend", (json_int_t)spend,
                     "window_purchases", (json_int_t)count, "clv",
                     (json_int_t)segments_clv(st, rb, pos));
}

static json_t *member_json(const struct state *st, uint32_t pos)
{
    const struct member *m = members_at(&st->members, pos);
    const struct rulebook *rb = &st->ver->now;
    int32_t now_month = caltime_month(st->clock_ms > 0 ? st->clock_ms : 0);
    int64_t q = members_qual_total(m, now_month, rb->window_months);
    char birthday[8];
    snprintf(birthday, sizeof(birthday), "%02u-%02u", m->birthday_month, m->birthday_day);
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:o, s:I, s:s, s:o, s:I, s:I, s:I, s:o}",
                     "member", m->id, "tier", rb->tiers[m->tier].name,
                     "balance", (json_int_t)m->balance,
                     "lifetime_points", (json_int_t)m->lifetime_points,
                     "perks", perks_json(&rb->tiers[m->tier]),
                     "qualifying", (json_int_t)q,
                     "qualifying_basis", rb->basis == RULEBOOK_BASIS_SPEND ? "spend" : "points",
                     "next_tier", next_tier_json(rb, m, q),
                     "purchases", (json_int_t)m->purchases,
                     "enrolled_ts", (json_int_t)m->enrolled_ts,
                     "last_purchase_ts", (json_int_t)m->last_purchase_ts,
                     "birthday", m->birthday_month ? json_string(birthday) : json_null());
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "expiring", expiring_json(st, pos));
    json_object_set_new(j, "next_review_ts", json_integer(m->next_review_ts));
    if (rb->seg.enabled)
        json_object_update_new(j, segment_json(st, pos));
    json_object_set_new(j, "grace_until_ts",
                        m->grace_until_ts ? json_integer(m->grace_until_ts) : json_null());
    progview_member(j, st, rb, pos);
    json_object_set_new(j, "pending", pending_json(m));
    json_object_set_new(j, "at_risk", at_risk_json(st, rb, pos));
    return j;
}

/* A member id as the decoder accepts it: 1..PROTO_MEMBER_MAX printable
 * ASCII bytes without spaces. Anything else cannot be a member. */
static int valid_member_id(const char *id, size_t len)
{
    if (len == 0 || len > PROTO_MEMBER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return 0;
    return 1;
}

static void handle_member(struct http *h, struct evhttp_request *req, const char *raw)
{
    size_t len = 0;
    char *id = evhttp_uridecode(raw, 0, &len);
    if (id == NULL || !valid_member_id(id, len) || strlen(id) != len) {
        free(id);
        reply_error(req, 400, "bad_member_id",
                    "a member id is 1..32 printable ASCII characters without spaces");
        return;
    }
    uint32_t p = partition_of(id, len, h->src.cfg->partitions);
    const struct part *pt = fleet_find(h->src.fleet, p);
    uint32_t pos = pt == NULL ? HINDEX_NONE : members_find(&pt->st.members, id);
    if (pt == NULL) {
        char detail[160];
        snprintf(detail, sizeof(detail), "this member is in partition %u of %u, which this "
                 "daemon does not serve: ask the daemon that serves it", p,
                 h->src.cfg->partitions);
        reply_json(req, 421, json_pack("{s:s, s:s, s:i}", "error", "wrong_partition", "detail",
                                       detail, "partition", (int)p));
    } else if (pos == HINDEX_NONE) {
        reply_error(req, 404, "unknown_member", "no member with this id");
    } else {
        reply_json(req, 200, member_json(&pt->st, pos));
    }
    free(id);
}

/* {"name": count, ...} for `n` names spaced `stride` bytes apart. */
static json_t *counts_json(const char *names, size_t stride, const int64_t *counts, uint32_t n)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o && i < n; i++)
        json_object_set_new(o, names + i * stride, json_integer(counts[i]));
    return o;
}

/* The served partitions' states and condition (fleet_view). */
struct view {
    const struct state *states[PARTITION_COUNT_MAX];
    struct metrics_view v;
};

static int64_t members_of(const struct view *w)
{
    int64_t n = 0;
    for (uint32_t i = 0; i < w->v.count; i++)
        n += w->states[i]->members.count;
    return n;
}

static void handle_segments(struct http *h, struct evhttp_request *req)
{
    static struct view w; /* large; the loop is single-threaded */
    struct metrics_population p;
    fleet_view(h->src.fleet, w.states, &w.v);
    const struct rulebook *rb = &w.states[0]->ver->now; /* the first partition's */
    metrics_population(&w.v, rb, &p);
    json_t *stages = json_object();
    for (int i = 0; stages && i < RULEBOOK_STAGE_COUNT; i++)
        json_object_set_new(stages, segments_stage_name((enum rulebook_stage)i),
                            json_integer(p.stages[i]));
    json_t *j = json_pack("{s:I, s:o, s:o, s:o, s:o}", "members", (json_int_t)members_of(&w),
                          "tier",
                          counts_json(rb->tiers[0].name, sizeof(rb->tiers[0]), p.tiers,
                                      rb->tier_count),
                          "segment",
                          counts_json(rb->seg.segments[0].name, sizeof(rb->seg.segments[0]),
                                      p.segments, rb->seg.segment_count),
                          "stage", stages, "value_class",
                          counts_json(rb->seg.value_classes[0].name,
                                      sizeof(rb->seg.value_classes[0]), p.classes,
                                      rb->seg.value_class_count));
    if (j != NULL)
        json_object_set_new(j, "churn_bp", progview_churn(w.states, w.v.count, rb));
    reply_json(req, 200, j);
}

static void handle_campaigns(struct http *h, struct evhttp_request *req)
{
    static struct view w; /* large; the loop is single-threaded */
    fleet_view(h->src.fleet, w.states, &w.v);
    reply_json(req, 200, progview_campaigns(w.states, w.v.count, &w.states[0]->ver->now));
}

/* Entries GET /v1/dlq returns without ?limit=: a screenful. */
#define HTTP_DLQ_LIMIT_DEFAULT 50

static void handle_dlq(struct http *h, struct evhttp_request *req)
{
    struct evkeyvalq q;
    long limit = HTTP_DLQ_LIMIT_DEFAULT;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (query != NULL && evhttp_parse_query_str(query, &q) == 0) {
        const char *v = evhttp_find_header(&q, "limit");
        char *end = NULL;
        if (v != NULL)
            limit = strtol(v, &end, 10);
        if (v != NULL && (end == v || *end != '\0'))
            limit = -1;
        evhttp_clear_headers(&q);
    }
    char why[64];
    snprintf(why, sizeof(why), "limit must be an integer from 1 to %d", DLQRING_ENTRIES_MAX);
    if (h->src.dlq == NULL) /* a program without a ring (bench_bare) */
        reply_error(req, 404, "not_found", "this program keeps no DLQ ring");
    else if (limit < 1 || limit > DLQRING_ENTRIES_MAX)
        reply_error(req, 400, "bad_limit", why);
    else
        reply_json(req, 200, dlqring_json(h->src.dlq, (uint32_t)limit));
}

/* {"<p>": {"consumer", "last_id", "members", "node"}} of every served
 * partition. */
static json_t *partitions_json(const struct fleet *f)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o != NULL && i < fleet_count(f); i++) {
        const struct part *pt = fleet_part_c(f, i);
        char last[PROTO_ID_STR_MAX], key[16];
        proto_id_format(pt->st.last_id, last, sizeof(last));
        snprintf(key, sizeof(key), "%u", pt->p);
        json_object_set_new(o, key, json_pack("{s:s, s:s, s:I, s:s}", "consumer",
                                              consumer_status(pt->consumer), "last_id", last,
                                              "members", (json_int_t)pt->st.members.count,
                                              "node", consumer_node(pt->consumer)));
    }
    return o;
}

/* True when the request's query has `name`=1. */
static bool query_flag(struct evhttp_request *req, const char *name)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    bool on = false;
    if (query != NULL && evhttp_parse_query_str(query, &q) == 0) {
        const char *v = evhttp_find_header(&q, name);
        on = v != NULL && strcmp(v, "1") == 0;
        evhttp_clear_headers(&q);
    }
    return on;
}

/* {"<p>": the versions of served partition p without history, ...}:
 * each partition switches when it applies the rules entry of its own
 * input, so they may differ for a while. */
static json_t *partitions_rulebook(const struct fleet *f)
{
    json_t *all = json_object();
    for (uint32_t i = 0; all != NULL && i < fleet_count(f); i++) {
        const struct part *pt = fleet_part_c(f, i);
        char p[12];
        snprintf(p, sizeof(p), "%u", pt->p);
        json_t *one = rulejson_versions(pt->st.ver, pt->st.last_id, false);
        if (one == NULL || json_object_set_new(all, p, one) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}

/* GET /v1/rulebook[?text=1]: the versions (rulejson.h) of the first served
 * partition, the hash of the configuration file's rulebook, with several
 * partitions "partitions" (each served one's versions), and with text=1
 * the canonical texts of the version in force and the scheduled one. */
static void handle_rulebook(struct http *h, struct evhttp_request *req)
{
    const struct part *pt = fleet_part_c(h->src.fleet, 0);
    const struct versions *v = pt->st.ver;
    json_t *j = rulejson_versions(v, pt->st.last_id, true);
    if (j != NULL && pt->st.place.partitions > 1)
        json_object_set_new(j, "partitions", partitions_rulebook(h->src.fleet));
    if (j != NULL)
        json_object_set_new(j, "file_hash", json_string(consumer_file_rules(pt->consumer)));
    if (j != NULL && query_flag(req, "text")) {
        char *now = rulecanon_text(&v->now);
        char *next = v->has_next ? rulecanon_text(&v->next) : NULL;
        json_object_set_new(j, "text", now ? json_string(now) : json_null());
        json_object_set_new(j, "scheduled_text", next ? json_string(next) : json_null());
        free(now);
        free(next);
    }
    reply_json(req, j != NULL ? 200 : 500, j);
}

static void handle_health(struct http *h, struct evhttp_request *req)
{
    static struct view w;
    const struct fleet *f = h->src.fleet;
    bool ok = fleet_healthy(f);
    char last[PROTO_ID_STR_MAX];
    fleet_view(f, w.states, &w.v);
    /* The last id applied: the partition's when there is one (ids of
     * several partitions' streams do not compare). */
    proto_id_format(w.states[0]->last_id, last, sizeof(last));
    json_t *j = json_pack("{s:s, s:s, s:b, s:s, s:I, s:b, s:b}", "status",
                          ok ? "ok" : "degraded", "consumer", fleet_status(f), "redis_up",
                          w.v.redis_up, "last_id", fleet_count(f) == 1 ? last : "", "members",
                          (json_int_t)members_of(&w), "auth_required",
                          h->src.cfg->http_token[0] != '\0', "history", h->ledger != NULL);
    if (j != NULL && h->src.cfg->partitions > 1)
        json_object_set_new(j, "partitions", partitions_json(f));
    reply_json(req, ok ? 200 : 503, j);
}

/* How the daemon values the liability (config.h). */
static struct liabview_value liability_value(const struct http *h)
{
    const struct config *c = h->src.cfg;
    return (struct liabview_value){c->liability_value_minor, c->liability_value_points,
                                   c->liability_currency};
}

/* GET /v1/liability (liabview.h). */
static void handle_liability(struct http *h, struct evhttp_request *req)
{
    static struct view w;
    uint32_t parts[PARTITION_COUNT_MAX];
    struct liabview_value v = liability_value(h);
    fleet_view(h->src.fleet, w.states, &w.v);
    for (uint32_t i = 0; i < w.v.count; i++)
        parts[i] = fleet_part_c(h->src.fleet, i)->p;
    json_t *j = liabview_json(w.states, parts, w.v.count, &v);
    reply_json(req, j != NULL ? 200 : 500, j);
}

static void handle_metrics(struct http *h, struct evhttp_request *req)
{
    static struct view w;
    struct evbuffer *body = evbuffer_new();
    struct liabview_value value = liability_value(h);
    fleet_view(h->src.fleet, w.states, &w.v);
    if (body == NULL || metrics_render(h->src.m, &w.v, &w.states[0]->ver->now, body) != 0 ||
        liabview_metrics(w.states, w.v.count, &value, body) != 0) {
        evhttp_send_error(req, 500, "out of memory");
    } else {
        reply_text(req, 200, "text/plain; version=0.0.4", body);
    }
    if (body)
        evbuffer_free(body);
}

static void handle_preview(struct http *h, struct evhttp_request *req, enum evhttp_cmd_type cmd)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *answer = NULL;
    if (h->preview == NULL) {
        reply_error(req, 404, "not_found", "this program previews nothing");
    } else if (cmd != EVHTTP_REQ_POST) {
        reply_error(req, 405, "method_not_allowed", "POST a purchase entry to /v1/preview");
    } else if (len > HTTPPREVIEW_BODY_MAX) {
        reply_error(req, 413, "too_large", "the body is larger than 32 KiB");
    } else {
        const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req),
                                               "Content-Type");
        const char *body = len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
        int status = httppreview_answer(h->preview, ctype, body, len, &answer);
        reply_json(req, status, answer);
    }
}

/* Compares in time that depends on the lengths only, not on where the
 * first difference is, so the token cannot be guessed byte by byte. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return diff == 0;
}

/* With a token configured, every path but /healthz and the dashboard's
 * static files needs
 * "Authorization: Bearer <token>". */
static bool authorized(const struct http *h, struct evhttp_request *req, const char *path)
{
    const char *token = h->src.cfg->http_token;
    if (token[0] == '\0' || strcmp(path, "/healthz") == 0 || ui_handles(path))
        return true; /* the dashboard's files hold no data (ui.h) */
    const char *got = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (got == NULL || strncmp(got, "Bearer ", 7) != 0)
        return false;
    return same_secret(got + 7, strlen(got + 7), token, strlen(token));
}

/* "/v1/members/ID/history": served by the ledger (ledgerproxy.h). */
static bool is_history(const char *path)
{
    size_t n = strlen(path), p = strlen(HTTP_MEMBERS_PATH), s = strlen(HTTP_HISTORY_SUFFIX);
    return n > p + s && strncmp(path, HTTP_MEMBERS_PATH, p) == 0 &&
           strcmp(path + n - s, HTTP_HISTORY_SUFFIX) == 0;
}

static void route(struct evhttp_request *req, void *arg)
{
    struct http *h = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path == NULL)
        path = "";
    if (!authorized(h, req, path)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        reply_error(req, 401, "unauthorized", "send Authorization: Bearer <token>");
    } else if (strcmp(path, HTTP_PREVIEW_PATH) == 0)
        handle_preview(h, req, cmd);
    else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
        reply_error(req, 405, "method_not_allowed", "the API is read-only: use GET");
    else if (is_history(path))
        ledgerproxy_forward(h->ledger, req);
    else if (strncmp(path, HTTP_MEMBERS_PATH, strlen(HTTP_MEMBERS_PATH)) == 0)
        handle_member(h, req, path + strlen(HTTP_MEMBERS_PATH));
    else if (strcmp(path, "/v1/segments") == 0)
        handle_segments(h, req);
    else if (strcmp(path, "/v1/campaigns") == 0)
        handle_campaigns(h, req);
    else if (strcmp(path, "/v1/dlq") == 0)
        handle_dlq(h, req);
    else if (strcmp(path, "/v1/rulebook") == 0)
        handle_rulebook(h, req);
    else if (strcmp(path, "/v1/liability") == 0)
        handle_liability(h, req);
    else if (strcmp(path, "/healthz") == 0)
        handle_health(h, req);
    else if (strcmp(path, "/metrics") == 0)
        handle_metrics(h, req);
    else if (ui_handles(path))
        ui_serve(req, path);
    else
        reply_error(req, 404, "not_found",
                    "paths: /v1/members/ID, /v1/members/ID/history, /v1/segments, "
                    "/v1/campaigns, /v1/dlq, /v1/rulebook, /v1/liability, /v1/preview, "
                    "/healthz, /metrics, "
                    "/ui/");
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

/* evhttp owns the listener and its callback argument (the evhttp), so the
 * pause is a one-shot event on the listener itself: at most one warning
 * per pause, five a second under a flood. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, HTTP_ACCEPT_PAUSE_MS * 1000};
    (void)arg;
    log_warn("http: accept failed (%s); pausing accepts for %d ms",
             evutil_socket_error_to_string(e), HTTP_ACCEPT_PAUSE_MS);
    evconnlistener_disable(l);
    if (event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, on_resume, l, &tv) != 0)
        evconnlistener_enable(l); /* cannot pause: keep accepting rather than stop */
}

struct http *http_new(struct event_base *base, const struct http_sources *src,
                      struct config_error *err)
{
    struct http *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->ev = evhttp_new(base)) == NULL) {
        snprintf(err->text, sizeof(err->text), "http: out of memory");
        free(h);
        return NULL;
    }
    h->src = *src;
    bool oom;
    h->ledger = ledgerproxy_new(base, src->cfg, &oom);
    if (oom || (src->preview != NULL &&
                (h->preview = httppreview_new(src->preview, src->cfg->partitions)) == NULL)) {
        snprintf(err->text, sizeof(err->text), "http: out of memory");
        http_free(h);
        return NULL;
    }
    evhttp_set_max_headers_size(h->ev, HTTP_HEADERS_MAX);
    evhttp_set_max_body_size(h->ev, HTTP_BODY_MAX);
    evhttp_set_timeout(h->ev, HTTP_TIMEOUT_S);
    /* Let every method reach route(), which answers a JSON 405 for all but
     * GET and HEAD (evhttp's own answer would be an HTML 501). */
    evhttp_set_allowed_methods(h->ev, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                          EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                          EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->ev, route, h);
    const struct config_endpoint *ep = &src->cfg->http;
    struct evhttp_bound_socket *sock =
        evhttp_bind_socket_with_handle(h->ev, ep->host, (ev_uint16_t)ep->port);
    if (sock == NULL) {
        snprintf(err->text, sizeof(err->text), "http: cannot listen on %s:%d", ep->host,
                 ep->port);
        http_free(h);
        return NULL;
    }
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(sock), on_accept_error);
    return h;
}

void http_free(struct http *h)
{
    if (h == NULL)
        return;
    ledgerproxy_free(h->ledger); /* answers its pending clients while evhttp still can */
    if (h->ev)
        evhttp_free(h->ev);
    httppreview_free(h->preview);
    free(h);
}
