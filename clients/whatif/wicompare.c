/* wicompare.c - see wicompare.h. */
#include "wicompare.h"

#include <stdlib.h>
#include <string.h>

#include "members.h"
#include "rulecanon.h"
#include "snapshot.h"

static int build_months(struct wicompare *c, const struct wistats *sa, const struct wistats *sb)
{
    int64_t lo = -1, hi = -1;
    for (int64_t i = 0; i < WISTATS_MONTHS; i++)
        if (sa->m[i].used || sb->m[i].used) {
            lo = lo < 0 ? i : lo;
            hi = i;
        }
    c->month_count = lo < 0 ? 0 : (uint32_t)(hi - lo + 1);
    c->months = calloc(c->month_count ? c->month_count : 1, sizeof(*c->months));
    if (c->months == NULL)
        return -1;
    struct wistats_month carry_a = {0}, carry_b = {0};
    for (uint32_t k = 0; k < c->month_count; k++) {
        uint32_t i = (uint32_t)lo + k;
        struct wicompare_month *m = &c->months[k];
        m->month = wistats_month_of(sa, i);
        m->a = sa->m[i];
        m->b = sb->m[i];
        /* Liability is a level: a month without changes keeps the last. */
        if (!m->a.used)
            m->a.liability = carry_a.liability;
        if (!m->b.used)
            m->b.liability = carry_b.liability;
        carry_a = m->a;
        carry_b = m->b;
        for (int cause = 0; cause < PROTO_CAUSE_COUNT; cause++) {
            c->totals_a[cause] += m->a.by_cause[cause];
            c->totals_b[cause] += m->b.by_cause[cause];
        }
        if (memcmp(m->a.by_cause, m->b.by_cause, sizeof(m->a.by_cause)) != 0 ||
            m->a.issued != m->b.issued || m->a.redeemed != m->b.redeemed ||
            m->a.expired != m->b.expired || m->a.liability != m->b.liability ||
            m->a.rewards != m->b.rewards || m->a.tier_changes != m->b.tier_changes ||
            m->a.campaign_cost != m->b.campaign_cost)
            c->empty = false;
    }
    return 0;
}

