/* liability.c - see liability.h. */
#include "liability.h"

#include <string.h>

#include "caltime.h"
#include "lyassert.h"

/* A move changes at most every piece before and after. */
#define LIABILITY_DELTAS_MAX (2 * LIABILITY_PIECES_MAX)

/* Sums of figures wrap modulo 2^64 instead of overflowing: each member's
 * balance fits int64 (points_overflows), a partition's total need not
 * (liability.h). */
static int64_t wadd(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t wsub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

int64_t liability_add(int64_t a, int64_t b)
{
    return wadd(a, b);
}

static uint32_t umod(int32_t v, uint32_t n)
{
    int32_t r = v % (int32_t)n;
    return (uint32_t)(r < 0 ? r + (int32_t)n : r);
}

/* ---- months ------------------------------------------------------------ */

static uint32_t col_of(const struct liability *l, int32_t cohort)
{
    LY_ASSERT(cohort <= l->month);
    if (cohort <= l->month - LIABILITY_MONTHS)
        return LIABILITY_COL_EARLIER;
    return umod(cohort, LIABILITY_MONTHS);
}

/* The row of points expiring at `key`: a month index when `months`, else
 * an instant (INT64_MAX: never). */
static uint32_t row_of(const struct liability *l, int64_t key, bool months)
{
    if (key == INT64_MAX)
        return LIABILITY_ROW_NEVER;
    int32_t e = months ? (int32_t)key : caltime_month(key);
    LY_ASSERT(e <= l->month + LIABILITY_EXPIRY_AHEAD);
    if (e < l->month - LIABILITY_EXPIRY_BEHIND)
        return LIABILITY_ROW_OVERDUE;
    return umod(e, LIABILITY_EXPIRY_MONTHS);
}

int32_t liability_col_month(const struct liability *l, uint32_t col)
{
    LY_ASSERT(col < LIABILITY_MONTHS);
    int32_t oldest = l->month - LIABILITY_MONTHS + 1;
    return oldest + (int32_t)umod((int32_t)col - oldest, LIABILITY_MONTHS);
}

int32_t liability_row_month(const struct liability *l, uint32_t row)
{
    LY_ASSERT(row < LIABILITY_EXPIRY_MONTHS);
    int32_t oldest = l->month - LIABILITY_EXPIRY_BEHIND;
    return oldest + (int32_t)umod((int32_t)row - oldest, LIABILITY_EXPIRY_MONTHS);
}

static void add_cohort(struct liability_cohort *to, const struct liability_cohort *c)
{
    to->in = wadd(to->in, c->in);
    to->redeemed = wadd(to->redeemed, c->redeemed);
    to->expired = wadd(to->expired, c->expired);
    to->other = wadd(to->other, c->other);
}

static void add_flow(struct liability_flow *to, const struct liability_flow *f)
{
    for (uint32_t c = 0; c < PROTO_CAUSE_COUNT; c++) {
        to->credit[c] = wadd(to->credit[c], f->credit[c]);
        to->debit[c] = wadd(to->debit[c], f->debit[c]);
    }
    to->held = wadd(to->held, f->held);
    to->released = wadd(to->released, f->released);
    to->cancelled = wadd(to->cancelled, f->cancelled);
}

/* Folds cohort column `col` (its month leaving the ring) into earlier. */
static void fold_col(struct liability *l, uint32_t col)
{
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++) {
        l->cells[r][LIABILITY_COL_EARLIER] = wadd(l->cells[r][LIABILITY_COL_EARLIER], l->cells[r][col]);
        l->cells[r][col] = 0;
    }
    add_cohort(&l->cohorts[LIABILITY_COL_EARLIER], &l->cohorts[col]);
    memset(&l->cohorts[col], 0, sizeof(l->cohorts[col]));
    add_flow(&l->flows[LIABILITY_COL_EARLIER], &l->flows[col]);
    memset(&l->flows[col], 0, sizeof(l->flows[col]));
}

/* Folds expiry row `row` (its month falling behind) into overdue. */
static void fold_row(struct liability *l, uint32_t row)
{
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        l->cells[LIABILITY_ROW_OVERDUE][c] = wadd(l->cells[LIABILITY_ROW_OVERDUE][c], l->cells[row][c]);
        l->cells[row][c] = 0;
    }
}

