/* progfx.h - a fixture for the unit tests of the programme features
 * (transfers, budgets, expiry and tier modes, manual status, churn): one
 * engine whose rulebook is written as rulebook text, as an operator would
 * write it, and helpers that build entries, apply them and look at the
 * outputs. Everything not in the text is the built-in default (features
 * off); the texts below add tiers and base earning of 1 point per 1.00.
 */
#ifndef LOYALTY_TEST_PROGFX_H
#define LOYALTY_TEST_PROGFX_H

#include <stdint.h>

#include "caltime.h"
#include "rules.h"
#include "state.h"

#define DAY CALTIME_DAY_MS

/* Three tiers on points over 12 months (blue 0 x1, silver 500 x1,
 * gold 2000 x1), reviews on the anniversary, 1 point per 1.00: prepended
 * to every fixture's text unless the text has its own tiers section. */
#define PROGFX_LEVELS                                                                      \
    "levels = (\n"                                                                         \
    "  { name = \"blue\"; threshold = 0; multiplier_bp = 10000; },\n"                     \
    "  { name = \"silver\"; threshold = 500; multiplier_bp = 10000; },\n"                 \
    "  { name = \"gold\"; threshold = 2000; multiplier_bp = 10000; } );\n"
#define PROGFX_TIERS "tiers = { " PROGFX_LEVELS "};\n"

struct progfx {
    struct rulebook rb;
    struct state st;
    struct outbox ob;     /* the last entry's verdict and outputs */
    uint64_t seq;         /* input ids 1-1, 1-2, ... */
    uint64_t txn;         /* txn ids x1, x2, ... for the helpers */
    struct proto_entry e; /* the entry progfx_apply applies */
};

/* A fresh engine for rulebook `text` (refused text fails the test), at
 * most `members_max` members. */
struct progfx *progfx_new(const char *text, uint32_t members_max);
void progfx_free(struct progfx *f);

/* Parses rulebook `text` into `rb`, failing the test when it is refused. */
void progfx_parse(const char *text, struct rulebook *rb);

/* Noon UTC of a date, far from day boundaries; and 00:00 UTC. */
int64_t progfx_noon(int32_t year, uint8_t month, uint8_t day);
int64_t progfx_midnight(int32_t year, uint8_t month, uint8_t day);

/* Starts f->e as an entry of `kind` at `ts` (txn and member may be NULL). */
struct proto_entry *progfx_entry(struct progfx *f, enum proto_kind kind, int64_t ts,
                                 const char *txn, const char *member);

/* Applies f->e as the next input entry; returns the verdict. */
enum outbox_verdict progfx_apply(struct progfx *f);

/* Applies f->e and fails the test unless it was applied. */
void progfx_ok(struct progfx *f);

/* Applied entries, each asserted OUTBOX_APPLIED. */
void progfx_enroll(struct progfx *f, int64_t ts, const char *member);
void progfx_buy(struct progfx *f, int64_t ts, const char *member, int64_t amount);
void progfx_tick(struct progfx *f, int64_t ts);
/* A transfer of its own txn; returns the verdict (the result is in f->ob). */
enum outbox_verdict progfx_transfer(struct progfx *f, int64_t ts, const char *txn,
                                    const char *from, const char *to, int64_t points);
/* set_tier with `until_ts` (0: none). */
enum outbox_verdict progfx_set_tier(struct progfx *f, int64_t ts, const char *member,
                                    const char *tier, int64_t until_ts);

/* The member named `id` (it must exist) and its position. */
struct member *progfx_member(struct progfx *f, const char *id);
uint32_t progfx_pos(struct progfx *f, const char *id);

/* How many outputs of `kind` the last entry made, and the `n`-th of them
 * (it must exist). */
uint32_t progfx_count(const struct progfx *f, enum proto_out_kind kind);
const struct proto_output *progfx_out(const struct progfx *f, enum proto_out_kind kind,
                                      uint32_t n);

/* Sum of the last entry's points.changed deltas for `member` with `cause`. */
int64_t progfx_delta(const struct progfx *f, const char *member, enum proto_cause cause);

#endif
