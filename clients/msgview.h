/* msgview.h - looking into and printing msgpack values, for the clients.
 *
 * The clients decode the `m` field of output and DLQ entries with msgpack-c
 * directly (the daemon's decoder only knows input kinds). msgview_unpack
 * first checks that the bytes are one well-formed msgpack value whose
 * container headers do not claim more elements than there are bytes, so a
 * hostile DLQ entry cannot make msgpack-c allocate without bound. The
 * printers render any value, so event kinds added later print without code
 * changes; text from the wire is escaped (no terminal control sequences,
 * valid JSON for any bytes).
 */
#ifndef LOYALTY_MSGVIEW_H
#define LOYALTY_MSGVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "client_common.h"

/* Bytes we decode: output events are well under 1 KiB and input entries at
 * most PROTO_ENTRY_BYTES_MAX; a DLQ entry may hold anything, and past this
 * it is shown by size only. */
#define MSGVIEW_BYTES_MAX 65536
#define MSGVIEW_DEPTH_MAX 8 /* nesting printed; the contract nests 3 deep */

/* Decodes buf[0..len) into *u (initialised by the caller with
 * msgpack_unpacked_init, destroyed by the caller). Returns 0, or -1 with err
 * set when the bytes are over MSGVIEW_BYTES_MAX, malformed, or not exactly
 * one value. */
int msgview_unpack(const char *buf, size_t len, msgpack_unpacked *u,
                   struct client_error *err);

/* The value under string key `key` in map *map, or NULL when *map is not a
 * map or has no such key. */
const msgpack_object *msgview_get(const msgpack_object *map, const char *key);

/* True when *o is the string `s`. o may be NULL (then false). */
bool msgview_is_str(const msgpack_object *o, const char *s);

/* Prints *o as human text to f: strings bare (non-printable bytes as
 * \xNN), numbers, true/false, nil, [a,b], {k=v}. o may be NULL (prints
 * "-"). */
void msgview_print_text(FILE *f, const msgpack_object *o);

/* Prints *o as JSON to f. Map keys that are not strings become strings of
 * their text form; bin and ext become strings of hex; invalid UTF-8 becomes
 * U+FFFD; non-finite floats become null. */
void msgview_print_json(FILE *f, const msgpack_object *o);

/* Prints the bytes s[0..len) as text: printable characters (valid UTF-8)
 * as they are, the rest (controls, C1 controls a terminal may obey, invalid
 * UTF-8, backslash) as \xNN. */
void msgview_print_bytes(FILE *f, const char *s, size_t len);

/* Prints the bytes s[0..len) as a JSON string literal (quotes included). */
void msgview_json_string(FILE *f, const char *s, size_t len);

#endif