/* Moves the rings on to `month`: cohorts and flow months older than the
 * ring go to earlier, expiry months behind it to overdue. */
static void advance(struct liability *l, int32_t month)
{
    if (!l->started) {
        l->started = 1;
        l->month = month;
        return;
    }
    LY_ASSERT(month >= l->month);
    int32_t steps = month - l->month;
    for (int32_t k = 1; k <= steps && k <= LIABILITY_MONTHS; k++)
        fold_col(l, umod(l->month - LIABILITY_MONTHS + k, LIABILITY_MONTHS));
    for (int32_t k = 1; k <= steps && k <= LIABILITY_EXPIRY_MONTHS; k++)
        fold_row(l, umod(l->month - LIABILITY_EXPIRY_BEHIND - 1 + k, LIABILITY_EXPIRY_MONTHS));
    l->month = month;
}

/* ---- moves --------------------------------------------------------------- */

/* The columns from oldest to newest: earlier, then the ring's months. */
static uint32_t col_at(const struct liability *l, uint32_t i)
{
    if (i == 0)
        return LIABILITY_COL_EARLIER;
    return umod(l->month - LIABILITY_MONTHS + (int32_t)i, LIABILITY_MONTHS);
}

/* Takes `points` off row `row`, oldest cohorts first, into carry[]. */
static void take_row(struct liability *l, uint32_t row, int64_t points, int64_t *carry)
{
    for (uint32_t i = 0; points > 0 && i < LIABILITY_COLS; i++) {
        uint32_t c = col_at(l, i);
        int64_t have = l->cells[row][c] > 0 ? l->cells[row][c] : 0;
        int64_t t = have < points ? have : points;
        l->cells[row][c] = wsub(l->cells[row][c], t);
        carry[c] = wadd(carry[c], t);
        points = wsub(points, t);
    }
    /* The row holds what the lots held; it falls short only when sums
     * wrapped (liability.h): the rest comes off the oldest column. */
    if (points > 0) {
        l->cells[row][LIABILITY_COL_EARLIER] = wsub(l->cells[row][LIABILITY_COL_EARLIER], points);
        carry[LIABILITY_COL_EARLIER] = wadd(carry[LIABILITY_COL_EARLIER], points);
    }
}

/* Moves up to `*points` from src[] (oldest cohorts first) into row `row`;
 * with `in`, the cohorts count them as come in. */
static void put_from(struct liability *l, uint32_t row, int64_t *points, int64_t *src, bool in)
{
    for (uint32_t i = 0; *points > 0 && i < LIABILITY_COLS; i++) {
        uint32_t c = col_at(l, i);
        int64_t have = src[c] > 0 ? src[c] : 0;
        int64_t t = have < *points ? have : *points;
        src[c] = wsub(src[c], t);
        l->cells[row][c] = wadd(l->cells[row][c], t);
        if (in)
            l->cohorts[c].in = wadd(l->cohorts[c].in, t);
        *points = wsub(*points, t);
    }
}

/* Adds `points` to row `row`: the cohorts this move took elsewhere first,
 * then (transfer_in) those its entry's transfer_out took, then new points
 * of the current month. */
static void put_row(struct liability *l, uint32_t row, int64_t points, int64_t *carry,
                    bool handed)
{
    if (carry != NULL) /* NULL: the move took nothing (all zero) */
        put_from(l, row, &points, carry, false);
    if (handed)
        put_from(l, row, &points, l->hand, true);
    if (points > 0) {
        uint32_t c = col_of(l, l->month);
        l->cells[row][c] = wadd(l->cells[row][c], points);
        l->cohorts[c].in = wadd(l->cohorts[c].in, points);
    }
}

/* Books the points the move took and put nowhere as gone, for `cause`. */
static void settle(struct liability *l, const int64_t *carry, enum proto_cause cause,
                   struct proto_id id)
{
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        if (carry[c] == 0)
            continue;
        struct liability_cohort *k = &l->cohorts[c];
        if (cause == PROTO_CAUSE_EXPIRY)
            k->expired = wadd(k->expired, carry[c]);
        else if (cause == PROTO_CAUSE_REDEEM)
            k->redeemed = wadd(k->redeemed, carry[c]);
        else
            k->other = wadd(k->other, carry[c]);
        if (cause == PROTO_CAUSE_TRANSFER_OUT) {
            l->hand[c] = wadd(l->hand[c], carry[c]);
            l->hand_id = id;
        }
    }
}

