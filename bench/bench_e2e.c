/* bench_e2e.c - loyaltyd end to end: a running daemon and its Redis.
 *
 * (a) Throughput. Enrols M members, then appends N purchases to <prefix>in
 *     with pipelined XADDs and polls <prefix>progress (GET, about every
 *     millisecond) until it reaches the id of the last one. The clock runs
 *     from the first XADD: purchases/s = N / (progress reached - first
 *     XADD). The daemon consumes while the entries arrive, as it would
 *     under POS load. Baseline, in the same run: the time Redis itself
 *     took to take the N XADDs (the preload), and the ratio of the two.
 * (b) Latency of scan -> perk.triggered. A member is lifted to a tier with
 *     perks; then, S times, a scan is appended and <prefix>out is read
 *     (XREAD BLOCK from the last id seen) until a perk.triggered whose
 *     `src` is the scan's id arrives. Baseline, interleaved so that both
 *     see the same machine: an XADD to a side stream and an XREAD of it, the
 *     same two round trips without the daemon's work.
 *
 * Nothing here asserts a figure: it reports, run.sh judges. It writes only
 * under the prefix: <prefix>in (entries with txn ids tagged by this run, so
 * a second run never collides with the first) and <prefix>bench:echo,
 * which it deletes at the end. Connections use hiredis, synchronously,
 * without AUTH (a throwaway Redis); /metrics is read for the mean batch
 * size only, so a daemon that wants a bearer token there loses just that.
 */
#define _GNU_SOURCE /* memmem */
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "benchargs.h"
#include "benchclock.h"
#include "config.h"
#include "workload.h"

/* Limits, each with what it bounds. Members: the id after the last is the
 * scan member's, so one short of the ids the workload has. */
#define E2E_MEMBERS_MAX (WORKLOAD_MEMBERS_MAX - 1)
#define E2E_PURCHASES_MAX 5000000u /* ~1 GiB of Redis memory for in + out */
#define E2E_SCANS_MAX 1000000u     /* latency samples kept: 8 MB each kind */
#define E2E_PIPELINE_MAX 100000u   /* XADDs in flight: hiredis buffers them */
#define E2E_WAIT_S_MAX 3600u       /* how long to wait for the daemon */
#define E2E_SCAN_WAIT_NS 5000000000ull /* a scan with no perk by then: give up */
#define E2E_SCAN_WARMUP 100u       /* untimed scans: connections and caches */
#define E2E_XREAD_COUNT "64"       /* outputs one XREAD may return */
#define E2E_HTTP_BYTES_MAX 65536u  /* /healthz or /metrics reply we read */
#define E2E_KEY_MAX (CONFIG_KEY_MAX + 16) /* the prefix, "bench:echo", NUL */
#define E2E_POLL_NS 1000000L       /* progress polled about every 1 ms */
#define E2E_IO_TIMEOUT_S 10        /* one Redis or HTTP call */
/* Minor units lifting a member to the top tier of conf/loyaltyd.conf
 * (platinum at 10000 points, one point per currency unit). */
#define E2E_VIP_AMOUNT 2000000
#define E2E_LOAD_RATE_MAX 10000000u /* background purchases/s */
#define E2E_LOAD_BURST 1000u        /* background XADDs sent before reading replies */

struct options {
    struct config_endpoint redis, http;
    char prefix[CONFIG_KEY_MAX + 1];
    uint32_t members, purchases, scans, pipeline, wait_s;
    uint32_t load_rate; /* purchases/s pushed in the background of the scans; 0: none */
    bool skip_enrol;    /* members 0..M are enrolled already (an earlier run) */
    pid_t daemon_pid;   /* > 0: stopped while the purchases are preloaded */
    uint64_t seed;
};

struct keys {
    char in[E2E_KEY_MAX], out[E2E_KEY_MAX], progress[E2E_KEY_MAX], echo[E2E_KEY_MAX];
};

/* Everything a run shares: its options, keys, two connections (one feeds,
 * one polls and reads) and its workload. */
