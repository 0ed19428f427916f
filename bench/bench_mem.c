/* bench_mem.c - memory per member and snapshots, in process (no Redis).
 *
 * Builds the state of M members under a rulebook, each with a year of
 * history: an enrolment, then one purchase a month for P months, applied
 * through rules_apply in time order (every member's purchase of month k
 * before any of month k + 1). Then reports:
 *  - resident bytes per member: VmRSS after the load minus VmRSS before
 *    it (the rulebook, the buffers and the binary are the baseline), and
 *    the breakdown by structure (struct member, expiry lots, member index,
 *    txn window and its index, schedule);
 *  - snapshot_write of that state: time and file bytes per member;
 *  - the ingestion stall of a background snapshot: the time fork() takes
 *    in this process, as engine/snapper.c forks while holding the state
 *    (the child exits at once: its writing runs beside ingestion);
 *  - recovery: snapshot_read of the file into a fresh state, then R more
 *    purchases replayed through rules_apply (the entries after the
 *    snapshot a restart reads again from Redis);
 *  - the ingestion stall of a real background snapshot (stall.h): the
 *    longest gap between batches of --batch purchases while a forked
 *    child writes the snapshot, against as many batches without one; and
 *    how much of the state sits in transparent huge pages (reserve.h).
 *    --no-thp disables THP for the process (PR_SET_THP_DISABLE): the
 *    4 KiB-page baseline of the same figures.
 * Prints a report and `result KEY VALUE` lines; run.sh judges.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchargs.h"
#include "benchclock.h"
#include "config.h"
#include "rulecanon.h"
#include "rules.h"
#include "snapshot.h"
#include "stall.h"
#include "state.h"
#include "workload.h"

#define MEM_MONTHS_MAX 120u       /* ten years of monthly purchases */
#define MEM_REPLAY_MAX 10000000u  /* replayed entries: about 1 min each million */
#define MEM_PATH_MAX 4096u        /* the snapshot's path */
#define MEM_BATCH_MAX 65536u      /* purchases per batch: 64x the shipped batch_entries_max */
#define MEM_STALL_BATCHES_MAX 100000u /* batches during a snapshot: ~100M purchases */
#define DAY_MS 86400000LL
#define MONTH_MS (30 * DAY_MS)

struct options {
    const char *conf, *dir;
    uint32_t members, months, replay;
    int keep; /* --keep: leave the snapshot file in --dir (to profile a loader) */
    uint32_t batch, stall_batches; /* stall_batches 0: no stall measurement */
    int no_thp;
};

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { O_MEMBERS = 256, O_MONTHS, O_REPLAY, O_DIR, O_KEEP, O_BATCH, O_STALL, O_NO_THP };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"members", required_argument, NULL, O_MEMBERS},
        {"months", required_argument, NULL, O_MONTHS},
        {"replay", required_argument, NULL, O_REPLAY}, {"dir", required_argument, NULL, O_DIR},
        {"keep", no_argument, NULL, O_KEEP}, {"help", no_argument, NULL, 'h'},
        {"batch", required_argument, NULL, O_BATCH},
        {"stall-batches", required_argument, NULL, O_STALL},
        {"no-thp", no_argument, NULL, O_NO_THP},
        {NULL, 0, NULL, 0}};
    static const char P[] = "bench_mem";
    *o = (struct options){NULL, "/tmp", 1000000, 12, 100000, 0, 1024, 2000, 0};
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': o->conf = optarg; break;
        case O_MEMBERS:
            rc = bench_option_u32(P, "--members", optarg, 1, WORKLOAD_MEMBERS_MAX, &o->members);
            break;
        case O_MONTHS:
            rc = bench_option_u32(P, "--months", optarg, 1, MEM_MONTHS_MAX, &o->months);
            break;
        case O_REPLAY:
            rc = bench_option_u32(P, "--replay", optarg, 1, MEM_REPLAY_MAX, &o->replay);
            break;
        case O_DIR: o->dir = optarg; break;
        case O_KEEP: o->keep = 1; break;
        case O_BATCH:
            rc = bench_option_u32(P, "--batch", optarg, 1, MEM_BATCH_MAX, &o->batch);
            break;
        case O_STALL:
            rc = bench_option_u32(P, "--stall-batches", optarg, 0, MEM_STALL_BATCHES_MAX,
                                  &o->stall_batches);
            break;
        case O_NO_THP: o->no_thp = 1; break;
        case 'h':
            printf("usage: bench_mem [-c CONF] [--members M] [--months P] [--replay R] "
                   "[--dir D] [--keep] [--batch B] [--stall-batches N] [--no-thp]\n"
                   "  Builds M members with P monthly purchases each, reports resident bytes "
                   "per member, the longest gap between batches of B purchases while a "
                   "snapshot is written (N batches; 0: not measured; --no-thp: on 4 KiB "
                   "pages), then writes and reads a snapshot in D (--keep: left there).\n");
            return 1;
        default:
            fprintf(stderr, "usage: bench_mem [-c CONF] [--members M] [--months P] "
                            "[--replay R] [--dir D] [--keep] [--batch B] [--stall-batches N] "
                            "[--no-thp]\n");
            return -1;
        }
    }
    return rc;
}

