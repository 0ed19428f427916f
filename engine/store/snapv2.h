/* snapv2.h - reading format 2, the snapshots of the builds before formats 3 and 4:
 * the memory image of the state as commit eb30512 laid it out (a 128-byte
 * header, then the globals, the member records, their expiry lots keyed by
 * the month points were earned in, and the txn records, all in the
 * writer's byte order). Its layout is written down here field by field,
 * at fixed offsets, so that it stays readable whatever the current structs
 * become. It carries no rulebook: a state loaded from it takes the
 * configured rulebook as its start-up version (hash ""), as that build
 * did, and tells a snapshot written under another rulebook (the expiry
 * lots or a tier out of step with it) as FOREIGN.
 */
#ifndef LOYALTY_SNAPV2_H
#define LOYALTY_SNAPV2_H

#include <stddef.h>

#include "rulebook.h"
#include "snaprec.h"
#include "state.h"

#define SNAPV2_HEADER_SIZE 128

/* Decodes the format-2 snapshot buf[0..len) into `st` (initialised with
 * `rb` in force, empty). */
enum snapshot_status snapv2_decode(const char *buf, size_t len, const struct rulebook *rb,
                                   struct state *st, struct snapshot_error *err);

/* The last entry id of a format-2 header (SNAPV2_HEADER_SIZE bytes at
 * `buf`). Returns 0, or -1 when the header is not one (checksum). */
int snapv2_peek_id(const char *buf, struct proto_id *id);

#endif
