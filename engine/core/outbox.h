/* outbox.h - what applying one entry produced: a verdict, the reason when
 * it was rejected, and its outputs in order.
 *
 * The output buffer is reserved once, at outbox_init, for the most any one
 * entry can produce (rules.h: RULES_OUTBOX_CAP); appending never allocates
 * and appending past the capacity is a programmer error (asserted), since
 * every producer checks outbox_room() against its own bound first. Every
 * rules module that changes a member publishes through here, and nothing
 * here calls back into them: the outbox is a leaf of the core.
 */
#ifndef LOYALTY_OUTBOX_H
#define LOYALTY_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "members.h"
#include "proto.h"
#include "rulebook.h"

/* Outputs of one entry other than a tick are few (a scan: one per perk; a
 * purchase: points, bonus, expiry and releases, the referrer's bonus, tier,
 * rewards, notices: rules.h, RULES_PURCHASE_OUTPUTS): this bounds them. A
 * tick's budget is larger (rules.h, RULES_OUTBOX_CAP). */
#define OUTBOX_ENTRY_OUTPUTS_MAX (RULEBOOK_PERKS_MAX + 32)

/* Verdicts:
 *  - OUTBOX_APPLIED: the entry took effect; out[0..count) are its outputs
 *    (possibly none, e.g. a tick with nothing due).
 *  - OUTBOX_DUPLICATE: a POS retry of a txn already applied; state is
 *    unchanged except the clock, and `out` repeats the answer the POS is
 *    waiting for (a redeem's redeem.result), nothing else.
 *  - OUTBOX_REJECTED: the entry breaks a rule; state is unchanged except the
 *    clock; `reject` says why (it goes to the DLQ). */
enum outbox_verdict { OUTBOX_APPLIED, OUTBOX_DUPLICATE, OUTBOX_REJECTED };

/* An entry for another partition's input: a transfer's credit in the
 * receiver's partition, or a credit sent back to the sender's (transfer.h,
 * xfer.h). The shell commits it with the entry's outputs and its relay
 * appends it to that partition's input. At most one per entry. */
struct outbox_relay {
    uint32_t partition; /* whose input it goes to */
    struct outbox_relay_entry {
        enum proto_kind kind; /* PROTO_TRANSFER_CREDIT or PROTO_TRANSFER_RETURN */
        int64_t ts;           /* the transfer's */
        char txn[PROTO_TXN_MAX + 1];
        char member[PROTO_MEMBER_MAX + 1]; /* who gets the points */
        char from[PROTO_MEMBER_MAX + 1];
        uint32_t piece_count;
        struct proto_piece pieces[PROTO_PIECES_MAX];
    } e;
};

struct outbox {
    enum outbox_verdict verdict;
    bool has_relay;             /* `relay` holds this entry's relay entry */
    struct outbox_relay relay;
    struct proto_reject reject; /* when OUTBOX_REJECTED */
    uint32_t count;
    uint32_t kept;            /* out[0..kept) stand even if the entry is rejected
                               * (a scheduled rulebook switch it triggered) */
    uint32_t cap;             /* reserved at init; never grows */
    struct proto_output *out; /* out[0..count) */
};

/* Reserves room for `cap` (>= 1) outputs. Stops the process when out of
 * memory (it runs once, at start-up). */
void outbox_init(struct outbox *ob, uint32_t cap);

/* Frees the outputs. */
void outbox_free(struct outbox *ob);

/* Starts a new entry: verdict APPLIED, no outputs, no reason. */
void outbox_reset(struct outbox *ob);

/* Outputs that can still be appended. */
uint32_t outbox_room(const struct outbox *ob);

/* Appends an output of `kind` about member `m` at time `ts`, zeroed but
 * for those three; the caller fills the kind's fields. There must be room
 * (asserted). */
struct proto_output *outbox_emit(struct outbox *ob, enum proto_out_kind kind, int64_t ts,
                                 const struct member *m);

/* Marks the entry rejected with a stable `code` (reasons.h) and a
 * printf-style detail, and drops its outputs but the kept ones: a
 * rejected entry publishes nothing of its own but its DLQ entry. */
void outbox_reject(struct outbox *ob, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
