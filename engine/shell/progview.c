/* progview.c - see progview.h. */
#include "progview.h"

#include "budgets.h"
#include "churn.h"
#include "segments.h"

/* An integer, or null when it is 0 (a setting that is not set). */
static json_t *set_or_null(int64_t v)
{
    return v != 0 ? json_integer((json_int_t)v) : json_null();
}

void progview_member(json_t *j, const struct state *st, const struct rulebook *rb,
                     uint32_t pos)
{
    const struct member_extra *x = members_extra(&st->members, members_at(&st->members, pos));
    json_object_set_new(j, "churn_risk", json_integer(churn_risk(st, rb, pos)));
    json_object_set_new(j, "status",
                        x->manual_until_ts == 0
                            ? json_null()
                            : json_pack("{s:s, s:I}", "tier", rb->tiers[x->manual_tier].name,
                                        "until_ts", (json_int_t)x->manual_until_ts));
}

int64_t progview_given(const struct state *const *states, uint32_t n, uint32_t c)
{
    int64_t given = 0;
    for (uint32_t i = 0; i < n; i++)
        given += states[i]->g.camp.given[c];
    return given;
}

int64_t progview_remaining(const struct state *const *states, uint32_t n,
                           const struct rulebook *rb, uint32_t c)
{
    /* Each partition spends its own share (budgets.h): what is left is the
     * sum of what the served partitions have left. */
    int64_t left = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t mine = budgets_remaining(&states[i]->g.camp, rb, &states[i]->place, c);
        if (mine < 0)
            return -1;
        left += mine;
    }
    return left;
}

int64_t progview_churn_bp(const struct state *const *states, uint32_t n,
                          const struct rulebook *rb, uint32_t s)
{
    __int128 sum = 0;
    int64_t weight = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t w = states[i]->g.segment_members[s] + 1; /* +1: an empty one counts a little */
        sum += (__int128)segments_churn_bp(states[i], rb, s) * w;
        weight += w;
    }
    return weight == 0 ? 0 : (int64_t)(sum / weight);
}

json_t *progview_campaigns(const struct state *const *states, uint32_t n,
                           const struct rulebook *rb)
{
    json_t *list = json_array();
    for (uint32_t c = 0; list != NULL && c < rb->campaign_count; c++) {
        const struct rulebook_campaign *k = &rb->campaigns[c];
        int64_t left = progview_remaining(states, n, rb, c);
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:s, s:I, s:o, s:o, s:b, s:o, s:o}", "name",
                            k->name, "start_ts", (json_int_t)k->start_ms, "end_ts",
                            (json_int_t)k->end_ms, "kind",
                            k->multiplier_bp != 0 ? "multiplier" : "bonus", "given_points",
                            (json_int_t)progview_given(states, n, c), "budget_points",
                            set_or_null(k->budget_points), "remaining_points",
                            left < 0 ? json_null() : json_integer(left), "exhausted",
                            left == 0, "member_limit_points",
                            set_or_null(k->member_limit_points), "member_limit_times",
                            set_or_null(k->member_limit_times)));
    }
    return list ? json_pack("{s:o}", "campaigns", list) : NULL;
}

json_t *progview_churn(const struct state *const *states, uint32_t n, const struct rulebook *rb)
{
    json_t *o = json_object();
    for (uint32_t s = 0; o != NULL && s < rb->seg.segment_count; s++)
        json_object_set_new(o, rb->seg.segments[s].name,
                            json_integer(progview_churn_bp(states, n, rb, s)));
    return o;
}
