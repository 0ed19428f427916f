/* bench_scale.c - throughput of daemons serving partitions, standalone or on
 * a Redis Cluster.
 *
 * Enrols M members, each into its partition (crc32 of its id mod P, as
 * producers must), and waits for every partition's progress marker. Then,
 * with the daemons stopped (SIGSTOP to every --daemon-pid), appends N
 * purchases by random members, each to its member's partition, with
 * pipelined XADDs on one connection per Redis node (the slot map read with
 * CLUSTER SLOTS when --cluster), lets the daemons go (SIGCONT) and polls
 * every partition's marker until each reaches the last purchase of its
 * partition. purchases/s = N / (all markers there - SIGCONT). The time
 * each partition finished is reported too, so a script can give the
 * figure of each daemon of several (its partitions' purchases over the
 * time its last partition took).
 *
 * Keys as the daemon names them: <prefix>in with one partition,
 * <prefix>{p}:in otherwise. Connections use hiredis, synchronously, without
 * AUTH (a throwaway Redis). It reports; bench/scale.sh judges.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "benchargs.h"
#include "benchclock.h"
#include "config.h"
#include "partition.h"
#include "slot.h"
#include "workload.h"

#define SCALE_MEMBERS_MAX (WORKLOAD_MEMBERS_MAX - 1)
#define SCALE_PURCHASES_MAX 5000000u /* ~1 GiB of Redis memory for in + out */
#define SCALE_PIDS_MAX 16u           /* daemons stopped during the preload */
#define SCALE_NODES_MAX 64u          /* cluster masters (router.h's bound) */
#define SCALE_PIPELINE 1000u         /* XADDs sent per node before reading replies */
#define SCALE_WAIT_S_MAX 3600u       /* how long the daemons may take */
#define SCALE_POLL_NS 1000000L       /* markers polled about every 1 ms */
#define SCALE_KEY_MAX (CONFIG_KEY_MAX + 24)

struct options {
    struct config_endpoint redis;
    bool cluster;
    char prefix[CONFIG_KEY_MAX + 1];
    uint32_t partitions, members, purchases, wait_s;
    pid_t pids[SCALE_PIDS_MAX];
    uint32_t pid_count;
    uint64_t seed;
};

struct part {
    char in[SCALE_KEY_MAX], progress[SCALE_KEY_MAX];
    uint32_t node;
    struct proto_id last; /* the id its last entry got */
    uint32_t count;       /* purchases appended to it */
    uint64_t done_ns;     /* when its marker reached `last` */
};

