/* test_noalloc.c - rules_apply allocates nothing.
 *
 * Every store is reserved at state_init and the outputs at
 * rules_outbox_init; after that, applying any entry must not call malloc,
 * calloc, realloc or mmap. This executable is linked with
 * -Wl,--wrap=malloc,... so every such call made from the core's objects
 * goes through a counter here, and a long mixed replay (enrolments up to
 * members_max and beyond, sales with lines, refunds, redemptions,
 * adjustments (qualifying ones too), transfers, manual status, reused txns
 * with other content, scans, ticks over three years (campaigns running out
 * of budget on the way), a txn window that overflows, the shipped
 * rulebook's pending points and notices), with every sale previewed first
 * (preview.h), must leave the counter at zero, and so must a schedule that
 * fills with stale entries and is rebuilt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "caltime.h"
#include "config.h"
#include "preview.h"
#include "rules.h"
#include "splitmix.h"
#include "state.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

static uint64_t allocations; /* calls counted since the last reset */

void *__wrap_malloc(size_t n)
{
    allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations++;
    return __real_realloc(p, n);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    allocations++;
    return __real_mmap(addr, len, prot, flags, fd, off);
}

#define MEMBERS_MAX 300u   /* small, so enrolments run into the limit */
#define TXNS_MAX 200u      /* small, so the txn window evicts early */
#define ENTRIES 400000u
#define DAY_MS CALTIME_DAY_MS

/* What the replay made happen, so that it cannot pass vacuously. */
struct seen {
    uint64_t by_kind[PROTO_OUT_KIND_COUNT];
    uint64_t released;  /* points.changed with cause release */
    uint64_t conflicts; /* txn_conflict rejections */
};

struct replay {
    struct config cfg;
    struct state st;
    struct outbox ob;
    struct preview pv; /* previews of sales run in the same loop */
    uint64_t rng;
    struct proto_id id;
    int64_t ts;
    uint32_t sales; /* txns "s<k>" issued so far */
    struct proto_entry last_sale; /* resent as a POS retry */
};

static void next_entry(struct replay *r, struct proto_entry *e)
{
    uint64_t x = splitmix_next(&r->rng);
    memset(e, 0, sizeof(*e));
    r->ts += (int64_t)(x % (4 * 3600 * 1000)); /* about three years in all */
    e->ts = r->ts;
    snprintf(e->member, sizeof(e->member), "m%u", (unsigned)(x >> 8) % (MEMBERS_MAX + 40));
    snprintf(e->store, sizeof(e->store), "store_%03u", (unsigned)(x >> 20) % 40);
    snprintf(e->txn, sizeof(e->txn), "t%llu", (unsigned long long)r->id.seq);
    switch ((x >> 32) % 18) {
    case 0: e->kind = PROTO_ENROLL; break;
    case 1: e->kind = PROTO_TICK; e->txn[0] = '\0'; e->member[0] = '\0'; break;
    case 2: e->kind = PROTO_SCAN; break;
    case 3:
        e->kind = PROTO_REFUND;
        snprintf(e->orig_txn, sizeof(e->orig_txn), "s%u", r->sales ? (unsigned)(x % r->sales) : 0);
        e->amount = 1 + (int64_t)((x >> 40) % 3000);
        break;
    case 4:
        e->kind = PROTO_REDEEM;
        if (x & 1)
            snprintf(e->reward, sizeof(e->reward), "%s", (x & 2) ? "voucher_5" : "wine_tasting");
        else
            e->points = 1 + (int64_t)((x >> 40) % 900);
        break;
    case 5: e->kind = PROTO_ADJUST; e->points = (int64_t)((x >> 40) % 1000) + 1; /* never 0 */
        if (x & 8)
            e->points = -e->points;
        e->qualifying = (x & 16) != 0;
        break;
    case 6:
        e->kind = PROTO_TRANSFER;
        snprintf(e->to, sizeof(e->to), "m%u", (unsigned)(x >> 48) % (MEMBERS_MAX + 40));
        e->points = 1 + (int64_t)((x >> 40) % 700);
        break;
    case 7:
        e->kind = PROTO_SET_TIER;
        snprintf(e->tier, sizeof(e->tier), "%s", (x & 2) ? "gold" : "blue");
        snprintf(e->reason, sizeof(e->reason), "status match");
        e->until_ts = (x & 4) ? e->ts + (int64_t)((x >> 40) % 90) * DAY_MS + 1 : 0;
        break;
    case 8: /* a sale's txn again with another content: txn_conflict */
        e->kind = PROTO_PURCHASE;
        snprintf(e->txn, sizeof(e->txn), "s%u", r->sales ? (unsigned)(x % r->sales) : 0);
        e->amount = 100 + (int64_t)((x >> 40) % 3);
        break;
    case 9: /* the last sale resent as it was (a POS retry), stamped anew */
        if (r->last_sale.kind == PROTO_PURCHASE && r->last_sale.txn[0] != '\0') {
            *e = r->last_sale;
            e->ts = r->ts;
            break;
        }
        __attribute__((fallthrough)); /* no sale yet: make one */
    default:
        e->kind = PROTO_PURCHASE;
        snprintf(e->txn, sizeof(e->txn), "s%u", (unsigned)r->sales++);
        e->amount = 100 + (int64_t)((x >> 40) % 20000);
        if (x & 4) {
            e->line_count = 2;
            snprintf(e->lines[0].cat, sizeof(e->lines[0].cat), "wine");
            e->lines[0].qty = 1;
            e->lines[0].amount = e->amount / 2;
            snprintf(e->lines[1].cat, sizeof(e->lines[1].cat), "fresh");
            e->lines[1].qty = 2;
            e->lines[1].amount = e->amount - e->amount / 2;
        }
        r->last_sale = *e;
    }
}