struct run {
    const struct options *o;
    struct keys k;
    redisContext *feed, *poll;
    struct workload w;
    struct workload_encoded enc;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_e2e [--redis H:P] [--http H:P] [--prefix P] [--members M]\n"
            "                 [--purchases N] [--scans S] [--pipeline K] [--wait-s T] [--seed X]\n"
            "                 [--daemon-pid PID] [--load-rate R] [--skip-enrol]\n"
            "\n"
            "Measures a running loyaltyd and its Redis: (a) purchases/s end to end (XADD to\n"
            "<prefix>in until <prefix>progress reaches the last one) against Redis's own\n"
            "pipelined XADD rate, and (b) the latency of scan -> perk.triggered against a\n"
            "plain XADD + XREAD round trip.\n"
            "\n"
            "      --redis H:P     Redis of the daemon (default 127.0.0.1:6379)\n"
            "      --http H:P      the daemon's HTTP, for /healthz and /metrics\n"
            "                      (default 127.0.0.1:8080)\n"
            "      --prefix P      key prefix of the daemon's streams (default loyalty:)\n"
            "      --members M     members enrolled first, 1..%u (default 100000)\n"
            "      --purchases N   purchases timed, 1..%u (default 500000)\n"
            "      --scans S       scans timed, 1..%u (default 5000)\n"
            "      --pipeline K    XADDs sent before reading replies, 1..%u (default 1000)\n"
            "      --wait-s T      longest wait for the daemon to catch up, 1..%u (default 300)\n"
            "      --seed X        workload seed (default 1)\n"
            "      --daemon-pid PID  preload: SIGSTOP the daemon while the purchases are\n"
            "                      appended, SIGCONT it and time until all are committed\n"
            "      --load-rate R   purchases/s appended in the background during the scans\n"
            "                      (fixed rate, own connection), 0..%u (default 0)\n"
            "      --skip-enrol    members 0..M were enrolled by an earlier run\n"
            "      N or S may be 0: that part is skipped\n"
            "  -h, --help          this text\n"
            "\n"
            "Prints a report and `result KEY VALUE` lines for scripts. Exit status 0, 1 when\n"
            "Redis or the daemon failed or did not catch up in time, 2 on bad usage.\n",
            E2E_MEMBERS_MAX, E2E_PURCHASES_MAX, E2E_SCANS_MAX, E2E_PIPELINE_MAX,
            E2E_WAIT_S_MAX, E2E_LOAD_RATE_MAX);
}

/* Says what went wrong on stderr; returns -1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bench_e2e: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

static int endpoint(const char *name, struct config_endpoint *ep)
{
    struct config_error err;
    if (cfg_parse_endpoint(optarg, ep, &err) == 0)
        return 0;
    fprintf(stderr, "bench_e2e: %s: %s\n", name, err.text);
    return -1;
}

static void defaults(struct options *o)
{
    struct config_error err;
    *o = (struct options){.members = 100000, .purchases = 500000, .scans = 5000,
                          .pipeline = 1000, .wait_s = 300, .seed = 1};
    cfg_parse_endpoint("127.0.0.1:6379", &o->redis, &err);
    cfg_parse_endpoint("127.0.0.1:8080", &o->http, &err);
    snprintf(o->prefix, sizeof(o->prefix), "loyalty:");
}

/* Returns 0, 1 after printing the help, or -1 on bad usage. */
static int parse_options(int argc, char **argv, struct options *o)
{
    enum { O_REDIS = 256, O_HTTP, O_PREFIX, O_MEMBERS, O_PURCHASES, O_SCANS, O_PIPELINE,
           O_WAIT, O_SEED, O_PID, O_RATE, O_SKIP };
    static const struct option opts[] = {
        {"redis", required_argument, NULL, O_REDIS}, {"http", required_argument, NULL, O_HTTP},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"members", required_argument, NULL, O_MEMBERS},
        {"purchases", required_argument, NULL, O_PURCHASES},
        {"scans", required_argument, NULL, O_SCANS},
        {"pipeline", required_argument, NULL, O_PIPELINE},
        {"wait-s", required_argument, NULL, O_WAIT}, {"seed", required_argument, NULL, O_SEED},
        {"daemon-pid", required_argument, NULL, O_PID},
        {"load-rate", required_argument, NULL, O_RATE},
        {"skip-enrol", no_argument, NULL, O_SKIP},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static const char P[] = "bench_e2e";
    defaults(o);
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case O_REDIS: rc = endpoint("--redis", &o->redis); break;
        case O_HTTP: rc = endpoint("--http", &o->http); break;
        case O_PREFIX:
            rc = strlen(optarg) >= 1 && strlen(optarg) <= CONFIG_KEY_MAX
                     ? 0 : fail("--prefix: 1..%d bytes", CONFIG_KEY_MAX);
            snprintf(o->prefix, sizeof(o->prefix), "%s", optarg);
            break;
        case O_MEMBERS:
            rc = bench_option_u32(P, "--members", optarg, 1, E2E_MEMBERS_MAX, &o->members);
            break;
        case O_PURCHASES:
            rc = bench_option_u32(P, "--purchases", optarg, 0, E2E_PURCHASES_MAX, &o->purchases);
            break;
        case O_SCANS:
            rc = bench_option_u32(P, "--scans", optarg, 0, E2E_SCANS_MAX, &o->scans);
            break;
        case O_PIPELINE:
            rc = bench_option_u32(P, "--pipeline", optarg, 1, E2E_PIPELINE_MAX, &o->pipeline);
            break;
        case O_WAIT:
            rc = bench_option_u32(P, "--wait-s", optarg, 1, E2E_WAIT_S_MAX, &o->wait_s);
            break;
        case O_SEED: rc = bench_option_u64(P, "--seed", optarg, 0, UINT64_MAX, &o->seed); break;
        case O_PID: {
            uint32_t pid = 0;
            rc = bench_option_u32(P, "--daemon-pid", optarg, 2, INT32_MAX, &pid);
            o->daemon_pid = (pid_t)pid;
            break;
        }
        case O_RATE:
            rc = bench_option_u32(P, "--load-rate", optarg, 0, E2E_LOAD_RATE_MAX, &o->load_rate);
            break;
        case O_SKIP: o->skip_enrol = true; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (rc == 0 && optind != argc)
        rc = fail("unexpected argument '%s'", argv[optind]);
    return rc;
}