struct delta {
    uint32_t row;
    int64_t points;
};

/* Adds `points` for `row` to deltas d[0..*n), merging rows. */
static void add_delta(struct delta *d, uint32_t *n, uint32_t row, int64_t points)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (d[i].row == row) {
            d[i].points = wadd(d[i].points, points);
            return;
        }
    }
    LY_ASSERT(*n < LIABILITY_DELTAS_MAX);
    d[(*n)++] = (struct delta){row, points};
}

/* What each row gains (> 0) or loses (< 0) from `b` to `a`: one walk
 * over both (ascending, each key once), so that only the lots the move
 * changed cost anything. */
static uint32_t deltas_of(const struct liability *l, const struct liability_wallet *b,
                          const struct liability_wallet *a, struct delta *d)
{
    uint32_t n = 0, i = 0, j = 0;
    LY_ASSERT(b->n <= LIABILITY_PIECES_MAX && a->n <= LIABILITY_PIECES_MAX);
    LY_ASSERT(b->months == a->months);
    while (i < b->n || j < a->n) {
        bool from_b = j >= a->n || (i < b->n && b->pieces[i].expire_ms <= a->pieces[j].expire_ms);
        bool from_a = i >= b->n || (j < a->n && a->pieces[j].expire_ms <= b->pieces[i].expire_ms);
        int64_t key = from_b ? b->pieces[i].expire_ms : a->pieces[j].expire_ms;
        int64_t delta = wsub(from_a ? a->pieces[j++].points : 0,
                             from_b ? b->pieces[i++].points : 0);
        if (delta != 0)
            add_delta(d, &n, row_of(l, key, a->months), delta);
    }
    return n;
}

static int64_t owed(int64_t balance)
{
    return balance < 0 ? wsub(0, balance) : 0; /* INT64_MIN owes 2^63: wraps */
}

void liability_move(struct liability *l, int32_t month, struct proto_id id,
                    enum proto_cause cause, const struct liability_wallet *before,
                    const struct liability_wallet *after)
{
    LY_ASSERT(cause < PROTO_CAUSE_COUNT);
    advance(l, month);
    bool handed = cause == PROTO_CAUSE_TRANSFER_IN && proto_id_cmp(id, l->hand_id) == 0;
    struct delta d[LIABILITY_DELTAS_MAX];
    uint32_t n = deltas_of(l, before, after, d);
    int64_t carry[LIABILITY_COLS]; /* set (to zero) once a row loses points */
    bool took = false;
    for (uint32_t i = 0; i < n; i++) {
        if (d[i].points < 0) {
            if (!took)
                memset(carry, 0, sizeof(carry));
            take_row(l, d[i].row, -d[i].points, carry);
            took = true;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (d[i].points > 0)
            put_row(l, d[i].row, d[i].points, took ? carry : NULL, handed);
    if ((l->hand_id.ms | l->hand_id.seq) != 0 &&
        (cause != PROTO_CAUSE_TRANSFER_OUT || proto_id_cmp(id, l->hand_id) != 0)) {
        memset(l->hand, 0, sizeof(l->hand)); /* a hand-over lasts one entry */
        l->hand_id = (struct proto_id){0, 0}; /* no entry's: every id is above 0-0 */
    }
    if (took)
        settle(l, carry, cause, id);
    l->debt = wadd(l->debt, wsub(owed(after->balance), owed(before->balance)));
    struct liability_flow *f = &l->flows[col_of(l, month)];
    int64_t change = wsub(after->balance, before->balance);
    if (change > 0)
        f->credit[cause] = wadd(f->credit[cause], change);
    else
        f->debit[cause] = wsub(f->debit[cause], change);
}

void liability_pending(struct liability *l, int32_t month, enum liability_pend what,
                       int64_t points)
{
    LY_ASSERT(points > 0);
    advance(l, month);
    struct liability_flow *f = &l->flows[col_of(l, month)];
    switch (what) {
    case LIABILITY_HELD: f->held = wadd(f->held, points); l->pending = wadd(l->pending, points); break;
    case LIABILITY_RELEASED: f->released = wadd(f->released, points); l->pending = wsub(l->pending, points); break;
    case LIABILITY_CANCELLED: f->cancelled = wadd(f->cancelled, points); l->pending = wsub(l->pending, points); break;
    }
    LY_ASSERT(l->pending >= 0);
}

void liability_redate(struct liability *l, int32_t month, int32_t to_month)
{
    advance(l, month);
    uint32_t to = to_month < 0 ? LIABILITY_ROW_NEVER : row_of(l, to_month, true);
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++) {
        if (r == to || (to_month >= 0 && r != LIABILITY_ROW_NEVER))
            continue;
        for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
            l->cells[to][c] = wadd(l->cells[to][c], l->cells[r][c]);
            l->cells[r][c] = 0;
        }
    }
}