/* VmRSS of this process in bytes, or 0 when /proc does not say. */
static uint64_t rss_bytes(void)
{
    char line[256];
    uint64_t kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb * 1024u;
}

struct loader {
    struct state st;
    const struct config *cfg;
    struct outbox res;
    struct proto_id id;
    struct workload w;
    uint64_t refused;
};

static void apply(struct loader *l, const struct proto_entry *e)
{
    rules_apply(&l->st, l->id, e, NULL, &l->res);
    l->id.ms++;
    l->refused += l->res.verdict != OUTBOX_APPLIED;
}

/* Purchase of member i in month k: spread over the month, amounts from
 * small baskets to a few large ones. */
static void purchase(struct loader *l, uint32_t i, int64_t ts)
{
    static struct proto_entry e;
    int64_t amount = 500 + (int64_t)workload_below(&l->w, 20000);
    workload_purchase_of(&l->w, i, amount, &e);
    e.ts = ts;
    apply(l, &e);
}

/* Enrols o->members, then o->months monthly purchases each. */
static void load(struct loader *l, const struct options *o, int64_t start)
{
    static struct proto_entry e;
    for (uint32_t i = 0; i < o->members; i++) {
        workload_enroll(&l->w, i, &e);
        e.ts = start - DAY_MS + (int64_t)((uint64_t)i * (DAY_MS - 1) / o->members);
        apply(l, &e);
    }
    for (uint32_t k = 0; k < o->months; k++) {
        for (uint32_t i = 0; i < o->members; i++)
            purchase(l, i, start + (int64_t)k * MONTH_MS +
                               (int64_t)((uint64_t)i * (MONTH_MS - 1) / o->members));
        fprintf(stderr, "bench_mem: month %u/%u applied\n", k + 1, o->months);
    }
}

static double per_member(double bytes, uint32_t n) { return bytes / n; }

static void breakdown(const struct state *st, uint32_t n, uint64_t rss)
{
    const struct members *ms = &st->members;
    double member = sizeof(struct member) * (double)ms->count; /* reserved, resident as used */
    size_t lot_bytes = ms->ring32 ? sizeof(int32_t) : sizeof(int64_t); /* members.h */
    uint32_t per = ms->ring32 ? ms->ring_per : ms->lots_per; /* values per member in use */
    double lots = (double)ms->count * per * lot_bytes;
    double mix = (ms->ix.mask + 1.0) * sizeof(uint64_t);
    double txn = (double)st->txns.count * sizeof(struct txn_rec);
    double tix = (st->txns.ix.mask + 1.0) * sizeof(uint64_t);
    double sched = (double)st->schedule.count * sizeof(st->schedule.heap[0]);
    printf("memory         %u members: RSS grew %.1f MB = %.0f B/member\n", n, rss / 1e6,
           per_member((double)rss, n));
    printf("  struct member %zu B (reserved for %u, resident for %u: %.0f B/member) | expiry "
           "lots %u x %zu B = %.0f B/member | member index %.1f B/member\n",
           sizeof(struct member), ms->max, ms->count, per_member(member, n), per,
           lot_bytes, per_member(lots, n), per_member(mix, n));
    printf("  txn window %u records x %zu B = %.0f B/member + index %.0f B/member | "
           "schedule %.0f B/member\n", st->txns.count, sizeof(struct txn_rec),
           per_member(txn, n), per_member(tix, n), per_member(sched, n));
    double extras = (double)ms->extras.high * sizeof(struct member_extra); /* extras.h */
    printf("  member extras %u records taken (%u live) x %zu B = %.1f B/member\n",
           ms->extras.high, ms->extras.live, sizeof(struct member_extra),
           per_member(extras, n));
    /* The ring is reserved for max_txns records but used as a ring of
     * `cap` records, grown to the widest window it held (txns.h): once it
     * has wrapped, all of `cap` is resident, however few records the
     * window holds now. */
    double ring = (double)st->txns.cap * sizeof(struct txn_rec);
    printf("  txn ring of %u records (max_txns %u): %.0f MB = %.0f B/member once it has "
           "wrapped\n", st->txns.cap, st->txns.max, ring / 1e6, per_member(ring, n));
    printf("result mem.ring_mb %.0f\n", ring / 1e6);
    printf("result mem.ring_per_member %.0f\n", per_member(ring, n));
    printf("result mem.txn_max %u\n", st->txns.max);
    printf("result mem.rss_per_member %.0f\n", per_member((double)rss, n));
    printf("result mem.member_struct %zu\n", sizeof(struct member));
    printf("result mem.member_per_member %.0f\n", per_member(member, n));
    printf("result mem.lots_per_member %.0f\n", per_member(lots, n));
    printf("result mem.lots_per %u\n", per);
    printf("result mem.index_per_member %.1f\n", per_member(mix, n));
    printf("result mem.txn_records %u\n", st->txns.count);
    printf("result mem.txn_per_member %.0f\n", per_member(txn + tix, n));
    printf("result mem.sched_per_member %.0f\n", per_member(sched, n));
    printf("result mem.extras_per_member %.1f\n", per_member(extras, n));
}

