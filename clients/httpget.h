/* httpget.h - one blocking HTTP/1.0 GET, for loyalty-scan's and
 * loyaltyctl's lookups.
 *
 * The daemon's HTTP API is read-only JSON on loopback; a client needs one
 * request and one response, so this is a plain socket with a deadline, not an
 * event loop. The response is bounded: a larger one is an error, never
 * silently cut.
 */
#ifndef LOYALTY_HTTPGET_H
#define LOYALTY_HTTPGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_common.h"

/* A member record is a few KiB of JSON; anything past this is not one. */
#define HTTPGET_RESPONSE_MAX 65536
/* Request target: "/v1/members/" and a member id of 32 bytes, each byte
 * possibly percent-encoded as three. */
#define HTTPGET_PATH_MAX 128
/* A bearer token: the daemon's own bound on it (CONFIG_SECRET_MAX). */
#define HTTPGET_TOKEN_MAX 256

struct httpget_response {
    int status;       /* e.g. 200, 404 */
    const char *body; /* points into raw, NUL-terminated */
    size_t body_len;
    char raw[HTTPGET_RESPONSE_MAX + 1];
};

/* Appends `s` to `path` (NUL-terminated, capacity `cap`) percent-encoding
 * every byte outside A-Z a-z 0-9 - . _ ~. Returns 0, or -1 when it does
 * not fit. */
int httpget_path_append(char *path, size_t cap, const char *s);

/* True when `token` can be sent as a bearer token: 1..HTTPGET_TOKEN_MAX
 * printable ASCII bytes without spaces (nothing that could end a header). */
bool httpget_token_ok(const char *token);

/* GETs `path` from http://ep within timeout_ms (connect, send and receive
 * together), with "Authorization: Bearer <bearer>" when bearer is not NULL
 * (it must pass httpget_token_ok). Returns 0 with *r filled (any status), or
 * -1 with err set when no complete response arrived. */
int httpget_fetch(const struct client_endpoint *ep, const char *path, const char *bearer,
                  uint32_t timeout_ms, struct httpget_response *r,
                  struct client_error *err);

#endif
