/* cmd_tail.c - `loyaltyctl tail`: output events (<prefix>out) and rejected
 * input (<prefix>dlq), one line or one JSON object each, filtered by kind,
 * member or reason; following new entries, or once over what is there.
 * It replaced the loyalty-tail program (same options, plus the filters). */
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "lyassert.h"
#include "ctl.h"
#include "ctl_cmds.h"
#include "evprint.h"
#include "msgview.h"
#include "proto.h"
#include "xread.h"

#define TAIL_BLOCK_MS 500 /* XREAD BLOCK slice: how soon a stop is noticed */
#define TAIL_KINDS_MAX 16 /* --kind names: the contract has 7 output kinds */
#define TAIL_KINDS_TEXT_MAX 512 /* --kind text: 16 names of up to 31 bytes */
#define TAIL_COUNT_MAX 1000000000ULL

enum { STREAM_OUT, STREAM_DLQ };

struct tail_opts {
    const char *from; /* NULL: from now (following) or the start (--once) */
    bool out;
    bool dlq;
    bool once;
    bool time;
    uint64_t count_max; /* 0: no limit */
    uint64_t printed;
    const char *member; /* NULL: every member */
    const char *reason; /* NULL: every DLQ reason */
    uint32_t kind_count; /* 0: every kind */
    const char *kinds[TAIL_KINDS_MAX]; /* point into kinds_text */
    char kinds_text[TAIL_KINDS_TEXT_MAX + 1];
    struct evprint_opts print;
};

static const char USAGE[] =
    "Usage: " CTL_PROG " tail [OPTIONS]\n"
    "Prints output events from <prefix>out (and rejected input from <prefix>dlq\n"
    "with --dlq), one line or one JSON object each, e.g.\n"
    "  tier.changed   M000042  silver -> gold (upgrade)\n"
    "  perk.triggered M000042  lounge @ store S003 (platinum)\n"
    "  dlq            M000077  unknown_member: ... (entry 1780...-0, src ..., input kind purchase)\n"
    "Follows new entries until Ctrl-C, or with --once prints what is there and exits.\n\n"
    CLIENT_BASE_USAGE CTL_JSON_USAGE
    "  --from ID           start after stream id ID; 0 from the start\n"
    "                      (default: from now; with --once, from the start)\n"
    "  --once              print what is in the streams, then exit\n"
    "  --count N           exit after N lines\n"
    "  --dlq               also the DLQ (rejected input)\n"
    "  --dlq-only          only the DLQ\n"
    "  --kind K1,K2        only these output kinds (e.g. tier.changed,perk.triggered)\n"
    "  --member ID         only events and DLQ entries of this member\n"
    "  --reason R          only DLQ entries with this reason code\n"
    "  --time              start each line with the event time (UTC)\n"
    "Examples:\n"
    "  " CTL_PROG " tail --kind tier.changed,perk.triggered --time\n"
    "  " CTL_PROG " tail --once --member M000042 --dlq --json\n";

enum {
    OPT_FROM = CTL_OPT_FIRST_FREE, OPT_ONCE, OPT_COUNT, OPT_DLQ, OPT_DLQ_ONLY, OPT_KIND,
    OPT_MEMBER, OPT_REASON, OPT_TIME
};

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    CTL_JSON_LONGOPT,
    {"from", required_argument, NULL, OPT_FROM},
    {"once", no_argument, NULL, OPT_ONCE},
    {"count", required_argument, NULL, OPT_COUNT},
    {"dlq", no_argument, NULL, OPT_DLQ},
    {"dlq-only", no_argument, NULL, OPT_DLQ_ONLY},
    {"kind", required_argument, NULL, OPT_KIND},
    {"kinds", required_argument, NULL, OPT_KIND}, /* loyalty-tail's spelling */
    {"member", required_argument, NULL, OPT_MEMBER},
    {"reason", required_argument, NULL, OPT_REASON},
    {"time", no_argument, NULL, OPT_TIME},
    {NULL, 0, NULL, 0},
};

static int parse_kinds(struct tail_opts *o, const char *arg, struct client_error *err)
{
    char *save = NULL;
    if (strlen(arg) > TAIL_KINDS_TEXT_MAX) {
        snprintf(err->text, sizeof err->text, "--kind is over %d bytes", TAIL_KINDS_TEXT_MAX);
        return -1;
    }
    snprintf(o->kinds_text, sizeof o->kinds_text, "%s", arg);
    o->kind_count = 0;
    for (char *k = strtok_r(o->kinds_text, ",", &save); k != NULL;
         k = strtok_r(NULL, ",", &save)) {
        if (o->kind_count == TAIL_KINDS_MAX) {
            snprintf(err->text, sizeof err->text, "--kind names more than %d kinds",
                     TAIL_KINDS_MAX);
            return -1;
        }
        o->kinds[o->kind_count++] = k;
    }
    if (o->kind_count == 0) {
        snprintf(err->text, sizeof err->text, "--kind names no kind");
        return -1;
    }
    return 0;
}

