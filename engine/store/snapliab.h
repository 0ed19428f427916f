/* snapliab.h - the liability's section of a snapshot (liability.h).
 *
 * It follows the txns, every integer little-endian:
 *   u32 tag "LIAB", u32 section version, u32 rows, cols and causes (the
 *   build's LIABILITY_ROWS, LIABILITY_COLS, PROTO_CAUSE_COUNT: another
 *   shape is another build: FOREIGN), i32 month, u32 started, then the
 *   cells row by row, the cohorts (in, redeemed, expired, other), the
 *   flows (credits, debits by cause, held, released, cancelled), debt,
 *   pending, opening: all i64.
 * A snapshot of format 4 written before the section existed (or of format
 * 2) has none: the figures are then derived from the members
 * (snapliab_derive): what is outstanding by expiry exactly, its cohorts
 * from the expiry rule in force, debt and pending, and the sum of the
 * balances as `opening`; the monthly movements before that point are not
 * known and stay 0. A section that does not agree with the members it was
 * written with is DAMAGED.
 */
#ifndef LOYALTY_SNAPLIAB_H
#define LOYALTY_SNAPLIAB_H

#include <stdbool.h>

#include "lebuf.h"
#include "state.h"

/* Writes st's liability section. */
void snapliab_write(struct lebuf_out *o, const struct state *st);

/* Whether `in` has bytes left for a section. */
bool snapliab_present(const struct lebuf_in *in);

/* Reads the section into st->liab and checks it against st's members
 * (all loaded). Returns NULL, or what is wrong with *foreign set when
 * another build wrote it (else it is damaged). */
const char *snapliab_read(struct lebuf_in *in, struct state *st, bool *foreign);

/* Derives st->liab from st's members (loaded from a snapshot without the
 * section), under the rulebook in force. */
void snapliab_derive(struct state *st);

#endif
