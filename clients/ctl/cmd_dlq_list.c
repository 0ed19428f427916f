/* cmd_dlq_list.c - `loyaltyctl dlq list`: DLQ entries, chosen by dlqsel,
 * one line or one JSON object each. */
#include <stdio.h>
#include <string.h>

#include "lyassert.h"
#include "ctl.h"
#include "ctl_cmds.h"
#include "dlqsel.h"
#include "evprint.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " dlq list [OPTIONS]\n"
    "Lists entries of <prefix>dlq, oldest first: the DLQ entry id, the reason code\n"
    "and detail, the input entry id (src) and the rejected input's kind, member\n"
    "and txn. Without a selection, every entry.\n\n"
    CLIENT_BASE_USAGE CTL_JSON_USAGE DLQSEL_USAGE
    "Exit status: 0 listed (possibly nothing), 1 an --id that is not there or a\n"
    "Redis error, 2 usage.\n"
    "Example:\n"
    "  " CTL_PROG " dlq list --reason unknown_member --json\n";

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS, CTL_JSON_LONGOPT, DLQSEL_LONGOPTS, {NULL, 0, NULL, 0},
};

struct list_ctx {
    struct dlqsel sel;
    struct evprint_opts print;
};

static int apply_option(void *opts, int opt, const char *arg, struct client_error *err)
{
    struct list_ctx *l = opts;
    int rc = dlqsel_option(&l->sel, opt, arg, err);
    LY_ASSERT(rc != 0); /* every option of ours is a selector */
    return rc > 0 ? 0 : -1;
}

static int print_entry(void *ctx, const struct xread_entry *e, const msgpack_object *input)
{
    const struct list_ctx *l = ctx;
    evprint_dlq(&l->print, e, input);
    return 0;
}

int cmd_dlq_list(int argc, char **argv)
{
    static struct list_ctx l; /* the --id list is 11 KiB */
    struct ctl_opts co;
    struct client_error err;
    char key[CLIENT_KEY_MAX + 1];
    int first = 0;
    memset(&l, 0, sizeof l);
    const struct ctl_args args = {USAGE, LONGOPTS, apply_option, &l, 0, 0};
    int rc = ctl_parse(argc, argv, &co, &args, &first);
    if (rc >= 0)
        return rc;
    l.print.json = co.json;
    redisContext *c = client_start(argv[0], &co.base, CLIENT_CONNECT_MS);
    if (c == NULL)
        return CLIENT_EXIT_FAIL;
    client_key(&co.base, "dlq", key, sizeof key);
    int64_t n = dlqsel_walk(c, key, &l.sel, print_entry, &l, &err);
    redisFree(c);
    if (n < 0)
        return ctl_fail(argv[0], err.text);
    if (!co.json)
        printf("%lld entr%s\n", (long long)n, n == 1 ? "y" : "ies");
    return CLIENT_EXIT_OK;
}
