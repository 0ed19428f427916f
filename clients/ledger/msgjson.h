/* msgjson.h - a msgpack value as JSON (jansson), for storing and serving
 * output events whole, including keys and kinds the ledger does not know.
 *
 * Mapping: nil, booleans, integers, floats, strings, arrays and maps as
 * JSON has them; a string that is not valid UTF-8 has its other bytes
 * replaced by '?'; binary becomes {"$bin": "<hex>"} and an extension
 * {"$ext": type, "hex": "<hex>"}; a map key that is not a string is keyed
 * by its JSON text. Depth is bounded by the shape check that made the value
 * (proto_unpack: PROTO_DEPTH_MAX), so the recursion is too.
 */
#ifndef LOYALTY_LEDGER_MSGJSON_H
#define LOYALTY_LEDGER_MSGJSON_H

#include <jansson.h>
#include <msgpack.h>

/* A new JSON value for `o`. Aborts only when out of memory. */
json_t *msgjson_value(const msgpack_object *o);

/* Compact JSON text of `o`, malloc'd (the caller frees it). Aborts only
 * when out of memory. */
char *msgjson_text(const msgpack_object *o);

#endif
