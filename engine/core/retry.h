/* retry.h - POS retries recognised by content.
 *
 * The txn record of every applied entry (txns.h) keeps a digest of the
 * entry's content: every contract field of its kind but `ts` (a POS that
 * stamps its resend anew is still retrying) and `txn` itself; keys outside
 * the contract are not part of it (producers' metadata, such as an attempt
 * counter). An entry whose txn is remembered is then:
 *  - the same kind, member and content: a retry (OUTBOX_DUPLICATE, changes
 *    nothing; a redeem gets its original redeem.result);
 *  - anything else: txn_conflict, with a detail saying what differs (the
 *    kind, the member, the amount or points, else which other fields of
 *    the kind may differ), so a reused txn never loses a sale silently.
 */
#ifndef LOYALTY_RETRY_H
#define LOYALTY_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "state.h"
#include "txns.h"

/* XXH3-64 of entry `e`'s content (see above). */
uint64_t retry_digest(const struct proto_entry *e);

/* Remembers `e->txn` (not remembered yet) as applied to member `pos`:
 * kind, member, ts, digest and the amount or points given. Returns the
 * record, for the caller to fill in what its kind keeps. */
struct txn_rec *retry_remember(struct state *st, const struct proto_entry *e, uint32_t pos);

/* Rejects `e` (txn_conflict) and returns true when it reuses the txn of
 * record `r`, applied to member `owner`, with another kind, member or
 * content; false when it is a retry of it. */
bool retry_conflict(const struct txn_rec *r, const struct member *owner,
                    const struct proto_entry *e, struct outbox *ob);

#endif
