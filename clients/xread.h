/* xread.h - following Redis streams with XREAD, for the clients.
 *
 * A cursor is a stream key and the id of the last entry seen on it. xread_poll
 * reads what came after the cursors (blocking a bounded time), hands each
 * entry to a callback and moves the cursors on, so no entry is skipped or
 * seen twice between calls. Replies are validated: a reply of the wrong
 * shape is an error, never a crash. The reply and every pointer in an
 * xread_entry belong to xread_poll and are freed when the callback returns.
 */
#ifndef LOYALTY_XREAD_H
#define LOYALTY_XREAD_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "client_common.h"
#include "proto.h"

#define XREAD_STREAMS_MAX 2   /* out and dlq: the most any client follows */
#define XREAD_COUNT_MAX 512   /* entries per XREAD: bounds one reply's memory */
#define XREAD_FIELDS_MAX 64   /* field/value pairs looked at in one entry */

struct xread_cursor {
    char key[CLIENT_KEY_MAX + 1];
    char last_id[PROTO_ID_STR_MAX]; /* "<ms>-<seq>"; "0-0" from the start */
};

struct xread_entry {
    int stream;            /* index of the cursor it came from */
    const char *id;        /* the entry's stream id, NUL-terminated */
    const redisReply *fields; /* array of field, value, field, value... */
};

/* Called for each entry, in stream order, stream by stream. */
typedef void (*xread_fn)(void *ctx, const struct xread_entry *e);

/* Points cursor *cur at `key`, after entry `from` (an id "<ms>-<seq>"), or,
 * when `from` is NULL, after the stream's current last entry ("0-0" when the
 * stream is empty or missing). Returns 0, or -1 with err set. */
int xread_start(redisContext *c, struct xread_cursor *cur, const char *key,
                const char *from, struct client_error *err);

/* Reads up to XREAD_COUNT_MAX entries after each of the `n` cursors,
 * waiting up to block_ms for the first when there are none (0: do not
 * wait), calls fn for each and advances the cursors. Returns the number of
 * entries read (0 on a timeout), or -1 with err set. */
int xread_poll(redisContext *c, struct xread_cursor *cur, int n,
               uint32_t block_ms, xread_fn fn, void *ctx,
               struct client_error *err);

/* The value of field `name` of entry *e, with its length in *len, or NULL
 * when the entry has no such field (or not as a string). */
const char *xread_field(const struct xread_entry *e, const char *name,
                        size_t *len);

#endif
