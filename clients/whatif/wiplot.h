/* wiplot.h - the what-if report's plots, drawn by gnuplot (Debian's
 * gnuplot-nox: pngcairo terminal, no X): points issued, redeemed and
 * expired per month, outstanding liability per month, the tier migration
 * matrix, segment sizes, rewards issued, campaign costs and the members
 * most affected, each logged against candidate. The data files and the
 * script stay next to the PNGs (plots.gp), so a plot can be redrawn.
 */
#ifndef LOYALTY_WIPLOT_H
#define LOYALTY_WIPLOT_H

#include "wicompare.h"
#include "wireport.h"

/* Writes the data and script into meta->out_dir and runs gnuplot on it.
 * Fills meta->plots with the PNG names drawn; when gnuplot is missing or
 * fails, meta->plot_problem says so (the report goes on without plots).
 * Returns 0, or -1 when a data file cannot be written. */
int wiplot_write(const struct wicompare *c, struct wireport_meta *meta);

#endif
