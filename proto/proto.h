/* proto.h - the event contract of loyaltyd (see ../shared/DESIGN.md).
 *
 * Every stream entry carries one field, `m`, whose value is a msgpack map
 * with string keys. This module turns the bytes of an input entry into a
 * validated `struct proto_entry` (or a rejection with a stable reason code),
 * and turns a `struct proto_output` into the bytes of an output entry. It
 * does no I/O and keeps no state; the decoder allocates nothing on the heap
 * beyond a msgpack zone bounded by PROTO_ENTRY_BYTES_MAX.
 *
 * Wire names (keys, kinds, causes, reason codes) are the public contract:
 * they change only with the version `v`.
 */
#ifndef LOYALTY_PROTO_H
#define LOYALTY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define PROTO_VERSION 1

/* Limits on everything that comes from outside. Each is a contract: input
 * over a limit is rejected with reason "too_large" / "field_too_long" /
 * "out_of_range", never truncated. */
#define PROTO_ENTRY_BYTES_MAX 8192 /* a sale with 64 lines fits in ~5 KiB */
#define PROTO_DEPTH_MAX 4          /* entry map > lines array > line map */
#define PROTO_KEYS_MAX 32          /* keys in one map: ours + room to grow */
#define PROTO_TXN_MAX 64           /* POS idempotency key, DESIGN.md */
#define PROTO_MEMBER_MAX 32        /* card or member id, DESIGN.md */
#define PROTO_NAME_MAX 32          /* store, sku, cat, reward names */
#define PROTO_REASON_MAX 128       /* free text of an adjustment */
#define PROTO_LINES_MAX 64         /* line items in one sale */
#define PROTO_AMOUNT_MAX 10000000000LL /* 100M currency units in cents */
#define PROTO_POINTS_MAX 1000000000000LL /* 1e12 points in one entry */
#define PROTO_QTY_MAX 1000000      /* units of one SKU in one line */
#define PROTO_TS_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define PROTO_ID_STR_MAX 44        /* "<u64>-<u64>" plus NUL */
#define PROTO_OUT_ID_STR_MAX 56    /* "<src id>:<u32>" plus NUL */
#define PROTO_HASH_LEN 32          /* a rulebook's identity: XXH3-128 in hex */
#define PROTO_LABEL_MAX 64         /* an operator's name for a rulebook version */
#define PROTO_PIECES_MAX 40        /* pieces of a credit: a member's expiry lots, at most
                                    * 38 (engine/core/wallet.h WALLET_PIECES_MAX) */

/* A Redis stream entry id. Ordered by (ms, seq). */
struct proto_id {
    uint64_t ms;
    uint64_t seq;
};

/* Input kinds, in wire order. */
enum proto_kind {
    PROTO_PURCHASE,
    PROTO_REFUND,
    PROTO_REDEEM,
    PROTO_ADJUST,
    PROTO_ENROLL,
    PROTO_SCAN,
    PROTO_TICK,
    PROTO_RULES,
    PROTO_TRANSFER,
    PROTO_SET_TIER,
    PROTO_TRANSFER_CREDIT, /* a transfer's credit in the receiver's partition */
    PROTO_TRANSFER_RETURN, /* a credit sent back: the receiver is unknown there */
    PROTO_KIND_COUNT
};

struct proto_line {
    char sku[PROTO_NAME_MAX + 1];
    char cat[PROTO_NAME_MAX + 1];
    int64_t qty;    /* 1..PROTO_QTY_MAX */
    int64_t amount; /* minor units, 0..PROTO_AMOUNT_MAX */
};

/* Points that keep their expiry on the way to another member. */
struct proto_piece {
    int64_t expire_ts; /* when they expire (ms); 0: never */
    int64_t points;    /* 1..PROTO_POINTS_MAX */
};

