/* bench_ledger.c - loyalty-ledger's write throughput into SQLite and
 * PostgreSQL, against a bare INSERT loop of the same rows in the same run.
 *
 * The events: N output events as the daemon encodes them (proto_encode_
 * output) for M members, in stream order, event time advancing so that
 * they span about two years: 70% points.changed (credits of 1..500 points
 * from purchases and bonuses; debits by redemptions, refunds and expiry of
 * up to what the member holds, so the FIFO lots are exercised), the rest
 * perk.triggered, tier.changed, redeem.result, reward.issued and
 * segment.changed.
 *
 * (a) store (default): in process, no Redis. The ledger's path, batch by
 *     batch: lbatch_build (decode, JSON body, stamps) and lbatch_write (one
 *     transaction: insert, wallets, flows, progress), into --database.
 *     Baseline, the same run: the very rows lbatch built (built outside the
 *     timing), inserted by the same INSERT in transactions of the same
 *     size and nothing else, into --bare-database (a fresh database of the
 *     same backend).
 * (b) --e2e: the loyalty-ledger binary (--ledger) on a Redis (--redis):
 *     the N events are XADDed to bench:out first, then the ledger is
 *     started and timed until its consumer group has every entry delivered
 *     and acknowledged (acknowledged = committed). events/s = N / that.
 *
 * Prints "result KEY VALUE" lines (bench/ledger/run.sh records them); it
 * asserts no figure. The databases must be fresh: the rows' keys are the
 * same every run.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "../benchargs.h"
#include "../benchclock.h"
#include "db.h"
#include "lyassert.h"
#include "lbatch.h"

#define PROG "bench_ledger"
#define EVENTS_MAX 20000000u  /* ~2 GB of events in memory */
#define MEMBERS_MAX 10000000u
#define BATCH_MAX 10000u      /* lconf.h's bound on batch_entries_max */
#define PIPELINE 1000u        /* XADDs written before their replies are read */
#define E2E_WAIT_S 3600u      /* how long the ledger may take */
#define SPAN_MS (730LL * 86400000LL) /* the events' time span: two years */
#define START_TS 1780000000000LL     /* 2026-05-28 */
#define E2E_PREFIX "bench:"

struct opts {
    const char *database, *bare, *redis, *ledger;
    uint32_t events, batch, members;
    int http_port;
    bool e2e;
};

struct event {
    char *m;
    size_t len;
};

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fills *o with the next event of member `m`; balances[] follow it. */
static void next_output(struct proto_output *o, uint64_t *seed, int64_t *balances, uint32_t m)
{
    uint64_t roll = rng(seed) % 100;
    snprintf(o->member, sizeof o->member, "M%07u", m + 1);
    if (roll < 70) {
        int64_t *b = &balances[m];
        o->kind = PROTO_OUT_POINTS_CHANGED;
        if (*b > 0 && roll < 25) {
            o->delta = -(int64_t)(rng(seed) % (uint64_t)*b) - 1;
            o->cause = roll < 15 ? PROTO_CAUSE_REDEEM : roll < 22 ? PROTO_CAUSE_REFUND
                                                                   : PROTO_CAUSE_EXPIRY;
        } else {
            o->delta = (int64_t)(rng(seed) % 500) + 1;
            o->cause = roll % 4 == 3 ? PROTO_CAUSE_BONUS : PROTO_CAUSE_PURCHASE;
        }
        *b += o->delta;
        o->balance = *b;
    } else if (roll < 80) {
        o->kind = PROTO_OUT_PERK_TRIGGERED;
        o->perk = "free_delivery";
        o->tier = "gold";
        snprintf(o->store, sizeof o->store, "S%03u", (unsigned)(roll % 50));
    } else if (roll < 85) {
        o->kind = PROTO_OUT_TIER_CHANGED;
        o->from = "silver";
        o->to = "gold";
        o->reason = "upgrade";
    } else if (roll < 90) {
        o->kind = PROTO_OUT_REDEEM_RESULT;
        snprintf(o->txn, sizeof o->txn, "T%llu", (unsigned long long)rng(seed));
        o->ok = true;
        o->balance = balances[m];
    } else if (roll < 95) {
        o->kind = PROTO_OUT_REWARD_ISSUED;
        o->reward = "voucher_5";
        o->cost = 500;
    } else {
        o->kind = PROTO_OUT_SEGMENT_CHANGED;
        o->dimension = "segment";
        o->from = "loyal";
        o->to = "champions";
        o->rfm[0] = o->rfm[1] = o->rfm[2] = 5;
    }
}

