/* txns.h - the idempotency window: transactions recently applied.
 *
 * A POS that timed out sends the same `txn` again; this table recognises
 * it. Records are kept in a ring in the order they were applied, which is
 * also engine-clock order (the clock never moves back), so eviction by
 * event time pops from the front: deterministic, and O(1) per record.
 * A purchase's record also carries what a refund needs (amount, points
 * earned, how much was already refunded); a redeem's record carries its
 * result so a retry gets the same answer.
 *
 * Bound: at most `max` records (each sizeof(struct txn_rec) plus ~11 bytes
 * of index). When full, the oldest record is forgotten early and counted
 * in `evicted_early` (an operator should raise max_txns).
 */
#ifndef LOYALTY_TXNS_H
#define LOYALTY_TXNS_H

#include <stdint.h>

#include "hindex.h"
#include "proto.h"

struct txn_rec {
    char txn[PROTO_TXN_MAX + 1];
    uint8_t txn_len;
    uint8_t kind;  /* enum proto_kind */
    uint8_t ok;    /* redeem, transfer: 1 when it was applied */
    uint8_t error; /* redeem, transfer: index of the error code (rules.c, transfer.c) */
    uint32_t member; /* member position */
    int64_t applied_ms; /* engine clock when applied: eviction key */
    int64_t ts;         /* the entry's own ts */
    int64_t amount;     /* purchase: amount paid */
    int64_t points;     /* purchase: points earned; redeem: points spent */
    int64_t refunded_amount;
    int64_t refunded_points;
    int64_t balance;    /* redeem, transfer: (the sender's) balance in the result */
    int64_t qual;       /* purchase: what it added to tier qualification */
    /* Retries by content and refunds that take back what the sale gave
     * (retry.h, refunds.h). */
    uint64_t digest;    /* the entry's content but its ts (retry.h) */
    int64_t given;      /* purchase, refund: amount; redeem, adjust, transfer: points */
    int64_t bonus;      /* purchase: first-purchase and birthday bonus it gave */
    int64_t referral;   /* purchase: referral bonus it paid the referrer */
    int32_t release_day; /* purchase: UTC day its points release; 0: credited at once */
    uint8_t tier_before; /* purchase: the member's tier before it */
    uint8_t qual_released; /* purchase: its qualification counts at release */
    uint8_t zero[2];    /* explicit padding, always 0 */
};

struct txns {
    struct txn_rec *ring; /* capacity `max` */
    uint32_t max;
    uint32_t head;  /* position of the oldest record */
    uint32_t count;
    uint64_t evicted_early;
    struct hindex ix; /* txn -> ring position */
};

/* Initialises an empty table of at most `max` (>= 1) records. The ring is
 * reserved up front; the OS backs its pages as records fill it. Returns 0,
 * or -1 when out of memory. */
int txns_init(struct txns *t, uint32_t max);

/* Frees everything the table holds. */
void txns_free(struct txns *t);

/* The record of `txn` (NUL-terminated), or NULL. */
struct txn_rec *txns_find(const struct txns *t, const char *txn);

/* Forgets every record applied before `oldest_ms`. */
void txns_evict(struct txns *t, int64_t oldest_ms);

/* Appends a zeroed record for `txn` (not present: checked by the caller)
 * applied at engine clock `applied_ms` (>= every earlier record's), and
 * returns it. Evicts the oldest record first when full. Stops the daemon
 * when out of memory (LY_ALLOC_CHECK). */
struct txn_rec *txns_add(struct txns *t, const char *txn, int64_t applied_ms);

/* Appends a copy of `r` (from a snapshot, oldest first) and indexes it.
 * Returns 0, or -1 when the table is full or already holds r->txn. `r`
 * must have a valid txn (txn_len 1..PROTO_TXN_MAX, NUL-terminated:
 * asserted). */
int txns_restore(struct txns *t, const struct txn_rec *r);

#endif
