/* liability.h - the points liability of one state, kept as points move.
 *
 * Finance reports the points members hold as a contract liability (IFRS
 * 15 / ASC 606), released when points are redeemed or expire. This module
 * keeps, in O(months) memory and O(lots) work per move, what that report
 * needs, so that a request never scans the members:
 *  - outstanding points by expiry month (row) and earning month (cohort):
 *    a matrix of cells. The rows are the months the points expire in
 *    (LIABILITY_EXPIRY_MONTHS of them around the month of the engine
 *    clock), one row of lots past their date that no member's expiry has
 *    reached yet older than that ("overdue"), and one of points that never
 *    expire. The columns are the LIABILITY_MONTHS latest earning months
 *    and an "earlier" column into which older cohorts are folded when the
 *    month moves on (their figures stay, merged);
 *  - per cohort: the points that entered it (earned, adjusted in, received
 *    from another partition), and those that left it, redeemed, expired or
 *    otherwise (refunds, negative adjustments, transfers out);
 *  - per calendar month of the engine clock (the same ring and an
 *    "earlier" row): the points credited and debited by cause, and the
 *    pending points held, released and cancelled;
 *  - debt (what negative balances owe: a refund of points already spent)
 *    and the pending total, both kept apart from what is outstanding.
 *
 * Invariants (liability_check): the cells add up to the sum of
 * max(balance, 0) over the members; debt is the sum of
 * max(-balance, 0); each cohort's cells add up to in - redeemed - expired
 * - other; the opening sum plus the credits minus the debits of all months
 * are the sum of the balances.
 *
 * Cohorts. The wallet knows when points expire, not when they were
 * earned; the cohort is attached here. Points a move adds to a lot take
 * first the cohorts of points the same move took from another lot (a keyed
 * lot merged into the next one, a transfer's pieces handed over inside one
 * entry), otherwise the month of the engine clock. Points a move takes
 * from an expiry row leave that row's oldest cohort first: exact while
 * each expiry month holds one earning month (one expiry.months, days or
 * never), and the oldest-first rule where a row mixes several (end_of_year
 * lots; lots after a rulebook changed expiry.months).
 *
 * Every cell is >= 0 and every figure exact while the partition's totals
 * fit int64 (9.2 * 10^18 points). Each member's balance does
 * (points_overflows), a partition's sum need not: adjustments of 10^12
 * points entered ten million times would pass it. Sums then wrap modulo
 * 2^64 (the identities above still hold modulo 2^64) instead of
 * overflowing: wrong figures for such a programme, never a crash.
 *
 * Pure: no allocation, no I/O; a state holds one (state.h). */
#ifndef LOYALTY_LIABILITY_H
#define LOYALTY_LIABILITY_H

#include <stdbool.h>
#include <stdint.h>

#include "lots.h"
#include "proto.h"
#include "rulebook.h"

/* Earning months (cohorts) and calendar months (flows) kept one by one:
 * five years, longer than any expiry (end_of_year with years 3 keeps
 * points up to 48 months) and than finance's usual look back. Older ones
 * are folded into one "earlier" column. */
#define LIABILITY_MONTHS 60
/* Expiry months kept one by one: from 13 months before the clock's month
 * (lots past their date wait for their member's next tick) to 50 after
 * (the latest expiry is 48 months ahead). */
#define LIABILITY_EXPIRY_BEHIND 13
#define LIABILITY_EXPIRY_AHEAD 50
#define LIABILITY_EXPIRY_MONTHS (LIABILITY_EXPIRY_BEHIND + 1 + LIABILITY_EXPIRY_AHEAD)
_Static_assert(LIABILITY_EXPIRY_AHEAD >= 4 * 12, "end_of_year, years 3: 48 months ahead");
_Static_assert(LIABILITY_MONTHS > 48, "a cohort lives until its points expire");

/* Pieces of one wallet a move compares (wallet.h: WALLET_PIECES_MAX). */
#define LIABILITY_PIECES_MAX 40

#define LIABILITY_COLS (LIABILITY_MONTHS + 1)           /* + earlier */
#define LIABILITY_COL_EARLIER LIABILITY_MONTHS
#define LIABILITY_ROWS (LIABILITY_EXPIRY_MONTHS + 2)    /* + overdue, never */
#define LIABILITY_ROW_OVERDUE LIABILITY_EXPIRY_MONTHS
#define LIABILITY_ROW_NEVER (LIABILITY_EXPIRY_MONTHS + 1)

/* What happened to one cohort's points. */
struct liability_cohort {
    int64_t in;       /* earned, adjusted in, received */
    int64_t redeemed; /* spent on redemptions */
    int64_t expired;
    int64_t other;    /* refunds, negative adjustments, transfers out, debt */
};

/* One calendar month's movements (engine clock). */
struct liability_flow {
    int64_t credit[PROTO_CAUSE_COUNT]; /* balance increases by cause */
    int64_t debit[PROTO_CAUSE_COUNT];  /* balance decreases by cause (> 0) */
    int64_t held;                      /* pending points held (sales in their window) */
    int64_t released;                  /* ... released into balances */
    int64_t cancelled;                 /* ... cancelled by refunds */
};

/* Pending points' movements (liability_pending). */
enum liability_pend { LIABILITY_HELD, LIABILITY_RELEASED, LIABILITY_CANCELLED };

