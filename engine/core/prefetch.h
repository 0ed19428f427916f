/* prefetch.h - bring the member an entry names into the cache before the
 * entry is applied.
 *
 * At a million members and more, applying a purchase is dominated by
 * cache misses: the index slot, then the member record and its expiry
 * lots, each a trip to memory that depends on the one before, and the
 * txn index slot a new txn is written to (as large as the idempotency
 * window: millions of slots). A caller
 * that holds the next entries of a batch (decoded) issues these hints a
 * few entries ahead, so the trips overlap with the work on the current
 * entry: prefetch_slot for entry i + 2, prefetch_member for entry i + 1,
 * then rules_apply on entry i. Hints only: no state changes, no faults
 * (a prefetch never faults), any entry kind; the result of applying is
 * the same with or without them.
 */
#ifndef LOYALTY_PREFETCH_H
#define LOYALTY_PREFETCH_H

#include "proto.h"
#include "state.h"

/* Stage 1: the member index slot where the lookup of e->member starts,
 * and the txn index slot where the lookup of e->txn starts. */
void prefetch_slot(const struct state *st, const struct proto_entry *e);

/* Stage 2: the member record (and its expiry lots) that slot names, when
 * the slot is already cached (stage 1, an entry earlier). */
void prefetch_member(const struct state *st, const struct proto_entry *e);

#endif
