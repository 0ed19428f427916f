/* httppreview.h - POST /v1/preview: what a sale at the till would do.
 *
 * The body is a `purchase` input entry, as JSON (Content-Type
 * application/json, or none) or msgpack (application/msgpack), exactly as
 * it would be XADDed, except that `ts` may be left out (the engine clock
 * is used, so campaign windows and caps are judged as of now; before the
 * first entry there is no clock, and `ts` is missing_field). JSON is
 * turned into the msgpack an entry carries (objects into maps, integers
 * into integers, reals into floats) and both go through the stream's own
 * decoder, so a bad body gets the reason code the DLQ would give
 * (400 {"error": code, "detail": ...}). Then preview_purchase (preview.h)
 * runs it on the live state and puts everything back.
 *
 * Answers (JSON):
 *   200 {"verdict": "applied" | "duplicate", "member", "new_member", "ts",
 *        "outputs": [...the events the sale would publish, as on
 *        <prefix>out without id and src...], "points_by_cause",
 *        "balance_before", "balance", "tier_before", "tier", "tier_changed",
 *        "perks", "lifetime_points", "qualifying", "purchases",
 *        "rulebook_switch_due"}
 *   400 a body the decoder refuses, bad JSON, or not a purchase
 *   404 unknown member while enrolment is required
 *   421 {"error": "wrong_partition", "detail", "partition"}: the member's
 *        partition is not one this daemon serves
 *   422 {"error": code, "detail"}: the rules would send the sale to the DLQ
 *        (lines_mismatch, txn_conflict, members_full, points_overflow)
 * Nothing is written anywhere; the state is used between batches, on the
 * event loop that owns it.
 */
#ifndef LOYALTY_HTTPPREVIEW_H
#define LOYALTY_HTTPPREVIEW_H

#include <stddef.h>

#include <jansson.h>

#include "fleet.h"
#include "state.h"

/* The largest body accepted: a JSON purchase of 64 lines with long ids is
 * about 12 KiB; the msgpack it becomes stays under PROTO_ENTRY_BYTES_MAX
 * or is refused as too_large, like on the stream. */
#define HTTPPREVIEW_BODY_MAX 32768

struct httppreview;

/* Previews run on the state of the member's partition among those `f`
 * serves (of `partitions`; `f` must outlive it). Returns NULL when out of
 * memory. */
struct httppreview *httppreview_new(struct fleet *f, uint32_t partitions);
void httppreview_free(struct httppreview *p);

/* Answers one request: `ctype` its Content-Type (NULL: none), body[0..len)
 * (len <= HTTPPREVIEW_BODY_MAX). Returns the HTTP status, with the answer
 * in *out (a new reference; NULL only when out of memory). */
int httppreview_answer(struct httppreview *p, const char *ctype, const char *body, size_t len,
                       json_t **out);

#endif
