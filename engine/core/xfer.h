/* xfer.h - the halves of a transfer between members of different
 * partitions (README, Transfers; transfer.h has the single-partition one).
 *
 * The sender's partition applies `transfer` (transfer.c) and, after the
 * debit, xfer_credit() puts a `transfer_credit` entry in the outbox's
 * relay slot (outbox.h): txn, the receiver, the sender, the pieces taken
 * (expiry instant and points of each lot). The shell commits it with the
 * batch and its relay appends it to the receiver partition's input; a
 * relay that repeats itself after a crash appends it again.
 *
 * The receiver's partition applies the credit exactly once: it remembers
 * the txn (kind transfer_credit, the receiver) in its idempotency window,
 * so a repeat within the window changes nothing (OUTBOX_DUPLICATE). When
 * the receiver is not enrolled there, its balance would overflow, or the
 * txn is already taken by another kind of entry there, nothing is credited
 * and the same pieces go back to the sender's partition as a
 * `transfer_return` entry (a relay entry again).
 *
 * The sender's partition applies a return exactly once: it marks the
 * transfer's own record (refunded_points = the points back), so a repeat
 * is a duplicate; if the record has left the window, the return is
 * remembered under the txn as a transfer_return record instead. The
 * points come back with their expiry (points.changed cause
 * transfer_return) and the sender's daily limit gets them back when the
 * day is still the one counted. A return for an unknown sender, or whose
 * txn names something else, goes to the DLQ (its pieces are in the entry).
 *
 * Neither kind goes through rules.c's retry check: each recognises its
 * own repeats as above.
 */
#ifndef LOYALTY_XFER_H
#define LOYALTY_XFER_H

#include <stdint.h>

#include "lots.h"
#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"

/* The partition of member `id` among st's partitions. */
uint32_t xfer_partition(const struct state *st, const char *id);

/* Puts the credit of transfer `e` (its receiver in another partition)
 * with pieces[0..n) in ob's relay slot. */
void xfer_credit(const struct state *st, struct outbox *ob, const struct proto_entry *e,
                 const struct lots_piece *pieces, uint32_t n);

/* Fills `e` with relay entry `r` as an input entry, for the encoder. */
void xfer_entry(const struct outbox_relay_entry *r, struct proto_entry *e);

/* Applies a transfer_credit entry (see above). */
void xfer_credit_apply(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct outbox *ob);

/* Applies a transfer_return entry (see above). */
void xfer_return_apply(struct state *st, const struct rulebook *rb,
                       const struct proto_entry *e, struct outbox *ob);

#endif
