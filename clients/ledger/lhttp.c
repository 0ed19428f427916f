/* lhttp.c - see lhttp.h. */
#include "lhttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "cohort.h"
#include "db.h"
#include "lyassert.h"
#include "llog.h"
#include "report.h"

#define MEMBERS_PATH "/v1/members/"
#define HEADERS_MAX 8192 /* request line and headers: ids are short */
#define BODY_MAX 4096    /* GET only: a body is refused */
#define TIMEOUT_S 10     /* idle or slow clients are dropped */
#define LIMIT_DIGITS_MAX 4

struct lhttp {
    struct evhttp *ev;
    const struct lconf *cfg;
    struct lstatus *status;
    struct db *db; /* this thread's reader; NULL until used or after an error */
};

static void reply_body(struct evhttp_request *req, int code, const char *type,
                       const char *text, size_t len)
{
    struct evbuffer *body = evbuffer_new();
    if (body == NULL || evbuffer_add(body, text, len) != 0) {
        evhttp_send_error(req, 500, "out of memory");
    } else {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", type);
        evhttp_add_header(h, "Cache-Control", "no-store");
        evhttp_send_reply(req, code, NULL, body);
    }
    if (body)
        evbuffer_free(body);
}

/* Sends `obj` (reference stolen) as the JSON body. */
static void reply_json(struct evhttp_request *req, int code, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (text == NULL)
        evhttp_send_error(req, 500, "out of memory");
    else
        reply_body(req, code, "application/json", text, strlen(text));
    free(text);
    json_decref(obj);
}

static void reply_error(struct evhttp_request *req, int code, const char *error,
                        const char *detail)
{
    reply_json(req, code, json_pack("{s:s, s:s}", "error", error, "detail", detail));
}

/* The reader connection, opened when needed; NULL after replying 503. */
static struct db *reader(struct lhttp *h, struct evhttp_request *req)
{
    struct db_error err = {0};
    if (h->db != NULL)
        return h->db;
    h->db = db_open(h->cfg->database, DB_READER, h->cfg->db_timeout_ms, &err);
    if (h->db != NULL && db_prepare_schema(h->db, DB_READER, &err) == 0)
        return h->db;
    db_close(h->db);
    h->db = NULL;
    reply_error(req, 503, "database_unavailable", err.text);
    return NULL;
}

/* After a failed query: drop the connection and answer 503. */
static void query_failed(struct lhttp *h, struct evhttp_request *req, const struct db_error *err)
{
    llog_warn("http: query failed: %s", err->text);
    db_close(h->db);
    h->db = NULL;
    reply_error(req, 503, "database_unavailable", err->text);
}

/* ---- member history and lots ------------------------------------------ */

struct page {
    json_t *events;
    uint32_t rows;
    uint32_t limit;
    char next[PROTO_ID_STR_MAX]; /* entry of the last row shown when more follow */
};

static json_t *int_or_null(const struct db_val *v)
{
    return v->type == DB_INT ? json_integer(v->i) : json_null();
}

static json_t *text_or_null(const struct db_val *v)
{
    return v->type == DB_TEXT ? json_string(v->s) : json_null();
}

/* One history row (columns as db_history lists them) as JSON. */
static json_t *event_json(const struct db_val *c, const char *entry)
{
    char month[COHORT_MONTH_STR_MAX];
    json_t *body = c[12].type == DB_TEXT ? json_loads(c[12].s, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o}", "entry",
                          entry, "id", text_or_null(&c[3]), "src", text_or_null(&c[4]), "kind",
                          text_or_null(&c[5]), "cause", text_or_null(&c[6]), "delta",
                          int_or_null(&c[7]), "balance", int_or_null(&c[8]), "ts",
                          int_or_null(&c[9]), "rules", text_or_null(&c[10]), "month",
                          cohort_month_str(c[13].type == DB_INT ? (int32_t)c[13].i : 0, month,
                                           sizeof month),
                          "event", body ? body : json_null());
    if (o != NULL && c[11].type == DB_TEXT)
        json_object_set_new(o, "problem", json_string(c[11].s));
    return o;
}

static int history_row(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    struct page *p = ctx;
    LY_ASSERT(n == 14);
    if (c[1].type != DB_INT || c[2].type != DB_INT || c[1].i < 0 || c[2].i < 0) {
        db_fail(err, "table events holds a row this ledger did not write");
        return -1;
    }
    if (++p->rows > p->limit)
        return 0; /* the extra row says that another page follows */
    char entry[PROTO_ID_STR_MAX];
    proto_id_format((struct proto_id){(uint64_t)c[1].i, (uint64_t)c[2].i}, entry, sizeof entry);
    memcpy(p->next, entry, sizeof entry);
    json_t *e = event_json(c, entry);
    LY_ALLOC_CHECK(e != NULL);
    json_array_append_new(p->events, e);
    return 0;
}

