/* main.c - command line of the loyaltyd daemon. The only place that exits. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "rulecanon.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loyaltyd [-c FILE] [--redis HOST:PORT] [--http HOST:PORT] [--data DIR]\n"
            "                [--serve LIST] [--take-partitions LIST] [--check-config]\n"
            "                [--verbose] [--help] [--version]\n"
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
            "                      (its identity, see README) and exit (0 = valid)\n"
            "  -v, --verbose       log debug lines too\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Stops cleanly on SIGTERM or SIGINT (the batch in hand is committed).\n"
            "Exit status: 0 after a clean stop or a valid --check-config, 1 on a bad\n"
            "configuration or a failed start, 2 on bad usage.\n");
}

int main(int argc, char **argv)
{
    enum { OPT_REDIS = 256, OPT_HTTP, OPT_DATA, OPT_CHECK, OPT_SERVE, OPT_TAKE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, OPT_REDIS},
        {"http", required_argument, NULL, OPT_HTTP}, {"data", required_argument, NULL, OPT_DATA},
        {"check-config", no_argument, NULL, OPT_CHECK}, {"verbose", no_argument, NULL, 'v'},
        {"serve", required_argument, NULL, OPT_SERVE},
        {"take-partitions", required_argument, NULL, OPT_TAKE},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *path = NULL;
    struct daemon_overrides o = {NULL, NULL, NULL, NULL, NULL};
    int check = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case OPT_REDIS: o.redis = optarg; break;
        case OPT_HTTP: o.http = optarg; break;
        case OPT_DATA: o.data = optarg; break;
        case OPT_SERVE: o.serve = optarg; break;
        case OPT_TAKE: o.take = optarg; break;
        case OPT_CHECK: check = 1; break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("loyaltyd %s\n", LOYALTY_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "loyaltyd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    static struct config cfg; /* large; lives for the whole run */
    if (daemon_configure(&cfg, path, &o, "loyaltyd") != 0)
        return 1;
    if (check) {
        char hash[RULECANON_HASH_LEN + 1];
        if (rulecanon_hash(&cfg.rules, hash) != 0) {
            fprintf(stderr, "loyaltyd: out of memory\n");
            return 1;
        }
        printf("%s: configuration is valid\nrulebook %s\n",
               path ? path : "(built-in defaults)", hash);
        return 0;
    }
    return daemon_run(&cfg, o.take) == 0 ? 0 : 1;
}