struct run {
    const struct options *o;
    redisContext *nodes[SCALE_NODES_MAX];
    uint32_t node_count;
    uint32_t pending[SCALE_NODES_MAX];                 /* XADDs sent, replies not read */
    uint32_t fifo[SCALE_NODES_MAX][SCALE_PIPELINE];    /* their partitions, oldest first */
    uint64_t t0;                                       /* when the timed part began */
    struct part *parts;
    struct workload w;
    struct workload_encoded enc;
    uint32_t *enc_part; /* the partition of each encoded entry */
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bench_scale: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_scale [--redis H:P] [--cluster] [--prefix P] [--partitions N]\n"
            "                   [--members M] [--purchases N] [--daemon-pid PID]...\n"
            "                   [--wait-s S] [--seed S] [--help]\n"
            "\n"
            "Throughput of the daemons serving the partitions of a program: enrols M\n"
            "members (each in its partition), then appends N purchases while every\n"
            "--daemon-pid is stopped (SIGSTOP), lets them go (SIGCONT) and times until\n"
            "every partition's progress marker reached its last purchase.\n"
            "\n"
            "  --redis H:P      Redis, or with --cluster a node of the cluster\n"
            "                   (default 127.0.0.1:6379)\n"
            "  --cluster        Redis Cluster: route by slot (CLUSTER SLOTS)\n"
            "  --prefix P       the daemons' key prefix (default loyalty:)\n"
            "  --partitions N   the program's partitions, 1..%u (default 1)\n"
            "  --members M      1..%u (default 100000)\n"
            "  --purchases N    0..%u (default 500000)\n"
            "  --daemon-pid PID a daemon to stop during the preload (up to %u)\n"
            "  --wait-s S       how long the daemons may take (default 300)\n"
            "\n"
            "Prints `result KEY VALUE` lines. Exit status 0, 1 on a failure or a timeout,\n"
            "2 on bad usage.\n",
            PARTITION_COUNT_MAX, SCALE_MEMBERS_MAX, SCALE_PURCHASES_MAX, SCALE_PIDS_MAX);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { O_REDIS = 256, O_CLUSTER, O_PREFIX, O_PARTS, O_MEMBERS, O_PURCHASES, O_PID,
           O_WAIT, O_SEED };
    static const struct option opts[] = {
        {"redis", required_argument, NULL, O_REDIS}, {"cluster", no_argument, NULL, O_CLUSTER},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"partitions", required_argument, NULL, O_PARTS},
        {"members", required_argument, NULL, O_MEMBERS},
        {"purchases", required_argument, NULL, O_PURCHASES},
        {"daemon-pid", required_argument, NULL, O_PID},
        {"wait-s", required_argument, NULL, O_WAIT}, {"seed", required_argument, NULL, O_SEED},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static const char P[] = "bench_scale";
    struct config_error err;
    *o = (struct options){.partitions = 1, .members = 100000, .purchases = 500000,
                          .wait_s = 300, .seed = 7};
    cfg_parse_endpoint("127.0.0.1:6379", &o->redis, &err);
    snprintf(o->prefix, sizeof(o->prefix), "loyalty:");
    int opt, rc = 0;
    uint32_t v = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case O_REDIS:
            if ((rc = cfg_parse_endpoint(optarg, &o->redis, &err)) != 0)
                fail("--redis: %s", err.text);
            break;
        case O_CLUSTER: o->cluster = true; break;
        case O_PREFIX:
            rc = strlen(optarg) >= 1 && strlen(optarg) <= CONFIG_KEY_MAX
                     ? 0 : fail("--prefix: 1..%d bytes", CONFIG_KEY_MAX);
            snprintf(o->prefix, sizeof(o->prefix), "%s", optarg);
            break;
        case O_PARTS:
            rc = bench_option_u32(P, "--partitions", optarg, 1, PARTITION_COUNT_MAX,
                                  &o->partitions);
            break;
        case O_MEMBERS:
            rc = bench_option_u32(P, "--members", optarg, 1, SCALE_MEMBERS_MAX, &o->members);
            break;
        case O_PURCHASES:
            rc = bench_option_u32(P, "--purchases", optarg, 0, SCALE_PURCHASES_MAX,
                                  &o->purchases);
            break;
        case O_PID:
            rc = o->pid_count < SCALE_PIDS_MAX ? bench_option_u32(P, "--daemon-pid", optarg, 2,
                                                                  INT32_MAX, &v)
                                               : fail("at most %u --daemon-pid", SCALE_PIDS_MAX);
            if (rc == 0)
                o->pids[o->pid_count++] = (pid_t)v;
            break;
        case O_WAIT:
            rc = bench_option_u32(P, "--wait-s", optarg, 1, SCALE_WAIT_S_MAX, &o->wait_s);
            break;
        case O_SEED: rc = bench_option_u64(P, "--seed", optarg, 0, UINT64_MAX, &o->seed); break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (rc == 0 && optind != argc)
        rc = fail("unexpected argument '%s'", argv[optind]);
    return rc;
}

/* ---- nodes and partitions ------------------------------------------------ */

static redisContext *connect_node(const char *host, int port)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        fail("cannot connect to %s:%d: %s", host, port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* The node of `slot` from CLUSTER SLOTS `r`, connecting to it when new.
 * Returns its index, or -1. */
static int node_of_slot(struct run *run, const redisReply *r, uint16_t slot)
{
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->integer > slot ||
            e->element[1]->integer < slot)
            continue;
        const redisReply *m = e->element[2];
        if (m->type != REDIS_REPLY_ARRAY || m->elements < 2)
            return fail("malformed CLUSTER SLOTS");
        const char *host = m->element[0]->len ? m->element[0]->str : run->o->redis.host;
        int port = (int)m->element[1]->integer;
        for (uint32_t n = 0; n < run->node_count; n++) {
            redisContext *c = run->nodes[n];
            if (c->tcp.port == port && strcmp(c->tcp.host, host) == 0)
                return (int)n;
        }
        if (run->node_count == SCALE_NODES_MAX)
            return fail("more than %u nodes", SCALE_NODES_MAX);
        if ((run->nodes[run->node_count] = connect_node(host, port)) == NULL)
            return -1;
        return (int)run->node_count++;
    }
    return fail("slot %u is not served", slot);
}