/* Reads `limit` and `before` of the query; replies 400 and returns -1 when
 * either is malformed. */
static int page_args(struct evhttp_request *req, uint32_t *limit, struct proto_id *before,
                     bool *has_before)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    *limit = LHTTP_PAGE_DEFAULT;
    *has_before = false;
    if (query == NULL)
        return 0;
    if (evhttp_parse_query_str(query, &q) != 0) {
        reply_error(req, 400, "bad_query", "the query string is malformed");
        return -1;
    }
    const char *l = evhttp_find_header(&q, "limit");
    const char *b = evhttp_find_header(&q, "before");
    int rc = 0;
    if (l != NULL) {
        size_t len = strlen(l);
        long v = len > 0 && len <= LIMIT_DIGITS_MAX && strspn(l, "0123456789") == len
                     ? strtol(l, NULL, 10)
                     : 0;
        if (v < 1 || v > LHTTP_PAGE_MAX)
            rc = -1, reply_error(req, 400, "bad_limit", "limit is 1..500");
        *limit = (uint32_t)v;
    }
    if (rc == 0 && b != NULL) {
        *has_before = proto_id_parse(b, strlen(b), before) == 0;
        if (!*has_before)
            rc = -1, reply_error(req, 400, "bad_before", "before is a stream entry id MS-SEQ");
    }
    evhttp_clear_headers(&q);
    return rc;
}

static void handle_history(struct lhttp *h, struct evhttp_request *req, const char *member)
{
    uint32_t limit;
    struct proto_id before;
    bool has_before;
    struct db *db;
    if (page_args(req, &limit, &before, &has_before) != 0 || (db = reader(h, req)) == NULL)
        return;
    struct page p = {.events = json_array(), .limit = limit};
    struct db_error err = {0};
    LY_ALLOC_CHECK(p.events != NULL);
    if (db_history(db, member, has_before ? &before : NULL, limit + 1, history_row, &p, &err) !=
        0) {
        json_decref(p.events);
        query_failed(h, req, &err);
    } else if (p.rows == 0 && !has_before) {
        json_decref(p.events);
        reply_error(req, 404, "unknown_member", "the ledger holds no event of this member");
    } else {
        reply_json(req, 200,
                   json_pack("{s:s, s:o, s:o}", "member", member, "events", p.events,
                             "next_before", p.rows > limit ? json_string(p.next) : json_null()));
    }
}

struct lots {
    json_t *list;
    int64_t held, debt;
    uint32_t rows;
};

static int lot_row(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    struct lots *l = ctx;
    LY_ASSERT(n == 2);
    if (c[0].type != DB_INT || c[1].type != DB_INT || c[0].i < COHORT_DEBT ||
        c[0].i > INT32_MAX) {
        db_fail(err, "table lots holds a row this ledger did not write");
        return -1;
    }
    l->rows++;
    if (c[0].i == COHORT_DEBT) {
        l->debt += c[1].i;
        return 0;
    }
    char month[COHORT_MONTH_STR_MAX];
    l->held += c[1].i;
    json_array_append_new(l->list, json_pack("{s:s, s:I}", "cohort",
                                             cohort_month_str((int32_t)c[0].i, month,
                                                              sizeof month),
                                             "points", (json_int_t)c[1].i));
    return 0;
}

static void handle_lots(struct lhttp *h, struct evhttp_request *req, const char *member)
{
    struct db *db = reader(h, req);
    if (db == NULL)
        return;
    struct lots l = {.list = json_array()};
    struct db_error err = {0};
    bool known = true;
    LY_ALLOC_CHECK(l.list != NULL);
    if (db_member_lots(db, member, lot_row, &l, &err) != 0 ||
        (l.rows == 0 && db_member_known(db, member, &known, &err) != 0)) {
        json_decref(l.list);
        query_failed(h, req, &err);
    } else if (!known) {
        json_decref(l.list);
        reply_error(req, 404, "unknown_member", "the ledger holds no event of this member");
    } else {
        reply_json(req, 200, json_pack("{s:s, s:I, s:I, s:o}", "member", member, "balance",
                                       (json_int_t)(l.held - l.debt), "debt",
                                       (json_int_t)l.debt, "lots", l.list));
    }
}