static struct event *make_events(uint32_t n, uint32_t members)
{
    struct event *ev = calloc(n, sizeof *ev);
    int64_t *balances = calloc(members, sizeof *balances);
    LY_ALLOC_CHECK(ev != NULL && balances != NULL);
    uint64_t seed = 2026;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (uint32_t i = 0; i < n; i++) {
        struct proto_output o = {.ts = START_TS + (int64_t)((__int128)SPAN_MS * i / n)};
        next_output(&o, &seed, balances, (uint32_t)(rng(&seed) % members));
        msgpack_sbuffer_clear(&buf);
        int rc = proto_encode_output(&buf, &o, (struct proto_id){(uint64_t)o.ts, i}, 0);
        ev[i].m = malloc(buf.size);
        LY_ALLOC_CHECK(rc == 0 && ev[i].m != NULL);
        memcpy(ev[i].m, buf.data, buf.size);
        ev[i].len = buf.size;
    }
    msgpack_sbuffer_destroy(&buf);
    free(balances);
    return ev;
}

/* The stream entry id of event i: one id per event, increasing. */
static struct proto_id entry_id(uint32_t i)
{
    return (struct proto_id){1000000000000ULL + i / 16, i % 16};
}

static struct db *open_fresh(const char *url, struct db_stream *stream)
{
    struct db_error err = {0};
    const char *keys[1] = {E2E_PREFIX "out"};
    struct db *db = db_open(url, DB_WRITER, 10000, &err);
    if (db == NULL || db_prepare_schema(db, DB_WRITER, &err) != 0 ||
        db_load_streams(db, keys, 1, stream, &err) != 0 || stream->last.ms != 0) {
        fprintf(stderr, PROG ": %s: %s\n", url, err.text[0] ? err.text : "not a fresh database");
        exit(1);
    }
    return db;
}

static void die_db(const struct db_error *err)
{
    fprintf(stderr, PROG ": %s\n", err->text);
    exit(1);
}

/* The ledger's path and the bare INSERT loop, each into its own database. */
static void run_store(const struct opts *o, const struct event *ev)
{
    struct db_stream stream, bare_stream;
    struct db *db = open_fresh(o->database, &stream);
    struct db *bare = open_fresh(o->bare, &bare_stream);
    struct lbatch *b = lbatch_new(o->batch);
    struct wcache *cache = wcache_new(o->members); /* as the writer's, big enough for all */
    struct lb_entry *entries = calloc(o->batch, sizeof *entries);
    bool *inserted = calloc(o->batch, sizeof *inserted);
    LY_ALLOC_CHECK(entries != NULL && inserted != NULL);
    struct lbatch_counts counts = {0};
    struct db_error err = {0};
    uint64_t bare_ns = 0, store_ns = 0, build_ns = 0;
    for (uint32_t at = 0; at < o->events; at += o->batch) {
        uint32_t n = o->events - at < o->batch ? o->events - at : o->batch;
        for (uint32_t i = 0; i < n; i++)
            entries[i] = (struct lb_entry){0, entry_id(at + i), ev[at + i].m, ev[at + i].len};
        lbatch_build(b, entries, n, &bare_stream, 1);
        uint64_t t0 = bench_now_ns();
        if (db_begin(bare, &err) != 0 ||
            db_insert_events(bare, lbatch_events(b), lbatch_rows(b), inserted, &err) != 0 ||
            db_commit(bare, &err) != 0)
            die_db(&err);
        uint64_t t1 = bench_now_ns();
        lbatch_build(b, entries, n, &stream, 1);
        build_ns += bench_now_ns() - t1;
        if (lbatch_write(b, db, cache, &counts, &err) != 0)
            die_db(&err);
        stream = lbatch_streams(b)[0];
        bare_ns += t1 - t0;
        store_ns += bench_now_ns() - t1;
    }
    const char *be = db_backend(db);
    printf("result %s.events %u\n", be, o->events);
    printf("result %s.written %llu\n", be, (unsigned long long)counts.written);
    printf("result %s.store_per_s %.0f\n", be, o->events / (store_ns / 1e9));
    printf("result %s.bare_per_s %.0f\n", be, o->events / (bare_ns / 1e9));
    printf("result %s.store_over_bare %.2f\n", be, (double)bare_ns / (double)store_ns);
    printf("result %s.build_share %.2f\n", be, (double)build_ns / (double)store_ns);
    free(inserted);
    free(entries);
    lbatch_free(b);
    wcache_free(cache);
    db_close(bare);
    db_close(db);
}

