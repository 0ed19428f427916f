/* main.c - command line of the loyaltyd daemon. The only place that exits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "rulecanon.h"
#include "rulefan.h"
#include "rulepush.h"

/* A push or a check waits this long for Redis: one round trip each. */
#define MAIN_REDIS_TIMEOUT_MS 5000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loyaltyd [-c FILE] [--redis HOST:PORT] [--http HOST:PORT] [--data DIR]\n"
            "                [--serve LIST] [--take-partitions LIST] [--check-config]\n"
            "                [--print-rules] [--verbose] [--help] [--version]\n"
            "       loyaltyd --push-rules FILE [--label L] [--effective-ts MS]\n"
            "                [-c FILE] [--redis HOST:PORT]\n"
            "\n"
            "loyaltyd applies point-of-sale entries from the Redis stream <prefix>in to\n"
            "member state held in memory and publishes what happened to <prefix>out\n"
            "(rejected entries go to <prefix>dlq). HTTP answers member lookups.\n"
            "\n"
            "  -c, --config FILE   configuration file (libconfig syntax; see\n"
            "                      conf/loyaltyd.conf). Without it, built-in defaults.\n"
            "      --redis H:P     Redis server (overrides daemon.redis)\n"
            "      --http H:P      HTTP listen address (overrides daemon.http)\n"
            "      --data DIR      data directory (overrides daemon.data_dir)\n"
            "      --serve LIST    partitions to serve, e.g. 0-7,12 or all (overrides\n"
            "                      daemon.serve; README \"Scaling out\")\n"
            "      --take-partitions LIST\n"
            "                      take these served partitions from their former owner\n"
            "                      (the hand-over): their owner epoch goes up, so the\n"
            "                      former owner can never commit to them again\n"
            "      --check-config  validate the configuration, print the rulebook's hash\n"
            "                      (its identity, see README) and exit (0 = valid); with\n"
            "                      --redis, also whether it is the version in force\n"
            "      --print-rules   print the canonical text of the rulebook (what its hash\n"
            "                      is computed over and what <prefix>rules:<hash> holds)\n"
            "      --push-rules F  validate the rule sections of file F, store the text at\n"
            "                      <prefix>rules:<hash> and append a rules entry naming it\n"
            "                      to <prefix>in (prefix, Redis and limits from -c), then\n"
            "                      exit; the daemon switches when it applies the entry.\n"
            "                      With partitions: every partition's input, following\n"
            "                      MOVED on a cluster, one line per partition\n"
            "      --label L       with --push-rules: the version's name (1..64 bytes)\n"
            "      --effective-ts MS  with --push-rules: switch when event time reaches\n"
            "                      MS (ms since the epoch) instead of at once\n"
            "  -v, --verbose       log debug lines too\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Stops cleanly on SIGTERM or SIGINT (the batch in hand is committed); on\n"
            "SIGHUP reads the file's rule sections again and appends them to the log\n"
            "when they differ from the version in force.\n"
            "Exit status: 0 after a clean stop, a valid --check-config or a push, 1 on\n"
            "a bad configuration, a failed start or a failed push, 2 on bad usage.\n");
}

struct options {
    const char *path, *push, *label;
    long long effective_ts;
    struct daemon_overrides o;
    int check, print;
};

/* Prints how the file's rulebook `hash` stands against the version in
 * force that <prefix>rules:current records. Returns the exit code. */
static int check_against_redis(const struct config *cfg, const char *hash)
{
    char err[RULEPUSH_ERROR_MAX];
    struct rulepush_current cur;
    redisContext *c = rulepush_connect(cfg, MAIN_REDIS_TIMEOUT_MS, err, sizeof(err));
    char prefix[CONFIG_KEY_MAX + 16];
    config_partition_prefix(cfg, 0, prefix, sizeof(prefix)); /* each partition's is alike */
    int rc = c == NULL ? -1 : rulepush_read_current(c, prefix, &cur, err, sizeof(err));
    redisFree(c);
    if (rc != 0) {
        fprintf(stderr, "loyaltyd: %s\n", err);
        return 1;
    }
    if (!cur.found)
        printf("in force: unknown (no %srules:current: no daemon has committed with this "
               "prefix)\nthe file's rulebook differs from the version in force\n",
               prefix);
    else if (strcmp(cur.hash, hash) == 0)
        printf("in force: %s (%s, since %s)\nthe file's rulebook is the version in force\n",
               cur.hash, cur.label, cur.since_id);
    else
        printf("in force: %s (%s, since %s)\nthe file's rulebook differs from the version "
               "in force%s\n", cur.hash[0] ? cur.hash : "(start-up version)", cur.label,
               cur.since_id,
               cur.has_next && strcmp(cur.next_hash, hash) == 0
                   ? "; it is the scheduled version" : "");
    return 0;
}