/* A member id as the contract has them: 1..PROTO_MEMBER_MAX printable ASCII
 * bytes without spaces. */
static bool valid_member(const char *id, size_t len)
{
    if (len == 0 || len > PROTO_MEMBER_MAX || strlen(id) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return false;
    return true;
}

static void handle_member(struct lhttp *h, struct evhttp_request *req, const char *rest)
{
    const char *slash = strchr(rest, '/');
    const char *what = slash ? slash + 1 : "";
    if (slash == NULL || (strcmp(what, "history") != 0 && strcmp(what, "lots") != 0)) {
        reply_error(req, 404, "not_found", "paths: /v1/members/ID/history, /v1/members/ID/lots");
        return;
    }
    char raw[3 * PROTO_MEMBER_MAX + 1];
    size_t raw_len = (size_t)(slash - rest);
    size_t len = 0;
    char *id = NULL;
    if (raw_len < sizeof raw) {
        memcpy(raw, rest, raw_len);
        raw[raw_len] = '\0';
        id = evhttp_uridecode(raw, 0, &len);
    }
    if (id == NULL || !valid_member(id, len))
        reply_error(req, 400, "bad_member_id",
                    "a member id is 1..32 printable ASCII characters without spaces");
    else if (strcmp(what, "history") == 0)
        handle_history(h, req, id);
    else
        handle_lots(h, req, id);
    free(id);
}

/* ---- report, health, metrics ------------------------------------------- */

static void handle_report(struct lhttp *h, struct evhttp_request *req)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (evhttp_parse_query_str(query ? query : "", &q) != 0) {
        reply_error(req, 400, "bad_query", "the query string is malformed");
        return;
    }
    const char *format = evhttp_find_header(&q, "format");
    const char *table = evhttp_find_header(&q, "table");
    bool csv = format != NULL && strcmp(format, "csv") == 0;
    bool curves = table != NULL && strcmp(table, "curves") == 0;
    bool ok = (format == NULL || csv || strcmp(format, "json") == 0) &&
              (table == NULL || curves || strcmp(table, "cohorts") == 0);
    evhttp_clear_headers(&q);
    if (!ok) {
        reply_error(req, 400, "bad_query", "format is json or csv; table is cohorts or curves");
        return;
    }
    struct db *db = reader(h, req);
    struct db_error err = {0};
    struct report *r = db ? report_load(db, &err) : NULL;
    if (db != NULL && r == NULL) {
        query_failed(h, req, &err);
    } else if (r != NULL && csv) {
        char *text = report_csv(r, curves ? REPORT_CURVES : REPORT_COHORTS);
        reply_body(req, 200, "text/csv; charset=utf-8", text, strlen(text));
        free(text);
    } else if (r != NULL) {
        reply_json(req, 200, report_json(r));
    }
    report_free(r);
}

static json_t *streams_json(const struct lstatus_view *v)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < v->nstreams; i++) {
        char id[PROTO_ID_STR_MAX];
        proto_id_format(v->streams[i].last, id, sizeof id);
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s?}", "stream", v->streams[i].key,
                                           "last_entry", id, "clock_ms",
                                           (json_int_t)v->streams[i].clock_ms, "rules",
                                           v->streams[i].rules[0] ? v->streams[i].rules : NULL));
    }
    return a;
}

static void handle_health(struct lhttp *h, struct evhttp_request *req)
{
    struct lstatus_view v;
    lstatus_get(h->status, &v);
    bool ok = v.redis_up && v.db_up && !v.stopped;
    reply_json(req, ok ? 200 : 503,
               json_pack("{s:s, s:b, s:b, s:s, s:I, s:I, s:o, s:s}", "status",
                         ok ? "ok" : "degraded", "redis_up", v.redis_up, "db_up", v.db_up,
                         "writer", v.stopped ? "stopped" : "running", "written",
                         (json_int_t)v.counts.written, "duplicates",
                         (json_int_t)v.counts.duplicates, "streams", streams_json(&v),
                         "last_error", v.last_error));
}

static void metric(struct evbuffer *b, const char *name, const char *type, const char *help,
                   uint64_t value)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        (unsigned long long)value);
}

