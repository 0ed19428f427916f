/* client_common.c - options, Redis connection, clocks and signals shared by
 * the command-line clients. See client_common.h. */
#include "client_common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lyassert.h"

/* Set from the signal handler only; read through client_stopping(). A
 * signal flag is the one piece of state that has to be file-scope. */
static volatile sig_atomic_t stop_requested;

void client_base_defaults(struct client_base *b)
{
    struct client_error err;
    memset(b, 0, sizeof *b);
    int rc = client_parse_endpoint(CLIENT_DEFAULT_REDIS, &b->redis, &err);
    LY_ASSERT(rc == 0);
    snprintf(b->prefix, sizeof b->prefix, "%s", CLIENT_DEFAULT_PREFIX);
}

int client_base_option(struct client_base *b, int opt, const char *arg,
                       struct client_error *err)
{
    switch (opt) {
    case CLIENT_OPT_REDIS:
        return client_parse_endpoint(arg, &b->redis, err) == 0 ? 1 : -1;
    case CLIENT_OPT_PREFIX:
        if (strlen(arg) > CLIENT_PREFIX_MAX) {
            snprintf(err->text, sizeof err->text,
                     "--prefix is longer than %d bytes", CLIENT_PREFIX_MAX);
            return -1;
        }
        snprintf(b->prefix, sizeof b->prefix, "%s", arg);
        return 1;
    default:
        return 0;
    }
}

int client_parse_args_pos(int argc, char **argv, const char *prog, const char *usage,
                          const struct option *longopts, struct client_base *base,
                          client_option_fn apply, void *opts, int *first_pos)
{
    struct client_error err;
    int opt;
    optind = 0; /* a fresh scan: loyaltyctl parses a sub-argv */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == CLIENT_OPT_HELP) {
            fputs(usage, stdout);
            return CLIENT_EXIT_OK;
        }
        if (opt == '?')
            return CLIENT_EXIT_USAGE; /* getopt_long said what was wrong */
        int rc = client_base_option(base, opt, optarg, &err);
        if (rc == 0)
            rc = apply(opts, opt, optarg, &err) == 0 ? 1 : -1;
        if (rc < 0)
            return client_usage_error(prog, err.text);
    }
    *first_pos = optind;
    return -1;
}

int client_parse_args(int argc, char **argv, const char *prog, const char *usage,
                      const struct option *longopts, struct client_base *base,
                      client_option_fn apply, void *opts)
{
    int first_pos = argc;
    int rc = client_parse_args_pos(argc, argv, prog, usage, longopts, base, apply, opts,
                                   &first_pos);
    if (rc < 0 && first_pos < argc)
        return client_usage_error(prog, "unexpected argument");
    return rc;
}

redisContext *client_start(const char *prog, const struct client_base *base,
                           uint32_t io_ms)
{
    struct client_error err;
    redisContext *c = NULL;
    if (client_catch_stop_signals() != 0)
        snprintf(err.text, sizeof err.text, "cannot catch SIGINT/SIGTERM");
    else
        c = client_connect(&base->redis, CLIENT_CONNECT_MS, io_ms, &err);
    if (c == NULL)
        fprintf(stderr, "%s: %s\n", prog, err.text);
    return c;
}

/* Splits "HOST:PORT" / "[V6]:PORT" at its last colon; returns the host's
 * start and length, or -1. */
static int endpoint_host(const char *s, const char *colon, const char **host,
                         size_t *len)
{
    *host = s;
    *len = (size_t)(colon - s);
    if (*len >= 2 && s[0] == '[' && colon[-1] == ']') {
        *host = s + 1;
        *len -= 2;
    }
    return *len == 0 || *len > CLIENT_HOST_MAX ? -1 : 0;
}

int client_parse_endpoint(const char *s, struct client_endpoint *ep,
                          struct client_error *err)
{
    const char *colon = strrchr(s, ':');
    const char *host;
    size_t host_len;
    uint64_t port;
    struct client_error port_err;

    if (colon == NULL || endpoint_host(s, colon, &host, &host_len) != 0 ||
        client_parse_u64("port", colon + 1, 1, 65535, &port, &port_err) != 0) {
        snprintf(err->text, sizeof err->text,
                 "bad endpoint '%.64s': expected HOST:PORT", s);
        return -1;
    }
    memcpy(ep->host, host, host_len);
    ep->host[host_len] = '\0';
    ep->port = (int)port;
    return 0;
}

int client_parse_u64(const char *name, const char *s, uint64_t min,
                     uint64_t max, uint64_t *out, struct client_error *err)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    if (s[0] >= '0' && s[0] <= '9' && strlen(s) <= CLIENT_NUMBER_MAX) {
        v = strtoull(s, &end, 10);
        if (errno == 0 && *end == '\0' && v >= min && v <= max) {
            *out = (uint64_t)v;
            return 0;
        }
    }
    snprintf(err->text, sizeof err->text,
             "%s must be a whole number in %llu..%llu, not '%.32s'", name,
             (unsigned long long)min, (unsigned long long)max, s);
    return -1;
}

void client_key(const struct client_base *b, const char *suffix, char *buf,
                size_t cap)
{
    LY_ASSERT(cap >= CLIENT_KEY_MAX + 1);
    LY_ASSERT(strlen(suffix) <= CLIENT_SUFFIX_MAX);
    int n = snprintf(buf, cap, "%s%s", b->prefix, suffix);
    LY_ASSERT(n > 0 && (size_t)n < cap);
}

static struct timeval ms_to_timeval(uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

redisContext *client_connect(const struct client_endpoint *ep,
                             uint32_t connect_ms, uint32_t io_ms,
                             struct client_error *err)
{
    redisContext *c =
        redisConnectWithTimeout(ep->host, ep->port, ms_to_timeval(connect_ms));
    if (c == NULL) {
        snprintf(err->text, sizeof err->text, "out of memory for Redis");
        return NULL;
    }
    if (c->err == 0 && redisSetTimeout(c, ms_to_timeval(io_ms)) != REDIS_OK) {
        snprintf(err->text, sizeof err->text, "cannot set Redis timeout");
        redisFree(c);
        return NULL;
    }
    if (c->err != 0) {
        snprintf(err->text, sizeof err->text, "cannot connect to Redis at %s:%d: %s",
                 ep->host, ep->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    int rc = clock_gettime(id, &ts);
    LY_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t client_wall_ms(void)
{
    return clock_us(CLOCK_REALTIME) / 1000;
}

int64_t client_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int client_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a sleep returns early on a stop */
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    return 0;
}

bool client_stopping(void)
{
    return stop_requested != 0;
}

int client_usage_error(const char *prog, const char *text)
{
    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, text, prog);
    return CLIENT_EXIT_USAGE;
}
