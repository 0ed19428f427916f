/* wireport.h - the what-if report: report.json, report.md and the plots
 * (wiplot.h) in an output directory.
 *
 * report.json holds every figure (the format is in README "What-if"),
 * report.md the same for people, with the plots inline. "logged" is the
 * history replayed as it was logged; "candidate" the same history with
 * the candidate rulebook in force from the chosen date on.
 */
#ifndef LOYALTY_WIREPORT_H
#define LOYALTY_WIREPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "client_common.h"
#include "history.h"
#include "wicompare.h"

#define WIREPORT_PLOTS_MAX 8

struct wireport_meta {
    const char *candidate_path;
    char candidate_hash[PROTO_HASH_LEN + 1];
    const char *label;
    int64_t from_ts;
    bool switched;            /* false: the candidate was already in force then */
    int64_t switch_ts;        /* event time of the first entry under the candidate */
    struct proto_id switch_after; /* the last entry before it */
    const struct history_info *hist;
    double seconds;           /* both replays */
    const char *out_dir;
    uint32_t plot_count;      /* filled by wiplot_write */
    const char *plots[WIREPORT_PLOTS_MAX];
    char plot_problem[CLIENT_ERROR_MAX]; /* "" or why there are no plots */
};

/* Writes report.json and report.md into meta->out_dir (which exists).
 * Returns 0, or -1 with err naming the file. */
int wireport_write(const struct wicompare *c, const struct wireport_meta *meta,
                   struct client_error *err);

/* "YYYY-MM" of caltime month index `month` into buf[8]. */
void wireport_month_label(int32_t month, char *buf);

#endif
