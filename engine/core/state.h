/* state.h - everything the rules core mutates, in one value.
 *
 * The state after applying entries 1..n is a pure function of the initial
 * state and those entries: no clock, no randomness, no hash-order
 * iteration. The shell owns one state and hands it to rules_apply.
 */
#ifndef LOYALTY_STATE_H
#define LOYALTY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "budgets.h"
#include "caltime.h"
#include "liability.h"
#include "rulebook.h"
#include "members.h"
#include "partition.h"
#include "proto.h"
#include "schedule.h"
#include "txns.h"
#include "versions.h"

/* The most members a state holds: the schedule is reserved for twice as
 * many entries, which must fit its uint32_t count, and the member index
 * for as many keys (HINDEX_ENTRIES_MAX). */
#define STATE_MEMBERS_MAX 1000000000u
_Static_assert(2ull * STATE_MEMBERS_MAX <= UINT32_MAX, "schedule entries fit uint32_t");
_Static_assert(STATE_MEMBERS_MAX <= HINDEX_ENTRIES_MAX, "the member index holds them");

/* Buckets of the value histogram: a quarter of a power of two each, over
 * spend 1..2^63 (bucket 0 holds no spend). */
#define STATE_HIST_BUCKETS 257

/* State that belongs to no member. */
struct state_globals {
    int64_t catalog_issued[RULEBOOK_CATALOG_MAX]; /* redemptions per catalog item */
    /* The names the counters above and members' auto_issued[] are indexed
     * by, so a snapshot loaded under a reordered rulebook is re-indexed by
     * name (state_reindex) instead of crediting the wrong reward. */
    char catalog_names[RULEBOOK_CATALOG_MAX][RULEBOOK_NAME_MAX + 1];
    char auto_names[RULEBOOK_AUTO_REWARDS_MAX][RULEBOOK_NAME_MAX + 1];
    int64_t tier_members[RULEBOOK_TIERS_MAX];
    int64_t segment_members[RULEBOOK_SEGMENTS_MAX];
    int64_t stage_members[RULEBOOK_STAGE_COUNT];
    int64_t hist_count[STATE_HIST_BUCKETS]; /* members by window spend */
    int64_t hist_sum[STATE_HIST_BUCKETS];   /* their window spend */
    int32_t lapse_month;                    /* month index of the newest lapse bucket */
    int32_t pad;
    int64_t lapses[RULEBOOK_SEGMENTS_MAX][12]; /* lapses by segment and month */
    struct budgets camp;                    /* campaign budgets and limits (budgets.h) */
    uint32_t lots_kind, lots_span;          /* the wallet's layout (wallet.h), so a
                                             * snapshot is loaded only under the same */
};

struct state {
    struct members members;
    struct txns txns;
    struct schedule schedule; /* derived: rebuilt from members' sched_ts */
    struct state_globals g;
    struct versions *ver;     /* the rulebook in force, scheduled and recent versions */
    struct liability liab;    /* the points liability, kept as points move (liability.h) */
    int64_t clock_ms;         /* largest ts applied; never moves back */
    int32_t clock_month;      /* caltime_month(clock_ms), kept with it */
    struct proto_id last_id;  /* last input entry applied or rejected */
    struct partition_place place; /* state_limits' (partitions >= 1); not in snapshots */
    uint64_t entries_applied; /* entries that changed state or answered */
    uint64_t entries_rejected;
    uint64_t entries_duplicate;
    bool tick_capped; /* the last tick stopped at RULES_TICK_MEMBERS_MAX or at its
                       * output budget (a hint for the shell; not in snapshots,
                       * not in any output) */
    /* Non-NULL only while preview.h runs a sale on this state: the rules
     * then remember no txn (the record goes here) and reschedule nothing,
     * so the preview can put back exactly what it changed. */
    struct txn_rec *preview_rec;
};

/* expiry_months_max when the caller names none (state_init): two years of
 * expiry lots per member, the daemon's default too. */
#define STATE_EXPIRY_MONTHS_MAX_DEFAULT 24

/* What sizes a state, fixed when it is made: daemon settings, not rules,
 * so that any rulebook version can be applied to it. */
struct state_limits {
    uint32_t members_max;       /* enrolments beyond it are rejected */
    uint32_t expiry_months_max; /* expiry lots per member: this + 1 (0: none);
                                 * a version over it is refused */
    /* Which partition of how many the state is (README "Scaling out"): it
     * spends its share of campaign budgets (budgets.h) and sends transfers
     * to members of other partitions as credits (transfer.h). 0 and 0 (or
     * 1): a program of one partition. */
    uint32_t partition, partitions;
};

/* Initialises an empty state with rulebook `rb` in force (the start-up
 * version, hash ""; a `rules` entry changes it; its txns_max sizes the txn
 * window), sized by `lim` (expiry_months_max <= RULEBOOK_EXPIRY_MONTHS_MAX
 * and >= rb->expiry_months, asserted). Returns 0, or -1 when out of
 * memory. */
int state_init_limits(struct state *st, const struct rulebook *rb,
                      const struct state_limits *lim);

/* state_init_limits holding at most `members_max` members, with the
 * larger of STATE_EXPIRY_MONTHS_MAX_DEFAULT and rb's expiry months as
 * expiry_months_max (tests and tools). */
int state_init(struct state *st, const struct rulebook *rb, uint32_t members_max);

/* Re-indexes the per-reward counters of a state loaded from a snapshot
 * (whose globals name the rewards it counted) to rulebook `rb`:
 * counts move with their reward's name; rewards no longer configured are
 * dropped, new ones start at zero. */
void state_reindex(struct state *st, const struct rulebook *rb);

/* Makes sure member `pos` is in the schedule no later than its next due
 * time under `rb` (expiry, review, grace end, segment change, release of
 * pending points, notice). */
void state_reschedule(struct state *st, const struct rulebook *rb, uint32_t pos);

/* Not known yet: what notices_check returns when it did not ask. */
#define STATE_EXPIRY_UNASKED INT64_MIN

/* state_reschedule with wallet_next_expiry(&st->members, pos) given as
 * `next_expiry` (a caller that asked it already), or STATE_EXPIRY_UNASKED:
 * it asks. */
void state_reschedule_next(struct state *st, const struct rulebook *rb, uint32_t pos,
                           int64_t next_expiry);

/* caltime_month(ts), without the calendar arithmetic when `ts` is the
 * engine clock's (clock_month is always caltime_month(clock_ms)): the ts of
 * most entries moves the clock, and a purchase asks for its month several
 * times. */
static inline int32_t state_month_of(const struct state *st, int64_t ts)
{
    return ts == st->clock_ms ? st->clock_month : caltime_month(ts);
}

/* Frees everything the state holds. */
void state_free(struct state *st);

#endif
