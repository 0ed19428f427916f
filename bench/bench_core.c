/* bench_core.c - the rule engine alone: rules_apply and proto_decode in
 * process, without Redis.
 *
 * For each workload variant (purchases only, and the realistic mix of
 * workload.h) it encodes N entries with proto_encode_entry, decodes them
 * into an array of struct proto_entry, and then, for each round, each pass
 * on a fresh state of M enrolled members with a purchase history:
 *  - baseline: a loop over the same entries doing only members_find, the
 *    hash lookup every rule starts with;
 *  - rules_apply over the entries, in order, with the pages of the txn ring
 *    already resident (a daemon past its first max_txns transactions);
 *  - rules_apply on a state just built ("cold": the first max_txns
 *    transactions after a start fault the ring in page by page).
 * Decoding is timed over the encoded bytes into one reused struct, as the
 * daemon does. Figures are the median over rounds; the apply/lookup ratio
 * is what to compare between machines, because both loops run in the same
 * round on the same caches. No figure is asserted: this reports, run.sh
 * judges against the targets.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "benchargs.h"
#include "benchclock.h"
#include "config.h"
#include "lyassert.h"
#include "prefetch.h"
#include "rulecanon.h"
#include "rules.h"
#include "snapshot.h"
#include "state.h"
#include "workload.h"

#include <xxhash.h>

/* A pre-decoded entry is sizeof(struct proto_entry), about 6 KiB (room
 * for 64 line items): 1M of them take 6 GiB. */
#define CORE_ENTRIES_MAX 1000000u
#define CORE_ROUNDS_MAX 99u /* medians of more say nothing new */

struct options {
    const char *conf;
    uint32_t members;
    uint32_t entries;
    uint32_t rounds;
    uint64_t seed;
    int variants; /* V_COUNT, or 1 with --purchases-only */
};

enum variant { V_PURCHASE, V_MIX, V_COUNT };
static const char *const VARIANT_NAMES[V_COUNT] = {"purchase", "mix"};

static int fail(const char *what)
{
    fprintf(stderr, "bench_core: %s\n", what);
    return -1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_core [-c CONF] [--members M] [--entries N] [--rounds R] [--seed S]\n"
            "\n"
            "Times the rule engine in process, without Redis: rules_apply over N\n"
            "pre-decoded entries (purchases only, then a realistic mix of all kinds) on\n"
            "a state of M enrolled members, against a baseline loop doing only the\n"
            "member hash lookup; and proto_decode of the encoded entries.\n"
            "\n"
            "  -c, --config CONF  rulebook (conf/loyaltyd.conf); built-in defaults without\n"
            "      --members M    enrolled members, 1..%u (default 100000)\n"
            "      --entries N    entries per variant, 1..%u (default 200000; ~6 KiB each)\n"
            "      --rounds R     rounds per variant, median reported, 1..%u (default 5)\n"
            "      --seed S       workload seed (default 1)\n"
            "      --purchases-only  the purchases variant only (no realistic mix)\n"
            "      --member-prefetch  hint the next entries' members into the cache (prefetch.h)\n"
            "      --digest       time nothing: apply each variant's entries once and print\n"
            "                     a hash of every verdict and output (as encoded for the\n"
            "                     stream) and one of the final state's snapshot bytes, to\n"
            "                     show that a change to the engine changed no result\n"
            "  -h, --help         this text\n"
            "\n"
            "Prints a table and `result KEY VALUE` lines for scripts. Exit status 0, or 1\n"
            "when the engine refused a generated entry, 2 on bad usage.\n",
            WORKLOAD_MEMBERS_MAX, CORE_ENTRIES_MAX, CORE_ROUNDS_MAX);
}

/* Returns 0, 1 after printing the help, or -1 on bad usage. */
/* Whether time_apply hints the members of the next entries into the cache
 * (prefetch.h), --member-prefetch: what a batch loop that decodes ahead
 * gains. Off by default, as the daemon decodes one entry at a time. */
static bool member_prefetch = false;