static void count(const struct outbox *ob, struct seen *seen)
{
    for (uint32_t i = 0; i < ob->count; i++) {
        seen->by_kind[ob->out[i].kind]++;
        seen->released += ob->out[i].kind == PROTO_OUT_POINTS_CHANGED &&
                          ob->out[i].cause == PROTO_CAUSE_RELEASE;
    }
    seen->conflicts += ob->verdict == OUTBOX_REJECTED &&
                       strcmp(ob->reject.code, RULES_R_TXN_CONFLICT) == 0;
}

static void rules_apply_allocates_nothing_over_a_long_mixed_replay(void **state)
{
    (void)state;
    static struct replay r;
    struct config_error err;
    config_defaults(&r.cfg);
    if (config_load(&r.cfg, LOYALTY_CONF_DIR "/loyaltyd.conf", &err) != 0)
        fail_msg("%s", err.text);
    r.cfg.rules.txns_max = TXNS_MAX;
    r.cfg.rules.require_enrollment = false; /* sales enrol up to members_max */
    assert_true(r.cfg.rules.transfers_enabled); /* the shipped conf: transfers answer */
    allocations = 0;
    assert_int_equal(state_init(&r.st, &r.cfg.rules, MEMBERS_MAX), 0);
    rules_outbox_init(&r.ob);
    preview_init(&r.pv);
    /* The counter sees the core's own calls: init reserves every store. */
    assert_true(allocations >= 5);
    r.rng = 7;
    r.ts = caltime_ts((struct caltime_date){2027, 1, 1});
    uint64_t verdicts[3] = {0}, previews = 0;
    uint64_t kinds[PROTO_OUT_KIND_COUNT] = {0};
    static struct seen seen;

    allocations = 0;
    for (uint32_t i = 0; i < ENTRIES; i++) {
        struct proto_entry e;
        r.id.ms = (uint64_t)r.ts;
        r.id.seq++;
        next_entry(&r, &e);
        r.id.ms = (uint64_t)e.ts;
        if (e.kind == PROTO_PURCHASE) { /* previewed first, as a till would */
            struct preview_result res;
            preview_purchase(&r.pv, &r.st, &e, &res);
            previews++;
        }
        rules_apply(&r.st, r.id, &e, NULL, &r.ob);
        verdicts[r.ob.verdict]++;
        for (uint32_t k = 0; k < r.ob.count; k++)
            kinds[r.ob.out[k].kind]++;
        count(&r.ob, &seen);
    }
    assert_int_equal(allocations, 0);

    /* The replay reached every limit it was meant to. */
    assert_int_equal(r.st.members.count, MEMBERS_MAX);
    assert_true(r.st.txns.evicted_early > 0);
    assert_true(r.st.schedule.count <= r.st.schedule.cap);
    assert_true(verdicts[OUTBOX_APPLIED] > ENTRIES / 2);
    assert_true(verdicts[OUTBOX_REJECTED] > 0);
    assert_true(verdicts[OUTBOX_DUPLICATE] > 0);
    assert_true(seen.by_kind[PROTO_OUT_POINTS_PENDING] > 0 && seen.released > 0);
    assert_true(seen.by_kind[PROTO_OUT_TIER_AT_RISK] > 0);
    assert_true(seen.by_kind[PROTO_OUT_POINTS_EXPIRING] > 0);
    assert_true(seen.conflicts > 0);
    /* Transfers, status matches and campaign budgets ran too. */
    assert_true(kinds[PROTO_OUT_TRANSFER_RESULT] > 1000);
    assert_true(kinds[PROTO_OUT_CAMPAIGN_EXHAUSTED] > 0);
    assert_true(kinds[PROTO_OUT_TIER_CHANGED] > 1000);
    assert_true(previews > ENTRIES / 2);
    /* Members' extras (transfers, campaign limits) were taken from the
     * pool, which allocates nothing either (extras.h). */
    assert_true(r.st.members.extras.high > 0);
    preview_free(&r.pv);
    outbox_free(&r.ob);
    state_free(&r.st);
}

