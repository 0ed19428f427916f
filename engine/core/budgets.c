/* budgets.c - see budgets.h. */
#include "budgets.h"

#include <string.h>

#include "lyassert.h"
#include "names.h"

static bool limited(const struct rulebook_campaign *c)
{
    return c->member_limit_points > 0 || c->member_limit_times > 0;
}

/* Counter slot of campaign `c`: its place among the limited campaigns,
 * or -1 when it has no member limit. */
static int slot_of(const struct rulebook *rb, uint32_t c)
{
    if (!limited(&rb->campaigns[c]))
        return -1;
    int slot = 0;
    for (uint32_t i = 0; i < c; i++)
        slot += limited(&rb->campaigns[i]);
    LY_ASSERT(slot < RULEBOOK_LIMITED_CAMPAIGNS_MAX); /* config_rules.c checks */
    return slot;
}

int64_t budgets_share(int64_t budget, uint32_t partition, uint32_t partitions)
{
    LY_ASSERT(budget > 0 && partitions >= 1 && partition < partitions);
    int64_t parts = partitions;
    return budget / parts + (partition < budget % parts ? 1 : 0);
}

int64_t budgets_remaining(const struct budgets *b, const struct rulebook *rb,
                          const struct partition_place *pl, uint32_t c)
{
    LY_ASSERT(c < rb->campaign_count);
    int64_t budget = rb->campaigns[c].budget_points;
    if (budget == 0)
        return -1;
    budget = budgets_share(budget, pl->partition, pl->partitions);
    return budget > b->given[c] ? budget - b->given[c] : 0;
}

/* What campaign `c` may still give a member with extras `x` (NULL: new)
 * of `want`. */
static int64_t allowed(const struct budgets *b, const struct rulebook *rb,
                       const struct partition_place *pl, const struct member_extra *x,
                       uint32_t c, int64_t want)
{
    const struct rulebook_campaign *k = &rb->campaigns[c];
    int64_t left = budgets_remaining(b, rb, pl, c);
    if (left >= 0 && want > left)
        want = left;
    int slot = slot_of(rb, c);
    if (slot < 0 || x == NULL)
        return want;
    if (k->member_limit_times > 0 && x->camp_times[slot] >= k->member_limit_times)
        return 0;
    int64_t mine = k->member_limit_points - x->camp_points[slot];
    if (k->member_limit_points > 0 && want > mine)
        want = mine > 0 ? mine : 0;
    return want;
}

void budgets_limit(const struct budgets *b, const struct rulebook *rb,
                   const struct partition_place *pl, const struct members *ms,
                   const struct member *m, struct earn_result *er)
{
    const struct member_extra *x = m != NULL ? members_extra(ms, m) : NULL;
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        int64_t want = er->by_campaign[c];
        int64_t may = want > 0 ? allowed(b, rb, pl, x, c, want) : 0;
        if (may == want)
            continue;
        er->by_campaign[c] = may;
        if (rb->campaigns[c].multiplier_bp != 0)
            er->points -= want - may;
        else
            er->campaign_bonus -= want - may;
    }
}

/* Takes up to `*cut` off the parts of campaigns of one kind (multiplier
 * or fixed bonus), the last configured first. */
static void uncharge(const struct rulebook *rb, int64_t *part, bool multiplier, int64_t *cut)
{
    for (uint32_t c = rb->campaign_count; c-- > 0 && *cut > 0;) {
        if ((rb->campaigns[c].multiplier_bp != 0) != multiplier)
            continue;
        int64_t take = part[c] < *cut ? part[c] : *cut;
        part[c] -= take;
        *cut -= take;
    }
}

static void count_member(struct member_extra *x, int slot, int64_t points)
{
    if (x->camp_times[slot] < UINT16_MAX)
        x->camp_times[slot]++;
    int64_t sum = (int64_t)x->camp_points[slot] + points;
    x->camp_points[slot] = sum > INT32_MAX ? INT32_MAX : (int32_t)sum;
}

