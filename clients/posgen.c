/* posgen.c - the POS traffic model behind loyalty-posload. See posgen.h.
 *
 * Randomness is splitmix64 seeded from the configuration: small, fast, the
 * same on every platform, and nothing else in the process can disturb it
 * (unlike rand()). Amounts and points are integers, as on the wire.
 */
#include "posgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

/* Recent sales a refund may name: returns come soon after the sale, and the
 * ring bounds memory (about 100 bytes a sale). */
#define POSGEN_SALES_RING 4096u
/* Members or sales tried for a redemption or refund that fits, before a
 * purchase is made instead; bounds the work of one entry. */
#define POSGEN_PICK_TRIES 8u
#define POSGEN_LINES_MAX 24u /* line items in the biggest basket */
#define POSGEN_SKUS 5000u    /* catalogue size: SKU00000..SKU04999 */
#define POSGEN_MINOR_PER_UNIT 100 /* cents per unit, as conf/loyaltyd.conf */
#define POSGEN_REDEEM_STEP_POINTS 50 /* redemptions are multiples of this */
#define POSGEN_REDEEM_STEPS_MAX 10   /* ... up to 500 points at once */
#define POSGEN_SKEW_BITS 13 /* member skew: u^3 with u < 2^13, times n < 2^24 */

_Static_assert(POSGEN_LINES_MAX <= PROTO_LINES_MAX, "lines fit the contract");
_Static_assert(3 * POSGEN_SKEW_BITS + 24 < 64, "skewed pick fits in u64");
_Static_assert(POSGEN_MEMBERS_MAX < (1u << 24), "skewed pick fits in u64");
_Static_assert((uint64_t)POSGEN_MIX_COUNT * POSGEN_MIX_WEIGHT_MAX < UINT32_MAX,
               "mix total fits in u32");

static const char *const CATEGORIES[] = {
    "grocery", "fresh", "beauty", "home", "apparel", "electronics", "toys", "pharmacy",
};
#define POSGEN_CATEGORIES (sizeof CATEGORIES / sizeof CATEGORIES[0])

static const char *const KIND_NAMES[POSGEN_KIND_COUNT] = {
    "purchase", "scan", "redeem", "refund", "enroll", "retry", "tick",
};

struct posgen_sale {
    char txn[PROTO_TXN_MAX + 1];
    uint32_t member;
    int64_t amount;
    bool refunded;
};

