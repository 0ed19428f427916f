/* proto_out.h - reading output events back: what a consumer of <prefix>out
 * (the ledger, tools) makes of an entry's `m` bytes.
 *
 * The output contract grows (DESIGN.md, "Contract additions of the second
 * wave": rules.changed, points.pending, tier.at_risk, ... and new causes),
 * so this reader is lenient where the contract grows and strict where it
 * is fixed: a kind it does not know is kept as its wire name with the
 * common fields read, keys it does not know are left in the map for the
 * caller (who may keep the whole map), and a cause is any short string.
 * What it does read is checked: types, lengths and the fields a known kind
 * must carry. It does no I/O and allocates nothing; the bytes are first
 * shaped and unpacked by proto_unpack (proto.h), which bounds everything.
 */
#ifndef LOYALTY_PROTO_OUT_H
#define LOYALTY_PROTO_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto.h"

#define PROTO_OUT_KIND_MAX 32  /* "campaign.exhausted" (18) with room to grow */
#define PROTO_OUT_TEXT_MAX 128 /* a rulebook hash in hex (SHA-512 would be 128) or label */

/* Wire name of the rulebook switch (issue 12), not yet in enum proto_out_kind. */
#define PROTO_OUT_RULES_CHANGED_NAME "rules.changed"

/* One output event as read. Strings are NUL-terminated copies; a field the
 * event does not carry is "" (strings) or 0 with its has_ flag false. */
struct proto_out_event {
    char kind[PROTO_OUT_KIND_MAX + 1];  /* the wire kind, known or not */
    char id[PROTO_OUT_ID_STR_MAX];      /* "<src>:<n>" as sent */
    char src[PROTO_ID_STR_MAX];         /* the input entry id as sent */
    char member[PROTO_MEMBER_MAX + 1];  /* "" when the event names no member */
    int64_t ts;                         /* event time (ms), >= 0 */
    /* points.changed: delta, balance, cause; balance also from any other
     * kind that carries an integer balance (redeem.result, points.expired) */
    char cause[PROTO_NAME_MAX + 1];
    bool has_points;                    /* delta (and balance) were read */
    bool has_balance;                   /* balance was read */
    int64_t delta;
    int64_t balance;
    /* rules.changed (from, to: rulebook hashes; label: free text) and
     * tier.changed (from, to: tier names) */
    char from[PROTO_OUT_TEXT_MAX + 1];
    char to[PROTO_OUT_TEXT_MAX + 1];
    char label[PROTO_OUT_TEXT_MAX + 1];
};

/* Reads the output event `top` (as proto_unpack made it) into `*ev` (fully
 * overwritten). Every event must be a map with string keys, none twice,
 * with `kind` (a string of 1..PROTO_OUT_KIND_MAX bytes), `id`, `src` (strings
 * within their limits) and `ts` (an integer 0..PROTO_TS_MAX); `member` is
 * optional (a string of at most PROTO_MEMBER_MAX bytes). points.changed
 * must also carry `delta`, `balance` (integers) and `cause` (a string);
 * rules.changed a string `to` (and may carry `from` and `label`). Of any
 * other kind an integer `balance` is read when there is one; nothing else
 * is looked at. Returns 0, or -1 with `rej` set (code
 * from proto.h's PROTO_R_*; *ev then holds what was read before the fault). */
int proto_out_read(const msgpack_object *top, struct proto_out_event *ev,
                   struct proto_reject *rej);

#endif
