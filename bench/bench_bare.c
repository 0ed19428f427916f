/* bench_bare.c - the bare consumer: the baseline bench/run.sh measures the
 * daemon's end-to-end throughput against.
 *
 * Built from the daemon's own shell (loyalty_shell): the same consumer
 * (link, cursor, pipeline), so the same reading (XREAD COUNT
 * batch_entries_max from the marker), batching, batches in flight and
 * commit (one fenced call of outputs and the progress marker per batch),
 * with one difference: each entry is
 * neither decoded nor applied; it publishes one fixed output and moves the
 * state's last id (consumer_set_apply). The gap between this and loyaltyd
 * on the same preload is what decoding and the rules cost end to end.
 * Like the daemon it serves /healthz and /metrics (bench_e2e waits for the
 * one and reads batch counts from the other) and stops on SIGTERM after
 * committing the batch in hand. It keeps no members and writes no
 * snapshots.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "fleet.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "state.h"

#define BARE_STOP_GRACE_MS 10000 /* as the daemon: wait this long for the last commit */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_bare [-c FILE] [--redis HOST:PORT] [--http HOST:PORT] [--verbose]\n"
            "                  [--help]\n"
            "\n"
            "The bare consumer baseline of bench/run.sh: loyaltyd's reading, batching and\n"
            "commit path over <prefix>in, but each entry publishes one fixed output to\n"
            "<prefix>out (member \"bare\", kind points.changed) instead of being decoded and\n"
            "applied. <prefix>progress moves as with loyaltyd.\n"
            "Serves GET /healthz and /metrics; no members, no snapshots.\n"
            "\n"
            "  -c, --config FILE  loyaltyd configuration (daemon settings are used; the\n"
            "                     rules are not). Without it, built-in defaults.\n"
            "      --redis H:P    Redis server (overrides daemon.redis)\n"
            "      --http H:P     HTTP listen address (overrides daemon.http)\n"
            "  -v, --verbose      log debug lines too\n"
            "  -h, --help         this text\n"
            "\n"
            "Stops on SIGTERM or SIGINT (the batch in hand is committed). Exit status: 0\n"
            "after a clean stop, 1 on a bad configuration or a failed start, 2 on bad usage.\n");
}

/* The apply function: no decoding, no rules, one fixed output per entry
 * (the same output loyaltyd's former --bare-consumer published). */
static int apply_bare(const void *arg, struct state *st, struct proto_id id,
                      const redisReply *idr, const redisReply *fields, struct batch *b,
                      struct outbox *res)
{
    (void)arg, (void)idr, (void)fields;
    st->last_id = id;
    st->entries_applied++;
    if (b == NULL)
        return 0;
    res->verdict = OUTBOX_APPLIED;
    res->count = 1;
    memset(&res->out[0], 0, sizeof(res->out[0]));
    res->out[0].kind = PROTO_OUT_POINTS_CHANGED;
    res->out[0].ts = (int64_t)id.ms;
    memcpy(res->out[0].member, "bare", 5);
    return batch_add_outputs(b, id, res);
}

struct bare {
    struct event_base *base;
    struct fleet *fleet;
};

static void on_stopped(void *arg)
{
    struct bare *bb = arg;
    event_base_loopexit(bb->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct bare *bb = arg;
    (void)sig;
    (void)what;
    fleet_stop(bb->fleet, BARE_STOP_GRACE_MS, on_stopped, bb);
}

/* Runs the bare consumer until a signal stops it. Returns 0 after a clean
 * stop, -1 when it cannot start. */
static int run(const struct config *cfg)
{
    struct metrics m;
    struct config_error err;
    struct bare bb = {event_base_new(), NULL};
    struct fleet_options o = {false, apply_bare, NULL, NULL}; /* no snapshots, no DLQ ring */
    struct http *h = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    int rc = -1;
    memset(&m, 0, sizeof(m));
    if (bb.base == NULL || (bb.fleet = fleet_new(bb.base, cfg, &m, &o)) == NULL)
        goto fail;
    struct http_sources src = {cfg, bb.fleet, &m, NULL, NULL}; /* no DLQ ring, no preview */
    h = http_new(bb.base, &src, &err);
    if (h == NULL) {
        log_error("bench_bare: %s", err.text);
        goto fail;
    }
    sigterm = evsignal_new(bb.base, SIGTERM, on_signal, &bb);
    sigint = evsignal_new(bb.base, SIGINT, on_signal, &bb);
    if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0)
        goto fail;
    signal(SIGPIPE, SIG_IGN);
    log_info("bench_bare: http://%s:%d, Redis %s:%d, %u partition(s) of %u, one output per "
             "entry", cfg->http.host, cfg->http.port, cfg->redis.host, cfg->redis.port,
             cfg->serve_count, cfg->partitions);
    fleet_start(bb.fleet);
    event_base_dispatch(bb.base);
    rc = 0;
fail:
    if (rc != 0)
        log_error("bench_bare: cannot start");
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    http_free(h);
    fleet_free(bb.fleet);
    if (bb.base)
        event_base_free(bb.base);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_REDIS = 256, OPT_HTTP };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, OPT_REDIS},
        {"http", required_argument, NULL, OPT_HTTP}, {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *path = NULL;
    struct daemon_overrides o = {NULL, NULL, NULL, NULL, NULL}; /* no --data: no snapshots */
    int opt;
    while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case OPT_REDIS: o.redis = optarg; break;
        case OPT_HTTP: o.http = optarg; break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bench_bare: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    static struct config cfg; /* large; lives for the whole run */
    if (daemon_configure(&cfg, path, &o, "bench_bare") != 0)
        return 1;
    return run(&cfg) == 0 ? 0 : 1;
}
