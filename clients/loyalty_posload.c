/* loyalty_posload.c - POS load generator: XADDs the entries of the posgen
 * model to <prefix>in, pipelined, at a given rate.
 *
 * Shell around posgen (which decides what is sent): options, the Redis
 * pipeline (at most POSLOAD_INFLIGHT_MAX commands written before their
 * replies are read), rate pacing, progress and the summary, and a clean
 * stop on SIGINT/SIGTERM (the replies in flight are still read).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "lyassert.h"
#include "client_common.h"
#include "posgen.h"
#include "proto.h"

#define PROG "loyalty-posload"
/* Commands written before their replies are read: enough to hide the round
 * trip, small enough to bound memory (512 entries of < 8 KiB: 4 MiB). */
#define POSLOAD_INFLIGHT_MAX 512
#define POSLOAD_IO_MS 10000
#define POSLOAD_RATE_MAX 10000000ULL    /* entries/s: beyond any Redis */
#define POSLOAD_STEP_MS_MAX 86400000LL  /* one simulated day per entry */
#define POSLOAD_PROGRESS_US 1000000     /* a progress line a second */
#define POSLOAD_SLEEP_MAX_US 100000     /* stay responsive while pacing */
#define POSLOAD_DAY_MS 86400000LL

struct posload_opts {
    struct client_base base;
    struct posgen_config gen;
    uint64_t rate;  /* entries/s; 0: as fast as possible */
    uint64_t count; /* entries; 0: until stopped */
    bool quiet;
    bool tick_given;
};

struct posload {
    struct posload_opts opt;
    redisContext *redis;
    struct posgen *gen;
    char in_key[CLIENT_KEY_MAX + 1];
    msgpack_sbuffer buf;
    struct proto_entry entry;
    uint64_t sent;                        /* entries Redis accepted */
    uint64_t errors;                      /* entries Redis refused */
    uint64_t kinds[POSGEN_KIND_COUNT];    /* entries written, by kind */
    int64_t start_us;
    int64_t progress_us;                  /* time of the last progress line */
    uint64_t progress_sent;               /* sent at the last progress line */
    bool tty;
    bool progress_shown;                  /* a \r line is on the terminal */
};

static const char USAGE[] =
    "Usage: " PROG " [OPTIONS]\n"
    "Simulates STORES x TERMINALS point-of-sale terminals pushing to <prefix>in:\n"
    "enrolments of MEMBERS members first, then purchases, card scans, redemptions,\n"
    "partial refunds and new enrolments; some purchases are retried unchanged.\n"
    "The same --seed gives the same entries (with --start-ts, byte for byte).\n\n"
    CLIENT_BASE_USAGE
    "  --rate N            entries per second, 0 = as fast as possible (1000)\n"
    "  --count N           entries to send, 0 = until Ctrl-C (0)\n"
    "  --members N         members enrolled first (1000)\n"
    "  --stores N          stores (10)\n"
    "  --terminals N       terminals in each store (4)\n"
    "  --seed N            random seed (1)\n"
    "  --retry-pct N       percent of purchases sent twice (2)\n"
    "  --mix LIST          weights (purchase=70,scan=15,redeem=5,refund=5,enroll=5)\n"
    "  --start-ts MS       simulated event time: first ts (ms since the epoch)\n"
    "  --ts-step-ms MS     simulated event time advance per entry (1000)\n"
    "  --tick-every-ms MS  with simulated time, a tick entry this often (1 day)\n"
    "  --quiet             no progress lines (the summary is still printed)\n"
    "Without --start-ts or --ts-step-ms, entries carry the wall-clock time.\n";

enum {
    OPT_RATE = CLIENT_OPT_FIRST_FREE, OPT_COUNT, OPT_MEMBERS, OPT_STORES,
    OPT_TERMINALS, OPT_SEED, OPT_RETRY, OPT_MIX, OPT_START, OPT_STEP, OPT_TICK,
    OPT_QUIET
};

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    {"rate", required_argument, NULL, OPT_RATE},
    {"count", required_argument, NULL, OPT_COUNT},
    {"members", required_argument, NULL, OPT_MEMBERS},
    {"stores", required_argument, NULL, OPT_STORES},
    {"terminals", required_argument, NULL, OPT_TERMINALS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"retry-pct", required_argument, NULL, OPT_RETRY},
    {"mix", required_argument, NULL, OPT_MIX},
    {"start-ts", required_argument, NULL, OPT_START},
    {"ts-step-ms", required_argument, NULL, OPT_STEP},
    {"tick-every-ms", required_argument, NULL, OPT_TICK},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {NULL, 0, NULL, 0},
};

static void opts_defaults(struct posload_opts *o)
{
    struct client_error err;
    memset(o, 0, sizeof *o);
    client_base_defaults(&o->base);
    o->gen.seed = 1;
    o->gen.members = 1000;
    o->gen.stores = 10;
    o->gen.terminals = 4;
    o->gen.retry_pct = 2;
    int rc = posgen_parse_mix("purchase=70,scan=15,redeem=5,refund=5,enroll=5",
                              o->gen.mix, &err);
    LY_ASSERT(rc == 0);
    o->gen.ts_step_ms = 1000;
    o->gen.tick_every_ms = POSLOAD_DAY_MS;
    o->rate = 1000;
}