/* ---- deriving ------------------------------------------------------------ */

void liability_derive_lot(struct liability *l, int32_t month, int64_t expire_ms,
                          int32_t cohort, int64_t points)
{
    LY_ASSERT(points > 0);
    advance(l, month);
    uint32_t c = col_of(l, cohort < l->month ? cohort : l->month);
    uint32_t r = row_of(l, expire_ms, false);
    l->cells[r][c] = wadd(l->cells[r][c], points);
    l->cohorts[c].in = wadd(l->cohorts[c].in, points);
}

void liability_derive_member(struct liability *l, int32_t month, int64_t balance,
                             int64_t pending)
{
    advance(l, month);
    l->debt = wadd(l->debt, owed(balance));
    l->pending = wadd(l->pending, pending);
    l->opening = wadd(l->opening, balance);
}

int32_t liability_cohort_of(const struct rulebook *rb, int64_t expire_ms, int32_t month)
{
    int32_t earned = INT32_MIN / 2; /* earlier than any month kept */
    if (expire_ms == INT64_MAX)
        return earned;
    switch (rb->expiry_mode) {
    case RULEBOOK_EXPIRY_MONTHS:
        earned = caltime_month(expire_ms) - (int32_t)rb->expiry_months - 1;
        break;
    case RULEBOOK_EXPIRY_DAYS:
        earned = caltime_month((caltime_day(expire_ms) - rb->expiry_days - 1) * CALTIME_DAY_MS);
        break;
    case RULEBOOK_EXPIRY_END_OF_YEAR:
        earned = caltime_month(expire_ms) - 12 * ((int32_t)rb->expiry_years + 1);
        break;
    case RULEBOOK_EXPIRY_NEVER: break;
    }
    return earned < month ? earned : month;
}

/* ---- figures ------------------------------------------------------------- */

int64_t liability_outstanding(const struct liability *l)
{
    int64_t sum = 0;
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++)
        for (uint32_t c = 0; c < LIABILITY_COLS; c++)
            sum = wadd(sum, l->cells[r][c]);
    return sum;
}

static int64_t col_sum(const struct liability *l, uint32_t c)
{
    int64_t sum = 0;
    for (uint32_t r = 0; r < LIABILITY_ROWS; r++)
        sum = wadd(sum, l->cells[r][c]);
    return sum;
}

static int64_t net_flows(const struct liability *l)
{
    int64_t sum = 0;
    for (uint32_t m = 0; m < LIABILITY_COLS; m++)
        for (uint32_t c = 0; c < PROTO_CAUSE_COUNT; c++)
            sum = wadd(sum, wsub(l->flows[m].credit[c], l->flows[m].debit[c]));
    return sum;
}

const char *liability_check(const struct liability *l, int64_t positive, int64_t debt,
                            int64_t pending)
{
    if (liability_outstanding(l) != positive)
        return "outstanding is not the sum of the positive balances";
    if (l->debt != debt)
        return "debt is not the sum of the negative balances";
    if (l->pending != pending)
        return "pending is not the members' pending points";
    for (uint32_t c = 0; c < LIABILITY_COLS; c++) {
        const struct liability_cohort *k = &l->cohorts[c];
        if (wsub(wsub(wsub(k->in, k->redeemed), k->expired), k->other) != col_sum(l, c))
            return "a cohort's movements do not add up to what it holds";
    }
    if (wadd(net_flows(l), l->opening) != wsub(positive, debt))
        return "credits minus debits are not the sum of the balances";
    return NULL;
}