struct liability {
    int32_t month;   /* the newest month applied (caltime_month) */
    uint32_t started; /* 0 until the first move sets `month` */
    /* Cells by row (expiry month E at E % LIABILITY_EXPIRY_MONTHS while
     * E lies in (month - BEHIND - 1, month + AHEAD], then overdue, never)
     * and column (cohort C at C % LIABILITY_MONTHS while C lies in
     * (month - LIABILITY_MONTHS, month], then earlier). */
    int64_t cells[LIABILITY_ROWS][LIABILITY_COLS];
    struct liability_cohort cohorts[LIABILITY_COLS];
    struct liability_flow flows[LIABILITY_COLS]; /* by calendar month, as cohorts */
    int64_t debt;
    int64_t pending;
    /* The sum of the balances when the figures were derived from the
     * members instead of kept from the first entry (a snapshot older than
     * this module: liability_derive); 0 otherwise. */
    int64_t opening;
    /* Cohorts of the points a transfer_out took in entry hand_id, for the
     * transfer_in of the same entry. Never outlives that entry (not in
     * snapshots). */
    struct proto_id hand_id;
    int64_t hand[LIABILITY_COLS];
};

/* A member's wallet before or after a move: what its lots hold, by expiry
 * ascending (INT64_MAX: points that never expire, last; `months`: the
 * other keys are month indexes, else instants), and its balance. */
struct liability_wallet {
    const struct lots_piece *pieces;
    uint32_t n;
    bool months;
    int64_t balance;
};

/* Records one move of a member's points at engine month `month` (never
 * less than a month applied before), made by entry `id` for `cause`.
 * Advances the months first (folding what leaves the rings). */
void liability_move(struct liability *l, int32_t month, struct proto_id id,
                    enum proto_cause cause, const struct liability_wallet *before,
                    const struct liability_wallet *after);

/* Records `points` (> 0) of pending points held, released or cancelled at
 * `month`. Released points also reach the balance by a move (cause
 * release). */
void liability_pending(struct liability *l, int32_t month, enum liability_pend what,
                       int64_t points);

/* A rulebook version turned expiry off (to_month < 0: every row's points
 * move to the row of points that never expire) or on (the never row moves
 * to the lots expiring in month `to_month`), keeping their cohorts. */
void liability_redate(struct liability *l, int32_t month, int32_t to_month);

/* Deriving the figures from the members (a snapshot written before this
 * module): adds `points` (> 0) of a lot expiring at `expire_ms` (INT64_MAX:
 * never), earned in month `cohort` (liability_cohort_of), as come in. */
void liability_derive_lot(struct liability *l, int32_t month, int64_t expire_ms,
                          int32_t cohort, int64_t points);

/* ... and a member's balance and pending points (debt, pending, opening). */
void liability_derive_member(struct liability *l, int32_t month, int64_t balance,
                             int64_t pending);

/* The month points expiring at `expire_ms` were earned in under `rb`'s
 * expiry, at most `month`; points that never expire (or under `never`)
 * have no known month: earlier than any kept. */
int32_t liability_cohort_of(const struct rulebook *rb, int64_t expire_ms, int32_t month);

/* The month of cohort column `col` (< LIABILITY_MONTHS), of flow row
 * `col`, and of expiry row `row` (< LIABILITY_EXPIRY_MONTHS). */
int32_t liability_col_month(const struct liability *l, uint32_t col);
int32_t liability_row_month(const struct liability *l, uint32_t row);

/* a + b as the figures add (modulo 2^64, see above), for sums of them. */
int64_t liability_add(int64_t a, int64_t b);

/* Points outstanding (the cells' sum). */
int64_t liability_outstanding(const struct liability *l);

/* Checks the invariants above against the members' figures: `positive`
 * = sum of max(balance, 0), `debt` = sum of max(-balance, 0), `pending`.
 * Returns NULL when they hold, else what does not. */
const char *liability_check(const struct liability *l, int64_t positive, int64_t debt,
                            int64_t pending);

/* The report over one or more states' liabilities, months from oldest to
 * newest, all relative to `month` (the newest of them). */
struct liability_report {
    int32_t month;
    int64_t by_cohort[LIABILITY_MONTHS]; /* outstanding; [i]: month - 59 + i */
    struct liability_cohort cohort[LIABILITY_MONTHS];
    int64_t earlier_outstanding;
    struct liability_cohort earlier;
    int64_t by_expiry[LIABILITY_EXPIRY_MONTHS]; /* [i]: month - BEHIND + i */
    int64_t overdue, never;
    struct liability_flow flow[LIABILITY_MONTHS]; /* [i]: month - 59 + i */
    struct liability_flow flow_earlier;
    int64_t outstanding, debt, pending, opening;
};

/* Empties `r` for a report as of `month`. */
void liability_report_init(struct liability_report *r, int32_t month);

/* Adds liability `l` (l->month <= r->month unless not started) to `r`. */
void liability_report_add(struct liability_report *r, const struct liability *l);

/* Observed breakage in basis points: expired / (redeemed + expired) over
 * the closed cohorts (earned before r->month, nothing outstanding, some
 * points used), the earlier column included when closed. -1 when no
 * cohort is closed yet. */
int64_t liability_breakage_bp(const struct liability_report *r);

/* Redemption rate in basis points: redeemed / in over every cohort (-1
 * when nothing came in). */
int64_t liability_redemption_bp(const struct liability_report *r);

#endif