/* Parses a number into a u32 field. */
static int opt_u32(const char *name, const char *arg, uint64_t min, uint64_t max,
                   uint32_t *out, struct client_error *err)
{
    uint64_t v;
    if (client_parse_u64(name, arg, min, max, &v, err) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Parses a number of milliseconds into an i64 field. */
static int opt_ms(const char *name, const char *arg, uint64_t max, int64_t *out,
                  struct client_error *err)
{
    uint64_t v;
    if (client_parse_u64(name, arg, 0, max, &v, err) != 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int apply_option(void *opts, int opt, const char *arg,
                        struct client_error *err)
{
    struct posload_opts *o = opts;
    struct posgen_config *g = &o->gen;
    switch (opt) {
    case OPT_RATE: return client_parse_u64("--rate", arg, 0, POSLOAD_RATE_MAX, &o->rate, err);
    case OPT_COUNT: return client_parse_u64("--count", arg, 0, UINT64_MAX, &o->count, err);
    case OPT_MEMBERS:
        return opt_u32("--members", arg, 1, POSGEN_MEMBERS_MAX, &g->members, err);
    case OPT_STORES: return opt_u32("--stores", arg, 1, POSGEN_STORES_MAX, &g->stores, err);
    case OPT_TERMINALS:
        return opt_u32("--terminals", arg, 1, POSGEN_TERMINALS_MAX, &g->terminals, err);
    case OPT_SEED: return client_parse_u64("--seed", arg, 0, UINT64_MAX, &g->seed, err);
    case OPT_RETRY: return opt_u32("--retry-pct", arg, 0, 100, &g->retry_pct, err);
    case OPT_MIX: return posgen_parse_mix(arg, g->mix, err);
    case OPT_START:
        g->sim_time = true;
        return opt_ms("--start-ts", arg, PROTO_TS_MAX, &g->start_ts_ms, err);
    case OPT_STEP:
        g->sim_time = true;
        return opt_ms("--ts-step-ms", arg, POSLOAD_STEP_MS_MAX, &g->ts_step_ms, err);
    case OPT_TICK:
        o->tick_given = true;
        return opt_ms("--tick-every-ms", arg, PROTO_TS_MAX, &g->tick_every_ms, err);
    case OPT_QUIET: o->quiet = true; return 0;
    default: LY_ASSERT(!"unhandled option"); return -1;
    }
}

/* Parses argv into *o. Returns -1 to go on, or an exit code for main. */
static int parse_args(int argc, char **argv, struct posload_opts *o)
{
    opts_defaults(o);
    int rc = client_parse_args(argc, argv, PROG, USAGE, LONGOPTS, &o->base,
                               apply_option, o);
    if (rc >= 0)
        return rc;
    if (o->gen.sim_time && o->gen.start_ts_ms == 0)
        o->gen.start_ts_ms = client_wall_ms();
    if (o->tick_given && !o->gen.sim_time)
        return client_usage_error(PROG, "--tick-every-ms needs simulated time "
                                        "(--start-ts or --ts-step-ms)");
    return -1;
}

static void print_counts(const struct posload *p)
{
    for (int k = 0; k < POSGEN_KIND_COUNT; k++)
        if (p->kinds[k] > 0)
            fprintf(stderr, " %s %llu", posgen_kind_name((enum posgen_kind)k),
                    (unsigned long long)p->kinds[k]);
    if (p->errors > 0)
        fprintf(stderr, " errors %llu", (unsigned long long)p->errors);
}

/* Once a second: entries sent, the rate over that second, counts by kind.
 * On a terminal the line is rewritten in place. */
static void progress(struct posload *p, int64_t now_us)
{
    if (p->opt.quiet || now_us - p->progress_us < POSLOAD_PROGRESS_US)
        return;
    uint64_t rate = (p->sent - p->progress_sent) * 1000000 /
                    (uint64_t)(now_us - p->progress_us);
    fprintf(stderr, "%s%s: %llu sent, %llu/s |", p->tty ? "\r" : "", PROG,
            (unsigned long long)p->sent, (unsigned long long)rate);
    print_counts(p);
    fputs(p->tty ? "\033[K" : "\n", stderr);
    p->progress_shown = p->tty;
    p->progress_us = now_us;
    p->progress_sent = p->sent;
}

static void summary(const struct posload *p)
{
    int64_t us = client_mono_us() - p->start_us;
    if (p->progress_shown)
        fputc('\n', stderr);
    fprintf(stderr, "%s: done: %llu entries in %.1f s (%.0f/s) to %s |", PROG,
            (unsigned long long)p->sent, (double)us / 1e6,
            us > 0 ? (double)p->sent * 1e6 / (double)us : 0.0, p->in_key);
    print_counts(p);
    fputc('\n', stderr);
}

/* Generates the next entry and writes its XADD into the pipeline. Returns 0,
 * or 1 when simulated time ran past what the contract allows. */
static int append_entry(struct posload *p)
{
    enum posgen_kind k = posgen_next(p->gen, client_wall_ms(), &p->entry);
    if (p->entry.ts > PROTO_TS_MAX)
        return 1;
    msgpack_sbuffer_clear(&p->buf);
    int rc = proto_encode_entry(&p->buf, &p->entry);
    LY_ASSERT(rc == 0 && p->buf.size <= PROTO_ENTRY_BYTES_MAX);
    const char *argv[] = {"XADD", p->in_key, "*", "m", p->buf.data};
    size_t lens[] = {4, strlen(p->in_key), 1, 1, p->buf.size};
    /* hiredis copies the command into its output buffer: buf is free again. */
    rc = redisAppendCommandArgv(p->redis, 5, argv, lens);
    LY_ASSERT(rc == REDIS_OK); /* only fails when out of memory */
    p->kinds[k]++;
    return 0;
}

/* Reads the replies of `n` commands in flight. Returns 0, or -1 when the
 * connection failed (message printed). */
static int read_replies(struct posload *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(p->redis, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "%s%s: Redis: %s\n", p->progress_shown ? "\n" : "", PROG,
                    p->redis->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_STRING) {
            p->sent++;
        } else {
            if (p->errors++ == 0)
                fprintf(stderr, "%s: XADD refused: %s\n", PROG,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Entries that may be written now: the rate's allowance so far, at most a
 * pipeline's worth, at most what --count leaves. */
static uint32_t budget(const struct posload *p, int64_t now_us, uint64_t written)
{
    uint64_t n = POSLOAD_INFLIGHT_MAX;
    if (p->opt.rate > 0) {
        uint64_t us = (uint64_t)(now_us - p->start_us);
        /* split so that us * rate cannot overflow */
        uint64_t due = us / 1000000 * p->opt.rate + us % 1000000 * p->opt.rate / 1000000 + 1;
        n = due > written ? due - written : 0;
    }
    if (p->opt.count > 0 && p->opt.count - written < n)
        n = p->opt.count - written;
    return n < POSLOAD_INFLIGHT_MAX ? (uint32_t)n : POSLOAD_INFLIGHT_MAX;
}

/* Sleeps until the rate allows the next entry (at most POSLOAD_SLEEP_MAX_US,
 * cut short by a stop signal). */
static void pace(const struct posload *p, int64_t now_us, uint64_t written)
{
    uint64_t r = p->opt.rate;
    int64_t next_us = p->start_us + (int64_t)(written / r * 1000000 + written % r * 1000000 / r);
    int64_t wait_us = next_us - now_us;
    if (wait_us <= 0)
        wait_us = 1;
    if (wait_us > POSLOAD_SLEEP_MAX_US)
        wait_us = POSLOAD_SLEEP_MAX_US;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait_us * 1000};
    nanosleep(&ts, NULL);
}

/* The send loop. Returns the exit code. */
static int run(struct posload *p)
{
    uint64_t written = 0;
    bool past_ts_max = false;
    while (!client_stopping() && !past_ts_max &&
           (p->opt.count == 0 || written < p->opt.count)) {
        int64_t now_us = client_mono_us();
        uint32_t n = budget(p, now_us, written);
        if (n == 0) {
            pace(p, now_us, written);
            continue;
        }
        uint32_t appended = 0;
        while (appended < n && !past_ts_max) {
            past_ts_max = append_entry(p) != 0;
            appended += past_ts_max ? 0 : 1;
        }
        written += appended;
        if (read_replies(p, appended) != 0)
            return CLIENT_EXIT_FAIL;
        progress(p, client_mono_us());
    }
    if (past_ts_max)
        fprintf(stderr, "%s: simulated time reached year 9999; stopping\n", PROG);
    summary(p);
    return p->errors > 0 ? CLIENT_EXIT_FAIL : CLIENT_EXIT_OK;
}

int main(int argc, char **argv)
{
    static struct posload p; /* large (an entry of 64 lines): not on the stack */
    int rc = parse_args(argc, argv, &p.opt);
    if (rc >= 0)
        return rc;
    p.gen = posgen_new(&p.opt.gen);
    if (p.gen == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return CLIENT_EXIT_FAIL;
    }
    p.redis = client_start(PROG, &p.opt.base, POSLOAD_IO_MS);
    if (p.redis == NULL) {
        posgen_free(p.gen);
        return CLIENT_EXIT_FAIL;
    }
    client_key(&p.opt.base, "in", p.in_key, sizeof p.in_key);
    msgpack_sbuffer_init(&p.buf);
    p.tty = isatty(STDERR_FILENO) != 0;
    p.start_us = p.progress_us = client_mono_us();
    rc = run(&p);
    msgpack_sbuffer_destroy(&p.buf);
    redisFree(p.redis);
    posgen_free(p.gen);
    return rc;
}
