/* rulejson.h - rulebook versions as JSON.
 *
 * One shape for every reader: the body of GET /v1/rulebook (http.c) and
 * the value of <prefix>rules:current, the summary of the version in force
 * that the daemon keeps in Redis (rulesync.h) and that
 * `loyaltyd --check-config --redis` and `loyaltyctl` read (rulepush.h):
 *
 *   {"hash": H, "short": first 12 digits, "label": L,
 *    "since": {"id": ENTRY, "ts": MS}, "entry_id": ENTRY,
 *    "scheduled": null | {"hash", "label", "entry_id", "effective_ts"},
 *    "state_id": the last entry applied,
 *    "versions": [newest first: {"hash", "label", "entry_id",
 *                 "effective_ts", "since_id", "since_ts"}]}   (history only)
 *
 * The start-up version (before any rules entry) has hash "". Ids are
 * "ms-seq" strings; "0-0" when none.
 */
#ifndef LOYALTY_RULEJSON_H
#define LOYALTY_RULEJSON_H

#include <stdbool.h>

#include <jansson.h>

#include "proto.h"
#include "versions.h"

/* The JSON of versions `v` of a state whose last applied entry is
 * `state_id`; with `history`, the "versions" array too. Returns a new
 * reference, or NULL when out of memory. */
json_t *rulejson_versions(const struct versions *v, struct proto_id state_id, bool history);

#endif
