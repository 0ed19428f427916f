/* ctl.h - how loyaltyctl is put together: a table of subcommands and the
 * options they share.
 *
 * `loyaltyctl SUB ARGS...` finds SUB in a table of struct ctl_command and
 * runs it with argv[0] set to "loyaltyctl SUB", so getopt's messages and
 * every usage text name the subcommand. A subcommand with subcommands of
 * its own (`dlq list`, later `rules show`) is one more table, dispatched by
 * ctl_dispatch. Adding a subcommand is one file (cmd_NAME.c, declared in
 * ctl_cmds.h), one row of a table and one line of CMakeLists.txt.
 *
 * Every subcommand takes --help, and the options it needs from the shared
 * sets: Redis (--redis, --prefix), HTTP (--http, --token-env,
 * --timeout-ms) and --json. Exit codes are the clients' (client_common.h):
 * 0 done, 1 the work failed or the answer is "no" (unknown member,
 * unhealthy daemon, entries skipped), 2 bad usage.
 */
#ifndef LOYALTY_CTL_H
#define LOYALTY_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client_common.h"
#include "httpget.h"

#define CTL_PROG "loyaltyctl"
#define CTL_PROG_MAX 64 /* "loyaltyctl rules push": program and two words */
#define CTL_DEFAULT_HTTP "127.0.0.1:8080" /* conf/loyaltyd.conf's daemon.http */
#define CTL_DEFAULT_TOKEN_ENV "LOYALTY_HTTP_TOKEN"
#define CTL_TOKEN_ENV_MAX 64 /* an environment variable's name */
#define CTL_HTTP_TIMEOUT_MS 2000 /* the API answers from memory: seconds is a fault */
#define CTL_TIMEOUT_MS_MAX 600000

/* Runs a subcommand; argv[0] is its full name ("loyaltyctl member").
 * Returns the exit code. */
typedef int (*ctl_run_fn)(int argc, char **argv);

struct ctl_command {
    const char *name;
    const char *summary; /* one line for the list in --help */
    ctl_run_fn run;
};

/* Finds argv[1] in cmds[0..n) and runs it with argv + 1 (its argv[0] made
 * "<prog> <name>"). No argument, -h, --help: the list on stdout (exit 0
 * for --help, 2 when the subcommand is missing); `help NAME` is NAME
 * --help; an unknown name is a usage error. Returns the exit code. */
int ctl_dispatch(const char *prog, const struct ctl_command *cmds, size_t n,
                 const char *about, int argc, char **argv);

/* The options subcommands share. */
struct ctl_opts {
    struct client_base base;       /* --redis, --prefix */
    struct client_endpoint http;   /* --http */
    char token_env[CTL_TOKEN_ENV_MAX + 1];
    bool token_env_given;          /* then the variable must be set */
    bool json;                     /* --json */
    uint32_t timeout_ms;           /* --timeout-ms, HTTP and waits */
};

/* getopt_long codes of the shared options; a subcommand numbers its own
 * from CTL_OPT_FIRST_FREE. */
enum {
    CTL_OPT_HTTP = CLIENT_OPT_FIRST_FREE,
    CTL_OPT_TOKEN_ENV,
    CTL_OPT_TIMEOUT,
    CTL_OPT_JSON,
    CTL_OPT_FIRST_FREE = 0x300
};

#define CTL_HTTP_LONGOPTS                                                      \
    {"http", required_argument, NULL, CTL_OPT_HTTP},                           \
        {"token-env", required_argument, NULL, CTL_OPT_TOKEN_ENV},             \
        {"timeout-ms", required_argument, NULL, CTL_OPT_TIMEOUT}
#define CTL_JSON_LONGOPT {"json", no_argument, NULL, CTL_OPT_JSON}
/* For subcommands without the Redis options (CLIENT_BASE_LONGOPTS has it). */
#define CTL_HELP_LONGOPT {"help", no_argument, NULL, CLIENT_OPT_HELP}

#define CTL_HTTP_USAGE                                                         \
    "  --http HOST:PORT    the daemon's HTTP API (" CTL_DEFAULT_HTTP ")\n"     \
    "  --token-env VAR     send Authorization: Bearer $VAR (default: $"        \
    CTL_DEFAULT_TOKEN_ENV " when set)\n"                                       \
    "  --timeout-ms N      give up after N ms (2000)\n"
#define CTL_JSON_USAGE "  --json              print JSON instead of text\n"
#define CTL_HELP_USAGE "  -h, --help          this text\n"

/* What a subcommand parses: its usage text, its long options (its own,
 * plus the shared sets it uses, ending with a zero row), an apply function
 * for its own options, and how many positional arguments it takes. */
struct ctl_args {
    const char *usage;
    const struct option *longopts;
    client_option_fn apply; /* may be NULL when it has no options of its own */
    void *opts;
    int pos_min;
    int pos_max;
};

/* Sets the shared defaults and parses argv. Returns -1 to go on (with
 * *first_pos the index of the first positional argument, which
 * getopt_long moved to the end), or the exit code for main. */
int ctl_parse(int argc, char **argv, struct ctl_opts *o, const struct ctl_args *a,
              int *first_pos);

/* GETs `path` from the daemon with the bearer token, if any, and parses
 * the body as JSON into *doc (NULL when it is not JSON; the caller
 * decrefs). Returns the HTTP status, or -1 with err set when the daemon
 * could not be reached or the token variable is unusable. */
int ctl_http_get_json(const struct ctl_opts *o, const char *path, json_t **doc,
                      struct client_error *err);

/* Prints JSON value *v as text on stdout: strings bare (escaped), null as
 * "-", an integer under a key ending in "_ts" as a UTC time, an array of
 * scalars as "a, b", an object as "k=v k=v" (one level), the rest as
 * compact JSON. `key` may be NULL. */
void ctl_print_value(const char *key, const json_t *v);

/* Prints JSON value *doc on stdout as one compact line. */
void ctl_print_json(const json_t *doc);

/* Prints "PROG: TEXT" on stderr and returns CLIENT_EXIT_FAIL. */
int ctl_fail(const char *prog, const char *text);

#endif
