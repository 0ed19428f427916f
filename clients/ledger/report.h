/* report.h - liability by earning month (cohort), from the flow sums the
 * writer keeps (db.h: cohort_flows) and the streams' progress.
 *
 * Per cohort, in points, with issued + opening = debt_repaid + redeemed +
 * expired + other_debits + outstanding:
 *   issued        points earned in the month (every credit: purchases,
 *                 bonuses, positive adjustments, transfers in, releases)
 *   opening       points the ledger found without having seen them earned
 *                 (cohort "opening"; see cohort.h), and lots merged in
 *   debt_repaid   the part of the month's credits that repaid a negative
 *                 balance, so never became spendable points
 *   redeemed      taken by redemptions (cause redeem)
 *   expired       taken by expiry
 *   other_debits  taken by anything else: refunds, negative adjustments,
 *                 transfers out, corrections
 *   outstanding   what members still hold of it: the liability
 *   breakage_bp   expired / (redeemed + expired), in basis points; null
 *                 before any point of the cohort was redeemed or expired
 * Redemption curves: per cohort and age in months (0 = the month itself),
 * the points of the cohort redeemed at that age, cumulated, and as a share
 * of what was issued (basis points). Observed breakage: the same ratio
 * over the closed cohorts (nothing outstanding). Debt: what members owe
 * (negative balances), outside every cohort.
 *
 * Integers only; rates in basis points, floored.
 */
#ifndef LOYALTY_LEDGER_REPORT_H
#define LOYALTY_LEDGER_REPORT_H

#include <stdint.h>

#include <jansson.h>

#include "db.h"

enum report_table { REPORT_COHORTS, REPORT_CURVES };

struct report;

/* Reads the report from `db` (a reader). Returns it, or NULL with err set.
 * Aborts when out of memory. */
struct report *report_load(struct db *db, struct db_error *err);

void report_free(struct report *r);

/* The whole report as JSON: as_of (the streams' progress), cohorts,
 * totals, debt, breakage, curves. */
json_t *report_json(const struct report *r);

/* One table as CSV (a header line, then rows; cohorts end with a "total"
 * row), malloc'd. */
char *report_csv(const struct report *r, enum report_table table);

#endif
