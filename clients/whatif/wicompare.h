/* wicompare.h - the difference between two replays of one history: as
 * logged (a) and under the candidate rulebook (b).
 *
 * Built once both replays are done, from their counts (wistats.h) and
 * their final states: month by month figures over the months either run
 * touched, the tier migration matrix (each member's final tier in a
 * against b, by name), segment sizes, rewards and campaign costs by name,
 * and the members whose points differ most. `empty` says that nothing
 * the report shows differs; `state_identical` that the two final states
 * encode to the same snapshot bytes.
 */
#ifndef LOYALTY_WICOMPARE_H
#define LOYALTY_WICOMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "rulebook.h"
#include "state.h"
#include "wistats.h"

#define WICOMPARE_TOP_MAX 1000 /* members listed: a report is read by people */

struct wicompare_month {
    int32_t month; /* caltime_month */
    struct wistats_month a, b;
};

/* A name with a figure in each run (segments, rewards, campaigns). */
struct wicompare_pair {
    char name[RULEBOOK_NAME_MAX + 1];
    int64_t a, b;             /* members in it / times issued / sales paid on */
    int64_t points_a, points_b; /* rewards and campaigns: points */
};

struct wicompare_member {
    char id[PROTO_MEMBER_MAX + 1];
    int64_t lifetime_a, lifetime_b, balance_a, balance_b;
    const char *tier_a, *tier_b; /* "" when not a member in that run */
};

struct wicompare {
    uint32_t month_count;
    struct wicompare_month *months;
    uint32_t tiers_a, tiers_b;     /* names of the final rulebooks' tiers */
    const char *tier_names_a[RULEBOOK_TIERS_MAX], *tier_names_b[RULEBOOK_TIERS_MAX];
    int64_t matrix[RULEBOOK_TIERS_MAX][RULEBOOK_TIERS_MAX]; /* [tier in a][tier in b] */
    int64_t only_a, only_b;        /* members in one run only */
    uint32_t segment_count, reward_count, campaign_count;
    struct wicompare_pair segments[2 * RULEBOOK_SEGMENTS_MAX];
    struct wicompare_pair rewards[2 * WISTATS_NAMES_MAX];
    struct wicompare_pair campaigns[2 * WISTATS_NAMES_MAX];
    uint32_t top_count;
    struct wicompare_member top[WICOMPARE_TOP_MAX];
    uint64_t members_changed;      /* points or tier differ */
    int64_t totals_a[PROTO_CAUSE_COUNT], totals_b[PROTO_CAUSE_COUNT];
    bool empty, state_identical;
};

/* Compares replays a and b (states and counts) into *c, listing the `top`
 * members whose points differ most (by |lifetime points a - b|, then
 * |balance a - b|). The states are compared as their snapshots but for
 * the rulebook versions.
 * Returns 0, or -1 when out of memory. */
int wicompare_build(struct wicompare *c, const struct state *a, const struct state *b,
                    const struct wistats *sa, const struct wistats *sb,
                    uint32_t top);

void wicompare_free(struct wicompare *c);

#endif
