/* posgen.h - the POS traffic model behind loyalty-posload.
 *
 * A pure, deterministic generator of input entries: the same configuration
 * (seed included) gives the same sequence of entries, whatever the send
 * rate; only `ts` depends on the wall clock, and not even that with
 * simulated time. It does no I/O.
 *
 * The model: S stores with T terminals each. The first `members` entries
 * enrol members M000001.. (some with a birthday, some referred by an earlier
 * member). Then the mix: purchases (most baskets 5..80 currency units, a few
 * big ones; half with line items that add up to the amount), card scans,
 * redemptions of points a member plausibly has, partial refunds of recent
 * sales, and enrolments of new members. A share of purchases is sent again
 * unchanged right after, as a POS does when its first attempt timed out.
 * A few members shop far more often than the rest, as in real retail. With
 * simulated time a `tick` entry is added every tick interval of event time,
 * so expiry and tier reviews happen within the simulated span.
 */
#ifndef LOYALTY_POSGEN_H
#define LOYALTY_POSGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "client_common.h"
#include "proto.h"

/* Kinds the mix chooses between, then what the generator emits besides. */
enum posgen_kind {
    POSGEN_PURCHASE,
    POSGEN_SCAN,
    POSGEN_REDEEM,
    POSGEN_REFUND,
    POSGEN_ENROLL,
    POSGEN_MIX_COUNT,
    POSGEN_RETRY = POSGEN_MIX_COUNT, /* a purchase sent again unchanged */
    POSGEN_TICK,                     /* simulated time passes */
    POSGEN_KIND_COUNT
};

/* Member ids M000001..M10000000; a balance estimate of 8 bytes each keeps
 * the generator under 80 MiB at the very most. */
#define POSGEN_MEMBERS_MAX 10000000u
#define POSGEN_STORES_MAX 999u    /* store ids S001..S999 */
#define POSGEN_TERMINALS_MAX 99u  /* terminal ids T01..T99 in each store */
#define POSGEN_MIX_WEIGHT_MAX 1000000u /* sum of weights stays far below 2^32 */
#define POSGEN_MIX_TEXT_MAX 256   /* "--mix" text: five name=weight pairs */

struct posgen_config {
    uint64_t seed;
    uint32_t members;       /* enrolled first, 1..POSGEN_MEMBERS_MAX */
    uint32_t stores;        /* 1..POSGEN_STORES_MAX */
    uint32_t terminals;     /* per store, 1..POSGEN_TERMINALS_MAX */
    uint32_t retry_pct;     /* 0..100: purchases sent twice */
    uint32_t mix[POSGEN_MIX_COUNT]; /* weights, not all zero */
    bool sim_time;          /* ts = start_ts_ms + n * ts_step_ms */
    int64_t start_ts_ms;
    int64_t ts_step_ms;
    int64_t tick_every_ms;  /* simulated time only; 0: no ticks */
};

struct posgen;

/* A generator for *cfg (copied). Returns NULL when out of memory. Asserts
 * that cfg is within the limits above. */
struct posgen *posgen_new(const struct posgen_config *cfg);

/* Frees g (NULL is fine). */
void posgen_free(struct posgen *g);

/* Writes the next entry into *e (fully overwritten) and returns what it is.
 * `wall_ms` is its ts unless time is simulated. */
enum posgen_kind posgen_next(struct posgen *g, int64_t wall_ms,
                             struct proto_entry *e);

/* Name of a kind for progress lines: the wire kind, or "retry", "tick". */
const char *posgen_kind_name(enum posgen_kind k);

/* Parses "purchase=70,scan=15,redeem=5,refund=5,enroll=5" into weights;
 * kinds not named get 0. Returns 0, or -1 with err set (unknown kind,
 * weight over POSGEN_MIX_WEIGHT_MAX, all zero). */
int posgen_parse_mix(const char *s, uint32_t mix[POSGEN_MIX_COUNT],
                     struct client_error *err);

#endif