/* ---- (b) end to end -------------------------------------------------------- */

static redisContext *connect_redis(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || (size_t)(colon - hostport) >= sizeof host) {
        fprintf(stderr, PROG ": --redis wants HOST:PORT\n");
        exit(2);
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    redisContext *c = redisConnect(host, atoi(colon + 1));
    if (c == NULL || c->err) {
        fprintf(stderr, PROG ": redis %s: %s\n", hostport, c ? c->errstr : "out of memory");
        exit(1);
    }
    return c;
}

static void preload(redisContext *c, const struct event *ev, uint32_t n, char *last_id)
{
    for (uint32_t at = 0; at < n; at += PIPELINE) {
        uint32_t k = n - at < PIPELINE ? n - at : PIPELINE;
        for (uint32_t i = 0; i < k; i++)
            redisAppendCommand(c, "XADD " E2E_PREFIX "out * m %b", ev[at + i].m, ev[at + i].len);
        for (uint32_t i = 0; i < k; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_STRING) {
                fprintf(stderr, PROG ": XADD failed\n");
                exit(1);
            }
            snprintf(last_id, PROTO_ID_STR_MAX, "%s", r->str);
            freeReplyObject(r);
        }
    }
}

/* Whether the group "ledger" has delivered `last` and nothing is pending. */
static bool caught_up(redisContext *c, const char *last)
{
    redisReply *r = redisCommand(c, "XINFO GROUPS " E2E_PREFIX "out");
    bool done = false;
    for (size_t g = 0; r && r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
        const redisReply *grp = r->element[g];
        bool ours = false, delivered = false;
        long long pending = -1;
        for (size_t k = 0; grp->type == REDIS_REPLY_ARRAY && k + 1 < grp->elements; k += 2) {
            const char *name = grp->element[k]->str;
            const redisReply *v = grp->element[k + 1];
            if (strcmp(name, "name") == 0)
                ours = v->type == REDIS_REPLY_STRING && strcmp(v->str, "ledger") == 0;
            else if (strcmp(name, "pending") == 0)
                pending = v->integer;
            else if (strcmp(name, "last-delivered-id") == 0)
                delivered = v->type == REDIS_REPLY_STRING && strcmp(v->str, last) == 0;
        }
        done |= ours && delivered && pending == 0;
    }
    freeReplyObject(r);
    return done;
}

