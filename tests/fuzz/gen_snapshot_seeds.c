/* gen_snapshot_seeds.c - writes the seed corpus of fuzz_snapshot: valid
 * snapshots of states built by applying entries through rules_apply, under
 * the configuration of snapfuzz_config.c.
 *
 *  - empty.snap:   a fresh state.
 *  - members.snap: five members (one referred, one with a birthday) with
 *    purchases over eight months, a refund, redemptions, an adjustment, a
 *    scan and monthly ticks: tiers above the first, several expiry lots.
 *  - wrapped.snap: two members buying daily for three years with a tick a
 *    month: points expire, and the txn ring has wrapped (head > 0, the
 *    newest records before the oldest in memory).
 *
 * Built with -DLOYALTY_FUZZ=ON; the fuzz_snapshot test runs it into its
 * work dir, so the fuzzer always starts from snapshots of this build's
 * layout. Refresh the committed seeds from the repository root whenever the
 * snapshot format, the records or that configuration change:
 *   build-asan/tests/fuzz/gen_snapshot_seeds tests/fuzz/corpus/snapshot
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caltime.h"
#include "config.h"
#include "rulecanon.h"
#include "rules.h"
#include "snapfuzz_config.h"
#include "snapshot.h"

/* An engine being fed entries: ids are <ts>-<n>, so they increase. */
struct gen {
    struct config cfg;
    struct state st;
    struct outbox res;
    uint64_t seq;
    struct proto_entry e;
};

/* Starts entry `kind` at `ts` for `member` (NULL: none) with txn `txn`
 * (NULL: none); the caller fills the rest and calls apply(). */
static struct proto_entry *entry(struct gen *g, enum proto_kind kind, int64_t ts,
                                 const char *member, const char *txn)
{
    memset(&g->e, 0, sizeof(g->e));
    g->e.kind = kind;
    g->e.ts = ts;
    snprintf(g->e.member, sizeof(g->e.member), "%s", member ? member : "");
    snprintf(g->e.txn, sizeof(g->e.txn), "%s", txn ? txn : "");
    snprintf(g->e.store, sizeof(g->e.store), "store-%d", (int)(ts / CALTIME_DAY_MS % 7));
    return &g->e;
}

/* Applies the entry being built; every seed entry is meant to apply. */
static void apply(struct gen *g)
{
    struct proto_id id = {(uint64_t)g->e.ts, ++g->seq};
    memcpy(&(&g->st)->ver->now, &g->cfg.rules, sizeof(struct rulebook)); /* the test's rulebook, as set */
    rules_apply(&g->st, id, &g->e, NULL, &g->res);
    if (g->res.verdict != OUTBOX_APPLIED) {
        fprintf(stderr, "gen_snapshot_seeds: entry %llu (kind %d) not applied: %s\n",
                (unsigned long long)g->seq, (int)g->e.kind,
                g->res.verdict == OUTBOX_REJECTED ? g->res.reject.detail : "duplicate");
        exit(1);
    }
}

/* Enrols `member`, referred by `referrer` (NULL: none), born on the
 * first of `birth_month` (0: unknown). */
static void enroll(struct gen *g, int64_t ts, const char *member, const char *referrer,
                   int birth_month)
{
    char txn[PROTO_TXN_MAX + 1];
    snprintf(txn, sizeof(txn), "enroll-%s", member);
    struct proto_entry *e = entry(g, PROTO_ENROLL, ts, member, txn);
    snprintf(e->referrer, sizeof(e->referrer), "%s", referrer ? referrer : "");
    e->birthday_month = (uint8_t)birth_month;
    e->birthday_day = birth_month ? 1 : 0;
    apply(g);
}

static void purchase(struct gen *g, int64_t ts, const char *member, const char *txn,
                     int64_t amount)
{
    entry(g, PROTO_PURCHASE, ts, member, txn)->amount = amount;
    apply(g);
}

static void tick(struct gen *g, int64_t ts)
{
    entry(g, PROTO_TICK, ts, NULL, NULL);
    apply(g);
}

