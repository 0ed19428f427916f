/* evprint.h - printing output events and DLQ entries, for loyaltyctl.
 *
 * An output event prints as one readable line (kinds the contract knows get
 * a short template; kinds added later print as key=value pairs, so they
 * show without a change here) or as one JSON object. A DLQ entry prints its
 * stream fields (src, reason, detail) and, when its `m` decodes, the
 * rejected input. Text from the streams is escaped before it reaches the
 * terminal (msgview.h).
 */
#ifndef LOYALTY_EVPRINT_H
#define LOYALTY_EVPRINT_H

#include <stdbool.h>

#include <msgpack.h>

#include "xread.h"

struct evprint_opts {
    bool json; /* one JSON object per line */
    bool time; /* text lines start with the event time (UTC) */
};

/* Decodes the `m` field of entry *e into *u (initialised and destroyed by
 * the caller). Returns 0 when it is one msgpack map, or -1 with *why set to
 * a static or err-held reason ("no field m", malformed, "not a map"). */
int evprint_decode_m(const struct xread_entry *e, msgpack_unpacked *u,
                     struct client_error *err, const char **why);

/* Prints output event *map (a decoded map) on stdout. */
void evprint_event(const struct evprint_opts *o, const msgpack_object *map);

/* Prints that entry `id` of a stream did not decode, and why: said, never
 * skipped silently. */
void evprint_undecodable(const struct evprint_opts *o, const char *id, const char *why);

/* Prints DLQ entry *e; `input` is its decoded `m` (NULL when it does not
 * decode). */
void evprint_dlq(const struct evprint_opts *o, const struct xread_entry *e,
                 const msgpack_object *input);

#endif