static pid_t start_ledger(const struct opts *o, const char *conf)
{
    char http[32];
    snprintf(http, sizeof http, "127.0.0.1:%d", o->http_port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(o->ledger, o->ledger, "-c", conf, "--redis", o->redis, "--http", http, "--database",
              o->database, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void run_e2e(const struct opts *o, const struct event *ev)
{
    char last[PROTO_ID_STR_MAX] = "";
    char conf[] = "/tmp/bench_ledger.XXXXXX";
    redisContext *c = connect_redis(o->redis);
    uint64_t t0 = bench_now_ns();
    preload(c, ev, o->events, last);
    double preload_s = (bench_now_ns() - t0) / 1e9;
    int fd = mkstemp(conf);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    LY_ALLOC_CHECK(f != NULL);
    fprintf(f, "ledger = { prefixes = [ \"%s\" ]; batch_entries_max = %u; block_ms = 100; };\n",
            E2E_PREFIX, o->batch);
    fclose(f);
    uint64_t start = bench_now_ns();
    pid_t pid = start_ledger(o, conf);
    while (!caught_up(c, last)) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid || bench_now_ns() - start > E2E_WAIT_S * 1e9) {
            fprintf(stderr, PROG ": the ledger %s\n", bench_now_ns() - start > E2E_WAIT_S * 1e9
                                                           ? "took too long" : "exited");
            kill(pid, SIGKILL);
            exit(1);
        }
        usleep(2000);
    }
    double secs = (bench_now_ns() - start) / 1e9;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(conf);
    const char *be = strncmp(o->database, "sqlite:", 7) == 0 ? "sqlite" : "postgresql";
    printf("result %s.e2e_events %u\n", be, o->events);
    printf("result %s.e2e_preload_s %.2f\n", be, preload_s);
    printf("result %s.e2e_per_s %.0f\n", be, o->events / secs);
    redisFree(c);
}

static const char USAGE[] =
    "Usage: " PROG " --database URL --bare-database URL [--events N] [--batch B] [--members M]\n"
    "       " PROG " --e2e --database URL --redis HOST:PORT --ledger BIN --http-port P [...]\n"
    "Times loyalty-ledger's writes (see the comment at the top of bench_ledger.c).\n"
    "  --events N (200000)  --batch B (1000)  --members M (100000)\n"
    "Both databases must be fresh. Prints `result KEY VALUE` lines.\n";

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option LONG[] = {
        {"database", required_argument, NULL, 'd'}, {"bare-database", required_argument, NULL, 'b'},
        {"events", required_argument, NULL, 'n'},   {"batch", required_argument, NULL, 'B'},
        {"members", required_argument, NULL, 'm'},  {"e2e", no_argument, NULL, 'e'},
        {"redis", required_argument, NULL, 'r'},    {"ledger", required_argument, NULL, 'l'},
        {"http-port", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    uint32_t port = 0;
    while ((c = getopt_long(argc, argv, "h", LONG, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'd': o->database = optarg; break;
        case 'b': o->bare = optarg; break;
        case 'n': rc = bench_option_u32(PROG, "--events", optarg, 1, EVENTS_MAX, &o->events); break;
        case 'B': rc = bench_option_u32(PROG, "--batch", optarg, 1, BATCH_MAX, &o->batch); break;
        case 'm': rc = bench_option_u32(PROG, "--members", optarg, 1, MEMBERS_MAX, &o->members); break;
        case 'e': o->e2e = true; break;
        case 'r': o->redis = optarg; break;
        case 'l': o->ledger = optarg; break;
        case 'p': rc = bench_option_u32(PROG, "--http-port", optarg, 1, 65535, &port); break;
        case 'h': fputs(USAGE, stdout); exit(0);
        default: rc = -1;
        }
        if (rc != 0)
            return -1;
    }
    o->http_port = (int)port;
    if (o->database == NULL || (!o->e2e && o->bare == NULL) ||
        (o->e2e && (o->redis == NULL || o->ledger == NULL || port == 0))) {
        fputs(USAGE, stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.events = 200000, .batch = 1000, .members = 100000};
    if (parse(argc, argv, &o) != 0)
        return 2;
    struct event *ev = make_events(o.events, o.members);
    if (o.e2e)
        run_e2e(&o, ev);
    else
        run_store(&o, ev);
    for (uint32_t i = 0; i < o.events; i++)
        free(ev[i].m);
    free(ev);
    return 0;
}