/* --digest: hash the results instead of timing (digest_variant). */
static bool digest_only = false;

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { O_MEMBERS = 256, O_ENTRIES, O_ROUNDS, O_SEED, O_PONLY, O_PF, O_DIGEST };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"members", required_argument, NULL, O_MEMBERS},
        {"entries", required_argument, NULL, O_ENTRIES},
        {"rounds", required_argument, NULL, O_ROUNDS}, {"seed", required_argument, NULL, O_SEED},
        {"purchases-only", no_argument, NULL, O_PONLY},
        {"member-prefetch", no_argument, NULL, O_PF},
        {"digest", no_argument, NULL, O_DIGEST},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static const char P[] = "bench_core";
    *o = (struct options){NULL, 100000, 200000, 5, 1, V_COUNT};
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': o->conf = optarg; break;
        case O_MEMBERS:
            rc = bench_option_u32(P, "--members", optarg, 1, WORKLOAD_MEMBERS_MAX, &o->members);
            break;
        case O_ENTRIES:
            rc = bench_option_u32(P, "--entries", optarg, 1, CORE_ENTRIES_MAX, &o->entries);
            break;
        case O_ROUNDS:
            rc = bench_option_u32(P, "--rounds", optarg, 1, CORE_ROUNDS_MAX, &o->rounds);
            break;
        case O_SEED: rc = bench_option_u64(P, "--seed", optarg, 0, UINT64_MAX, &o->seed); break;
        case O_PONLY: o->variants = V_PURCHASE + 1; break;
        case O_PF: member_prefetch = true; break;
        case O_DIGEST: digest_only = true; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (rc == 0 && optind != argc) {
        fprintf(stderr, "bench_core: unexpected argument '%s'\n", argv[optind]);
        rc = -1;
    }
    return rc;
}

/* Generates the variant's entries and encodes them into `enc`. */
static int generate(enum variant v, const struct options *o, struct workload_encoded *enc)
{
    static struct proto_entry e; /* 6 KiB: not on the stack */
    struct workload w;
    workload_init(&w, o->members, o->seed + 1, "b");
    /* In event time the timed entries follow the set-up's history (two
     * entries per member from serial 0, prepare), as a daemon's entries
     * follow what it applied before: else each purchase would be late
     * against the engine clock, a path of its own. */
    w.serial = 2 * (uint64_t)o->members;
    workload_encoded_clear(enc);
    for (uint32_t i = 0; i < o->entries; i++) {
        if (v == V_PURCHASE)
            workload_purchase(&w, &e);
        else
            workload_mixed(&w, &e);
        if (workload_encoded_add(enc, &e) != 0)
            return fail("out of memory encoding the workload");
    }
    return 0;
}

/* Decodes every entry into `out` (or all into out[0] when `reuse`) and
 * sets `*ns` to the time it took. Returns 0, or -1 when the decoder
 * rejected a generated entry (a bug in the workload or the decoder). */
static int decode_all(const struct workload_encoded *enc, uint32_t n, struct proto_entry *out,
                      int reuse, uint64_t *ns)
{
    struct proto_reject rej;
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        if (proto_decode(enc->buf.data + enc->off[i], enc->len[i], &out[reuse ? 0 : i],
                         &rej) != 0) {
            fprintf(stderr, "bench_core: entry %u rejected by the decoder: %s: %s\n", i,
                    rej.code, rej.detail);
            return -1;
        }
    }
    *ns = bench_now_ns() - t0;
    return 0;
}

/* What every pass shares: the rulebook and the result rules_apply fills. */
struct engine {
    const struct config *cfg;
    struct outbox res;
};

/* Applies `e` at the next id; -1 when the engine did not apply it. */
static int apply_setup(struct state *st, struct engine *en, struct proto_id *id,
                       const struct proto_entry *e)
{
    rules_apply(st, *id, e, NULL, &en->res);
    id->ms++;
    if (en->res.verdict == OUTBOX_APPLIED)
        return 0;
    fprintf(stderr, "bench_core: the engine refused %s of member %s: %s %s\n",
            proto_kind_name(e->kind), e->member,
            en->res.reject.code ? en->res.reject.code : "", en->res.reject.detail);
    return -1;
}

/* A fresh state: M members enrolled, each with one purchase of history.
 * Returns 0, or -1 (state freed) when the engine refused the set-up. */
static int prepare(struct state *st, struct engine *en, const struct options *o,
                   struct proto_id *id)
{
    static struct proto_entry e;
    struct workload w;
    if (state_init(st, &en->cfg->rules, en->cfg->members_max) != 0)
        return fail("out of memory for the state");
    workload_init(&w, o->members, o->seed, "h");
    *id = (struct proto_id){1, 0};
    for (uint32_t i = 0; i < o->members; i++) {
        workload_enroll(&w, i, &e);
        int rc = apply_setup(st, en, id, &e);
        workload_history(&w, i, &e);
        if (rc != 0 || apply_setup(st, en, id, &e) != 0) {
            state_free(st);
            return -1;
        }
    }
    return 0;
}