void budgets_charge(struct budgets *b, const struct rulebook *rb,
                    const struct partition_place *pl, struct members *ms, struct member *m,
                    struct outbox *ob, int64_t ts, const struct earn_result *er, int64_t cut)
{
    int64_t part[RULEBOOK_CAMPAIGNS_MAX];
    memcpy(part, er->by_campaign, sizeof(part));
    LY_ASSERT(cut >= 0);
    uncharge(rb, part, false, &cut); /* the caps cut fixed bonuses first (rules.c) */
    uncharge(rb, part, true, &cut);
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        if (part[c] <= 0)
            continue;
        if (__builtin_add_overflow(b->given[c], part[c], &b->given[c]))
            b->given[c] = INT64_MAX; /* a count, not money: it saturates */
        int slot = slot_of(rb, c);
        if (slot >= 0)
            count_member(members_extra_edit(ms, m), slot, part[c]); /* never back to 0 */
    }
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        if (b->exhausted[c] || budgets_remaining(b, rb, pl, c) != 0 ||
            ob->count + BUDGETS_OUTPUT_RESERVE >= OUTBOX_ENTRY_OUTPUTS_MAX)
            continue;
        b->exhausted[c] = 1;
        struct proto_output *o = outbox_emit(ob, PROTO_OUT_CAMPAIGN_EXHAUSTED, ts, m);
        o->campaign = rb->campaigns[c].name;
    }
}

static void reindex_slots(struct budgets *b, struct members *ms, const struct rulebook *rb)
{
    int from[RULEBOOK_LIMITED_CAMPAIGNS_MAX];
    char names[RULEBOOK_LIMITED_CAMPAIGNS_MAX][RULEBOOK_NAME_MAX + 1];
    uint64_t taken = 0;
    memset(names, 0, sizeof(names));
    for (int s = 0; s < RULEBOOK_LIMITED_CAMPAIGNS_MAX; s++)
        from[s] = -1;
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        int s = slot_of(rb, c);
        if (s < 0)
            continue;
        memcpy(names[s], rb->campaigns[c].name, sizeof(names[s]));
        from[s] = names_take(b->slot_names, RULEBOOK_LIMITED_CAMPAIGNS_MAX, names[s], &taken);
    }
    for (uint32_t p = 0; p < ms->count; p++) {
        struct member *m = members_at(ms, p);
        if (m->extra == 0)
            continue; /* no counts to move */
        struct member_extra *x = members_extra_edit(ms, m);
        uint16_t times[RULEBOOK_LIMITED_CAMPAIGNS_MAX];
        int32_t points[RULEBOOK_LIMITED_CAMPAIGNS_MAX];
        memcpy(times, x->camp_times, sizeof(times));
        memcpy(points, x->camp_points, sizeof(points));
        for (int s = 0; s < RULEBOOK_LIMITED_CAMPAIGNS_MAX; s++) {
            x->camp_times[s] = from[s] >= 0 ? times[from[s]] : 0;
            x->camp_points[s] = from[s] >= 0 ? points[from[s]] : 0;
        }
        members_extra_settle(ms, m);
    }
    memcpy(b->slot_names, names, sizeof(names));
}

void budgets_reindex(struct budgets *b, struct members *ms, const struct rulebook *rb,
                     const struct partition_place *pl)
{
    struct budgets was = *b;
    uint64_t taken = 0;
    memset(b->given, 0, sizeof(b->given));
    memset(b->names, 0, sizeof(b->names));
    memset(b->exhausted, 0, sizeof(b->exhausted));
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        int i = names_take(was.names, RULEBOOK_CAMPAIGNS_MAX, rb->campaigns[c].name, &taken);
        memcpy(b->names[c], rb->campaigns[c].name, sizeof(b->names[c]));
        b->given[c] = i >= 0 ? was.given[i] : 0;
        /* Announced already, and still used up under the budget now set. */
        b->exhausted[c] = i >= 0 && was.exhausted[i] && budgets_remaining(b, rb, pl, c) == 0;
    }
    reindex_slots(b, ms, rb);
}
_Static_assert(RULEBOOK_CAMPAIGNS_MAX <= NAMES_MAX, "one lookup covers every campaign");
