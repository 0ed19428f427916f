/* client_common.h - what the loyaltyd command-line clients share.
 *
 * loyalty-posload, loyalty-scan and loyalty-tail all talk to one Redis given
 * as HOST:PORT, name their streams <prefix><suffix> (in, out, dlq,
 * progress), take the same --redis / --prefix / --help options, parse
 * numbers with range checks and stop on SIGINT/SIGTERM. Errors go into a
 * struct client_error the caller owns; only main() prints and exits.
 */
#ifndef LOYALTY_CLIENT_COMMON_H
#define LOYALTY_CLIENT_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CLIENT_HOST_MAX 255    /* a DNS name is at most 253 bytes */
#define CLIENT_PREFIX_MAX 64   /* the daemon's bound on its prefix (CONFIG_KEY_MAX) */
#define CLIENT_SUFFIX_MAX 16   /* "progress", the longest key suffix we use */
#define CLIENT_KEY_MAX (CLIENT_PREFIX_MAX + CLIENT_SUFFIX_MAX)
#define CLIENT_ERROR_MAX 512   /* one line: a host name of 255 bytes and a reason */
#define CLIENT_NUMBER_MAX 24   /* digits of an option value: u64 has 20 */
#define CLIENT_CONNECT_MS 2000 /* a Redis on the same network answers at once */

#define CLIENT_DEFAULT_REDIS "127.0.0.1:6379"
#define CLIENT_DEFAULT_PREFIX "loyalty:"

/* Exit codes shared by the clients. */
#define CLIENT_EXIT_OK 0
#define CLIENT_EXIT_FAIL 1  /* the work failed (Redis error, rejected scan) */
#define CLIENT_EXIT_USAGE 2 /* bad options, or (loyalty-scan) a timeout */

struct client_error {
    char text[CLIENT_ERROR_MAX];
};

struct client_endpoint {
    char host[CLIENT_HOST_MAX + 1];
    int port; /* 1..65535 */
};

/* The options every client takes. */
struct client_base {
    struct client_endpoint redis;
    char prefix[CLIENT_PREFIX_MAX + 1];
};

/* getopt_long codes of the shared options; a client numbers its own
 * long-only options from CLIENT_OPT_FIRST_FREE. */
enum {
    CLIENT_OPT_HELP = 'h',
    CLIENT_OPT_REDIS = 0x100,
    CLIENT_OPT_PREFIX,
    CLIENT_OPT_FIRST_FREE = 0x200
};

/* The shared entries of a client's `struct option` table. */
#define CLIENT_BASE_LONGOPTS                                                   \
    {"redis", required_argument, NULL, CLIENT_OPT_REDIS},                      \
        {"prefix", required_argument, NULL, CLIENT_OPT_PREFIX},                \
        {"help", no_argument, NULL, CLIENT_OPT_HELP}

/* Usage text of the shared options, for a client's --help. */
#define CLIENT_BASE_USAGE                                                      \
    "  --redis HOST:PORT   Redis holding the streams (" CLIENT_DEFAULT_REDIS   \
    ")\n"                                                                      \
    "  --prefix P          key prefix of the streams (" CLIENT_DEFAULT_PREFIX  \
    ")\n"                                                                      \
    "  -h, --help          this text\n"

/* Applies one of a client's own options (`opts` is the client's options
 * struct). Returns 0, or -1 with err set when `arg` is bad. */
typedef int (*client_option_fn)(void *opts, int opt, const char *arg,
                                struct client_error *err);

/* Sets the defaults: Redis at CLIENT_DEFAULT_REDIS, prefix "loyalty:". */
void client_base_defaults(struct client_base *b);

/* Applies getopt_long result `opt` with argument `arg` when it is one of the
 * shared options (--help is left to the caller). Returns 1 when applied, 0
 * when `opt` is not a shared option, -1 with err set when `arg` is bad. */
int client_base_option(struct client_base *b, int opt, const char *arg,
                       struct client_error *err);

/* Runs getopt_long over argv with `longopts` (which include
 * CLIENT_BASE_LONGOPTS): --help prints `usage` on stdout, the shared options
 * go to *base, the others to apply(opts, ...); positional arguments are an
 * error. Returns -1 when the client should go on, or the exit code for main:
 * CLIENT_EXIT_OK after --help, CLIENT_EXIT_USAGE after an error (printed). */
int client_parse_args(int argc, char **argv, const char *prog, const char *usage,
                      const struct option *longopts, struct client_base *base,
                      client_option_fn apply, void *opts);

/* As client_parse_args, but positional arguments are left to the caller:
 * getopt_long moves them to the end of argv, and *first_pos is set to the
 * index of the first one (argc when there are none). */
int client_parse_args_pos(int argc, char **argv, const char *prog, const char *usage,
                          const struct option *longopts, struct client_base *base,
                          client_option_fn apply, void *opts, int *first_pos);

/* Catches stop signals and connects to base->redis (see client_connect;
 * commands time out after io_ms). Returns the context, or NULL after
 * printing "PROG: why" on stderr. */
redisContext *client_start(const char *prog, const struct client_base *base,
                           uint32_t io_ms);

/* Parses "HOST:PORT" (or "[V6ADDR]:PORT") into *ep. Returns 0, or -1 with
 * err set. */
int client_parse_endpoint(const char *s, struct client_endpoint *ep,
                          struct client_error *err);

/* Parses the decimal value `s` of option `name` into *out, which must lie in
 * min..max. Returns 0, or -1 with err naming the option. */
int client_parse_u64(const char *name, const char *s, uint64_t min,
                     uint64_t max, uint64_t *out, struct client_error *err);

/* Writes "<prefix><suffix>" into buf (CLIENT_KEY_MAX + 1 bytes). `suffix`
 * is one of our literals, at most CLIENT_SUFFIX_MAX bytes. */
void client_key(const struct client_base *b, const char *suffix, char *buf,
                size_t cap);

/* Connects to Redis at *ep, waiting at most connect_ms, and sets a socket
 * timeout of io_ms on every later command (it must exceed any XREAD BLOCK).
 * Returns the context (the caller frees it with redisFree), or NULL with
 * err set. */
redisContext *client_connect(const struct client_endpoint *ep,
                             uint32_t connect_ms, uint32_t io_ms,
                             struct client_error *err);

/* Wall-clock milliseconds since the epoch (event time of live entries). */
int64_t client_wall_ms(void);

/* Monotonic microseconds, for rates and latencies. */
int64_t client_mono_us(void);

/* Installs SIGINT and SIGTERM handlers (without SA_RESTART, so a sleep is
 * cut short) that make client_stopping() true. Returns 0 or -1. */
int client_catch_stop_signals(void);

/* True once SIGINT or SIGTERM arrived. */
bool client_stopping(void);

/* Prints "PROG: TEXT" and a pointer to --help on stderr; returns
 * CLIENT_EXIT_USAGE for main to return. */
int client_usage_error(const char *prog, const char *text);

#endif