/* ---- HTTP: /healthz and /metrics of the daemon ------------------------- */

static int http_connect(const struct config_endpoint *ep)
{
    char port[8];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    snprintf(port, sizeof(port), "%d", ep->port);
    if (getaddrinfo(ep->host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    struct timeval tv = {E2E_IO_TIMEOUT_S, 0};
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
                    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* GETs `path` over HTTP/1.0 into `body` (NUL-terminated; a reply over
 * E2E_HTTP_BYTES_MAX is cut there). Returns the status code, or -1. */
static int http_get(const struct config_endpoint *ep, const char *path, char *body,
                    size_t cap)
{
    static char reply[E2E_HTTP_BYTES_MAX];
    char req[CONFIG_HOST_MAX + 64]; /* the request line and a Host header */
    int fd = http_connect(ep), status = -1;
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, ep->host);
    size_t got = 0;
    if (fd < 0 || n <= 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
        goto done;
    for (ssize_t r; got + 1 < sizeof(reply) &&
                    (r = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0;)
        got += (size_t)r;
    reply[got] = '\0';
    const char *sep = strstr(reply, "\r\n\r\n");
    if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1 || sep == NULL)
        status = -1;
    else
        snprintf(body, cap, "%s", sep + 4);
done:
    if (fd >= 0)
        close(fd);
    return status;
}

/* The value of the unlabelled Prometheus sample `name` in `text`, or -1. */
static double metric(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return -1;
}

/* Reads the daemon's batch counters: batches committed, entries applied.
 * Only a statistic: a daemon that wants a bearer token for /metrics gets
 * -1 here and the report leaves the mean batch out. */
static int daemon_counters(const struct options *o, double *batches, double *applied)
{
    static char body[E2E_HTTP_BYTES_MAX];
    int status = http_get(&o->http, "/metrics", body, sizeof(body));
    if (status != 200) {
        fprintf(stderr, "bench_e2e: GET /metrics answered %d: mean batch not reported\n",
                status);
        return -1;
    }
    *batches = metric(body, "loyalty_batches_total");
    *applied = metric(body, "loyalty_entries_applied_total");
    return 0;
}

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

/* Waits until /healthz says 200 (consuming), at most `wait_s`. */
static int wait_healthy(const struct options *o)
{
    char body[512] = "";
    uint64_t deadline = bench_now_ns() + (uint64_t)o->wait_s * 1000000000u;
    while (http_get(&o->http, "/healthz", body, sizeof(body)) != 200) {
        if (bench_now_ns() > deadline)
            return fail("the daemon's /healthz never answered 200 (last: %s)", body);
        sleep_ns(50 * E2E_POLL_NS);
    }
    return 0;
}

/* ---- Redis ------------------------------------------------------------- */

static redisContext *redis_connect(const struct config_endpoint *ep)
{
    struct timeval tv = {E2E_IO_TIMEOUT_S, 0};
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "bench_e2e: cannot connect to Redis %s:%d: %s\n", ep->host, ep->port,
                c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* Says why a reply is not what `what` should answer; returns -1. */
static int bad_reply(const redisContext *c, const redisReply *r, const char *what)
{
    if (r == NULL)
        fprintf(stderr, "bench_e2e: %s: %s\n", what, c->errstr[0] ? c->errstr : "no reply");
    else if (r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "bench_e2e: %s: %s\n", what, r->str);
    else
        fprintf(stderr, "bench_e2e: %s: unexpected reply type %d\n", what, r->type);
    return -1;
}

/* Parses a reply holding a stream id into `id` (and `str`, when not NULL,
 * at least PROTO_ID_STR_MAX bytes). Frees the reply. */
static int take_id(const redisContext *c, redisReply *r, const char *what,
                   struct proto_id *id, char *str)
{
    int rc = r != NULL && r->type == REDIS_REPLY_STRING && r->len < PROTO_ID_STR_MAX &&
                     proto_id_parse(r->str, r->len, id) == 0
                 ? 0
                 : bad_reply(c, r, what);
    if (rc == 0 && str != NULL)
        memcpy(str, r->str, r->len + 1);
    freeReplyObject(r);
    return rc;
}

/* Appends every entry of `x` to `key`, `pipeline` XADDs at a time before
 * reading their replies, and stores their ids in ids[0..x->count). */
static int xadd_all(redisContext *c, const char *key, const struct workload_encoded *x,
                    uint32_t pipeline, struct proto_id *ids)
{
    for (uint32_t i = 0; i < x->count; i += pipeline) {
        uint32_t n = x->count - i < pipeline ? x->count - i : pipeline;
        for (uint32_t j = 0; j < n; j++) {
            const char *argv[5] = {"XADD", key, "*", "m", x->buf.data + x->off[i + j]};
            size_t argvlen[5] = {4, strlen(key), 1, 1, x->len[i + j]};
            if (redisAppendCommandArgv(c, 5, argv, argvlen) != REDIS_OK)
                return bad_reply(c, NULL, "XADD");
        }
        for (uint32_t j = 0; j < n; j++) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK)
                return bad_reply(c, NULL, "XADD");
            if (take_id(c, r, "XADD", &ids[i + j], NULL) != 0)
                return -1;
        }
    }
    return 0;
}

/* The daemon's progress marker; {0, 0} while it has none. */
static int get_progress(struct run *r, struct proto_id *out)
{
    redisReply *rep = redisCommand(r->poll, "GET %s", r->k.progress);
    if (rep != NULL && rep->type == REDIS_REPLY_NIL) {
        *out = (struct proto_id){0, 0};
        freeReplyObject(rep);
        return 0;
    }
    return take_id(r->poll, rep, "GET progress", out, NULL);
}

/* Polls the marker about every E2E_POLL_NS until it reaches `target`;
 * `*at` = when it was seen there. */
static int wait_progress(struct run *r, struct proto_id target, uint64_t *at)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)r->o->wait_s * 1000000000u;
    struct proto_id p;
    for (;;) {
        if (get_progress(r, &p) != 0)
            return -1;
        *at = bench_now_ns();
        if (proto_id_cmp(p, target) >= 0)
            return 0;
        if (*at > deadline)
            return fail("the daemon did not catch up within --wait-s %u (is it consuming?)",
                        r->o->wait_s);
        sleep_ns(E2E_POLL_NS);
    }
}