/* One decoded, validated input entry. Strings are NUL-terminated copies
 * (never pointers into the input). Fields a kind does not carry are zero /
 * empty. Validation done by proto_decode:
 *  - purchase: txn, member, store, amount 1..AMOUNT_MAX; lines optional
 *    (each with sku, cat, qty, amount); the sum check of lines against the
 *    amount is a rule, not a decode check.
 *  - refund:   txn, orig_txn, member, amount 1..AMOUNT_MAX.
 *  - redeem:   txn, member, and exactly one of points (1..POINTS_MAX) or
 *    reward.
 *  - adjust:   txn, member, points (non-zero, |points| <= POINTS_MAX),
 *    reason (1..REASON_MAX bytes); optional qualifying (a boolean; true:
 *    the points also count toward tier qualification).
 *  - enroll:   txn, member; optional birthday "MM-DD" (a real day of a
 *    leap year), optional referrer (a member id, not the member itself).
 *  - scan:     member, store; optional txn.
 *  - tick:     nothing but v, kind, ts.
 *  - rules:    hash (PROTO_HASH_LEN lowercase hex digits: the rulebook's
 *    identity, its text at <prefix>rules:<hash>); optional label (1..
 *    PROTO_LABEL_MAX bytes of text) and effective_ts (1..PROTO_TS_MAX: the
 *    version switches when event time reaches it; absent: at once).
 *  - transfer: txn, member (the sender), to (a member id, not the sender),
 *    points 1..POINTS_MAX.
 *  - set_tier: txn, member, tier (a tier name), reason (1..REASON_MAX
 *    bytes); optional until_ts (after ts, at most TS_MAX).
 *  - transfer_credit, transfer_return (appended by the daemon's relay, not
 *    by producers: README, Transfers): txn (the transfer's), member (who
 *    gets the points: the receiver, or for a return the sender), from (the
 *    other member, not `member`), pieces: an array of 1..PIECES_MAX
 *    [expire_ts, points] pairs (expire_ts 0: never, else 1..TS_MAX; points
 *    1..POINTS_MAX); `points` is their sum (computed, at most POINTS_MAX).
 * Ids (txn, member, store, sku, cat, reward) are printable ASCII without
 * spaces (0x21..0x7e). Keys not in the contract are ignored, so producers
 * may add their own metadata; a key given twice is rejected. */
struct proto_entry {
    enum proto_kind kind;
    int64_t ts; /* ms since the epoch, 1..PROTO_TS_MAX */
    char txn[PROTO_TXN_MAX + 1];
    char orig_txn[PROTO_TXN_MAX + 1];
    char member[PROTO_MEMBER_MAX + 1];
    char store[PROTO_NAME_MAX + 1];
    char reward[PROTO_NAME_MAX + 1];
    char referrer[PROTO_MEMBER_MAX + 1];
    char reason[PROTO_REASON_MAX + 1];
    char hash[PROTO_HASH_LEN + 1];   /* rules */
    char label[PROTO_LABEL_MAX + 1]; /* rules, optional */
    int64_t effective_ts;            /* rules, optional; 0 when absent */
    char to[PROTO_MEMBER_MAX + 1];   /* transfer: the receiver */
    char tier[PROTO_NAME_MAX + 1];   /* set_tier */
    char from[PROTO_MEMBER_MAX + 1]; /* transfer_credit, transfer_return */
    uint32_t piece_count;            /* transfer_credit, transfer_return */
    struct proto_piece pieces[PROTO_PIECES_MAX];
    int64_t until_ts;                /* set_tier, optional; 0 when absent */
    bool qualifying; /* adjust, optional: the points count toward tier qualification */
    int64_t amount; /* purchase, refund: minor units */
    int64_t points; /* redeem (positive), adjust (signed) */
    uint8_t birthday_month; /* 1..12, 0 when absent */
    uint8_t birthday_day;   /* 1..31, 0 when absent */
    uint32_t line_count;
    struct proto_line lines[PROTO_LINES_MAX];
};

/* Why an entry was rejected: `code` is a stable snake_case string from the
 * contract (a static literal), `detail` human text for the operator. */
#define PROTO_DETAIL_MAX 160
struct proto_reject {
    const char *code;
    char detail[PROTO_DETAIL_MAX];
};

/* Decoder reason codes (stable). Rules add their own (see rules.h). */
#define PROTO_R_NO_M_FIELD "missing_m_field"
#define PROTO_R_TOO_LARGE "too_large"
#define PROTO_R_BAD_MSGPACK "bad_msgpack"
#define PROTO_R_TOO_DEEP "too_deep"
#define PROTO_R_NOT_A_MAP "not_a_map"
#define PROTO_R_BAD_VERSION "bad_version"
#define PROTO_R_UNKNOWN_KIND "unknown_kind"
#define PROTO_R_MISSING_FIELD "missing_field"
#define PROTO_R_WRONG_TYPE "wrong_type"
#define PROTO_R_OUT_OF_RANGE "out_of_range"
#define PROTO_R_FIELD_TOO_LONG "field_too_long"
#define PROTO_R_BAD_VALUE "bad_value"
#define PROTO_R_DUPLICATE_KEY "duplicate_key"