/* What one timed pass of rules_apply did. */
struct pass {
    double ns; /* per entry */
    uint64_t faults, applied, duplicate, rejected, outputs;
};

/* Nanoseconds per entry of each round, and the passes of the last round. */
struct figures {
    double apply_ns[CORE_ROUNDS_MAX]; /* txn ring resident */
    double cold_ns[CORE_ROUNDS_MAX];  /* state just built */
    double lookup_ns[CORE_ROUNDS_MAX];
    double decode_ns[CORE_ROUNDS_MAX];
    struct pass warm, cold;
};

static uint64_t minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_minflt;
}

/* The daemon decodes each entry into one struct that stays hot in L1;
 * here entries lie 6 KiB apart in a large array, so reading one costs a TLB
 * and a DRAM miss the daemon never pays. Both timed loops prefetch what the
 * rules may read of an entry (its fields and the line items a workload
 * purchase can have) this many entries ahead, to take that artifact out of
 * both figures alike. */
#define CORE_PREFETCH_AHEAD 4u
#define CORE_PREFETCH_BYTES \
    (offsetof(struct proto_entry, lines) + WORKLOAD_LINES_MAX * sizeof(struct proto_line))
#define CACHE_LINE_BYTES 64u

static inline void prefetch_entry(const struct proto_entry *entries, uint32_t i, uint32_t n)
{
    if (i + CORE_PREFETCH_AHEAD >= n)
        return;
    const char *p = (const char *)&entries[i + CORE_PREFETCH_AHEAD];
    for (size_t off = 0; off < CORE_PREFETCH_BYTES; off += CACHE_LINE_BYTES)
        __builtin_prefetch(p + off);
}

/* Makes the pages of the next `n` txn records resident, as they are in a
 * daemon that has run past its first window: the ring (grown to the
 * window, txns.h) is reserved up front and the OS backs it page by page
 * on first touch. The records are free, and txns_add clears a record
 * before use anyway. */
static void warm_txn_ring(struct txns *t, uint32_t n)
{
    uint32_t start = (uint32_t)(((uint64_t)t->head + t->count) % t->cap);
    uint32_t free_records = t->cap - t->count;
    uint32_t len = n < free_records ? n : free_records;
    uint32_t first = len < t->cap - start ? len : t->cap - start;
    memset(&t->ring[start], 0, (size_t)first * sizeof(t->ring[0]));
    memset(&t->ring[0], 0, (size_t)(len - first) * sizeof(t->ring[0]));
}

/* Times rules_apply over entries[0..n). Never inlined, so that a profiler
 * (perf, callgrind --toggle-collect=time_apply) can single out the timed
 * loop from the set-up around it. */
__attribute__((noinline)) static struct pass time_apply(struct state *st, struct engine *en,
                                                        struct proto_id id,
                                                        const struct proto_entry *entries,
                                                        uint32_t n)
{
    struct pass p = {0};
    uint64_t before[3] = {st->entries_applied, st->entries_duplicate, st->entries_rejected};
    uint64_t faults = minor_faults();
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        prefetch_entry(entries, i, n);
        if (member_prefetch && i + 2 < n)
            prefetch_slot(st, &entries[i + 2]);
        if (member_prefetch && i + 1 < n)
            prefetch_member(st, &entries[i + 1]);
        rules_apply(st, id, &entries[i], NULL, &en->res);
        id.ms++;
        p.outputs += en->res.count;
    }
    p.ns = (double)(bench_now_ns() - t0) / n;
    p.faults = minor_faults() - faults;
    p.applied = st->entries_applied - before[0];
    p.duplicate = st->entries_duplicate - before[1];
    p.rejected = st->entries_rejected - before[2];
    return p;
}

/* One round, each pass on a fresh state: the lookup baseline and
 * rules_apply with the txn ring resident (steady state), then rules_apply
 * on a state just built (the first max_txns txns after a start). */