/* Names every partition's keys and finds its node. */
static int map_partitions(struct run *run)
{
    const struct options *o = run->o;
    redisReply *slots = NULL;
    if ((run->nodes[0] = connect_node(o->redis.host, o->redis.port)) == NULL)
        return -1;
    run->node_count = 1;
    if (o->cluster) {
        slots = redisCommand(run->nodes[0], "CLUSTER SLOTS");
        if (slots == NULL || slots->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(slots);
            return fail("CLUSTER SLOTS failed: is --redis a cluster node?");
        }
    }
    int rc = 0;
    for (uint32_t p = 0; p < o->partitions && rc == 0; p++) {
        struct part *pt = &run->parts[p];
        if (o->partitions == 1)
            snprintf(pt->in, sizeof(pt->in), "%sin", o->prefix);
        else
            snprintf(pt->in, sizeof(pt->in), "%s{%u}:in", o->prefix, p);
        snprintf(pt->progress, sizeof(pt->progress), "%.*sprogress",
                 (int)(strlen(pt->in) - 2), pt->in);
        int n = slots ? node_of_slot(run, slots, slot_of(pt->in, strlen(pt->in))) : 0;
        rc = n < 0 ? -1 : 0;
        pt->node = n < 0 ? 0 : (uint32_t)n;
    }
    freeReplyObject(slots);
    return rc;
}

/* ---- appending ------------------------------------------------------------ */

/* Reads the replies of node `n`'s pending XADDs, oldest first. */
static int drain(struct run *run, uint32_t n)
{
    for (uint32_t k = 0; k < run->pending[n]; k++) {
        redisReply *r = NULL;
        if (redisGetReply(run->nodes[n], (void **)&r) != REDIS_OK || r == NULL ||
            r->type != REDIS_REPLY_STRING) {
            int rc = fail("XADD: %s", r && r->type == REDIS_REPLY_ERROR ? r->str
                                                                         : run->nodes[n]->errstr);
            freeReplyObject(r);
            return rc;
        }
        proto_id_parse(r->str, r->len, &run->parts[run->fifo[n][k]].last);
        freeReplyObject(r);
    }
    run->pending[n] = 0;
    return 0;
}

/* Appends every encoded entry to its partition, pipelined per node. */
static int append_all(struct run *run)
{
    memset(run->pending, 0, sizeof(run->pending));
    for (uint32_t i = 0; i < run->enc.count; i++) {
        uint32_t p = run->enc_part[i], n = run->parts[p].node;
        const char *in = run->parts[p].in;
        const char *argv[5] = {"XADD", in, "*", "m", run->enc.buf.data + run->enc.off[i]};
        size_t argvlen[5] = {4, strlen(in), 1, 1, run->enc.len[i]};
        if (redisAppendCommandArgv(run->nodes[n], 5, argv, argvlen) != REDIS_OK)
            return fail("XADD: %s", run->nodes[n]->errstr);
        run->fifo[n][run->pending[n]++] = p;
        if (run->pending[n] == SCALE_PIPELINE && drain(run, n) != 0)
            return -1;
    }
    for (uint32_t n = 0; n < run->node_count; n++)
        if (drain(run, n) != 0)
            return -1;
    return 0;
}

/* ---- waiting ---------------------------------------------------------------- */

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* Polls every unfinished partition's marker until each reaches its last
 * entry; records when. */
static int wait_all(struct run *run, uint64_t started)
{
    uint64_t deadline = started + (uint64_t)run->o->wait_s * 1000000000u;
    for (uint32_t left = run->o->partitions; left > 0;) {
        left = 0;
        for (uint32_t p = 0; p < run->o->partitions; p++) {
            struct part *pt = &run->parts[p];
            if (pt->done_ns != 0 || (pt->last.ms == 0 && pt->last.seq == 0))
                continue;
            redisReply *r = redisCommand(run->nodes[pt->node], "GET %s", pt->progress);
            struct proto_id at = {0, 0};
            if (r == NULL || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING)) {
                freeReplyObject(r);
                return fail("GET %s failed", pt->progress);
            }
            if (r->type == REDIS_REPLY_STRING)
                proto_id_parse(r->str, r->len, &at);
            freeReplyObject(r);
            if (proto_id_cmp(at, pt->last) >= 0)
                pt->done_ns = bench_now_ns();
            else
                left++;
        }
        if (left > 0 && bench_now_ns() > deadline)
            return fail("%u partitions not caught up within --wait-s %u", left, run->o->wait_s);
        if (left > 0)
            sleep_ns(SCALE_POLL_NS);
    }
    return 0;
}