/* The stall a background snapshot causes: fork() in the parent. */
static double fork_ms(void)
{
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    uint64_t t1 = bench_now_ns();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return pid > 0 ? (double)(t1 - t0) / 1e6 : -1;
}

struct stall_ctx {
    struct loader *l;
    const struct options *o;
    int64_t ts;
    char path[MEM_PATH_MAX + sizeof(".stall")];
};

/* One batch of purchases by random members, a millisecond apart. */
static void stall_batch(void *arg, uint32_t i)
{
    struct stall_ctx *c = arg;
    (void)i;
    for (uint32_t j = 0; j < c->o->batch; j++)
        purchase(c->l, (uint32_t)workload_below(&c->l->w, c->o->members), c->ts++);
}

static int stall_write(void *arg)
{
    struct stall_ctx *c = arg;
    struct snapshot_error err;
    if (snapshot_write(&c->l->st, rulecanon_codec(), c->path, &err) == 0)
        return 0;
    fprintf(stderr, "bench_mem: snapshot writer: %s\n", err.text);
    return -1;
}

/* The ingestion stall of a background snapshot, as snapper.c takes it. */
static int stall(struct loader *l, const struct options *o, const char *path)
{
    static struct stall_ctx c;
    struct stall_result r;
    c.l = l;
    c.o = o;
    c.ts = l->st.clock_ms + 1;
    snprintf(c.path, sizeof(c.path), "%s.stall", path);
    uint64_t huge = stall_huge_bytes();
    int rc = stall_measure(stall_batch, &c, stall_write, &c, o->stall_batches, &r);
    unlink(c.path);
    if (rc != 0) {
        fprintf(stderr, "bench_mem: the snapshot during batches failed (status %d)\n",
                r.child_status);
        return -1;
    }
    printf("stall          THP %s, %.0f MB of the process in huge pages | batches of %u: "
           "longest gap %.2f ms during a snapshot (fork %.2f ms, first gap %.2f ms, mean of "
           "the first %u %.2f ms, mean %.3f ms over %u batches, writer %.1f s) vs %.2f ms "
           "without (mean %.3f ms)\n", o->no_thp ? "disabled" : "as the system allows",
           huge / 1e6, o->batch, r.snap_max_ms, r.fork_ms, r.first_ms, STALL_AFTER_BATCHES,
           r.after_ms, r.snap_mean_ms, r.batches, r.write_s, r.base_max_ms, r.base_mean_ms);
    printf("result stall.huge_mb %.0f\n", huge / 1e6);
    printf("result stall.batch %u\n", o->batch);
    printf("result stall.batches %u\n", r.batches);
    printf("result stall.fork_ms %.2f\n", r.fork_ms);
    printf("result stall.first_ms %.2f\n", r.first_ms);
    printf("result stall.after_ms %.2f\n", r.after_ms);
    printf("result stall.max_ms %.2f\n", r.snap_max_ms);
    printf("result stall.mean_ms %.3f\n", r.snap_mean_ms);
    printf("result stall.base_max_ms %.2f\n", r.base_max_ms);
    printf("result stall.base_mean_ms %.3f\n", r.base_mean_ms);
    printf("result stall.write_s %.1f\n", r.write_s);
    return 0;
}