/* Entries of ids[0..n) at or before `p` (ids ascending). */
static uint32_t count_upto(const struct proto_id *ids, uint32_t n, struct proto_id p)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (proto_id_cmp(ids[mid], p) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* When a feed started (first XADD sent), was fed (last XADD answered) and
 * was done (marker at the last entry), and how many of its entries the
 * daemon had committed when it was fed. */
struct feed_times {
    uint64_t start, fed, done;
    uint64_t fed_ns; /* preload: how long the XADDs took */
    uint32_t committed_when_fed;
};

/* Appends what r->enc holds, storing the ids in ids[0..r->enc.count), and
 * waits until the daemon has committed all of it. */
static int feed_and_wait(struct run *r, struct proto_id *ids, struct feed_times *t)
{
    struct proto_id p;
    t->start = bench_now_ns();
    if (xadd_all(r->feed, r->k.in, &r->enc, r->o->pipeline, ids) != 0)
        return -1;
    t->fed = bench_now_ns();
    if (get_progress(r, &p) != 0)
        return -1;
    t->committed_when_fed = count_upto(ids, r->enc.count, p);
    return wait_progress(r, ids[r->enc.count - 1], &t->done);
}

/* Preload: appends what r->enc holds while the daemon is stopped
 * (SIGSTOP), then lets it go (SIGCONT) and waits until it has committed
 * all of it. t->start is when it was let go: the time is the daemon's
 * alone, reading a backlog as after an outage or a restart. */
static int preload_and_wait(struct run *r, struct proto_id *ids, struct feed_times *t)
{
    pid_t pid = r->o->daemon_pid;
    if (kill(pid, SIGSTOP) != 0)
        return fail("cannot stop the daemon (pid %d)", (int)pid);
    uint64_t t0 = bench_now_ns();
    int rc = xadd_all(r->feed, r->k.in, &r->enc, r->o->pipeline, ids);
    t->fed = bench_now_ns();
    t->committed_when_fed = 0;
    kill(pid, SIGCONT);
    t->start = bench_now_ns();
    t->fed_ns = t->fed - t0;
    return rc != 0 ? -1 : wait_progress(r, ids[r->enc.count - 1], &t->done);
}

/* ---- (a) throughput ------------------------------------------------------ */

static double per_s(double n, uint64_t ns) { return ns > 0 ? n * 1e9 / (double)ns : 0; }

/* Enrols members 0..M, the last one for the scans: set-up, reported. */
static int enrol(struct run *r, struct proto_id *ids)
{
    static struct proto_entry e;
    struct feed_times t;
    workload_encoded_clear(&r->enc);
    for (uint32_t i = 0; i <= r->o->members; i++) {
        workload_enroll(&r->w, i, &e);
        if (workload_encoded_add(&r->enc, &e) != 0)
            return fail("out of memory for the enrolments");
    }
    fprintf(stderr, "bench_e2e: enrolling %u members\n", r->enc.count);
    if (feed_and_wait(r, ids, &t) != 0)
        return -1;
    printf("enrolment      %u entries in %.2f s: %.0f/s end to end\n", r->enc.count,
           (double)(t.done - t.start) / 1e9, per_s(r->enc.count, t.done - t.start));
    return 0;
}

static int throughput(struct run *r, struct proto_id *ids)
{
    static struct proto_entry e;
    struct feed_times t;
    double batches0 = 0, applied0 = 0, batches1 = 0, applied1 = 0;
    uint32_t n = r->o->purchases;
    workload_encoded_clear(&r->enc);
    for (uint32_t i = 0; i < n; i++) {
        workload_purchase(&r->w, &e);
        if (workload_encoded_add(&r->enc, &e) != 0)
            return fail("out of memory for the purchases");
    }
    fprintf(stderr, "bench_e2e: %u purchases: pipelined XADD, then polling %s\n", n,
            r->k.progress);
    int counted = daemon_counters(r->o, &batches0, &applied0);
    bool pre = r->o->daemon_pid > 0;
    if ((pre ? preload_and_wait(r, ids, &t) : feed_and_wait(r, ids, &t)) != 0)
        return -1;
    counted = counted == 0 ? daemon_counters(r->o, &batches1, &applied1) : -1;
    if (pre) /* the drain is the whole timed part */
        t.fed = t.start;
    double e2e = per_s(n, t.done - t.start);
    double xadd = per_s(n, pre ? t.fed_ns : t.fed - t.start);
    if (pre)
        printf("preloaded      %u purchases while the daemon was stopped; timed from SIGCONT\n",
               n);
    uint32_t left = n - t.committed_when_fed;
    double batch = counted == 0 && batches1 > batches0
                       ? (applied1 - applied0) / (batches1 - batches0)
                       : 0; /* 0: unknown */
    printf("purchases      %u in %.2f s: %.0f/s end to end | baseline: Redis took the XADDs "
           "in %.2f s = %.0f/s | ratio %.2f\n", n, (double)(t.done - t.start) / 1e9, e2e,
           (double)(pre ? t.fed_ns : t.fed - t.start) / 1e9, xadd, xadd > 0 ? e2e / xadd : 0);
    printf("               when the XADDs were done the daemon had committed %u; the other %u "
           "took %.2f s more (%.0f/s); mean batch %.0f entries (0: unknown)\n", n - left, left,
           (double)(t.done - t.fed) / 1e9, per_s(left, t.done - t.fed), batch);
    printf("result e2e.purchases_per_s %.0f\n", e2e);
    printf("result e2e.xadd_per_s %.0f\n", xadd);
    printf("result e2e.ratio %.3f\n", xadd > 0 ? e2e / xadd : 0);
    printf("result e2e.drain_per_s %.0f\n", per_s(left, t.done - t.fed));
    printf("result e2e.batch_mean %.0f\n", batch);
    return 0;
}

/* ---- (b) scan -> perk.triggered latency ---------------------------------- */

static bool str_is(const msgpack_object *o, const char *s, size_t len)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp(o->via.str.ptr, s, len) == 0;
}

