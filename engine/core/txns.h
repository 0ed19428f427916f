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
 * The txn id itself is not kept: a record holds its XXH3-128 digest
 * (`key`), 16 bytes instead of up to 65. Two distinct ids share a digest
 * with probability about n^2 / 2^129 for n ids in the window: below
 * 10^-24 for a window of 10^9 records, far below any hardware error rate.
 * The answers that echo a txn (redeem.result, transfer.result) take it
 * from the entry being answered, which carries the same id.
 *
 * Memory: the ring is reserved for `max` records (address space only) and
 * used as a ring of `cap` records that grows by a quarter when the window
 * fills it (TXNS_GROW_DIV) and shrinks when it is a quarter empty
 * (TXNS_SHRINK_FILL_PCT), so its resident pages follow the window held, not
 * max_txns: a ring wrapping over its whole reservation would make every
 * page of it resident. Growing or shrinking moves part of the ring (a
 * memmove of at most the records held, rare: the window must change by a
 * quarter or a half first) and re-points their index entries: no
 * allocation.
 *
 * Bound: at most `max` records (each sizeof(struct txn_rec) plus ~11..22
 * bytes of index). When full, the oldest record is forgotten early and
 * counted in `evicted_early` (an operator should raise max_txns).
 */
#ifndef LOYALTY_TXNS_H
#define LOYALTY_TXNS_H

#include <stdint.h>

#include "hindex.h"
#include "proto.h"

/* The first ring: grown from here as the window fills it. */
#define TXNS_CAP_INITIAL 4096u
/* The ring grows by cap / TXNS_GROW_DIV (at least what one move needs):
 * resident memory at most 1.125x the largest window (the ring is the
 * largest store at 1M members: a year of monthly sales in a 35-day window
 * holds 1.2 records per member), and each growth moves at most the
 * records held, so adding stays O(1) amortised (at most GROW_DIV moves
 * per record added). */
#define TXNS_GROW_DIV 8u
/* The ring shrinks (to an eighth more than it holds) once it is at most
 * TXNS_SHRINK_FILL_PCT percent full, handing the pages past its new end
 * back: a burst (a mass enrolment) does not keep its ring resident for
 * ever. Between 75% and 100% full nothing moves, so a window that
 * wobbles by less than a quarter never moves records back and forth. */
#define TXNS_SHRINK_FILL_PCT 75u
/* The page size madvise works in (the smallest of the hosts we run on);
 * only whole pages past the ring's end are handed back. */
#define TXNS_PAGE_BYTES 4096u

struct txn_rec {
    uint64_t key[2]; /* XXH3-128 of the txn id (low, high): txns_key */
    uint32_t member; /* member position */
    uint8_t kind;  /* enum proto_kind */
    uint8_t ok;    /* redeem, transfer: 1 when it was applied */
    uint8_t error; /* redeem, transfer: index of the error code (rules.c, transfer.c) */
    uint8_t tier_before; /* purchase: the member's tier before it */
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
    uint8_t qual_released; /* purchase: its qualification counts at release */
    uint8_t zero[3];    /* explicit padding, always 0 */
};

struct txns {
    struct txn_rec *ring; /* reserved for `max` records, used as a ring of `cap` */
    uint32_t max;   /* configured limit (max_txns) */
    uint32_t cap;   /* ring positions in use: positions are taken modulo it */
    uint32_t head;  /* position of the oldest record */
    uint32_t count;
    uint64_t evicted_early;
    struct hindex ix; /* key -> ring position */
};

/* The key of txn id `txn[0..len)`: its XXH3-128 digest (low, high). */
void txns_key(const char *txn, size_t len, uint64_t key[2]);

/* Initialises an empty table of at most `max` (>= 1) records. The ring is
 * reserved up front; the OS backs its pages as the ring grows. Returns 0,
 * or -1 when out of memory. */
int txns_init(struct txns *t, uint32_t max);

/* Frees everything the table holds. */
void txns_free(struct txns *t);

/* Grows an empty table's ring to hold `n` (<= max) records without
 * growing again (a snapshot being loaded: its header says how many). */
void txns_reserve(struct txns *t, uint32_t n);

/* The record of `txn` (NUL-terminated), or NULL. */
struct txn_rec *txns_find(const struct txns *t, const char *txn);

/* Hints the index slot where txns_find(t, txn) starts into the cache
 * (prefetch.h): no state change, never faults. */
void txns_prefetch(const struct txns *t, const char *txn, size_t len);

/* The record at age `i` (< count; 0 = the oldest). */
struct txn_rec *txns_at(const struct txns *t, uint32_t i);

/* Forgets every record applied before `oldest_ms`. */
void txns_evict(struct txns *t, int64_t oldest_ms);

/* Appends a zeroed record for `txn` (not present: checked by the caller)
 * applied at engine clock `applied_ms` (>= every earlier record's), and
 * returns it. Evicts the oldest record first when full. Allocates
 * nothing (the ring and index are reserved at init). */
struct txn_rec *txns_add(struct txns *t, const char *txn, int64_t applied_ms);

/* Appends a copy of `r` (from a snapshot, oldest first) and indexes it
 * under r->key. Returns 0, or -1 when the table is full or already holds
 * r->key. */
int txns_restore(struct txns *t, const struct txn_rec *r);

#endif
