/* workload.h - deterministic input entries for the benchmarks.
 *
 * Both benchmarks feed the engine the same kind of traffic: members
 * "m0000000".."m<N-1>", purchases spread uniformly over them (the
 * pessimistic case for caches: no hot members), and a "realistic mix" of
 * every input kind. A workload is a pure function of its seed and tag, so
 * two runs with the same arguments feed byte-identical entries and their
 * figures are comparable.
 *
 * Event time starts at WORKLOAD_TS_START_MS and advances
 * WORKLOAD_TS_STEP_MS per entry, so a run stays within one idempotency
 * window and every txn is still remembered when a retry or refund names it.
 */
#ifndef LOYALTY_BENCH_WORKLOAD_H
#define LOYALTY_BENCH_WORKLOAD_H

#include <stdint.h>

#include <msgpack.h>

#include "proto.h"

#define WORKLOAD_TS_START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */
#define WORKLOAD_TS_STEP_MS 1                /* 1M entries span 17 minutes */
#define WORKLOAD_MEMBERS_MAX 10000000u       /* ids are "m" + 7 digits */
#define WORKLOAD_TAG_MAX 16                  /* leaves txn ids room in 64 bytes */
/* Recent purchases kept for refunds and POS retries to name: a retry comes
 * within seconds, a refund within the window, so a short memory will do. */
#define WORKLOAD_RECENT 1024u
#define WORKLOAD_STORES 200u
#define WORKLOAD_LINES_MAX 5u /* line items of one purchase of the mix */
_Static_assert(WORKLOAD_LINES_MAX <= PROTO_LINES_MAX, "a sale the decoder accepts");

/* Shares of the realistic mix, in percent (they sum to 100). */
#define WORKLOAD_MIX_PURCHASE 59 /* 40% of them with line items */
#define WORKLOAD_MIX_SCAN 20
#define WORKLOAD_MIX_REDEEM 8
#define WORKLOAD_MIX_REFUND 5
#define WORKLOAD_MIX_RETRY 3   /* a POS retry of a recent purchase */
#define WORKLOAD_MIX_ADJUST 2
#define WORKLOAD_MIX_ENROLL 2  /* a new member */
#define WORKLOAD_MIX_UNKNOWN 1 /* a purchase by a card never enrolled: DLQ */
_Static_assert(WORKLOAD_MIX_PURCHASE + WORKLOAD_MIX_SCAN + WORKLOAD_MIX_REDEEM +
                       WORKLOAD_MIX_REFUND + WORKLOAD_MIX_RETRY + WORKLOAD_MIX_ADJUST +
                       WORKLOAD_MIX_ENROLL + WORKLOAD_MIX_UNKNOWN ==
                   100,
               "mix shares sum to 100%");

struct workload_sale {
    uint32_t member;
    uint64_t serial; /* names the txn */
    int64_t amount;
    int64_t refunded;
};

struct workload {
    uint64_t rng;          /* xorshift64* state, never 0 */
    uint32_t members;      /* members enrolled before the run: m0..m<members-1> */
    uint32_t new_members;  /* members the mix enrolled on top */
    uint64_t serial;       /* entries made so far: txn ids and event time */
    char tag[WORKLOAD_TAG_MAX + 1];
    struct workload_sale recent[WORKLOAD_RECENT]; /* ring of recent purchases */
    uint32_t recent_count;
};

/* Starts a workload over `members` (1..WORKLOAD_MEMBERS_MAX) enrolled
 * members. `tag` (1..WORKLOAD_TAG_MAX printable bytes) prefixes every txn
 * id, so runs with different tags never collide in one daemon. */
void workload_init(struct workload *w, uint32_t members, uint64_t seed, const char *tag);

/* A uniformly random integer in [0, n), n >= 1. */
uint64_t workload_below(struct workload *w, uint64_t n);

/* Writes the id of member `idx` into `out`. */
void workload_member_id(uint32_t idx, char out[PROTO_MEMBER_MAX + 1]);

/* The enrolment of member `idx`. */
void workload_enroll(struct workload *w, uint32_t idx, struct proto_entry *e);

/* A purchase that gives member `idx` a history before the benchmark,
 * spreading members over the tiers of conf/loyaltyd.conf (about half blue,
 * a quarter silver, 15% gold, 10% platinum). */
void workload_history(struct workload *w, uint32_t idx, struct proto_entry *e);

/* A purchase by a random enrolled member, without line items: mostly
 * small baskets, a few large ones. */
void workload_purchase(struct workload *w, struct proto_entry *e);

/* A purchase of `amount` minor units by member `idx`. */
void workload_purchase_of(struct workload *w, uint32_t idx, int64_t amount,
                          struct proto_entry *e);

/* A card scan of member `idx` at a random store. */
void workload_scan(struct workload *w, uint32_t idx, struct proto_entry *e);

/* One entry of the realistic mix (shares above). */
void workload_mixed(struct workload *w, struct proto_entry *e);

/* Entries encoded back to back: entry i is the value of its `m` field,
 * buf.data[off[i] .. off[i] + len[i]). At most `cap` entries, and at most
 * 4 GiB in all (offsets are 32-bit). */
struct workload_encoded {
    msgpack_sbuffer buf;
    uint32_t *off;
    uint32_t *len;
    uint32_t count;
    uint32_t cap;
};

/* Reserves room for `cap` entries. Returns 0, or -1 when out of memory. */
int workload_encoded_init(struct workload_encoded *x, uint32_t cap);

/* Frees everything `x` holds. */
void workload_encoded_free(struct workload_encoded *x);

/* Forgets the entries, keeping the memory. */
void workload_encoded_clear(struct workload_encoded *x);

/* Appends the encoding of `e`. Returns 0, or -1 when full or out of
 * memory. */
int workload_encoded_add(struct workload_encoded *x, const struct proto_entry *e);

#endif