/* True when the output event `m` is a perk.triggered caused by entry `src`. */
static bool is_perk_of(const char *m, size_t len, const char *src)
{
    static const char PERK[] = "perk.triggered";
    if (memmem(m, len, src, strlen(src)) == NULL) /* most outputs: another entry's */
        return false;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool kind = false, from = false;
    if (msgpack_unpack_next(&u, m, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &u.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object_kv *kv = &map->ptr[i];
            kind |= str_is(&kv->key, "kind", 4) && str_is(&kv->val, PERK, sizeof(PERK) - 1);
            from |= str_is(&kv->key, "src", 3) && str_is(&kv->val, src, strlen(src));
        }
    }
    msgpack_unpacked_destroy(&u);
    return kind && from;
}

/* Scans the entries of an XREAD reply (one stream): moves `last` to the
 * newest id and sets `*found` when one is a perk of `src`. */
static int scan_entries(const redisReply *rep, const char *src, char *last, bool *found)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
        rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2)
        return -1;
    const redisReply *entries = rep->element[0]->element[1];
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *ent = entries->element[i];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->len >= PROTO_ID_STR_MAX)
            return -1;
        memcpy(last, ent->element[0]->str, ent->element[0]->len + 1);
        const redisReply *f = ent->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
            if (f->element[k]->len == 1 && f->element[k]->str[0] == 'm' &&
                is_perk_of(f->element[k + 1]->str, f->element[k + 1]->len, src))
                *found = true;
    }
    return 0;
}

