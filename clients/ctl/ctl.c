/* ctl.c - loyaltyctl's dispatch, shared options and HTTP GET. See ctl.h. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lyassert.h"
#include "msgview.h"

static void list_commands(FILE *f, const char *prog, const struct ctl_command *cmds,
                          size_t n, const char *about)
{
    fprintf(f, "Usage: %s COMMAND [OPTIONS]\n%s\nCommands:\n", prog, about);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "'%s COMMAND --help' (or '%s help COMMAND') shows a command's options.\n",
            prog, prog);
}

int ctl_dispatch(const char *prog, const struct ctl_command *cmds, size_t n,
                 const char *about, int argc, char **argv)
{
    char name[CTL_PROG_MAX];
    char help_flag[] = "--help";
    if (argc < 2) {
        list_commands(stderr, prog, cmds, n, about);
        return CLIENT_EXIT_USAGE;
    }
    const char *want = argv[1];
    bool help = strcmp(want, "help") == 0;
    if (strcmp(want, "-h") == 0 || strcmp(want, "--help") == 0 || (help && argc == 2)) {
        list_commands(stdout, prog, cmds, n, about);
        return CLIENT_EXIT_OK;
    }
    if (help) /* help NAME: NAME --help */
        want = argv[2];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(want, cmds[i].name) != 0)
            continue;
        int len = snprintf(name, sizeof name, "%s %s", prog, cmds[i].name);
        LY_ASSERT(len > 0 && (size_t)len < sizeof name);
        if (help) {
            char *sub[] = {name, help_flag, NULL};
            return cmds[i].run(2, sub);
        }
        argv[1] = name; /* argv is ours to change; getopt names the command */
        return cmds[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command '%.40s'\nTry '%s --help'.\n", prog, want, prog);
    return CLIENT_EXIT_USAGE;
}

/* Applies a shared option, or hands the caller's own to its apply. */
struct ctl_apply_ctx {
    struct ctl_opts *o;
    const struct ctl_args *a;
};

static int apply_shared(void *ctx, int opt, const char *arg, struct client_error *err)
{
    struct ctl_apply_ctx *c = ctx;
    struct ctl_opts *o = c->o;
    uint64_t v;
    switch (opt) {
    case CTL_OPT_HTTP:
        return client_parse_endpoint(arg, &o->http, err);
    case CTL_OPT_TOKEN_ENV:
        if (arg[0] == '\0' || strlen(arg) > CTL_TOKEN_ENV_MAX) {
            snprintf(err->text, sizeof err->text, "--token-env must be 1..%d bytes",
                     CTL_TOKEN_ENV_MAX);
            return -1;
        }
        snprintf(o->token_env, sizeof o->token_env, "%s", arg);
        o->token_env_given = true;
        return 0;
    case CTL_OPT_TIMEOUT:
        if (client_parse_u64("--timeout-ms", arg, 1, CTL_TIMEOUT_MS_MAX, &v, err) != 0)
            return -1;
        o->timeout_ms = (uint32_t)v;
        return 0;
    case CTL_OPT_JSON:
        o->json = true;
        return 0;
    default:
        LY_ASSERT(c->a->apply != NULL);
        return c->a->apply(c->a->opts, opt, arg, err);
    }
}

int ctl_parse(int argc, char **argv, struct ctl_opts *o, const struct ctl_args *a,
              int *first_pos)
{
    struct client_error err;
    memset(o, 0, sizeof *o);
    client_base_defaults(&o->base);
    int rc = client_parse_endpoint(CTL_DEFAULT_HTTP, &o->http, &err);
    LY_ASSERT(rc == 0);
    snprintf(o->token_env, sizeof o->token_env, "%s", CTL_DEFAULT_TOKEN_ENV);
    o->timeout_ms = CTL_HTTP_TIMEOUT_MS;
    struct ctl_apply_ctx ctx = {o, a};
    rc = client_parse_args_pos(argc, argv, argv[0], a->usage, a->longopts, &o->base,
                               apply_shared, &ctx, first_pos);
    if (rc >= 0)
        return rc;
    int npos = argc - *first_pos;
    if (npos < a->pos_min)
        return client_usage_error(argv[0], "missing argument");
    if (npos > a->pos_max)
        return client_usage_error(argv[0], "unexpected argument");
    return -1;
}

/* The bearer token from the environment: NULL when none is to be sent,
 * -1 (err set) when it is required but missing or not sendable. */
static int bearer_token(const struct ctl_opts *o, const char **token,
                        struct client_error *err)
{
    const char *t = getenv(o->token_env);
    *token = NULL;
    if (t == NULL || t[0] == '\0') {
        if (!o->token_env_given)
            return 0;
        snprintf(err->text, sizeof err->text, "--token-env %s: the variable is not set",
                 o->token_env);
        return -1;
    }
    if (!httpget_token_ok(t)) {
        snprintf(err->text, sizeof err->text,
                 "$%s is not a token: 1..%d printable characters without spaces",
                 o->token_env, HTTPGET_TOKEN_MAX);
        return -1;
    }
    *token = t;
    return 0;
}

int ctl_http_get_json(const struct ctl_opts *o, const char *path, json_t **doc,
                      struct client_error *err)
{
    const char *token = NULL;
    *doc = NULL;
    if (bearer_token(o, &token, err) != 0)
        return -1;
    struct httpget_response *r = malloc(sizeof *r); /* 64 KiB: not on the stack */
    if (r == NULL) {
        snprintf(err->text, sizeof err->text, "out of memory");
        return -1;
    }
    int status = -1;
    if (httpget_fetch(&o->http, path, token, o->timeout_ms, r, err) == 0) {
        status = r->status;
        *doc = json_loadb(r->body, r->body_len, 0, NULL);
    }
    free(r);
    return status;
}

int ctl_fail(const char *prog, const char *text)
{
    fprintf(stderr, "%s: %s\n", prog, text);
    return CLIENT_EXIT_FAIL;
}

/* "2026-05-28T20:26:40.000Z" for ms since the epoch (0 prints "-"). */
static void print_time_ms(json_int_t ms)
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);
    if (ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
        fputs(ms == 0 ? "-" : "?", stdout);
        return;
    }
    printf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Scalars and, one level deep, arrays and objects of them. */
static void print_value_depth(const char *key, const json_t *v, int depth)
{
    if (json_is_string(v)) {
        msgview_print_bytes(stdout, json_string_value(v), json_string_length(v));
    } else if (json_is_null(v)) {
        fputc('-', stdout);
    } else if (json_is_integer(v) && key != NULL && ends_with(key, "_ts")) {
        print_time_ms(json_integer_value(v));
    } else if (json_is_array(v) && depth == 0) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) {
            fputs(i ? ", " : "", stdout);
            print_value_depth(NULL, x, 1);
        }
        if (json_array_size(v) == 0)
            fputs("(none)", stdout);
    } else if (json_is_object(v) && depth == 0) {
        const char *k;
        const json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x) {
            fputs(first ? "" : " ", stdout);
            msgview_print_bytes(stdout, k, strlen(k));
            fputc('=', stdout);
            print_value_depth(k, x, 1);
            first = false;
        }
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fputs(text != NULL ? text : "?", stdout);
        free(text);
    }
}

void ctl_print_value(const char *key, const json_t *v)
{
    print_value_depth(key, v, 0);
}

void ctl_print_json(const json_t *doc)
{
    char *text = json_dumps(doc, JSON_ENCODE_ANY | JSON_COMPACT);
    puts(text != NULL ? text : "null");
    free(text);
}