static int64_t day(int32_t year, int month, int d)
{
    return caltime_ts((struct caltime_date){year, (uint8_t)month, (uint8_t)d});
}

static void build_members(struct gen *g)
{
    static const char *const ids[] = {"card-0001", "card-0002", "card-0003", "card-0004",
                                      "card-0005"};
    int64_t t0 = day(2026, 1, 5) + 10 * 3600 * 1000LL;
    for (int i = 0; i < 5; i++)
        enroll(g, t0 + i * 60000, ids[i], i == 1 ? ids[0] : NULL, i == 2 ? 3 : 0);
    char txn[PROTO_TXN_MAX + 1];
    for (int month = 0; month < 8; month++) {
        int64_t t = day(2026, 1 + month, 10) + 12 * 3600 * 1000LL;
        for (int i = 0; i < 5; i++) {
            snprintf(txn, sizeof(txn), "pos-%d:%06d", i, month);
            purchase(g, t + i * 60000, ids[i], txn, 2599 + 100000LL * i * (month % 3));
        }
        tick(g, day(2026, 2 + month, 1));
    }
    int64_t t = day(2026, 9, 2);
    struct proto_entry *e = entry(g, PROTO_REFUND, t, ids[4], "pos-4:refund-1");
    snprintf(e->orig_txn, sizeof(e->orig_txn), "pos-4:000007");
    e->amount = 1000;
    apply(g);
    e = entry(g, PROTO_REDEEM, t + 1000, ids[2], "pos-2:redeem-1");
    snprintf(e->reward, sizeof(e->reward), "voucher_5");
    apply(g);
    entry(g, PROTO_REDEEM, t + 2000, ids[3], "pos-3:redeem-2")->points = 300;
    apply(g);
    e = entry(g, PROTO_ADJUST, t + 3000, ids[0], "desk-1:adjust-1");
    e->points = -120;
    snprintf(e->reason, sizeof(e->reason), "goodwill reversal");
    apply(g);
    entry(g, PROTO_SCAN, t + 4000, ids[3], NULL);
    apply(g);
}

static void build_wrapped(struct gen *g)
{
    char txn[PROTO_TXN_MAX + 1];
    int64_t t0 = day(2026, 1, 1) + 9 * 3600 * 1000LL;
    enroll(g, t0, "card-a", NULL, 0);
    enroll(g, t0 + 1000, "card-b", "card-a", 12);
    for (int d = 1; d <= 3 * 365; d++) {
        int64_t t = t0 + d * CALTIME_DAY_MS;
        snprintf(txn, sizeof(txn), "pos-9:%06d", d);
        purchase(g, t, d % 3 ? "card-a" : "card-b", txn, 1500 + 37 * (d % 11));
        if (d % 30 == 0)
            tick(g, t + 3600 * 1000LL);
    }
}

static int write_seed(struct gen *g, const char *dir, const char *name)
{
    char path[1024];
    char *buf;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (snapshot_encode(&g->st, rulecanon_codec(), &buf, &len) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    int rc = f != NULL && fwrite(buf, 1, len, f) == len ? 0 : -1;
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    free(buf);
    if (rc != 0)
        fprintf(stderr, "gen_snapshot_seeds: cannot write %s\n", path);
    return rc;
}

/* Builds one seed with `build` (NULL: the empty state) and writes it. */
static int seed(const char *dir, const char *name, void (*build)(struct gen *))
{
    static struct gen g; /* the config alone is ~100 KiB */
    memset(&g, 0, sizeof(g));
    snapfuzz_config(&g.cfg);
    if (state_init(&g.st, &g.cfg.rules, g.cfg.members_max) != 0)
        return -1;
    rules_outbox_init(&g.res);
    if (build != NULL)
        build(&g);
    int rc = write_seed(&g, dir, name);
    outbox_free(&g.res);
    state_free(&g.st);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_snapshot_seeds DIR\n");
        return 2;
    }
    if (seed(argv[1], "empty.snap", NULL) != 0 ||
        seed(argv[1], "members.snap", build_members) != 0 ||
        seed(argv[1], "wrapped.snap", build_wrapped) != 0)
        return 1;
    return 0;
}