/* Due times that keep moving earlier leave stale entries behind; the
 * schedule (reserved for 2 x members_max) is then rebuilt in place from
 * the members' own due times, and pops in (due, position) order still. */
static void a_full_schedule_is_rebuilt_from_members_due_times_without_allocating(void **state)
{
    (void)state;
    static struct config cfg;
    static struct state st;
    config_defaults(&cfg);
    assert_int_equal(state_init(&st, &cfg.rules, 4), 0);
    const char *ids[] = {"a", "b", "c", "d"};
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(members_add(&st.members, ids[i]), i);
    allocations = 0;
    int64_t due = 1000000;
    for (uint32_t k = 0; k < 50; k++) /* each push moves a due time earlier */
        for (uint32_t p = 0; p < 4; p++) {
            members_at(&st.members, p)->next_review_ts = due - (int64_t)(k * 10 + p);
            state_reschedule(&st, &cfg.rules, p);
        }
    assert_int_equal(allocations, 0);
    assert_true(st.schedule.rebuilds >= 20);
    assert_true(st.schedule.count <= st.schedule.cap);
    /* Exactly the live due times come out, earliest first. */
    struct schedule_entry e;
    int64_t prev = 0;
    uint32_t live = 0;
    while (schedule_pop_due(&st.schedule, INT64_MAX, &e)) {
        assert_true(e.due_ms >= prev);
        prev = e.due_ms;
        if (members_at(&st.members, e.pos)->sched_ts == e.due_ms)
            live++;
    }
    assert_int_equal(live, 4);
    state_free(&st);
}

/* Enrolling far past the member index's first table doubles it several
 * times, into the room reserved at init: still no allocation. */
static void the_member_index_grows_without_allocating(void **state)
{
    (void)state;
    static struct config cfg;
    static struct state st;
    static struct outbox ob;
    config_defaults(&cfg);
    cfg.rules.require_enrollment = false;
    assert_int_equal(state_init(&st, &cfg.rules, 20000), 0);
    rules_outbox_init(&ob);
    uint32_t mask = st.members.ix.mask;
    allocations = 0;
    struct proto_entry e;
    for (uint32_t i = 0; i < 20000; i++) {
        memset(&e, 0, sizeof(e));
        e.kind = PROTO_PURCHASE;
        e.ts = 1800000000000 + i;
        e.amount = 1000;
        snprintf(e.member, sizeof(e.member), "grow%u", (unsigned)i);
        snprintf(e.txn, sizeof(e.txn), "g%u", (unsigned)i);
        rules_apply(&st, (struct proto_id){(uint64_t)e.ts, 0}, &e, NULL, &ob);
        assert_int_equal(ob.verdict, OUTBOX_APPLIED);
    }
    assert_int_equal(allocations, 0);
    assert_int_equal(st.members.count, 20000);
    assert_true(st.members.ix.mask + 1u >= 4 * (mask + 1u)); /* it doubled at least twice */
    outbox_free(&ob);
    state_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_apply_allocates_nothing_over_a_long_mixed_replay),
        cmocka_unit_test(a_full_schedule_is_rebuilt_from_members_due_times_without_allocating),
        cmocka_unit_test(the_member_index_grows_without_allocating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