static int round_once(struct engine *en, const struct options *o,
                      const struct proto_entry *entries, struct figures *f, uint32_t r)
{
    static struct state st;
    struct proto_id id;
    if (prepare(&st, en, o, &id) != 0)
        return -1;
    volatile uint64_t sink = 0; /* keeps the baseline's lookups from being elided */
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < o->entries; i++) {
        prefetch_entry(entries, i, o->entries);
        sink += members_find(&st.members, entries[i].member);
    }
    f->lookup_ns[r] = (double)(bench_now_ns() - t0) / o->entries;
    (void)sink;
    warm_txn_ring(&st.txns, o->entries);
    f->warm = time_apply(&st, en, id, entries, o->entries);
    f->apply_ns[r] = f->warm.ns;
    state_free(&st);
    if (prepare(&st, en, o, &id) != 0)
        return -1;
    f->cold = time_apply(&st, en, id, entries, o->entries);
    f->cold_ns[r] = f->cold.ns;
    state_free(&st);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, uint32_t n)
{
    double s[CORE_ROUNDS_MAX];
    memcpy(s, v, n * sizeof(*v));
    qsort(s, n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double best(const double *v, uint32_t n)
{
    double b = v[0];
    for (uint32_t i = 1; i < n; i++)
        b = v[i] < b ? v[i] : b;
    return b;
}

static void report_pass(const char *what, const struct pass *p, uint32_t n)
{
    printf("          %s, last round: %" PRIu64 " applied, %" PRIu64 " duplicate, %" PRIu64
           " rejected, %" PRIu64 " outputs, %.1f page faults per 1000 entries\n",
           what, p->applied, p->duplicate, p->rejected, p->outputs, 1000.0 * p->faults / n);
}

static void report(enum variant v, const struct options *o, const struct figures *f,
                   size_t bytes)
{
    const char *name = VARIANT_NAMES[v];
    uint32_t n = o->rounds;
    double apply = median(f->apply_ns, n), cold = median(f->cold_ns, n);
    double lookup = median(f->lookup_ns, n), decode = median(f->decode_ns, n);
    double mb_per_s = (double)bytes / (decode * o->entries) * 1e3;
    printf("%-9s rules_apply %6.0f ns = %8.0f/s (best %.0f/s) | cold state %6.0f ns = "
           "%8.0f/s | lookup baseline %5.0f ns = %8.0f/s | apply/lookup %.1fx\n",
           name, apply, 1e9 / apply, 1e9 / best(f->apply_ns, n), cold, 1e9 / cold, lookup,
           1e9 / lookup, apply / lookup);
    printf("          proto_decode %.0f ns = %.0f/s, %.1f MB/s (%.0f bytes per entry)\n",
           decode, 1e9 / decode, mb_per_s, (double)bytes / o->entries);
    report_pass("resident", &f->warm, o->entries);
    report_pass("cold", &f->cold, o->entries);
    printf("result core.%s.apply_per_s %.0f\n", name, 1e9 / apply);
    printf("result core.%s.apply_best_per_s %.0f\n", name, 1e9 / best(f->apply_ns, n));
    printf("result core.%s.apply_cold_per_s %.0f\n", name, 1e9 / cold);
    printf("result core.%s.lookup_per_s %.0f\n", name, 1e9 / lookup);
    printf("result core.%s.apply_over_lookup %.2f\n", name, apply / lookup);
    printf("result core.%s.decode_per_s %.0f\n", name, 1e9 / decode);
    printf("result core.%s.decode_mb_per_s %.1f\n", name, mb_per_s);
}

/* Adds entry `id`'s verdict, reject code and outputs, encoded as the
 * daemon publishes them, to `h`. Returns 0, or -1 when out of memory. */
static int digest_entry(XXH3_state_t *h, const struct outbox *ob, struct proto_id id,
                        msgpack_sbuffer *buf)
{
    uint32_t verdict = (uint32_t)ob->verdict;
    XXH3_64bits_update(h, &verdict, sizeof(verdict));
    if (ob->verdict == OUTBOX_REJECTED && ob->reject.code != NULL)
        XXH3_64bits_update(h, ob->reject.code, strlen(ob->reject.code));
    buf->size = 0;
    for (uint32_t i = 0; i < ob->count; i++)
        if (proto_encode_output(buf, &ob->out[i], id, i) != 0)
            return -1;
    XXH3_64bits_update(h, buf->data, buf->size);
    return 0;
}

/* --digest spreads the entries over event time so that months pass
 * (expiry, reviews, notices, segments' windows): 50,000 entries span a
 * year. A tick every so many entries runs what the schedule has due. */
#define DIGEST_STEP_MS (11LL * 60 * 1000)
#define DIGEST_TICK_EVERY 256u

/* --digest: applies the variant's entries once on a fresh state, their
 * event times DIGEST_STEP_MS apart and a tick every DIGEST_TICK_EVERY, and
 * prints the hash of the results and the hash of the final snapshot. */
static int digest_variant(enum variant v, struct engine *en, const struct options *o,
                          const struct proto_entry *entries)
{
    static struct state st;
    struct proto_id id;
    msgpack_sbuffer buf;
    char *snap = NULL;
    size_t snap_len = 0;
    int rc = 0;
    if (prepare(&st, en, o, &id) != 0)
        return -1;
    XXH3_state_t *h = XXH3_createState();
    msgpack_sbuffer_init(&buf);
    XXH3_64bits_reset(h);
    static struct proto_entry e, tick; /* 6 KiB each: not on the stack */
    tick.kind = PROTO_TICK;
    for (uint32_t i = 0; i < o->entries && rc == 0; i++) {
        e = entries[i];
        e.ts = entries[0].ts + (int64_t)i * DIGEST_STEP_MS;
        if (i % DIGEST_TICK_EVERY == 0) {
            tick.ts = e.ts;
            rules_apply(&st, id, &tick, NULL, &en->res);
            rc = digest_entry(h, &en->res, id, &buf);
            id.ms++;
        }
        rules_apply(&st, id, &e, NULL, &en->res);
        rc = rc != 0 ? rc : digest_entry(h, &en->res, id, &buf);
        id.ms++;
    }
    if (rc == 0)
        rc = snapshot_encode(&st, rulecanon_codec(), &snap, &snap_len);
    if (rc == 0) {
        printf("result core.%s.digest_outputs %016llx\n", VARIANT_NAMES[v],
               (unsigned long long)XXH3_64bits_digest(h));
        printf("result core.%s.digest_state %016llx\n", VARIANT_NAMES[v],
               (unsigned long long)XXH3_64bits(snap, snap_len));
    }
    free(snap);
    msgpack_sbuffer_destroy(&buf);
    XXH3_freeState(h);
    state_free(&st);
    return rc == 0 ? 0 : fail("out of memory digesting the results");
}

static int run_variant(enum variant v, struct engine *en, const struct options *o,
                       struct workload_encoded *enc, struct proto_entry *entries)
{
    static struct proto_entry scratch;
    static struct figures f;
    uint64_t ns;
    if (generate(v, o, enc) != 0 || decode_all(enc, o->entries, entries, 0, &ns) != 0)
        return -1;
    if (digest_only)
        return digest_variant(v, en, o, entries);
    for (uint32_t r = 0; r < o->rounds; r++) {
        if (decode_all(enc, o->entries, &scratch, 1, &ns) != 0 ||
            round_once(en, o, entries, &f, r) != 0)
            return -1;
        f.decode_ns[r] = (double)ns / o->entries;
        fprintf(stderr, "bench_core: %s round %u/%u: apply %.0f ns, cold %.0f ns, lookup "
                "%.0f ns, decode %.0f ns\n", VARIANT_NAMES[v], r + 1, o->rounds,
                f.apply_ns[r], f.cold_ns[r], f.lookup_ns[r], f.decode_ns[r]);
    }
    report(v, o, &f, enc->buf.size);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr's progress */
    static struct config cfg; /* large: the rulebook's tiers and perks */
    struct config_error err;
    config_defaults(&cfg);
    if (o.conf != NULL && config_load(&cfg, o.conf, &err) != 0) {
        fprintf(stderr, "bench_core: bad configuration: %s\n", err.text);
        return 2;
    }
    struct engine en = {.cfg = &cfg};
    struct workload_encoded enc;
    rules_outbox_init(&en.res);
    struct proto_entry *entries = calloc(o.entries, sizeof(*entries));
    rc = workload_encoded_init(&enc, o.entries) != 0 || entries == NULL
             ? fail("out of memory for the entries") : 0;
    if (rc == 0)
        printf("bench_core: %u members, %u entries per variant, median of %u rounds, "
               "rulebook %s\n", o.members, o.entries, o.rounds,
               o.conf ? o.conf : "(defaults)");
    for (int v = 0; v < o.variants && rc == 0; v++)
        rc = run_variant((enum variant)v, &en, &o, &enc, entries);
    free(entries);
    workload_encoded_free(&enc);
    outbox_free(&en.res);
    return rc == 0 ? 0 : 1;
}