static int apply_option(void *opts, int opt, const char *arg, struct client_error *err)
{
    struct tail_opts *o = opts;
    switch (opt) {
    case OPT_FROM:
        o->from = strcmp(arg, "0") == 0 ? "0-0" : arg;
        return 0;
    case OPT_ONCE:
        o->once = true;
        return 0;
    case OPT_COUNT:
        return client_parse_u64("--count", arg, 1, TAIL_COUNT_MAX, &o->count_max, err);
    case OPT_DLQ:
        o->dlq = true;
        return 0;
    case OPT_DLQ_ONLY:
        o->dlq = true;
        o->out = false;
        return 0;
    case OPT_KIND:
        return parse_kinds(o, arg, err);
    case OPT_MEMBER:
        o->member = arg;
        return 0;
    case OPT_REASON:
        o->reason = arg;
        return 0;
    case OPT_TIME:
        o->print.time = true;
        return 0;
    default:
        LY_ASSERT(!"unhandled option");
        return -1;
    }
}

static bool kind_wanted(const struct tail_opts *o, const msgpack_object *kind)
{
    if (o->kind_count == 0)
        return true;
    for (uint32_t i = 0; i < o->kind_count; i++)
        if (msgview_is_str(kind, o->kinds[i]))
            return true;
    return false;
}

static void on_out_entry(struct tail_opts *o, const struct xread_entry *e)
{
    struct client_error err;
    msgpack_unpacked u;
    const char *why = NULL;
    msgpack_unpacked_init(&u);
    if (evprint_decode_m(e, &u, &err, &why) != 0) {
        if (o->member == NULL && o->kind_count == 0) {
            evprint_undecodable(&o->print, e->id, why);
            o->printed++;
        }
    } else if (kind_wanted(o, msgview_get(&u.data, "kind")) &&
               (o->member == NULL || msgview_is_str(msgview_get(&u.data, "member"), o->member))) {
        evprint_event(&o->print, &u.data);
        o->printed++;
    }
    msgpack_unpacked_destroy(&u);
}

static void on_dlq_entry(struct tail_opts *o, const struct xread_entry *e)
{
    struct client_error err;
    msgpack_unpacked u;
    const char *why = NULL;
    size_t len = 0;
    const char *reason = xread_field(e, "reason", &len);
    msgpack_unpacked_init(&u);
    bool decoded = evprint_decode_m(e, &u, &err, &why) == 0;
    const msgpack_object *input = decoded ? &u.data : NULL;
    bool wanted = (o->member == NULL || msgview_is_str(msgview_get(input, "member"), o->member)) &&
                  (o->reason == NULL || (reason != NULL && len == strlen(o->reason) &&
                                         memcmp(reason, o->reason, len) == 0));
    if (wanted) {
        evprint_dlq(&o->print, e, input);
        o->printed++;
    }
    msgpack_unpacked_destroy(&u);
}

static void on_entry(void *ctx, const struct xread_entry *e)
{
    struct tail_opts *o = ctx;
    if (o->count_max != 0 && o->printed >= o->count_max)
        return; /* the rest of this reply is past --count */
    if (o->dlq && (e->stream == STREAM_DLQ || !o->out))
        on_dlq_entry(o, e);
    else
        on_out_entry(o, e);
}

/* Reads the streams until a stop signal, --count, or (--once) the end.
 * Returns the exit code. */
static int follow(redisContext *c, const struct ctl_opts *co, struct tail_opts *o)
{
    struct xread_cursor cur[XREAD_STREAMS_MAX];
    struct client_error err;
    char key[CLIENT_KEY_MAX + 1];
    int n = 0;
    if (o->out) {
        client_key(&co->base, "out", key, sizeof key);
        if (xread_start(c, &cur[n++], key, o->from, &err) != 0)
            goto fail;
    }
    if (o->dlq) {
        client_key(&co->base, "dlq", key, sizeof key);
        if (xread_start(c, &cur[n++], key, o->from, &err) != 0)
            goto fail;
    }
    while (!client_stopping() && (o->count_max == 0 || o->printed < o->count_max)) {
        int got = xread_poll(c, cur, n, o->once ? 0 : TAIL_BLOCK_MS, on_entry, o, &err);
        if (got < 0)
            goto fail;
        fflush(stdout);
        if (got == 0 && o->once)
            break;
    }
    return CLIENT_EXIT_OK;
fail:
    return ctl_fail(CTL_PROG " tail", err.text);
}

int cmd_tail(int argc, char **argv)
{
    static struct tail_opts o; /* kinds_text: not on the stack */
    struct ctl_opts co;
    int first = 0;
    memset(&o, 0, sizeof o);
    o.out = true;
    const struct ctl_args args = {USAGE, LONGOPTS, apply_option, &o, 0, 0};
    int rc = ctl_parse(argc, argv, &co, &args, &first);
    if (rc >= 0)
        return rc;
    o.print.json = co.json;
    if (o.once && o.from == NULL)
        o.from = "0-0";
    redisContext *c = client_start(argv[0], &co.base, CLIENT_CONNECT_MS + TAIL_BLOCK_MS);
    if (c == NULL)
        return CLIENT_EXIT_FAIL;
    rc = follow(c, &co, &o);
    redisFree(c);
    return rc;
}
