/* http.h - the read-only HTTP API (evhttp), served from memory.
 *
 *   GET /v1/members/ID  member JSON (200), or a JSON error: 400 for an id
 *                       that cannot be a member id, 404 for an unknown one,
 *                       421 for a member of a partition this daemon does
 *                       not serve (the body names the partition)
 *   GET /v1/segments    members per tier, segment, stage and value class, and
 *                       each segment's observed yearly churn ("churn_bp")
 *   GET /v1/campaigns   campaigns with points given and budget left
 *                       (progview.h), summed over the served partitions
 *   GET /healthz        200 {"status":"ok",...} while every served partition
 *                       is consuming, else 503; "auth_required" says
 *                       whether the rest wants a token; with several
 *                       partitions, "partitions" gives each one's condition
 *   GET /, /ui, /ui/... the dashboard (ui.h)
 *   GET /metrics        Prometheus text format (metrics.h)
 *   GET /v1/dlq?limit=N the last N (1..256, default 50) rejections this
 *                       daemon committed to <prefix>dlq, newest first
 *                       (dlqring.h)
 *   GET /v1/rulebook    the rulebook version in force (since which entry
 *                       and event time), the scheduled one, the last
 *                       versions with their switch points (rulejson.h) and
 *                       the hash of the file's rulebook; ?text=1 adds the
 *                       canonical texts
 *   POST /v1/preview    what a purchase would do, changing nothing
 *                       (httppreview.h): the one non-GET path
 * Anything else is a 404 (unknown path) or 405 (method other than GET or
 * HEAD), always with a JSON body. Lookups read the state the event loop
 * owns, between batches, so an answer is always a consistent state.
 */
#ifndef LOYALTY_HTTP_H
#define LOYALTY_HTTP_H

#include "config.h"
#include "dlqring.h"
#include "fleet.h"
#include "metrics.h"

struct event_base;
struct http;

/* What the handlers read; all must outlive the server. */
struct http_sources {
    const struct config *cfg;
    const struct fleet *fleet; /* the served partitions: states and consumers */
    const struct metrics *m;
    const struct dlqring *dlq; /* NULL: none kept */
    struct fleet *preview;     /* POST /v1/preview runs sales on the member's
                                * partition and puts them back (the same
                                * fleet; NULL: no preview) */
};

/* Binds cfg->http and starts serving on `base`. Returns NULL (with a
 * message in err->text) when the address cannot be bound. */
struct http *http_new(struct event_base *base, const struct http_sources *src,
                      struct config_error *err);

/* Stops serving and frees the server. */
void http_free(struct http *h);

#endif