/* Output kinds, in wire order. */
enum proto_out_kind {
    PROTO_OUT_POINTS_CHANGED,
    PROTO_OUT_TIER_CHANGED,
    PROTO_OUT_REWARD_ISSUED,
    PROTO_OUT_REDEEM_RESULT,
    PROTO_OUT_PERK_TRIGGERED,
    PROTO_OUT_POINTS_EXPIRED,
    PROTO_OUT_SEGMENT_CHANGED,
    PROTO_OUT_RULES_CHANGED,
    PROTO_OUT_TRANSFER_RESULT,
    PROTO_OUT_CAMPAIGN_EXHAUSTED,
    PROTO_OUT_POINTS_PENDING,
    PROTO_OUT_TIER_AT_RISK,
    PROTO_OUT_POINTS_EXPIRING,
    PROTO_OUT_KIND_COUNT
};

/* Causes of a points.changed, in wire order. */
enum proto_cause {
    PROTO_CAUSE_PURCHASE,
    PROTO_CAUSE_REFUND,
    PROTO_CAUSE_REDEEM,
    PROTO_CAUSE_ADJUST,
    PROTO_CAUSE_BONUS,
    PROTO_CAUSE_REWARD,
    PROTO_CAUSE_EXPIRY,
    PROTO_CAUSE_TRANSFER_OUT,
    PROTO_CAUSE_TRANSFER_IN,
    PROTO_CAUSE_RELEASE,
    PROTO_CAUSE_TRANSFER_RETURN, /* a transfer's points back: its receiver is unknown */
    PROTO_CAUSE_COUNT
};

/* One output event. `src` and `id` are not here: they are given to the
 * encoder, because they come from the stream, not from the rules. String
 * pointers (`from`, `to`, `reason`, `reward`, `perk`, `tier`, `error`,
 * `dimension`, `label`, `campaign`) point at static literals or at the loaded configuration,
 * which outlives every output. Which fields are encoded depends on kind:
 *  - points.changed:  delta, balance, cause
 *  - tier.changed:    from, to, reason ("upgrade" | "review" | "rules" | "refund"
 *                     | "manual" | "manual_end")
 *  - reward.issued:   reward, cost, count (rewards issued at once, >= 1)
 *  - redeem.result:   txn, ok, error (only when !ok), balance
 *  - perk.triggered:  perk, tier, store
 *  - points.expired:  points, balance
 *  - segment.changed: dimension ("segment" | "stage"), from, to, rfm
 *  - rules.changed:   from, to (rulebook hashes; from is "" for the first
 *    version), label (may be ""); the only kind about no member: it
 *    carries no `member` key.
 *  - transfer.result: txn, ok, error (only when !ok), balance (the sender's)
 *  - campaign.exhausted: campaign; about no member either.
 *  - points.pending:  points (added to pending; negative when a refund
 *    cancelled them), pending (the member's pending total), release_ts
 *  - tier.at_risk:    tier, review_ts, needed (qualification missing)
 *  - points.expiring: points, expire_ts, balance */
struct proto_output {
    enum proto_out_kind kind;
    int64_t ts;
    char member[PROTO_MEMBER_MAX + 1];
    int64_t delta;
    int64_t balance;
    int64_t points;
    int64_t cost;
    enum proto_cause cause;
    const char *from;
    const char *to;
    const char *reason;
    const char *reward;
    const char *perk;
    const char *tier;
    const char *error;
    const char *dimension;
    const char *label;
    const char *campaign;
    char store[PROTO_NAME_MAX + 1];
    char txn[PROTO_TXN_MAX + 1];
    bool ok;
    uint8_t rfm[3];
    int64_t count;      /* reward.issued */
    int64_t pending;    /* points.pending */
    int64_t release_ts; /* points.pending */
    int64_t review_ts;  /* tier.at_risk */
    int64_t needed;     /* tier.at_risk */
    int64_t expire_ts;  /* points.expiring */
};

