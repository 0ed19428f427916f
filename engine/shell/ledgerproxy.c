/* ledgerproxy.c - see ledgerproxy.h. */
#include "ledgerproxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "log.h"
#include "lyassert.h"

/* One forward: the client's request and what became of it. */
struct forward {
    struct ledgerproxy *lp;
    struct evhttp_request *client;          /* evhttp's; valid while !orphaned */
    struct evhttp_connection *client_conn;
    bool in_use;
    bool orphaned;                          /* the client hung up first */
    enum evhttp_request_error error;        /* set by on_error before on_answer(NULL) */
    bool failed;
};

struct ledgerproxy {
    struct evhttp_connection *conn; /* to the ledger; evhttp queues and reconnects */
    char host[CONFIG_HOST_MAX + 8]; /* "HOST:PORT" */
    char auth[CONFIG_SECRET_MAX + 16]; /* "Bearer <token>", or "" */
    struct forward slots[LEDGERPROXY_PENDING_MAX];
};

/* Answers `req` with a JSON error (the daemon's error shape). */
static void reply_error(struct evhttp_request *req, int code, const char *error,
                        const char *detail)
{
    json_t *o = json_pack("{s:s, s:s}", "error", error, "detail", detail);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    struct evbuffer *body = evbuffer_new();
    if (text == NULL || body == NULL) {
        evhttp_send_error(req, 500, "out of memory");
    } else {
        evbuffer_add_printf(body, "%s\n", text);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
        evhttp_send_reply(req, code, NULL, body);
    }
    if (body != NULL)
        evbuffer_free(body);
    free(text);
    json_decref(o);
}

static void release(struct forward *f)
{
    memset(f, 0, sizeof(*f));
}

static void on_client_close(struct evhttp_connection *conn, void *arg)
{
    struct forward *f = arg;
    (void)conn;
    if (f->in_use)
        f->orphaned = true;
}

/* The client is answered now: its connection's close must no longer reach
 * this forward (the reply itself may close it). */
static void detach(struct forward *f)
{
    evhttp_connection_set_closecb(f->client_conn, NULL, NULL);
}

static void on_error(enum evhttp_request_error error, void *arg)
{
    struct forward *f = arg;
    f->failed = true;
    f->error = error;
}

/* Relays the ledger's answer (status, Content-Type, body). */
static void relay(struct forward *f, struct evhttp_request *resp)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(resp);
    if (evbuffer_get_length(in) > LEDGERPROXY_BODY_MAX) {
        reply_error(f->client, 502, "ledger_unavailable", "the ledger's answer is too large");
        return;
    }
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(resp), "Content-Type");
    struct evkeyvalq *out = evhttp_request_get_output_headers(f->client);
    evhttp_add_header(out, "Content-Type", type ? type : "application/json");
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_send_reply(f->client, evhttp_request_get_response_code(resp), NULL, in);
}

static void on_answer(struct evhttp_request *resp, void *arg)
{
    struct forward *f = arg;
    if (!f->in_use)
        return; /* answered already (the proxy is being freed) */
    if (f->orphaned) {
        release(f);
        return;
    }
    detach(f);
    if (resp == NULL || f->failed || evhttp_request_get_response_code(resp) == 0) {
        bool timeout = f->failed && f->error == EVREQ_HTTP_TIMEOUT;
        log_warn("history: the ledger at %s %s", f->lp->host,
                 timeout ? "did not answer in time" : "cannot be reached");
        reply_error(f->client, timeout ? 504 : 502, "ledger_unavailable",
                    timeout ? "the ledger did not answer in time"
                            : "the ledger cannot be reached; member history is unavailable");
    } else {
        relay(f, resp);
    }
    release(f);
}

struct ledgerproxy *ledgerproxy_new(struct event_base *base, const struct config *cfg, bool *oom)
{
    *oom = false;
    if (cfg->ledger.port == 0)
        return NULL;
    struct ledgerproxy *lp = calloc(1, sizeof(*lp));
    if (lp != NULL)
        lp->conn = evhttp_connection_base_new(base, NULL, cfg->ledger.host,
                                              (ev_uint16_t)cfg->ledger.port);
    if (lp == NULL || lp->conn == NULL) {
        free(lp);
        *oom = true;
        return NULL;
    }
    evhttp_connection_set_timeout(lp->conn, LEDGERPROXY_TIMEOUT_S);
    evhttp_connection_set_retries(lp->conn, 0);
    snprintf(lp->host, sizeof(lp->host), "%s:%d", cfg->ledger.host, cfg->ledger.port);
    if (cfg->ledger_token[0] != '\0')
        snprintf(lp->auth, sizeof(lp->auth), "Bearer %s", cfg->ledger_token);
    return lp;
}

void ledgerproxy_free(struct ledgerproxy *lp)
{
    if (lp == NULL)
        return;
    for (size_t i = 0; i < LEDGERPROXY_PENDING_MAX; i++) {
        struct forward *f = &lp->slots[i];
        if (f->in_use && !f->orphaned) {
            detach(f);
            reply_error(f->client, 503, "shutting_down", "the daemon is stopping");
        }
        release(f); /* before the connection goes: its callbacks find nothing to do */
    }
    evhttp_connection_free(lp->conn);
    free(lp);
}

static struct forward *free_slot(struct ledgerproxy *lp)
{
    for (size_t i = 0; i < LEDGERPROXY_PENDING_MAX; i++)
        if (!lp->slots[i].in_use)
            return &lp->slots[i];
    return NULL;
}

void ledgerproxy_forward(struct ledgerproxy *lp, struct evhttp_request *req)
{
    if (lp == NULL) {
        reply_error(req, 404, "no_ledger",
                    "member history needs loyalty-ledger: set daemon.ledger (README, Ledger)");
        return;
    }
    struct forward *f = free_slot(lp);
    if (f == NULL) {
        reply_error(req, 503, "busy", "too many history requests in flight; retry");
        return;
    }
    struct evhttp_request *out = evhttp_request_new(on_answer, f);
    if (out == NULL) {
        reply_error(req, 500, "out_of_memory", "cannot forward the request");
        return;
    }
    *f = (struct forward){lp, req, evhttp_request_get_connection(req), true, false, 0, false};
    evhttp_request_set_error_cb(out, on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(out);
    evhttp_add_header(h, "Host", lp->host);
    evhttp_add_header(h, "Accept", "application/json");
    if (lp->auth[0] != '\0')
        evhttp_add_header(h, "Authorization", lp->auth);
    evhttp_connection_set_closecb(f->client_conn, on_client_close, f);
    /* evhttp_make_request takes `out` whatever it returns. */
    if (evhttp_make_request(lp->conn, out, EVHTTP_REQ_GET, evhttp_request_get_uri(req)) != 0) {
        detach(f);
        release(f);
        reply_error(req, 502, "ledger_unavailable", "cannot send the request to the ledger");
    }
}
