/* cohort.h - a member's points by earning month, spent oldest first, as the
 * daemon's wallet keeps them (engine/wallet.c).
 *
 * The rule mirrored, exactly:
 *  - Points earned (any positive points.changed) go to the lot of the month
 *    of the engine clock, after repaying a negative balance: with balance
 *    b before a credit c, max(0, c - max(0, -b)) points reach the lot.
 *  - Points taken (any negative points.changed: redeem, refund, adjust,
 *    expiry, transfer_out, ...) come out of the oldest lots first, at most
 *    max(0, b) of them; the rest of the debit (a refund of points already
 *    spent, with shortfall = "negative") makes the balance negative and
 *    belongs to no month: it is debt, booked to the pseudo-cohort
 *    COHORT_DEBT. With shortfall = "forgive" the daemon debits only what
 *    the member has, so the event's delta already says so.
 *  - Expiry removes the oldest lots, which is what FIFO does: the lots
 *    that are due are exactly the oldest ones.
 * Invariant after every change: the lots add up to max(0, balance).
 *
 * Every movement is reported to a callback as a flow: (cohort month, the
 * month it happened in, cause, signed points), so that the sum of a
 * cohort's flows is what is left of it. A credit's flows are +c under its
 * cause and, when it repaid debt, -r under "debt_repaid" (and -r on
 * COHORT_DEBT); a debit's are -t per lot it took from and +s on COHORT_DEBT
 * for a shortfall.
 *
 * History the ledger never saw (it was started after the out stream had
 * been trimmed) shows as an event whose balance before (balance - delta)
 * is not what the ledger holds. The wallet is then reconciled first:
 * missing points become a lot of month COHORT_OPENING ("earned before the
 * ledger's history"; the oldest, so spent first) with cause "opening";
 * surplus lots are taken oldest first with cause "unexplained"; the debt
 * is corrected the same way. cohort_apply counts these reconciliations.
 *
 * Months are numbered year * 12 + (month - 1) in UTC: 2026-05 is 24316.
 * Pure: no I/O, no clock, no globals.
 */
#ifndef LOYALTY_LEDGER_COHORT_H
#define LOYALTY_LEDGER_COHORT_H

#include <stddef.h>
#include <stdint.h>

/* A member's lots, one per month: 100 years of monthly earning without
 * spending, far beyond any expiry policy or membership. Past this the two
 * oldest lots are merged (cause "merged" moves the younger into the older
 * one), so memory per member stays bounded. */
#define COHORT_LOTS_MAX 1200

#define COHORT_OPENING 0  /* points earned before the ledger's history */
#define COHORT_DEBT (-1)  /* negative balances, owed by members */
#define COHORT_MONTH_STR_MAX 8 /* "YYYY-MM" and NUL */

/* Synthetic causes of flows (event causes are passed through as they are). */
#define COHORT_CAUSE_DEBT_REPAID "debt_repaid"
#define COHORT_CAUSE_OPENING "opening"
#define COHORT_CAUSE_UNEXPLAINED "unexplained"
#define COHORT_CAUSE_MERGED "merged"
#define COHORT_CAUSE_REDEEM "redeem"
#define COHORT_CAUSE_EXPIRY "expiry"

struct cohort_lot {
    int32_t month;
    int64_t points; /* > 0 */
};

/* A member's wallet: the balance the last event said and its lots, oldest
 * first, months strictly increasing. Owns `lots`. */
struct cohort_wallet {
    int64_t balance;
    uint32_t count;
    uint32_t cap;
    struct cohort_lot *lots;
};

/* One points.changed, as the ledger saw it. */
struct cohort_change {
    int32_t month;   /* of the engine clock when it was applied */
    int64_t delta;   /* != 0 */
    int64_t balance; /* after the change; balance - delta does not overflow */
    const char *cause;
};

/* Receives one flow; `points` is signed (+ into the cohort, - out of it). */
typedef void (*cohort_flow_fn)(void *ctx, int32_t cohort, int32_t month, const char *cause,
                               int64_t points);

/* An empty wallet with balance 0. */
void cohort_init(struct cohort_wallet *w);

/* Frees the lots; the wallet is empty afterwards. */
void cohort_free(struct cohort_wallet *w);

/* Makes *dst (initialised) a copy of *src. */
void cohort_copy(struct cohort_wallet *dst, const struct cohort_wallet *src);

/* Adds a lot read back from storage. Lots must come oldest first with
 * positive points (storage holds what this module wrote). Returns 0, or
 * -1 when they do not (the caller reports corrupt storage). */
int cohort_load_lot(struct cohort_wallet *w, int32_t month, int64_t points);

/* Applies one change and reports its flows to fn(ctx, ...). Returns the
 * number of reconciliations it needed first (0 when the ledger's history
 * of this member is whole). Aborts only on out of memory. */
uint32_t cohort_apply(struct cohort_wallet *w, const struct cohort_change *c,
                      cohort_flow_fn fn, void *ctx);

/* The points in the wallet's lots. */
int64_t cohort_outstanding(const struct cohort_wallet *w);

/* The month (numbered as above) of `ts_ms` milliseconds since the epoch,
 * ts_ms >= 0. */
int32_t cohort_month_of(int64_t ts_ms);

/* Writes "YYYY-MM" (or "opening" / "debt" for the pseudo-cohorts) into
 * buf, which holds at least COHORT_MONTH_STR_MAX bytes. Returns buf. */
const char *cohort_month_str(int32_t month, char *buf, size_t cap);

#endif
