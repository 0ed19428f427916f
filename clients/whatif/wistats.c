/* wistats.c - see wistats.h. */
#include "wistats.h"

#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "earn.h"
#include "members.h"
#include "versions.h"

int wistats_init(struct wistats *s, int64_t first_ts)
{
    memset(s, 0, sizeof(*s));
    s->base_month = caltime_month(first_ts > 0 ? first_ts : 0) - WISTATS_MONTHS / 2;
    s->m = calloc(WISTATS_MONTHS, sizeof(*s->m));
    s->scratch = malloc(sizeof(*s->scratch));
    if (s->m == NULL || s->scratch == NULL) {
        wistats_free(s);
        return -1;
    }
    return 0;
}

void wistats_free(struct wistats *s)
{
    free(s->m);
    free(s->scratch);
    s->m = NULL;
    s->scratch = NULL;
}

int32_t wistats_month_of(const struct wistats *s, uint32_t i)
{
    return s->base_month + (int32_t)i;
}

static struct wistats_month *month(struct wistats *s, int64_t ts)
{
    int64_t i = (int64_t)caltime_month(ts > 0 ? ts : 0) - s->base_month;
    if (i < 0)
        i = 0;
    if (i >= WISTATS_MONTHS)
        i = WISTATS_MONTHS - 1;
    s->m[i].used = true;
    return &s->m[i];
}

/* The counter for `name` in list[0..*n) (added when new; NULL when full). */
static struct wistats_named *named(struct wistats_named *list, uint32_t *n, const char *name)
{
    for (uint32_t i = 0; i < *n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    if (*n == WISTATS_NAMES_MAX)
        return NULL;
    struct wistats_named *it = &list[(*n)++];
    memset(it, 0, sizeof(*it));
    strncpy(it->name, name, RULEBOOK_NAME_MAX);
    return it;
}

/* Copies the rulebook in force into the scratch one when it changed. */
static void refresh_scratch(struct wistats *s, const struct state *st)
{
    const struct rulebook_version *v = versions_current(st->ver);
    if (s->scratch_version == st->ver->count + 1 &&
        proto_id_cmp(s->scratch_since, v->since_id) == 0)
        return;
    memcpy(s->scratch, &st->ver->now, sizeof(*s->scratch));
    s->scratch_version = st->ver->count + 1;
    s->scratch_since = v->since_id;
}

static int64_t earned(const struct rulebook *rb, const struct proto_entry *e, int64_t tier_bp)
{
    struct earn_result r;
    struct proto_reject rej;
    if (earn_purchase(rb, e, tier_bp, &r, &rej) != 0)
        return 0;
    return r.points + r.campaign_bonus;
}

void wistats_before(struct wistats *s, const struct state *st, const struct proto_entry *e)
{
    s->pending_count = 0;
    if (e == NULL || e->kind != PROTO_PURCHASE || st->ver->now.campaign_count == 0)
        return;
    refresh_scratch(s, st);
    struct rulebook *rb = s->scratch;
    uint32_t pos = members_find(&st->members, e->member);
    uint8_t tier = pos == HINDEX_NONE ? 0 : members_at(&st->members, pos)->tier;
    int64_t tier_bp = rb->tiers[tier].multiplier_bp, full = -1;
    for (uint32_t c = 0; c < rb->campaign_count; c++) {
        struct rulebook_campaign *cp = &rb->campaigns[c];
        if (e->ts < cp->start_ms || e->ts >= cp->end_ms)
            continue; /* out of its window: it adds nothing */
        if (full < 0)
            full = earned(rb, e, tier_bp);
        int64_t end = cp->end_ms;
        cp->end_ms = cp->start_ms; /* switched off */
        int64_t without = earned(rb, e, tier_bp);
        cp->end_ms = end;
        if (full > without) {
            s->pending_campaign[s->pending_count] = (int16_t)c;
            s->pending_points[s->pending_count++] = full - without;
        }
    }
}

static void note_points(struct wistats *s, const struct proto_output *o)
{
    struct wistats_month *mo = month(s, o->ts);
    mo->by_cause[o->cause] += o->delta;
    if (o->cause == PROTO_CAUSE_REDEEM)
        mo->redeemed -= o->delta;
    else if (o->cause == PROTO_CAUSE_EXPIRY)
        mo->expired -= o->delta;
    else if (o->delta > 0 && o->cause != PROTO_CAUSE_REFUND)
        mo->issued += o->delta;
    s->liability += o->delta;
    mo->liability = s->liability;
}

static void note_output(struct wistats *s, const struct proto_output *o)
{
    struct wistats_named *n;
    switch (o->kind) {
    case PROTO_OUT_POINTS_CHANGED: note_points(s, o); break;
    case PROTO_OUT_REWARD_ISSUED:
        month(s, o->ts)->rewards++;
        if ((n = named(s->rewards, &s->reward_count, o->reward)) != NULL) {
            n->count++;
            n->points += o->cost;
        }
        break;
    case PROTO_OUT_TIER_CHANGED: month(s, o->ts)->tier_changes++; break;
    default: break;
    }
}

void wistats_after(struct wistats *s, const struct proto_entry *e, const struct outbox *ob)
{
    s->entries++;
    if (ob->verdict == OUTBOX_REJECTED)
        s->rejected++;
    else if (ob->verdict == OUTBOX_DUPLICATE)
        s->duplicates++;
    else
        s->applied++;
    for (uint32_t i = 0; i < ob->count; i++)
        note_output(s, &ob->out[i]);
    if (ob->verdict != OUTBOX_APPLIED || e == NULL)
        return;
    for (uint32_t i = 0; i < s->pending_count; i++) {
        const char *name = s->scratch->campaigns[s->pending_campaign[i]].name;
        struct wistats_named *n = named(s->campaigns, &s->campaign_count, name);
        if (n != NULL) {
            n->count++;
            n->points += s->pending_points[i];
        }
        month(s, e->ts)->campaign_cost += s->pending_points[i];
    }
}