static int check_config(const struct config *cfg, const struct options *op)
{
    char hash[RULECANON_HASH_LEN + 1];
    if (rulecanon_hash(&cfg->rules, hash) != 0) {
        fprintf(stderr, "loyaltyd: out of memory\n");
        return 1;
    }
    printf("%s: configuration is valid\nrulebook %s\n",
           op->path ? op->path : "(built-in defaults)", hash);
    return op->o.redis ? check_against_redis(cfg, hash) : 0;
}

static int print_rules(const struct config *cfg)
{
    char *text = rulecanon_text(&cfg->rules);
    if (text == NULL) {
        fprintf(stderr, "loyaltyd: out of memory\n");
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

static void pushed(void *arg, uint32_t p, const char *in, const char *id, const char *node)
{
    (void)arg;
    printf("partition %u: appended rules entry %s to %s (node %s)\n", p, id, in, node);
}

/* --push-rules: the prefix, Redis and limits come from `cfg` (-c); every
 * partition's input gets the entry (rulefan.h). */
static int push_rules(const struct config *cfg, const struct options *op)
{
    char err[RULEPUSH_ERROR_MAX];
    struct rulepush_book b;
    if (rulepush_load(op->push, cfg->expiry_months_max, &b, err, sizeof(err)) != 0) {
        fprintf(stderr, "loyaltyd: bad rulebook: %s\n", err);
        return 1;
    }
    printf("rulebook %s\n", b.hash);
    uint32_t done = rulefan_push(cfg, &b, op->label ? op->label : "", op->effective_ts,
                                 MAIN_REDIS_TIMEOUT_MS, pushed, NULL, err, sizeof(err));
    if (done < cfg->partitions)
        fprintf(stderr, "loyaltyd: push failed after %u of %u partitions: %s\n", done,
                cfg->partitions, err);
    rulepush_book_free(&b);
    return done == cfg->partitions ? 0 : 1;
}

/* Parses the command line into `op`. Returns -1 to go on, or an exit code. */
static int parse(int argc, char **argv, struct options *op)
{
    enum { OPT_REDIS = 256, OPT_HTTP, OPT_DATA, OPT_CHECK, OPT_PRINT, OPT_PUSH, OPT_LABEL,
           OPT_EFFECTIVE, OPT_SERVE, OPT_TAKE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, OPT_REDIS},
        {"http", required_argument, NULL, OPT_HTTP}, {"data", required_argument, NULL, OPT_DATA},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"print-rules", no_argument, NULL, OPT_PRINT},
        {"push-rules", required_argument, NULL, OPT_PUSH},
        {"label", required_argument, NULL, OPT_LABEL},
        {"effective-ts", required_argument, NULL, OPT_EFFECTIVE},
        {"serve", required_argument, NULL, OPT_SERVE},
        {"take-partitions", required_argument, NULL, OPT_TAKE},
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    char *end;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': op->path = optarg; break;
        case OPT_REDIS: op->o.redis = optarg; break;
        case OPT_HTTP: op->o.http = optarg; break;
        case OPT_DATA: op->o.data = optarg; break;
        case OPT_SERVE: op->o.serve = optarg; break;
        case OPT_TAKE: op->o.take = optarg; break;
        case OPT_CHECK: op->check = 1; break;
        case OPT_PRINT: op->print = 1; break;
        case OPT_PUSH: op->push = optarg; break;
        case OPT_LABEL: op->label = optarg; break;
        case OPT_EFFECTIVE:
            errno = 0;
            op->effective_ts = strtoll(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || op->effective_ts < 1 ||
                op->effective_ts > PROTO_TS_MAX) {
                fprintf(stderr, "loyaltyd: --effective-ts: ms since the epoch, 1..%lld\n",
                        PROTO_TS_MAX);
                return 2;
            }
            break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("loyaltyd %s\n", LOYALTY_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    const char *bad = optind != argc ? "an unexpected argument"
                      : (op->label || op->effective_ts) && !op->push
                          ? "--label and --effective-ts go with --push-rules"
                      : (op->push != NULL) + op->check + op->print > 1
                          ? "--push-rules, --check-config and --print-rules exclude each other"
                      : op->label && (strlen(op->label) < 1 || strlen(op->label) > PROTO_LABEL_MAX)
                          ? "--label must be 1..64 bytes"
                          : NULL;
    if (bad != NULL) {
        fprintf(stderr, "loyaltyd: %s\n", bad);
        usage(stderr);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct options op;
    memset(&op, 0, sizeof(op));
    int rc = parse(argc, argv, &op);
    if (rc >= 0)
        return rc;
    static struct config cfg; /* large; lives for the whole run */
    if (daemon_configure(&cfg, op.path, &op.o, "loyaltyd") != 0)
        return 1;
    if (op.check)
        return check_config(&cfg, &op);
    if (op.print)
        return print_rules(&cfg);
    if (op.push)
        return push_rules(&cfg, &op);
    return daemon_run(&cfg, op.o.take, op.path) == 0 ? 0 : 1;
}