static void signal_all(const struct options *o, int sig)
{
    for (uint32_t i = 0; i < o->pid_count; i++)
        kill(o->pids[i], sig);
}

/* Encodes an entry for its member's partition. */
static int add(struct run *run, const struct proto_entry *e)
{
    uint32_t i = run->enc.count;
    if (workload_encoded_add(&run->enc, e) != 0)
        return fail("out of memory for the entries");
    run->enc_part[i] = partition_of(e->member, strlen(e->member), run->o->partitions);
    run->parts[run->enc_part[i]].count++;
    return 0;
}

/* Appends what run->enc holds (stopping the daemons first when `stopped`),
 * then waits for every partition. *took = from SIGCONT (or the first
 * XADD) to the last partition done. */
static int feed(struct run *run, bool stopped, uint64_t *took)
{
    for (uint32_t p = 0; p < run->o->partitions; p++)
        run->parts[p].done_ns = 0, run->parts[p].last = (struct proto_id){0, 0};
    if (stopped)
        signal_all(run->o, SIGSTOP);
    uint64_t t0 = bench_now_ns();
    int rc = append_all(run);
    if (stopped) {
        signal_all(run->o, SIGCONT);
        t0 = bench_now_ns();
    }
    run->t0 = t0;
    if (rc != 0 || wait_all(run, t0) != 0)
        return -1;
    uint64_t last = t0;
    for (uint32_t p = 0; p < run->o->partitions; p++)
        if (run->parts[p].done_ns > last)
            last = run->parts[p].done_ns;
    *took = last - t0;
    return 0;
}

static int bench(struct run *run)
{
    static struct proto_entry e;
    const struct options *o = run->o;
    uint64_t took;
    for (uint32_t i = 0; i < o->members; i++) {
        workload_enroll(&run->w, i, &e);
        if (add(run, &e) != 0)
            return -1;
    }
    fprintf(stderr, "bench_scale: enrolling %u members in %u partitions\n", o->members,
            o->partitions);
    if (feed(run, false, &took) != 0)
        return -1;
    workload_encoded_clear(&run->enc);
    for (uint32_t p = 0; p < o->partitions; p++)
        run->parts[p].count = 0;
    for (uint32_t i = 0; i < o->purchases; i++) {
        workload_purchase(&run->w, &e);
        if (add(run, &e) != 0)
            return -1;
    }
    fprintf(stderr, "bench_scale: %u purchases preloaded while %u daemon(s) are stopped\n",
            o->purchases, o->pid_count);
    if (feed(run, o->pid_count > 0, &took) != 0)
        return -1;
    printf("purchases      %u in %u partition(s) over %u node(s): %.2f s, %.0f/s\n",
           o->purchases, o->partitions, run->node_count, (double)took / 1e9,
           o->purchases * 1e9 / (double)took);
    printf("result scale.purchases_per_s %.0f\n", o->purchases * 1e9 / (double)took);
    /* Per partition: its purchases, and the seconds it took from SIGCONT. */
    for (uint32_t p = 0; p < o->partitions; p++)
        printf("result scale.part.%u %u %.6f\n", p, run->parts[p].count,
               run->parts[p].count ? (double)(run->parts[p].done_ns - run->t0) / 1e9 : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    static struct options o;
    static struct run run;
    int prc = parse_options(argc, argv, &o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    uint32_t cap = o.members > o.purchases ? o.members : o.purchases;
    run.o = &o;
    run.parts = calloc(o.partitions, sizeof(run.parts[0]));
    run.enc_part = calloc(cap, sizeof(run.enc_part[0]));
    workload_init(&run.w, o.members, o.seed, "scale");
    int rc = run.parts && run.enc_part && workload_encoded_init(&run.enc, cap) == 0
                 ? 0 : fail("out of memory");
    if (rc == 0)
        rc = map_partitions(&run);
    if (rc == 0)
        rc = bench(&run);
    for (uint32_t n = 0; n < run.node_count; n++)
        redisFree(run.nodes[n]);
    workload_encoded_free(&run.enc);
    free(run.parts);
    free(run.enc_part);
    return rc == 0 ? 0 : 1;
}