/* Appends a scan of member `vip` and reads <prefix>out from `last_out`
 * until its perk.triggered arrives; `*ns` = the time that took. */
static int scan_once(struct run *r, uint32_t vip, char *last_out, uint64_t *ns)
{
    static struct proto_entry e;
    char scan_id[PROTO_ID_STR_MAX];
    struct proto_id id;
    bool found = false;
    workload_scan(&r->w, vip, &e);
    workload_encoded_clear(&r->enc);
    if (workload_encoded_add(&r->enc, &e) != 0)
        return fail("out of memory for a scan");
    uint64_t t0 = bench_now_ns();
    if (take_id(r->feed, redisCommand(r->feed, "XADD %s * m %b", r->k.in, r->enc.buf.data,
                                      (size_t)r->enc.len[0]), "XADD scan", &id, scan_id) != 0)
        return -1;
    while (!found) {
        if (bench_now_ns() - t0 > E2E_SCAN_WAIT_NS)
            return fail("no perk.triggered for scan %s in 5 s: does the member's tier have "
                        "perks in this rulebook?", scan_id);
        redisReply *rep = redisCommand(r->poll, "XREAD COUNT " E2E_XREAD_COUNT
                                       " BLOCK 1000 STREAMS %s %s", r->k.out, last_out);
        int rc = rep == NULL || rep->type == REDIS_REPLY_ERROR ? bad_reply(r->poll, rep, "XREAD")
                 : rep->type == REDIS_REPLY_NIL ? 0 : scan_entries(rep, scan_id, last_out, &found);
        freeReplyObject(rep);
        if (rc != 0)
            return fail("XREAD of %s failed or was malformed", r->k.out);
    }
    *ns = bench_now_ns() - t0;
    return 0;
}

/* The baseline: the same two round trips (an XADD of the scan's bytes,
 * an XREAD BLOCK of what it added) on a side stream nobody processes. */