static int snapshots(struct loader *l, const struct options *o, const char *path)
{
    struct snapshot_error err;
    struct stat sb;
    uint64_t t0 = bench_now_ns();
    if (snapshot_write(&l->st, rulecanon_codec(), path, &err) != 0 || stat(path, &sb) != 0) {
        fprintf(stderr, "bench_mem: snapshot_write: %s\n", err.text);
        return -1;
    }
    double write_s = (double)(bench_now_ns() - t0) / 1e9;
    double fork1 = fork_ms(), fork2 = fork_ms();
    double fork_worst = fork1 > fork2 ? fork1 : fork2;
    if (o->stall_batches > 0 && stall(l, o, path) != 0)
        return -1;
    /* Recovery in a fresh state, as a restarted process: the old one goes
     * first, so that a large state is never held twice. */
    state_free(&l->st);
    if (state_init(&l->st, &l->cfg->rules, l->cfg->members_max) != 0)
        return -1;
    t0 = bench_now_ns();
    int rc = snapshot_read(path, &l->cfg->rules, rulecanon_codec(), &l->st, &err);
    double read_s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != 0) {
        fprintf(stderr, "bench_mem: snapshot_read: %s\n", err.text);
        return -1;
    }
    int64_t start = l->st.clock_ms + DAY_MS;
    t0 = bench_now_ns();
    for (uint32_t j = 0; j < o->replay; j++)
        purchase(l, (uint32_t)workload_below(&l->w, o->members), start + j);
    double replay_s = (double)(bench_now_ns() - t0) / 1e9;
    printf("snapshot       write %.2f s, %.1f MB = %.0f B/member | fork() stall %.1f ms "
           "(worst of 2) | recovery: snapshot_read %.2f s + replay of %u entries %.2f s\n",
           write_s, sb.st_size / 1e6, (double)sb.st_size / o->members, fork_worst, read_s,
           o->replay, replay_s);
    printf("result snap.write_s %.2f\n", write_s);
    printf("result snap.bytes_per_member %.0f\n", (double)sb.st_size / o->members);
    printf("result snap.mb %.1f\n", sb.st_size / 1e6);
    printf("result snap.fork_ms %.1f\n", fork_worst);
    printf("result snap.read_s %.2f\n", read_s);
    printf("result snap.replay_s %.2f\n", replay_s);
    printf("result snap.recovery_s %.2f\n", read_s + replay_s);
    if (o->keep)
        printf("kept %s\n", path);
    else
        unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    int prc = parse_options(argc, argv, &o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    static struct config cfg;
    static struct loader l;
    struct config_error err;
    char path[MEM_PATH_MAX];
    config_defaults(&cfg);
    if (o.conf != NULL && config_load(&cfg, o.conf, &err) != 0) {
        fprintf(stderr, "bench_mem: bad configuration: %s\n", err.text);
        return 2;
    }
    snprintf(path, sizeof(path), "%s/bench_mem.%d.snap", o.dir, (int)getpid());
    if (o.no_thp && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
        perror("bench_mem: prctl(PR_SET_THP_DISABLE)");
        return 1;
    }
    l.cfg = &cfg;
    l.id = (struct proto_id){1, 0};
    rules_outbox_init(&l.res);
    workload_init(&l.w, o.members, 7, "mem");
    uint64_t rss0 = rss_bytes();
    if (state_init(&l.st, &cfg.rules, cfg.members_max) != 0)
        return 1;
    int64_t start = WORKLOAD_TS_START_MS - (int64_t)o.months * MONTH_MS;
    uint64_t t0 = bench_now_ns();
    load(&l, &o, start);
    double load_s = (double)(bench_now_ns() - t0) / 1e9;
    uint64_t rss1 = rss_bytes();
    uint64_t entries = (uint64_t)o.members * (o.months + 1u);
    printf("bench_mem: %u members x (enrolment + %u monthly purchases) = %" PRIu64
           " entries applied in %.1f s (%.0f/s), %" PRIu64 " refused\n", o.members, o.months,
           entries, load_s, entries / load_s, l.refused);
    printf("result mem.load_per_s %.0f\n", entries / load_s);
    breakdown(&l.st, o.members, rss1 - rss0);
    int rc = snapshots(&l, &o, path);
    state_free(&l.st);
    outbox_free(&l.res);
    return rc == 0 ? 0 : 1;
}