static void handle_metrics(struct lhttp *h, struct evhttp_request *req)
{
    struct lstatus_view v;
    lstatus_get(h->status, &v);
    struct evbuffer *b = evbuffer_new();
    LY_ALLOC_CHECK(b != NULL);
    metric(b, "ledger_events_written_total", "counter", "Rows inserted.", v.counts.written);
    metric(b, "ledger_duplicates_total", "counter", "Entries found stored already.",
           v.counts.duplicates);
    metric(b, "ledger_problem_events_total", "counter", "Rows stored that are no valid event.",
           v.counts.problems);
    metric(b, "ledger_reconciled_wallets_total", "counter",
           "Wallets corrected for history the ledger lacks.", v.counts.reconciled);
    metric(b, "ledger_batches_total", "counter", "Transactions committed.", v.batches);
    metric(b, "ledger_db_errors_total", "counter", "Failed transactions or connections.",
           v.db_errors);
    metric(b, "ledger_redis_errors_total", "counter", "Failed Redis commands or connections.",
           v.redis_errors);
    metric(b, "ledger_gone_entries_total", "counter", "Pending entries found deleted.", v.gone);
    metric(b, "ledger_gaps_total", "counter", "Entries trimmed before the ledger stored them.",
           v.gaps);
    metric(b, "ledger_redis_up", "gauge", "1 when connected to Redis.", v.redis_up);
    metric(b, "ledger_db_up", "gauge", "1 when connected to the database.", v.db_up);
    evbuffer_add_printf(b, "# HELP ledger_stream_last_entry_ms Stream id (ms) of the last "
                           "entry stored.\n# TYPE ledger_stream_last_entry_ms gauge\n");
    for (uint32_t i = 0; i < v.nstreams; i++)
        evbuffer_add_printf(b, "ledger_stream_last_entry_ms{stream=\"%s\"} %llu\n",
                            v.streams[i].key, (unsigned long long)v.streams[i].last.ms);
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    evhttp_add_header(hd, "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, NULL, b);
    evbuffer_free(b);
}

/* ---- routing ------------------------------------------------------------ */

/* Compares in time that depends on the lengths only, so that the token
 * cannot be guessed byte by byte. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return diff == 0;
}

static bool authorized(const struct lhttp *h, struct evhttp_request *req, const char *path)
{
    const char *token = h->cfg->http_token;
    if (token[0] == '\0' || strcmp(path, "/healthz") == 0)
        return true;
    const char *got = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (got == NULL || strncmp(got, "Bearer ", 7) != 0)
        return false;
    return same_secret(got + 7, strlen(got + 7), token, strlen(token));
}

static void route(struct evhttp_request *req, void *arg)
{
    struct lhttp *h = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path == NULL)
        path = "";
    if (!authorized(h, req, path)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        reply_error(req, 401, "unauthorized", "send Authorization: Bearer <token>");
    } else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        reply_error(req, 405, "method_not_allowed", "the API is read-only: use GET");
    } else if (strncmp(path, MEMBERS_PATH, strlen(MEMBERS_PATH)) == 0) {
        handle_member(h, req, path + strlen(MEMBERS_PATH));
    } else if (strcmp(path, "/v1/ledger/report") == 0) {
        handle_report(h, req);
    } else if (strcmp(path, "/healthz") == 0) {
        handle_health(h, req);
    } else if (strcmp(path, "/metrics") == 0) {
        handle_metrics(h, req);
    } else {
        reply_error(req, 404, "not_found",
                    "paths: /v1/members/ID/history, /v1/members/ID/lots, /v1/ledger/report, "
                    "/healthz, /metrics");
    }
}

struct lhttp *lhttp_new(struct event_base *base, const struct lconf *cfg,
                        struct lstatus *status, char *err)
{
    struct lhttp *h = calloc(1, sizeof *h);
    LY_ALLOC_CHECK(h != NULL);
    h->cfg = cfg;
    h->status = status;
    h->ev = evhttp_new(base);
    LY_ALLOC_CHECK(h->ev != NULL);
    evhttp_set_max_headers_size(h->ev, HEADERS_MAX);
    evhttp_set_max_body_size(h->ev, BODY_MAX);
    evhttp_set_timeout(h->ev, TIMEOUT_S);
    /* Every method reaches route(), which answers a JSON 405 (evhttp's own
     * answer would be an HTML 501). */
    evhttp_set_allowed_methods(h->ev, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                          EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->ev, route, h);
    if (evhttp_bind_socket_with_handle(h->ev, cfg->http.host, (ev_uint16_t)cfg->http.port) ==
        NULL) {
        snprintf(err, LHTTP_ERROR_MAX, "http: cannot listen on %s:%d", cfg->http.host,
                 cfg->http.port);
        lhttp_free(h);
        return NULL;
    }
    return h;
}

void lhttp_free(struct lhttp *h)
{
    if (h == NULL)
        return;
    if (h->ev)
        evhttp_free(h->ev);
    db_close(h->db);
    free(h);
}
