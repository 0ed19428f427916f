/* cmd_dlq_redrive.c - `loyaltyctl dlq redrive`: re-appends the original
 * bytes (`m`) of chosen DLQ entries to <prefix>in, after the cause was
 * fixed (the member enrolled, the rulebook corrected...).
 *
 * Safe to repeat: an entry with a `txn` that was applied once is a POS
 * retry the second time (the daemon's idempotency window recognises it and
 * changes nothing), and one rejected again goes back to the DLQ. An entry
 * without a txn (a scan, a tick, bytes that do not decode) has nothing to
 * deduplicate it: re-driving it twice applies it twice, so it is skipped
 * unless --force-no-txn says the operator knows. The DLQ entry itself is
 * left in place: the DLQ is a record of what was rejected. */
#include <stdio.h>
#include <string.h>

#include "lyassert.h"
#include "ctl.h"
#include "ctl_cmds.h"
#include "dlqsel.h"
#include "msgview.h"
#include "proto.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " dlq redrive SELECTION [OPTIONS]\n"
    "Re-appends the original bytes of the chosen <prefix>dlq entries to <prefix>in,\n"
    "oldest first, so the daemon processes them again after a fix. Safe to repeat\n"
    "within the idempotency window: an entry with a txn already applied is a\n"
    "duplicate the second time. Entries without a txn are skipped unless\n"
    "--force-no-txn; entries without input bytes are always skipped.\n\n"
    CLIENT_BASE_USAGE CTL_JSON_USAGE DLQSEL_USAGE
    "  --all               every entry (required when no selector is given)\n"
    "  --force-no-txn      also entries without a txn (they apply again each time)\n"
    "  --dry-run           say what would be re-driven; append nothing\n"
    "Exit status: 0 every chosen entry re-driven, 1 some skipped (or a Redis\n"
    "error, or an --id that is not there), 2 usage.\n"
    "Examples:\n"
    "  " CTL_PROG " dlq redrive --reason unknown_member --dry-run\n"
    "  " CTL_PROG " dlq redrive --id 1780000000000-3 --id 1780000000000-7\n";

enum { OPT_ALL = CTL_OPT_FIRST_FREE, OPT_FORCE_NO_TXN, OPT_DRY_RUN };
_Static_assert((int)OPT_DRY_RUN < (int)DLQSEL_OPT_FIRST, "option codes overlap");

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    CTL_JSON_LONGOPT,
    DLQSEL_LONGOPTS,
    {"all", no_argument, NULL, OPT_ALL},
    {"force-no-txn", no_argument, NULL, OPT_FORCE_NO_TXN},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

struct redrive {
    struct dlqsel sel;
    bool all;
    bool force_no_txn;
    bool dry_run;
    bool json;
    redisContext *c;
    char in_key[CLIENT_KEY_MAX + 1];
    uint64_t redriven;
    uint64_t skipped;
    struct client_error err; /* the Redis error that stopped the walk */
};

static int apply_option(void *opts, int opt, const char *arg, struct client_error *err)
{
    struct redrive *r = opts;
    switch (opt) {
    case OPT_ALL:
        r->all = true;
        return 0;
    case OPT_FORCE_NO_TXN:
        r->force_no_txn = true;
        return 0;
    case OPT_DRY_RUN:
        r->dry_run = true;
        return 0;
    default: {
        int rc = dlqsel_option(&r->sel, opt, arg, err);
        LY_ASSERT(rc != 0);
        return rc > 0 ? 0 : -1;
    }
    }
}

/* One line (or JSON object) per chosen entry: what was done and why. */
static void report(const struct redrive *r, const struct xread_entry *e,
                   const msgpack_object *txn, const char *action, const char *new_id,
                   const char *why)
{
    size_t len = 0;
    const char *reason = xread_field(e, "reason", &len);
    if (r->json) {
        fputs("{\"entry\":", stdout);
        msgview_json_string(stdout, e->id, strlen(e->id));
        fputs(",\"reason\":", stdout);
        msgview_json_string(stdout, reason ? reason : "", reason ? len : 0);
        fputs(",\"txn\":", stdout);
        msgview_print_json(stdout, txn);
        printf(",\"action\":\"%s\",\"new_id\":", action);
        if (new_id != NULL)
            msgview_json_string(stdout, new_id, strlen(new_id));
        else
            fputs("null", stdout);
        fputs(",\"why\":", stdout);
        if (why != NULL)
            msgview_json_string(stdout, why, strlen(why));
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
        return;
    }
    printf("%-12s %s (", action, e->id);
    msgview_print_bytes(stdout, reason ? reason : "-", reason ? len : 1);
    fputs(", txn ", stdout);
    msgview_print_text(stdout, txn);
    fputc(')', stdout);
    if (new_id != NULL)
        printf(" -> %s", new_id);
    if (why != NULL)
        printf(": %s", why);
    fputc('\n', stdout);
}