/* The pair for `name` in list[0..*n) (added when new). */
static struct wicompare_pair *pair(struct wicompare_pair *list, uint32_t *n, uint32_t cap,
                                   const char *name)
{
    for (uint32_t i = 0; i < *n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    if (*n == cap)
        return NULL;
    struct wicompare_pair *p = &list[(*n)++];
    memset(p, 0, sizeof(*p));
    strncpy(p->name, name, RULEBOOK_NAME_MAX);
    return p;
}

static void merge_named(struct wicompare_pair *list, uint32_t *n, uint32_t cap,
                        const struct wistats_named *a, uint32_t na,
                        const struct wistats_named *b, uint32_t nb)
{
    struct wicompare_pair *p;
    for (uint32_t i = 0; i < na; i++)
        if ((p = pair(list, n, cap, a[i].name)) != NULL) {
            p->a = a[i].count;
            p->points_a = a[i].points;
        }
    for (uint32_t i = 0; i < nb; i++)
        if ((p = pair(list, n, cap, b[i].name)) != NULL) {
            p->b = b[i].count;
            p->points_b = b[i].points;
        }
}

static void build_segments(struct wicompare *c, const struct state *a, const struct state *b)
{
    const struct rulebook_segments *ga = &a->ver->now.seg, *gb = &b->ver->now.seg;
    struct wicompare_pair *p;
    for (uint32_t i = 0; ga->enabled && i < ga->segment_count; i++)
        if ((p = pair(c->segments, &c->segment_count, 2 * RULEBOOK_SEGMENTS_MAX,
                      ga->segments[i].name)) != NULL)
            p->a = a->g.segment_members[i];
    for (uint32_t i = 0; gb->enabled && i < gb->segment_count; i++)
        if ((p = pair(c->segments, &c->segment_count, 2 * RULEBOOK_SEGMENTS_MAX,
                      gb->segments[i].name)) != NULL)
            p->b = b->g.segment_members[i];
}

static bool pairs_equal(const struct wicompare_pair *list, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (list[i].a != list[i].b || list[i].points_a != list[i].points_b)
            return false;
    return true;
}

static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Orders members by how much their points differ, most first. */
static int by_difference(const void *x, const void *y)
{
    const struct wicompare_member *p = x, *q = y;
    uint64_t dp = magnitude(p->lifetime_b - p->lifetime_a), dq = magnitude(q->lifetime_b - q->lifetime_a);
    if (dp != dq)
        return dp > dq ? -1 : 1;
    dp = magnitude(p->balance_b - p->balance_a);
    dq = magnitude(q->balance_b - q->balance_a);
    if (dp != dq)
        return dp > dq ? -1 : 1;
    return strcmp(p->id, q->id);
}

/* Keeps `m` if it is among the `top` largest differences so far. */
static void offer(struct wicompare *c, const struct wicompare_member *m, uint32_t top)
{
    if (c->top_count < top) {
        c->top[c->top_count++] = *m;
    } else if (top > 0 && by_difference(m, &c->top[top - 1]) < 0) {
        c->top[top - 1] = *m;
    } else {
        return;
    }
    qsort(c->top, c->top_count, sizeof(c->top[0]), by_difference); /* top is small */
}

static void compare_member(struct wicompare *c, const struct state *a, const struct state *b,
                           const struct member *ma, const struct member *mb, uint32_t top)
{
    struct wicompare_member m;
    memset(&m, 0, sizeof(m));
    memcpy(m.id, ma ? ma->id : mb->id, sizeof(m.id));
    m.tier_a = ma ? a->ver->now.tiers[ma->tier].name : "";
    m.tier_b = mb ? b->ver->now.tiers[mb->tier].name : "";
    m.lifetime_a = ma ? ma->lifetime_points : 0;
    m.balance_a = ma ? ma->balance : 0;
    m.lifetime_b = mb ? mb->lifetime_points : 0;
    m.balance_b = mb ? mb->balance : 0;
    if (ma && mb)
        c->matrix[ma->tier][mb->tier]++;
    else if (ma)
        c->only_a++;
    else
        c->only_b++;
    if (m.lifetime_a == m.lifetime_b && m.balance_a == m.balance_b &&
        strcmp(m.tier_a, m.tier_b) == 0)
        return;
    c->members_changed++;
    offer(c, &m, top);
}

static void build_members(struct wicompare *c, const struct state *a, const struct state *b,
                          uint32_t top)
{
    for (uint32_t p = 0; p < a->members.count; p++) {
        const struct member *ma = members_at(&a->members, p);
        uint32_t q = members_find(&b->members, ma->id);
        compare_member(c, a, b, ma, q == HINDEX_NONE ? NULL : members_at(&b->members, q), top);
    }
    for (uint32_t q = 0; q < b->members.count; q++) {
        const struct member *mb = members_at(&b->members, q);
        if (members_find(&a->members, mb->id) == HINDEX_NONE)
            compare_member(c, a, b, NULL, mb, top);
    }
    c->tiers_a = a->ver->now.tier_count;
    c->tiers_b = b->ver->now.tier_count;
    for (uint32_t t = 0; t < c->tiers_a; t++)
        c->tier_names_a[t] = a->ver->now.tiers[t].name;
    for (uint32_t t = 0; t < c->tiers_b; t++)
        c->tier_names_b[t] = b->ver->now.tiers[t].name;
}

/* Whether the snapshots of `a` and `b` are the same bytes but for their
 * rulebook versions (b's are a's with the candidate: compared as a's). */
static int same_snapshot(const struct state *a, const struct state *b, bool *same)
{
    static struct state b_as_a; /* a shallow copy: b's stores, a's versions */
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    b_as_a = *b;
    b_as_a.ver = a->ver;
    const struct rulebook_codec *codec = rulecanon_codec();
    int rc = snapshot_encode(a, codec, &x, &nx) == 0 &&
                     snapshot_encode(&b_as_a, codec, &y, &ny) == 0
                 ? 0 : -1;
    *same = rc == 0 && nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return rc;
}

int wicompare_build(struct wicompare *c, const struct state *a, const struct state *b,
                    const struct wistats *sa, const struct wistats *sb,
                    uint32_t top)
{
    memset(c, 0, sizeof(*c));
    c->empty = true;
    if (top > WICOMPARE_TOP_MAX)
        top = WICOMPARE_TOP_MAX;
    if (build_months(c, sa, sb) != 0)
        return -1;
    merge_named(c->rewards, &c->reward_count, 2 * WISTATS_NAMES_MAX, sa->rewards,
                sa->reward_count, sb->rewards, sb->reward_count);
    merge_named(c->campaigns, &c->campaign_count, 2 * WISTATS_NAMES_MAX, sa->campaigns,
                sa->campaign_count, sb->campaigns, sb->campaign_count);
    build_segments(c, a, b);
    build_members(c, a, b, top);
    bool tiers_same = c->tiers_a == c->tiers_b && c->only_a == 0 && c->only_b == 0;
    for (uint32_t i = 0; tiers_same && i < c->tiers_a; i++)
        for (uint32_t j = 0; j < c->tiers_b; j++)
            tiers_same = tiers_same && (i == j || c->matrix[i][j] == 0) &&
                         strcmp(c->tier_names_a[i], c->tier_names_b[i]) == 0;
    c->empty = c->empty && tiers_same && c->members_changed == 0 &&
               pairs_equal(c->segments, c->segment_count) &&
               pairs_equal(c->rewards, c->reward_count) &&
               pairs_equal(c->campaigns, c->campaign_count);
    return same_snapshot(a, b, &c->state_identical);
}

void wicompare_free(struct wicompare *c)
{
    free(c->months);
    c->months = NULL;
}