static int echo_once(struct run *r, char *prev, uint64_t *ns)
{
    struct proto_id id;
    uint64_t t0 = bench_now_ns();
    if (take_id(r->feed, redisCommand(r->feed, "XADD %s MAXLEN ~ 1000 * m %b", r->k.echo,
                                      r->enc.buf.data, (size_t)r->enc.len[0]),
                "XADD echo", &id, NULL) != 0)
        return -1;
    redisReply *rep = redisCommand(r->poll, "XREAD COUNT 1 BLOCK 1000 STREAMS %s %s",
                                   r->k.echo, prev);
    int ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
             rep->element[0]->elements == 2 && rep->element[0]->element[1]->elements == 1;
    if (ok) {
        const redisReply *idr = rep->element[0]->element[1]->element[0]->element[0];
        snprintf(prev, PROTO_ID_STR_MAX, "%s", idr->str);
    }
    freeReplyObject(rep);
    *ns = bench_now_ns() - t0;
    return ok ? 0 : fail("XREAD of %s did not return the entry just added", r->k.echo);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile (0 < p <= 100) of sorted v[0..n), nearest rank. */
static double pct_us(const uint64_t *v, uint32_t n, double p)
{
    uint32_t rank = (uint32_t)(p / 100.0 * n + 0.999999);
    return (double)v[rank > 0 ? rank - 1 : 0] / 1e3;
}

static void report_latency(const char *key, const char *what, uint64_t *v, uint32_t n)
{
    static const double PCTS[] = {50, 99, 99.9, 100};
    static const char *const NAMES[] = {"p50", "p99", "p99_9", "max"};
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("%-26s p50 %7.1f us | p99 %7.1f us | p99.9 %7.1f us | max %7.1f us (%u samples)\n",
           what, pct_us(v, n, 50), pct_us(v, n, 99), pct_us(v, n, 99.9), pct_us(v, n, 100), n);
    for (int i = 0; i < 4; i++)
        printf("result %s.%s_us %.1f\n", key, NAMES[i], pct_us(v, n, PCTS[i]));
}

/* The newest id of `key`, or "0-0" when it is empty. */
static int last_id(redisContext *c, const char *key, char *out)
{
    redisReply *rep = redisCommand(c, "XREVRANGE %s + - COUNT 1", key);
    int ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY;
    snprintf(out, PROTO_ID_STR_MAX, "0-0");
    if (ok && rep->elements == 1 && rep->element[0]->elements == 2)
        snprintf(out, PROTO_ID_STR_MAX, "%s", rep->element[0]->element[0]->str);
    int rc = ok ? 0 : bad_reply(c, rep, "XREVRANGE");
    freeReplyObject(rep);
    return rc;
}

/* Lifts member M to the top tier with one large purchase, so that each
 * of its scans triggers every perk of that tier. */
static int lift_vip(struct run *r, uint32_t vip, struct proto_id *ids)
{
    static struct proto_entry e;
    struct feed_times t;
    workload_purchase_of(&r->w, vip, E2E_VIP_AMOUNT, &e);
    workload_encoded_clear(&r->enc);
    if (workload_encoded_add(&r->enc, &e) != 0)
        return fail("out of memory for the lifting purchase");
    return feed_and_wait(r, ids, &t);
}

/* Background purchases at a fixed rate on their own connection, while
 * the scans are timed: `rate` per second from `t0`, in bursts of at most
 * E2E_LOAD_BURST, sleeping when ahead of schedule. */
struct load {
    const struct options *o;
    const char *key;
    char tag[WORKLOAD_TAG_MAX + 1];
    atomic_bool stop;
    uint64_t sent, t0, t1;
    int rc;
};

static void *load_main(void *arg)
{
    struct load *ld = arg;
    static struct proto_entry e;
    static struct proto_id ids[E2E_LOAD_BURST];
    struct workload w;
    struct workload_encoded enc;
    redisContext *c = redis_connect(&ld->o->redis);
    ld->rc = c != NULL && workload_encoded_init(&enc, E2E_LOAD_BURST) == 0 ? 0 : -1;
    if (ld->rc != 0)
        return NULL;
    workload_init(&w, ld->o->members, ld->o->seed + 2, ld->tag);
    ld->t0 = bench_now_ns();
    while (ld->rc == 0 && !atomic_load(&ld->stop)) {
        uint64_t due = (bench_now_ns() - ld->t0) * ld->o->load_rate / 1000000000u;
        uint64_t n = due - ld->sent < E2E_LOAD_BURST ? due - ld->sent : E2E_LOAD_BURST;
        if (n == 0) {
            sleep_ns(E2E_POLL_NS / 5);
            continue;
        }
        workload_encoded_clear(&enc);
        for (uint64_t i = 0; i < n && ld->rc == 0; i++) {
            workload_purchase(&w, &e);
            ld->rc = workload_encoded_add(&enc, &e);
        }
        ld->rc = ld->rc ? ld->rc : xadd_all(c, ld->key, &enc, E2E_LOAD_BURST, ids);
        ld->sent += n;
    }
    ld->t1 = bench_now_ns();
    workload_encoded_free(&enc);
    redisFree(c);
    return NULL;
}

static int latency(struct run *r, struct proto_id *ids)
{
    static struct load ld;
    pthread_t th;
    bool loaded = false;
    uint32_t n = r->o->scans, vip = r->o->members;
    char last_out[PROTO_ID_STR_MAX], prev_echo[PROTO_ID_STR_MAX] = "0-0";
    uint64_t *scan = calloc(n, sizeof(*scan)), *echo = calloc(n, sizeof(*echo)), ns = 0;
    int rc = scan && echo ? 0 : fail("out of memory for the latency samples");
    if (rc == 0)
        rc = lift_vip(r, vip, ids) != 0 || last_id(r->poll, r->k.out, last_out) != 0 ||
             last_id(r->poll, r->k.echo, prev_echo) != 0;
    if (rc == 0 && r->o->load_rate > 0) {
        ld = (struct load){.o = r->o, .key = r->k.in};
        snprintf(ld.tag, sizeof(ld.tag), "L%.*s", WORKLOAD_TAG_MAX - 1, r->w.tag);
        rc = pthread_create(&th, NULL, load_main, &ld) == 0 ? 0 : fail("pthread_create");
        loaded = rc == 0;
    }
    fprintf(stderr, "bench_e2e: %u scans (after %u untimed), each with an XADD + XREAD "
            "baseline; background purchases %u/s\n", n, E2E_SCAN_WARMUP, r->o->load_rate);
    for (uint32_t i = 0; rc == 0 && i < E2E_SCAN_WARMUP + n; i++) {
        rc = scan_once(r, vip, last_out, &ns);
        if (rc == 0 && i >= E2E_SCAN_WARMUP)
            scan[i - E2E_SCAN_WARMUP] = ns;
        rc = rc ? rc : echo_once(r, prev_echo, &ns);
        if (rc == 0 && i >= E2E_SCAN_WARMUP)
            echo[i - E2E_SCAN_WARMUP] = ns;
    }
    if (loaded) {
        atomic_store(&ld.stop, true);
        pthread_join(th, NULL);
        double got = per_s((double)ld.sent, ld.t1 - ld.t0);
        printf("background     %" PRIu64 " purchases at %.0f/s (asked %u/s)%s\n", ld.sent, got,
               r->o->load_rate, ld.rc ? ": FAILED" : "");
        printf("result load.rate_per_s %.0f\n", got);
        rc = rc ? rc : ld.rc;
    }
    if (rc == 0) {
        report_latency("scan", "scan -> perk.triggered", scan, n);
        report_latency("echo", "baseline XADD + XREAD", echo, n);
    }
    freeReplyObject(redisCommand(r->feed, "DEL %s", r->k.echo));
    free(scan);
    free(echo);
    return rc ? -1 : 0;
}

/* ---- main ---------------------------------------------------------------- */

static int run_all(struct run *r)
{
    uint32_t most = r->o->members + 1 > r->o->purchases ? r->o->members + 1 : r->o->purchases;
    struct proto_id *ids = calloc(most, sizeof(*ids));
    int rc = ids != NULL && workload_encoded_init(&r->enc, most) == 0
                 ? 0 : fail("out of memory for the entries");
    if (rc == 0)
        rc = wait_healthy(r->o);
    if (rc == 0 && !r->o->skip_enrol)
        rc = enrol(r, ids);
    if (rc == 0 && r->o->purchases > 0)
        rc = throughput(r, ids);
    if (rc == 0 && r->o->scans > 0)
        rc = latency(r, ids);
    workload_encoded_free(&r->enc);
    free(ids);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    struct run r;
    char tag[WORKLOAD_TAG_MAX + 1];
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr's progress */
    memset(&r, 0, sizeof(r));
    r.o = &o;
    snprintf(r.k.in, sizeof(r.k.in), "%sin", o.prefix);
    snprintf(r.k.out, sizeof(r.k.out), "%sout", o.prefix);
    snprintf(r.k.progress, sizeof(r.k.progress), "%sprogress", o.prefix);
    snprintf(r.k.echo, sizeof(r.k.echo), "%sbench:echo", o.prefix);
    /* Txn ids carry this run's tag: a second run against the same daemon
     * must not look like POS retries of the first. */
    snprintf(tag, sizeof(tag), "e%08lx%04x", (unsigned long)time(NULL) & 0xffffffffUL,
             (unsigned)getpid() & 0xffffu);
    workload_init(&r.w, o.members, o.seed, tag);
    r.feed = redis_connect(&o.redis);
    r.poll = r.feed ? redis_connect(&o.redis) : NULL;
    printf("bench_e2e: Redis %s:%d, daemon http %s:%d, prefix %s, run tag %s\n", o.redis.host,
           o.redis.port, o.http.host, o.http.port, o.prefix, tag);
    rc = r.poll != NULL ? run_all(&r) : -1;
    redisFree(r.feed);
    redisFree(r.poll);
    return rc == 0 ? 0 : 1;
}