/* Wire name of an input kind ("purchase", ...). `k` < PROTO_KIND_COUNT. */
const char *proto_kind_name(enum proto_kind k);
/* Wire name of an output kind ("points.changed", ...). */
const char *proto_out_kind_name(enum proto_out_kind k);
/* Wire name of a cause ("purchase", "refund", ...). */
const char *proto_cause_name(enum proto_cause c);

/* Decodes and validates the msgpack bytes `buf[0..len)` of an entry's `m`
 * field into `*out` (fully overwritten). Returns 0 on success; -1 with
 * `rej->code` and `rej->detail` set when the entry is rejected. Never
 * crashes, loops or allocates without bound on any input; `buf` may be
 * NULL only when `len` is 0. */
int proto_decode(const char *buf, size_t len, struct proto_entry *out,
                 struct proto_reject *rej);

/* A decoder that keeps its msgpack zone (one chunk with room for the
 * largest entry, PROTO_ENTRY_BYTES_MAX) between entries, so decoding
 * allocates nothing: for the daemon's hot path. One per thread. */
struct proto_decoder {
    msgpack_zone zone;
};

/* Reserves the decoder's zone (about 260 KiB). Returns 0, or -1 when out
 * of memory. */
int proto_decoder_init(struct proto_decoder *d);

/* Frees what proto_decoder_init reserved. */
void proto_decoder_free(struct proto_decoder *d);

/* proto_decode, in `d`'s zone: the same answers, no allocation. */
int proto_decode_with(struct proto_decoder *d, const char *buf, size_t len,
                      struct proto_entry *out, struct proto_reject *rej);

/* Checks the shape of the msgpack bytes `buf[0..len)` (one object, at most
 * PROTO_ENTRY_BYTES_MAX bytes, PROTO_DEPTH_MAX deep, maps of at most
 * PROTO_KEYS_MAX keys, no container claiming more elements than bytes
 * follow) and unpacks them into `*top`, whose strings point into `buf`.
 * Returns 0 with `*zone` initialised (the caller destroys it with
 * msgpack_zone_destroy once done with `*top`), or -1 with `rej` set and
 * nothing to free. proto_decode is this plus the input contract; consumers
 * of output events use it with proto_out.h. */
int proto_unpack(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *top,
                 struct proto_reject *rej);

/* Appends the msgpack encoding of input entry `e` to `buf`, writing only
 * the fields its kind carries (optional ones when set). For clients, tests
 * and benchmarks; the daemon only decodes input. Returns 0, or -1 when the
 * buffer cannot grow. */
int proto_encode_entry(msgpack_sbuffer *buf, const struct proto_entry *e);

/* Appends the msgpack encoding of output `o` to `buf`, with `src` (the input
 * entry id it came from) and `id` = "<src>:<seq>" (stable: the same output
 * produced again gets the same id). Returns 0, or -1 when the buffer cannot
 * grow. */
int proto_encode_output(msgpack_sbuffer *buf, const struct proto_output *o,
                        struct proto_id src, uint32_t seq);

/* Parses a stream id "<ms>-<seq>" (both decimal u64, nothing else) of
 * `len` bytes. Returns 0, or -1 when malformed. */
int proto_id_parse(const char *s, size_t len, struct proto_id *out);

/* Writes "<ms>-<seq>" into `buf` (at least PROTO_ID_STR_MAX bytes) and
 * returns its length. */
int proto_id_format(struct proto_id id, char *buf, size_t cap);

/* Writes the decimal digits of `v` at `out` (room for 20), without a NUL;
 * returns how many. */
size_t proto_u64_digits(uint64_t v, char *out);

/* Writes "<id_s>:<seq>" (an output's id: the id of its input entry
 * id_s[0..id_len) and its position) into buf, at least
 * PROTO_OUT_ID_STR_MAX bytes, NUL-terminated. Returns its length. */
int proto_id_format_seq(const char *id_s, size_t id_len, uint32_t seq, char *buf, size_t cap);

/* Compares two ids: <0, 0, >0 as a is before, equal to, after b. */
int proto_id_cmp(struct proto_id a, struct proto_id b);

#endif
