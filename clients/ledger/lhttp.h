/* lhttp.h - the ledger's HTTP API (evhttp, on the main thread's loop):
 *
 *   GET /v1/members/ID/history?limit=N&before=ENTRY   member history, newest first
 *   GET /v1/members/ID/lots                           points left by earning month
 *   GET /v1/ledger/report?format=json|csv&table=cohorts|curves
 *   GET /healthz                                      writer, Redis and database state
 *   GET /metrics                                      Prometheus text
 *
 * Every path but /healthz needs "Authorization: Bearer <token>" when a
 * token is configured, compared in constant time, as the daemon does.
 * Queries run on the HTTP thread's own database connection (never the
 * writer's), opened on first use and again after an error; each is bounded:
 * a history page is at most LHTTP_PAGE_MAX rows read through the member
 * index, a report reads only the flow sums (months x causes, not events),
 * and a reader's statements time out after db_timeout_ms. With SQLite in
 * WAL mode readers never wait for the writer. Every handler ends with
 * exactly one reply; errors are JSON {"error": code, "detail": text}.
 */
#ifndef LOYALTY_LEDGER_LHTTP_H
#define LOYALTY_LEDGER_LHTTP_H

#include <event2/event.h>

#include "lconf.h"
#include "lstatus.h"

#define LHTTP_PAGE_DEFAULT 50
#define LHTTP_PAGE_MAX 500 /* rows per history page: a few hundred KiB of JSON at most */
#define LHTTP_ERROR_MAX 300

struct lhttp;

/* Listens on cfg->http. `cfg` and `status` outlive it. Returns NULL with
 * err (LHTTP_ERROR_MAX bytes) set when it cannot listen. */
struct lhttp *lhttp_new(struct event_base *base, const struct lconf *cfg,
                        struct lstatus *status, char *err);

void lhttp_free(struct lhttp *h);

#endif
