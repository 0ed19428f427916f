/* cmd_rules_push.c - `loyaltyctl rules push FILE`: validates the rule
 * sections of FILE, stores its canonical text at <prefix>rules:<hash> and
 * appends a rules entry naming it to <prefix>in, in one MULTI/EXEC, for
 * every partition of the program (<prefix>{p}:...), following MOVED on a
 * Redis Cluster (the daemon's own code: rulefan.h, as `loyaltyd
 * --push-rules`). Each partition switches when it applies the entry, at
 * its place in its stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "partition.h"
#include "rulefan.h"
#include "rulepush.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " rules push FILE [--label L] [--effective-ts MS] [OPTIONS]\n"
    "Validates the rule sections of FILE, stores the canonical text at\n"
    "<prefix>rules:<hash> and appends a rules entry naming it to <prefix>in. The\n"
    "daemon switches when it applies the entry: at once, or when event time\n"
    "reaches --effective-ts. With --config, Redis, the prefix, the partitions,\n"
    "AUTH and the daemon's expiry_months_max come from the daemon's configuration\n"
    "file. With partitions, every partition's input gets the entry (keys\n"
    "<prefix>{p}:...); on a Redis Cluster give any node: MOVED is followed.\n"
    "Exit status: 0 pushed to every partition, 1 Redis refused, 2 usage or a bad\n"
    "file.\n\n"
    "  --label L           the version's name (1..64 bytes)\n"
    "  --partitions N      the program's partitions (daemon.partitions; default 1)\n"
    "  --effective-ts MS   switch when event time reaches MS (ms since the epoch)\n"
    "  --config FILE       the daemon's configuration (instead of --redis/--prefix)\n"
    CLIENT_BASE_USAGE
    "Example:\n"
    "  " CTL_PROG " rules push weekend.conf --label \"weekend x2\" --config "
    "/etc/loyaltyd/loyaltyd.conf\n";

enum { OPT_LABEL = CTL_OPT_FIRST_FREE, OPT_EFFECTIVE, OPT_CONFIG, OPT_PARTITIONS };

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    {"label", required_argument, NULL, OPT_LABEL},
    {"effective-ts", required_argument, NULL, OPT_EFFECTIVE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {NULL, 0, NULL, 0},
};

struct push_opts {
    const char *label, *config;
    int64_t effective_ts;
    uint64_t partitions; /* 0: --partitions not given */
};

static int apply_option(void *opts, int opt, const char *arg, struct client_error *err)
{
    struct push_opts *p = opts;
    uint64_t v;
    switch (opt) {
    case OPT_LABEL:
        if (strlen(arg) < 1 || strlen(arg) > PROTO_LABEL_MAX) {
            snprintf(err->text, sizeof err->text, "--label must be 1..%d bytes",
                     PROTO_LABEL_MAX);
            return -1;
        }
        p->label = arg;
        return 0;
    case OPT_EFFECTIVE:
        if (client_parse_u64("--effective-ts", arg, 1, PROTO_TS_MAX, &v, err) != 0)
            return -1;
        p->effective_ts = (int64_t)v;
        return 0;
    case OPT_CONFIG:
        p->config = arg;
        return 0;
    case OPT_PARTITIONS:
        return client_parse_u64("--partitions", arg, 1, PARTITION_COUNT_MAX, &p->partitions,
                                err);
    default:
        return -1;
    }
}

/* Redis, the prefix and the partitions: the daemon's configuration, or
 * the options. Returns 0, or -1 after saying why. */
static int settings_for(const char *prog, const struct push_opts *p, const struct ctl_opts *o,
                        struct config *cfg)
{
    struct config_error cerr;
    config_defaults(cfg);
    if (p->config == NULL) {
        snprintf(cfg->redis.host, sizeof cfg->redis.host, "%s", o->base.redis.host);
        cfg->redis.port = o->base.redis.port;
        snprintf(cfg->prefix, sizeof cfg->prefix, "%s", o->base.prefix);
        cfg->expiry_months_max = RULEBOOK_EXPIRY_MONTHS_MAX; /* the daemon judges */
        cfg->partitions = p->partitions ? (uint32_t)p->partitions : 1;
    } else if (config_load(cfg, p->config, &cerr) != 0 || config_finish(cfg, &cerr) != 0) {
        fprintf(stderr, "%s: %s\n", prog, cerr.text);
        return -1;
    } else if (p->partitions != 0 && p->partitions != cfg->partitions) {
        fprintf(stderr, "%s: --partitions %u differs from %s's partitions = %u\n", prog,
                (unsigned)p->partitions, p->config, cfg->partitions);
        return -1;
    }
    return 0;
}

static void pushed(void *arg, uint32_t p, const char *in, const char *id, const char *node)
{
    (void)arg;
    printf("partition %u: appended rules entry %s to %s (node %s)\n", p, id, in, node);
}

int cmd_rules_push(int argc, char **argv)
{
    struct ctl_opts o;
    struct push_opts p = {NULL, NULL, 0, 0};
    char why[RULEPUSH_ERROR_MAX];
    struct rulepush_book b;
    static struct config cfg; /* large */
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, apply_option, &p, 1, 1};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    if (settings_for(argv[0], &p, &o, &cfg) != 0)
        return CLIENT_EXIT_FAIL;
    if (rulepush_load(argv[first], cfg.expiry_months_max, &b, why, sizeof why) != 0)
        return client_usage_error(argv[0], why);
    printf("rulebook %s\n", b.hash);
    uint32_t done = rulefan_push(&cfg, &b, p.label ? p.label : "", p.effective_ts,
                                 CLIENT_CONNECT_MS, pushed, NULL, why, sizeof why);
    if (done < cfg.partitions)
        fprintf(stderr, "%s: push failed after %u of %u partitions: %s\n", argv[0], done,
                cfg.partitions, why);
    rulepush_book_free(&b);
    return done == cfg.partitions ? CLIENT_EXIT_OK : CLIENT_EXIT_FAIL;
}
