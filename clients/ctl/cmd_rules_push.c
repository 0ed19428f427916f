/* cmd_rules_push.c - `loyaltyctl rules push FILE`: validates the rule
 * sections of FILE, stores its canonical text at <prefix>rules:<hash> and
 * appends a rules entry naming it to <prefix>in, in one MULTI/EXEC (the
 * daemon's own code: rulepush.h, as `loyaltyd --push-rules`). The daemon
 * switches when it applies the entry, at its place in the stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "rulepush.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " rules push FILE [--label L] [--effective-ts MS] [OPTIONS]\n"
    "Validates the rule sections of FILE, stores the canonical text at\n"
    "<prefix>rules:<hash> and appends a rules entry naming it to <prefix>in. The\n"
    "daemon switches when it applies the entry: at once, or when event time\n"
    "reaches --effective-ts. With --config, Redis, the prefix, AUTH and the\n"
    "daemon's expiry_months_max come from the daemon's configuration file.\n"
    "Exit status: 0 pushed, 1 Redis refused, 2 usage or a bad file.\n\n"
    "  --label L           the version's name (1..64 bytes)\n"
    "  --effective-ts MS   switch when event time reaches MS (ms since the epoch)\n"
    "  --config FILE       the daemon's configuration (instead of --redis/--prefix)\n"
    CLIENT_BASE_USAGE
    "Example:\n"
    "  " CTL_PROG " rules push weekend.conf --label \"weekend x2\" --config "
    "/etc/loyaltyd/loyaltyd.conf\n";

enum { OPT_LABEL = CTL_OPT_FIRST_FREE, OPT_EFFECTIVE, OPT_CONFIG };

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    {"label", required_argument, NULL, OPT_LABEL},
    {"effective-ts", required_argument, NULL, OPT_EFFECTIVE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {NULL, 0, NULL, 0},
};

struct push_opts {
    const char *label, *config;
    int64_t effective_ts;
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
    default:
        return -1;
    }
}

/* Redis and the prefix: the daemon's configuration, or the options. */
static redisContext *connect_for(const char *prog, const struct push_opts *p,
                                 const struct ctl_opts *o, struct config *cfg)
{
    struct config_error cerr;
    char why[RULEPUSH_ERROR_MAX];
    config_defaults(cfg);
    if (p->config == NULL) {
        snprintf(cfg->redis.host, sizeof cfg->redis.host, "%s", o->base.redis.host);
        cfg->redis.port = o->base.redis.port;
        snprintf(cfg->prefix, sizeof cfg->prefix, "%s", o->base.prefix);
        cfg->expiry_months_max = RULEBOOK_EXPIRY_MONTHS_MAX; /* the daemon judges */
    } else if (config_load(cfg, p->config, &cerr) != 0 || config_finish(cfg, &cerr) != 0) {
        fprintf(stderr, "%s: %s\n", prog, cerr.text);
        return NULL;
    }
    redisContext *c = rulepush_connect(cfg, CLIENT_CONNECT_MS, why, sizeof why);
    if (c == NULL)
        fprintf(stderr, "%s: %s\n", prog, why);
    return c;
}

int cmd_rules_push(int argc, char **argv)
{
    struct ctl_opts o;
    struct push_opts p = {NULL, NULL, 0};
    char why[RULEPUSH_ERROR_MAX], id[PROTO_ID_STR_MAX];
    struct rulepush_book b;
    static struct config cfg; /* large */
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, apply_option, &p, 1, 1};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    redisContext *c = connect_for(argv[0], &p, &o, &cfg);
    if (c == NULL)
        return CLIENT_EXIT_FAIL;
    if (rulepush_load(argv[first], cfg.expiry_months_max, &b, why, sizeof why) != 0) {
        redisFree(c);
        return client_usage_error(argv[0], why);
    }
    rc = rulepush_send(c, cfg.prefix, &b, p.label ? p.label : "", p.effective_ts, id,
                       sizeof id, why, sizeof why);
    redisFree(c);
    if (rc == 0)
        printf("rulebook %s\nappended rules entry %s to %sin\n", b.hash, id, cfg.prefix);
    else
        fprintf(stderr, "%s: push failed: %s\n", argv[0], why);
    rulepush_book_free(&b);
    return rc == 0 ? CLIENT_EXIT_OK : CLIENT_EXIT_FAIL;
}
