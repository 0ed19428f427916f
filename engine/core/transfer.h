/* transfer.h - points moved from one member to another: the input kind
 * `transfer` (txn, member = the sender, to, points).
 *
 * Every transfer is answered with transfer.result (txn, ok, error, the
 * sender's balance), like a redemption: a refusal is an answer, not bad
 * input, so the till or app that asked learns why at once and a retry of
 * the txn gets the same answer. Refusals (error): transfers_disabled
 * (rulebook transfers.enabled is false), insufficient_points (the
 * sender's balance is short), daily_limit (the sender's transfers of the
 * UTC day of the entry's ts would pass transfers.max_points_per_day).
 * An unknown sender or receiver is bad input: DLQ unknown_member, nothing
 * changes. With pending points (release.h) only released points can be
 * given: both members' points whose release day has come are released
 * first; points still pending stay with the sender and do not count
 * toward the balance a transfer checks.
 *
 * A transfer publishes points.changed cause transfer_out for the sender
 * and transfer_in for the receiver. The points keep the expiry of the
 * sender's lots they came from, oldest first (wallet_take/wallet_give);
 * they are spendable at once and are not earning: no lifetime points, no
 * tier qualification, no every-N rewards for the receiver, and none taken
 * back from the sender.
 *
 * Within one partition the two halves run in one entry: the receiver is
 * checked first and the move is atomic. When the receiver is in another
 * partition (partition.h) the same two halves become two entries: the
 * sender's partition applies `transfer` (checks, points_transfer_out,
 * transfer.result) and hands the outbox a credit for the receiver's
 * partition, keyed by the txn and carrying the pieces (expiry instants and
 * points); the receiver's partition applies that credit once, or, for an
 * unknown receiver, sends the pieces back to the sender the same way
 * (xfer.h). The sender cannot check a receiver in another partition, so
 * there an unknown receiver is not bad input: the points come back. See
 * README, Transfers.
 */
#ifndef LOYALTY_TRANSFER_H
#define LOYALTY_TRANSFER_H

#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"
#include "txns.h"

/* Applies transfer entry `e` (not a retry: rules.c checked). */
void transfer_apply(struct state *st, const struct rulebook *rb, const struct proto_entry *e,
                    struct outbox *ob);

/* Publishes transfer.result for record `r` of sender `m` to entry `e`
 * (whose txn it echoes: the record keeps only the id's digest): a
 * transfer just applied, or the original answer to a retry. */
void transfer_answer(struct outbox *ob, const struct proto_entry *e, const struct member *m,
                     const struct txn_rec *r);

#endif