/* XADD <prefix>in * m <bytes>. Returns 0 with new_id set, or -1 (r->err). */
static int append(struct redrive *r, const char *m, size_t len, char *new_id)
{
    redisReply *x = redisCommand(r->c, "XADD %s * m %b", r->in_key, m, len);
    int rc = -1;
    if (x != NULL && x->type == REDIS_REPLY_STRING && x->len < PROTO_ID_STR_MAX) {
        memcpy(new_id, x->str, x->len + 1);
        rc = 0;
    } else {
        snprintf(r->err.text, sizeof r->err.text, "XADD %s: %s", r->in_key,
                 x == NULL ? r->c->errstr : x->type == REDIS_REPLY_ERROR ? x->str : "bad reply");
    }
    if (x != NULL)
        freeReplyObject(x);
    return rc;
}

static int redrive_entry(void *ctx, const struct xread_entry *e, const msgpack_object *input)
{
    struct redrive *r = ctx;
    size_t len = 0;
    const char *m = xread_field(e, "m", &len);
    const msgpack_object *txn = msgview_get(input, "txn");
    bool has_txn = txn != NULL && txn->type == MSGPACK_OBJECT_STR && txn->via.str.size > 0;
    char new_id[PROTO_ID_STR_MAX];
    if (m == NULL || len == 0) {
        r->skipped++;
        report(r, e, txn, "skipped", NULL, "no input bytes to re-drive");
    } else if (!has_txn && !r->force_no_txn) {
        r->skipped++;
        report(r, e, txn, "skipped", NULL,
               "no txn: nothing deduplicates it, pass --force-no-txn to re-drive it");
    } else if (r->dry_run) {
        r->redriven++;
        report(r, e, txn, "would-redrive", NULL, NULL);
    } else {
        if (append(r, m, len, new_id) != 0)
            return -1;
        r->redriven++;
        report(r, e, txn, "redriven", new_id, NULL);
    }
    fflush(stdout);
    return 0;
}

int cmd_dlq_redrive(int argc, char **argv)
{
    static struct redrive r; /* the --id list is 11 KiB */
    struct ctl_opts co;
    struct client_error err;
    char dlq_key[CLIENT_KEY_MAX + 1];
    int first = 0;
    memset(&r, 0, sizeof r);
    const struct ctl_args args = {USAGE, LONGOPTS, apply_option, &r, 0, 0};
    int rc = ctl_parse(argc, argv, &co, &args, &first);
    if (rc >= 0)
        return rc;
    if (!dlqsel_narrowed(&r.sel) && !r.all)
        return client_usage_error(argv[0], "choose entries (--id, --reason, --from...) "
                                           "or pass --all");
    r.json = co.json;
    r.c = client_start(argv[0], &co.base, CLIENT_CONNECT_MS);
    if (r.c == NULL)
        return CLIENT_EXIT_FAIL;
    client_key(&co.base, "in", r.in_key, sizeof r.in_key);
    client_key(&co.base, "dlq", dlq_key, sizeof dlq_key);
    int64_t n = dlqsel_walk(r.c, dlq_key, &r.sel, redrive_entry, &r, &err);
    redisFree(r.c);
    if (n < 0) {
        fprintf(stderr, "%s: %s%s%s\n", argv[0], err.text, r.err.text[0] ? ": " : "",
                r.err.text);
        return CLIENT_EXIT_FAIL;
    }
    if (!co.json)
        printf("%s %llu, skipped %llu\n", r.dry_run ? "would re-drive" : "re-drove",
               (unsigned long long)r.redriven, (unsigned long long)r.skipped);
    return r.skipped > 0 ? CLIENT_EXIT_FAIL : CLIENT_EXIT_OK;
}