struct posgen {
    struct posgen_config cfg;
    uint64_t rng;          /* splitmix64 state */
    uint32_t tag;          /* run tag in txn ids, derived from the seed */
    uint32_t mix_total;    /* sum of cfg.mix */
    uint64_t txn_seq;      /* txns issued */
    uint64_t emitted;      /* entries produced: drives simulated time */
    int64_t next_tick_ms;  /* simulated time of the next tick */
    uint32_t enrolled;     /* members M000001..M<enrolled> exist */
    uint32_t balance_cap;  /* entries allocated in balance */
    int64_t *balance;      /* points each member plausibly has, by index */
    uint32_t sales_len;    /* used slots of sales */
    uint32_t sales_next;   /* slot the next sale overwrites */
    bool retry_pending;    /* send last_purchase again next */
    struct posgen_sale sales[POSGEN_SALES_RING];
    struct proto_entry last_purchase;
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (the modulo bias is below 2^-40 for our n). */
static uint64_t rng_below(struct posgen *g, uint64_t n)
{
    LY_ASSERT(n > 0);
    return rng_next(&g->rng) % n;
}

/* Uniform in lo..hi inclusive. */
static int64_t rng_range(struct posgen *g, int64_t lo, int64_t hi)
{
    LY_ASSERT(lo <= hi);
    return lo + (int64_t)rng_below(g, (uint64_t)(hi - lo) + 1);
}

struct posgen *posgen_new(const struct posgen_config *cfg)
{
    LY_ASSERT(cfg->members >= 1 && cfg->members <= POSGEN_MEMBERS_MAX);
    LY_ASSERT(cfg->stores >= 1 && cfg->stores <= POSGEN_STORES_MAX);
    LY_ASSERT(cfg->terminals >= 1 && cfg->terminals <= POSGEN_TERMINALS_MAX);
    LY_ASSERT(cfg->retry_pct <= 100);
    LY_ASSERT(cfg->ts_step_ms >= 0 && cfg->tick_every_ms >= 0);
    struct posgen *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->cfg = *cfg;
    for (int k = 0; k < POSGEN_MIX_COUNT; k++) {
        LY_ASSERT(cfg->mix[k] <= POSGEN_MIX_WEIGHT_MAX);
        g->mix_total += cfg->mix[k];
    }
    LY_ASSERT(g->mix_total > 0);
    g->rng = cfg->seed;
    g->tag = (uint32_t)rng_next(&g->rng);
    g->next_tick_ms = cfg->start_ts_ms + cfg->tick_every_ms;
    g->balance_cap = cfg->members;
    g->balance = calloc(g->balance_cap, sizeof *g->balance);
    if (g->balance == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

void posgen_free(struct posgen *g)
{
    if (g == NULL)
        return;
    free(g->balance);
    free(g);
}

const char *posgen_kind_name(enum posgen_kind k)
{
    LY_ASSERT(k >= 0 && k < POSGEN_KIND_COUNT);
    return KIND_NAMES[k];
}

static void member_id(char *buf, size_t cap, uint32_t idx)
{
    int n = snprintf(buf, cap, "M%06u", (unsigned)idx + 1);
    LY_ASSERT(n > 0 && (size_t)n < cap);
}

/* A member index where a few members come far more often than the rest:
 * n * u^3 for uniform u in [0,1) puts half of all picks on the first 1/8. */
static uint32_t pick_member(struct posgen *g)
{
    uint64_t u = rng_below(g, 1u << POSGEN_SKEW_BITS);
    uint64_t idx = (u * u * u * g->enrolled) >> (3 * POSGEN_SKEW_BITS);
    LY_ASSERT(idx < g->enrolled);
    return (uint32_t)idx;
}

/* Picks the terminal the entry comes from: sets e->store and a new txn. */
static void from_terminal(struct posgen *g, struct proto_entry *e)
{
    uint32_t t = (uint32_t)rng_below(g, (uint64_t)g->cfg.stores * g->cfg.terminals);
    unsigned store = t / g->cfg.terminals + 1, term = t % g->cfg.terminals + 1;
    int n = snprintf(e->store, sizeof e->store, "S%03u", store);
    LY_ASSERT(n > 0 && (size_t)n < sizeof e->store);
    n = snprintf(e->txn, sizeof e->txn, "%s-T%02u-%08x-%llu", e->store, term,
                 (unsigned)g->tag, (unsigned long long)++g->txn_seq);
    LY_ASSERT(n > 0 && (size_t)n < sizeof e->txn);
}

/* Room for one more member's balance; false when at the limit or out of
 * memory (then no member is added). */
static bool grow_members(struct posgen *g)
{
    if (g->enrolled < g->balance_cap)
        return true;
    if (g->balance_cap >= POSGEN_MEMBERS_MAX)
        return false;
    uint32_t cap = g->balance_cap > POSGEN_MEMBERS_MAX / 2 ? POSGEN_MEMBERS_MAX
                                                            : g->balance_cap * 2;
    int64_t *b = realloc(g->balance, (size_t)cap * sizeof *b);
    if (b == NULL)
        return false;
    memset(b + g->balance_cap, 0, (size_t)(cap - g->balance_cap) * sizeof *b);
    g->balance = b;
    g->balance_cap = cap;
    return true;
}

static void gen_birthday(struct posgen *g, struct proto_entry *e)
{
    static const uint8_t DAYS[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    e->birthday_month = (uint8_t)rng_range(g, 1, 12);
    e->birthday_day = (uint8_t)rng_range(g, 1, DAYS[e->birthday_month - 1]);
}

static enum posgen_kind gen_purchase(struct posgen *g, struct proto_entry *e);

static enum posgen_kind gen_enroll(struct posgen *g, struct proto_entry *e)
{
    if (!grow_members(g))
        return gen_purchase(g, e);
    e->kind = PROTO_ENROLL;
    from_terminal(g, e);
    e->store[0] = '\0'; /* an enrolment names no store */
    member_id(e->member, sizeof e->member, g->enrolled);
    if (rng_below(g, 100) < 30)
        gen_birthday(g, e);
    if (g->enrolled > 0 && rng_below(g, 100) < 20)
        member_id(e->referrer, sizeof e->referrer,
                  (uint32_t)rng_below(g, g->enrolled));
    g->enrolled++;
    return POSGEN_ENROLL;
}

/* A basket in cents: most 5..80 units (skewed low), some 80..300, a few big
 * ones up to 2500; half end in .99. */
static int64_t gen_amount(struct posgen *g)
{
    uint64_t r = rng_below(g, 100);
    int64_t cents;
    if (r < 90) {
        int64_t u = rng_range(g, 0, 7500), v = rng_range(g, 0, 7500);
        cents = 500 + u * v / 7500;
    } else if (r < 98) {
        cents = rng_range(g, 8000, 30000);
    } else {
        cents = rng_range(g, 30000, 250000);
    }
    if (rng_below(g, 2) == 0)
        cents = cents / 100 * 100 + 99;
    return cents;
}

/* Splits e->amount into line items that add up to it exactly, at least one
 * cent each; bigger baskets have more lines. */
static void gen_lines(struct posgen *g, struct proto_entry *e)
{
    uint32_t k = e->amount < 8000    ? (uint32_t)rng_range(g, 1, 4)
                 : e->amount < 30000 ? (uint32_t)rng_range(g, 2, 8)
                                     : (uint32_t)rng_range(g, 6, POSGEN_LINES_MAX);
    int64_t weight[POSGEN_LINES_MAX], total_weight = 0, left = e->amount;
    LY_ASSERT(k <= POSGEN_LINES_MAX && (int64_t)k <= e->amount);
    for (uint32_t i = 0; i < k; i++)
        total_weight += weight[i] = rng_range(g, 1, 100);
    for (uint32_t i = 0; i < k; i++) {
        struct proto_line *l = &e->lines[i];
        uint32_t sku = (uint32_t)rng_below(g, POSGEN_SKUS);
        snprintf(l->sku, sizeof l->sku, "SKU%05u", (unsigned)sku);
        snprintf(l->cat, sizeof l->cat, "%s", CATEGORIES[sku % POSGEN_CATEGORIES]);
        l->qty = rng_below(g, 100) < 80 ? 1 : rng_range(g, 2, 3);
        l->amount = i + 1 < k ? 1 + (e->amount - k) * weight[i] / total_weight : left;
        left -= l->amount;
    }
    LY_ASSERT(left == 0 && e->lines[k - 1].amount >= 1);
    e->line_count = k;
}

static void remember_sale(struct posgen *g, const struct proto_entry *e,
                          uint32_t member)
{
    struct posgen_sale *s = &g->sales[g->sales_next];
    snprintf(s->txn, sizeof s->txn, "%s", e->txn);
    s->member = member;
    s->amount = e->amount;
    s->refunded = false;
    g->sales_next = (g->sales_next + 1) % POSGEN_SALES_RING;
    if (g->sales_len < POSGEN_SALES_RING)
        g->sales_len++;
}

static enum posgen_kind gen_purchase(struct posgen *g, struct proto_entry *e)
{
    uint32_t m = pick_member(g);
    e->kind = PROTO_PURCHASE;
    from_terminal(g, e);
    member_id(e->member, sizeof e->member, m);
    e->amount = gen_amount(g);
    if (rng_below(g, 2) == 0)
        gen_lines(g, e);
    g->balance[m] += e->amount / POSGEN_MINOR_PER_UNIT;
    remember_sale(g, e, m);
    if (rng_below(g, 100) < g->cfg.retry_pct) {
        g->retry_pending = true;
        g->last_purchase = *e;
    }
    return POSGEN_PURCHASE;
}

static enum posgen_kind gen_scan(struct posgen *g, struct proto_entry *e)
{
    e->kind = PROTO_SCAN;
    from_terminal(g, e);
    e->txn[0] = '\0'; /* a scan at an entrance has no transaction */
    member_id(e->member, sizeof e->member, pick_member(g));
    return POSGEN_SCAN;
}

/* Redeems points a member has by our estimate (which undercounts: no
 * multipliers or bonuses), so that most redemptions succeed. */
static enum posgen_kind gen_redeem(struct posgen *g, struct proto_entry *e)
{
    for (uint32_t t = 0; t < POSGEN_PICK_TRIES; t++) {
        uint32_t m = pick_member(g);
        int64_t steps = g->balance[m] / POSGEN_REDEEM_STEP_POINTS;
        if (steps < 1)
            continue;
        if (steps > POSGEN_REDEEM_STEPS_MAX)
            steps = POSGEN_REDEEM_STEPS_MAX;
        e->kind = PROTO_REDEEM;
        from_terminal(g, e);
        member_id(e->member, sizeof e->member, m);
        e->points = POSGEN_REDEEM_STEP_POINTS * rng_range(g, 1, steps);
        g->balance[m] -= e->points;
        return POSGEN_REDEEM;
    }
    return gen_purchase(g, e);
}

/* Returns 10..60% of a recent sale not refunded before. */
static enum posgen_kind gen_refund(struct posgen *g, struct proto_entry *e)
{
    for (uint32_t t = 0; t < POSGEN_PICK_TRIES && g->sales_len > 0; t++) {
        struct posgen_sale *s = &g->sales[rng_below(g, g->sales_len)];
        if (s->refunded)
            continue;
        e->kind = PROTO_REFUND;
        from_terminal(g, e);
        snprintf(e->orig_txn, sizeof e->orig_txn, "%s", s->txn);
        member_id(e->member, sizeof e->member, s->member);
        e->amount = s->amount * rng_range(g, 10, 60) / 100;
        if (e->amount < 1)
            e->amount = 1;
        s->refunded = true;
        g->balance[s->member] -= e->amount / POSGEN_MINOR_PER_UNIT;
        if (g->balance[s->member] < 0)
            g->balance[s->member] = 0;
        return POSGEN_REFUND;
    }
    return gen_purchase(g, e);
}

static enum posgen_kind gen_from_mix(struct posgen *g, struct proto_entry *e)
{
    uint64_t r = rng_below(g, g->mix_total);
    int k = 0;
    while (r >= g->cfg.mix[k]) {
        r -= g->cfg.mix[k];
        k++;
    }
    LY_ASSERT(k < POSGEN_MIX_COUNT);
    switch ((enum posgen_kind)k) {
    case POSGEN_SCAN:
        return gen_scan(g, e);
    case POSGEN_REDEEM:
        return gen_redeem(g, e);
    case POSGEN_REFUND:
        return gen_refund(g, e);
    case POSGEN_ENROLL:
        return gen_enroll(g, e);
    default:
        return gen_purchase(g, e);
    }
}

/* True (and the next tick scheduled) when simulated time reached a tick. */
static bool tick_due(struct posgen *g, int64_t ts)
{
    int64_t every = g->cfg.tick_every_ms;
    if (!g->cfg.sim_time || every == 0 || ts < g->next_tick_ms)
        return false;
    g->next_tick_ms += every * ((ts - g->next_tick_ms) / every + 1);
    return true;
}

enum posgen_kind posgen_next(struct posgen *g, int64_t wall_ms,
                             struct proto_entry *e)
{
    int64_t ts = g->cfg.sim_time
                     ? g->cfg.start_ts_ms + (int64_t)g->emitted * g->cfg.ts_step_ms
                     : wall_ms;
    g->emitted++;
    if (g->retry_pending) {
        g->retry_pending = false;
        *e = g->last_purchase; /* the same bytes again, ts included */
        return POSGEN_RETRY;
    }
    memset(e, 0, sizeof *e);
    e->ts = ts;
    if (tick_due(g, ts)) {
        e->kind = PROTO_TICK;
        return POSGEN_TICK;
    }
    if (g->enrolled < g->cfg.members)
        return gen_enroll(g, e);
    return gen_from_mix(g, e);
}

static int parse_mix_pair(char *pair, uint32_t mix[POSGEN_MIX_COUNT],
                          bool seen[POSGEN_MIX_COUNT], struct client_error *err)
{
    char *eq = strchr(pair, '=');
    uint64_t w;
    if (eq == NULL) {
        snprintf(err->text, sizeof err->text, "--mix: '%.32s' is not KIND=WEIGHT", pair);
        return -1;
    }
    *eq = '\0';
    for (int k = 0; k < POSGEN_MIX_COUNT; k++) {
        if (strcmp(pair, KIND_NAMES[k]) != 0)
            continue;
        if (seen[k]) {
            snprintf(err->text, sizeof err->text, "--mix: %s given twice", pair);
            return -1;
        }
        if (client_parse_u64(pair, eq + 1, 0, POSGEN_MIX_WEIGHT_MAX, &w, err) != 0)
            return -1;
        seen[k] = true;
        mix[k] = (uint32_t)w;
        return 0;
    }
    snprintf(err->text, sizeof err->text,
             "--mix: unknown kind '%.32s' (purchase, scan, redeem, refund, enroll)", pair);
    return -1;
}

int posgen_parse_mix(const char *s, uint32_t mix[POSGEN_MIX_COUNT],
                     struct client_error *err)
{
    char text[POSGEN_MIX_TEXT_MAX + 1], *save = NULL;
    bool seen[POSGEN_MIX_COUNT] = {false};
    uint32_t total = 0;
    if (strlen(s) > POSGEN_MIX_TEXT_MAX) {
        snprintf(err->text, sizeof err->text, "--mix is over %d bytes",
                 POSGEN_MIX_TEXT_MAX);
        return -1;
    }
    snprintf(text, sizeof text, "%s", s);
    memset(mix, 0, POSGEN_MIX_COUNT * sizeof mix[0]);
    for (char *p = strtok_r(text, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
        if (parse_mix_pair(p, mix, seen, err) != 0)
            return -1;
    for (int k = 0; k < POSGEN_MIX_COUNT; k++)
        total += mix[k];
    if (total == 0) {
        snprintf(err->text, sizeof err->text, "--mix: all weights are zero");
        return -1;
    }
    return 0;
}
