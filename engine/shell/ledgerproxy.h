/* ledgerproxy.h - member history, served by loyalty-ledger, answered at
 * the daemon's own address.
 *
 * GET /v1/members/ID/history is the one URL integrators use for "why did my
 * points change" (README, Ledger). The history lives in the ledger's
 * database, so the daemon forwards the request (path and query as given)
 * to the ledger's HTTP API (daemon.ledger, with daemon.ledger_token as its
 * bearer token) and relays the answer: status, Content-Type and body. The
 * forward is asynchronous (an evhttp client connection on the daemon's
 * loop), so a slow or absent ledger never blocks ingestion or lookups: it
 * costs that one request a 502 (ledger down or refusing) or a 504 (no
 * answer within LEDGERPROXY_TIMEOUT_S). Without daemon.ledger the path
 * answers 404 `no_ledger`.
 *
 * Ownership: evhttp owns both requests. A client that hangs up before the
 * ledger answers frees its request; the connection's close callback marks
 * the forward orphaned and the ledger's answer is dropped.
 */
#ifndef LOYALTY_LEDGERPROXY_H
#define LOYALTY_LEDGERPROXY_H

#include <stdbool.h>

#include "config.h"

struct event_base;
struct evhttp_request;
struct ledgerproxy;

/* Seconds a forwarded request may take: a page of history is one indexed
 * query in the ledger. */
#define LEDGERPROXY_TIMEOUT_S 5
/* The largest answer relayed: a page of history is at most a few hundred
 * events of a few hundred bytes. */
#define LEDGERPROXY_BODY_MAX (1u << 20)
/* Forwards in flight at once; beyond this a request gets 503 at once. */
#define LEDGERPROXY_PENDING_MAX 256

/* A proxy to cfg->ledger on `base`, or NULL when no ledger is configured
 * (cfg->ledger.port == 0) or out of memory (*oom set). */
struct ledgerproxy *ledgerproxy_new(struct event_base *base, const struct config *cfg, bool *oom);

/* Frees the proxy; forwards still pending are answered 503. */
void ledgerproxy_free(struct ledgerproxy *lp);

/* Forwards `req` (a GET whose path and query are relayed as they are) and
 * answers it when the ledger does. `lp` NULL: answers 404 no_ledger. Ends
 * with exactly one reply to `req`, now or later. */
void ledgerproxy_forward(struct ledgerproxy *lp, struct evhttp_request *req);

#endif