/* ---- the report ------------------------------------------------------------ */

void liability_report_init(struct liability_report *r, int32_t month)
{
    memset(r, 0, sizeof(*r));
    r->month = month;
}

/* Adds cohort column `c` of `l` (month `m`) to the report. */
static void report_col(struct liability_report *r, const struct liability *l, uint32_t c)
{
    int32_t i = -1;
    if (c != LIABILITY_COL_EARLIER)
        i = liability_col_month(l, c) - (r->month - LIABILITY_MONTHS + 1);
    bool own = i >= 0;
    LY_ASSERT(i < LIABILITY_MONTHS);
    int64_t out = col_sum(l, c);
    if (own) {
        r->by_cohort[i] = wadd(r->by_cohort[i], out);
        add_cohort(&r->cohort[i], &l->cohorts[c]);
        add_flow(&r->flow[i], &l->flows[c]);
    } else {
        r->earlier_outstanding = wadd(r->earlier_outstanding, out);
        add_cohort(&r->earlier, &l->cohorts[c]);
        add_flow(&r->flow_earlier, &l->flows[c]);
    }
}

static void report_rows(struct liability_report *r, const struct liability *l)
{
    for (uint32_t row = 0; row < LIABILITY_ROWS; row++) {
        int64_t sum = 0;
        for (uint32_t c = 0; c < LIABILITY_COLS; c++)
            sum = wadd(sum, l->cells[row][c]);
        if (row == LIABILITY_ROW_NEVER) {
            r->never = wadd(r->never, sum);
            continue;
        }
        int32_t i = row == LIABILITY_ROW_OVERDUE
                        ? -1
                        : liability_row_month(l, row) - (r->month - LIABILITY_EXPIRY_BEHIND);
        LY_ASSERT(i < LIABILITY_EXPIRY_MONTHS);
        if (i >= 0)
            r->by_expiry[i] = wadd(r->by_expiry[i], sum);
        else
            r->overdue = wadd(r->overdue, sum);
    }
}

void liability_report_add(struct liability_report *r, const struct liability *l)
{
    if (!l->started)
        return;
    LY_ASSERT(l->month <= r->month);
    for (uint32_t c = 0; c < LIABILITY_COLS; c++)
        report_col(r, l, c);
    report_rows(r, l);
    r->outstanding = wadd(r->outstanding, liability_outstanding(l));
    r->debt = wadd(r->debt, l->debt);
    r->pending = wadd(r->pending, l->pending);
    r->opening = wadd(r->opening, l->opening);
}

/* Adds cohort `k` to *expired and *used when it is closed. */
static bool closed(const struct liability_cohort *k, int64_t outstanding, int64_t *expired,
                   int64_t *used)
{
    int64_t u = wadd(k->redeemed, k->expired);
    if (outstanding != 0 || u <= 0)
        return false;
    *expired = wadd(*expired, k->expired);
    *used = wadd(*used, u);
    return true;
}

int64_t liability_breakage_bp(const struct liability_report *r)
{
    int64_t expired = 0, used = 0;
    bool any = closed(&r->earlier, r->earlier_outstanding, &expired, &used);
    for (uint32_t i = 0; i + 1 < LIABILITY_MONTHS; i++) /* the current month is open */
        any |= closed(&r->cohort[i], r->by_cohort[i], &expired, &used);
    return any && used > 0 ? (int64_t)((__int128)expired * 10000 / used) : -1;
}

int64_t liability_redemption_bp(const struct liability_report *r)
{
    int64_t in = r->earlier.in, redeemed = r->earlier.redeemed;
    for (uint32_t i = 0; i < LIABILITY_MONTHS; i++) {
        in = wadd(in, r->cohort[i].in);
        redeemed = wadd(redeemed, r->cohort[i].redeemed);
    }
    return in > 0 ? (int64_t)((__int128)redeemed * 10000 / in) : -1;
}
