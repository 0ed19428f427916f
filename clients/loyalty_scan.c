/* loyalty_scan.c - scans a member's card and shows what the daemon made of
 * it: the member's tier and perks (perk.triggered events), or the DLQ
 * reason, and the latency from the XADD to the events.
 *
 * The cursors on <prefix>out and <prefix>dlq are placed before the XADD, so
 * nothing the daemon writes for the scan can be missed. A scan of a tier
 * without perks produces no output at all; that case shows in the progress
 * marker <prefix>progress, which the daemon commits together with the
 * outputs (one commit call): once the marker reaches the scan's id, every
 * output of the scan is already in the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "lyassert.h"
#include "client_common.h"
#include "msgview.h"
#include "proto.h"
#include "xread.h"

#define PROG "loyalty-scan"
#define SCAN_TIMEOUT_MS_MAX 600000 /* ten minutes: longer is not a card scan */
/* "No perks" shows only in the progress marker, polled between reads. For
 * the first SCAN_FAST_MS, when a running daemon answers, the reads do not
 * block and repeat every SCAN_FAST_SLEEP_US: Redis ends a blocked XREAD
 * that got nothing only at its next cron tick (100 ms at hz 10), which
 * would hide the latency we measure. After that, XREAD BLOCK in slices of
 * SCAN_BLOCK_MS keeps a slow daemon from being polled hard. */
#define SCAN_FAST_MS 200
#define SCAN_FAST_SLEEP_US 200
#define SCAN_BLOCK_MS 100
/* After the marker passed the scan, read this much longer before concluding
 * there are no perks. The daemon commits outputs and marker together, so
 * this only absorbs a reply already on its way. */
#define SCAN_SETTLE_MS 10
#define SCAN_EXIT_REJECTED 1
#define SCAN_EXIT_TIMEOUT 2 /* also usage errors and an unreachable Redis */

enum { STREAM_OUT, STREAM_DLQ, STREAM_COUNT };
enum scan_result { SCAN_DONE, SCAN_REJECTED, SCAN_TIMEOUT, SCAN_ERROR };

struct scan_opts {
    struct client_base base;
    char member[PROTO_MEMBER_MAX + 1];
    char store[PROTO_NAME_MAX + 1];
    uint32_t timeout_ms;
};

struct scan_state {
    char src[PROTO_ID_STR_MAX]; /* stream id of our scan entry */
    struct proto_id src_id;
    int64_t t0_us;              /* just before the XADD */
    int64_t first_out_us;       /* first output for src read; 0: none yet */
    int64_t committed_us;       /* marker or an output showed the commit */
    uint32_t outputs;           /* outputs for src */
    uint32_t perks;             /* perk.triggered among them */
    bool rejected;
    bool past;                  /* saw an output of a later input */
};

static const char USAGE[] =
    "Usage: " PROG " --member ID [OPTIONS]\n"
    "Scans a member's card at a store: XADDs a scan entry to <prefix>in and waits\n"
    "for the daemon's perk.triggered events on <prefix>out (or a rejection on\n"
    "<prefix>dlq). Prints the tier, each perk and the latency. This pushes a real\n"
    "scan (consumers see its perk.triggered events): to look a member up without\n"
    "side effects, use loyaltyctl member ID.\n\n"
    CLIENT_BASE_USAGE
    "  --member ID         the card or member id (required)\n"
    "  --store S           the store scanning the card (S001)\n"
    "  --timeout-ms N      how long to wait for the daemon (2000)\n"
    "Exit status: 0 scanned, 1 rejected (DLQ), 2 timeout, usage error or no Redis.\n";

enum { OPT_MEMBER = CLIENT_OPT_FIRST_FREE, OPT_STORE, OPT_TIMEOUT };

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    {"member", required_argument, NULL, OPT_MEMBER},
    {"store", required_argument, NULL, OPT_STORE},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {NULL, 0, NULL, 0},
};

/* Copies an id option, which must fit the contract's limit. */
static int opt_id(const char *name, const char *arg, char *dst, size_t cap,
                  struct client_error *err)
{
    size_t len = strlen(arg);
    if (len == 0 || len >= cap) {
        snprintf(err->text, sizeof err->text, "%s must be 1..%zu bytes", name, cap - 1);
        return -1;
    }
    memcpy(dst, arg, len + 1);
    return 0;
}

static int apply_option(void *opts, int opt, const char *arg,
                        struct client_error *err)
{
    struct scan_opts *o = opts;
    uint64_t v;
    switch (opt) {
    case OPT_MEMBER:
        return opt_id("--member", arg, o->member, sizeof o->member, err);
    case OPT_STORE:
        return opt_id("--store", arg, o->store, sizeof o->store, err);
    case OPT_TIMEOUT:
        if (client_parse_u64("--timeout-ms", arg, 1, SCAN_TIMEOUT_MS_MAX, &v, err) != 0)
            return -1;
        o->timeout_ms = (uint32_t)v;
        return 0;
    default:
        LY_ASSERT(!"unhandled option");
        return -1;
    }
}

/* Parses argv into *o. Returns -1 to go on, or an exit code for main. */
static int parse_args(int argc, char **argv, struct scan_opts *o)
{
    memset(o, 0, sizeof *o);
    client_base_defaults(&o->base);
    snprintf(o->store, sizeof o->store, "S001");
    o->timeout_ms = 2000;
    int rc = client_parse_args(argc, argv, PROG, USAGE, LONGOPTS, &o->base,
                               apply_option, o);
    if (rc >= 0)
        return rc;
    if (o->member[0] == '\0')
        return client_usage_error(PROG, "--member is required");
    return -1;
}

static void on_output(struct scan_state *s, const msgpack_object *map)
{
    const msgpack_object *kind = msgview_get(map, "kind");
    int64_t now_us = client_mono_us();
    if (s->outputs++ == 0) {
        s->first_out_us = now_us;
        s->committed_us = now_us; /* outputs are published only at a commit */
    }
    if (!msgview_is_str(kind, "perk.triggered")) {
        fputs("event ", stdout);
        msgview_print_text(stdout, map);
        fputc('\n', stdout);
        return;
    }
    if (s->perks++ == 0) {
        fputs("tier ", stdout);
        msgview_print_text(stdout, msgview_get(map, "tier"));
        fputc('\n', stdout);
    }
    fputs("perk ", stdout);
    msgview_print_text(stdout, msgview_get(map, "perk"));
    fputc('\n', stdout);
}

/* An entry of <prefix>out: ours when its `src` is our scan's id. */
static void on_out_entry(struct scan_state *s, const struct xread_entry *e)
{
    struct client_error err;
    msgpack_unpacked u;
    size_t len = 0;
    const char *m = xread_field(e, "m", &len);
    msgpack_unpacked_init(&u);
    if (m != NULL && msgview_unpack(m, len, &u, &err) == 0) {
        const msgpack_object *src = msgview_get(&u.data, "src");
        struct proto_id id;
        if (msgview_is_str(src, s->src))
            on_output(s, &u.data);
        else if (src != NULL && src->type == MSGPACK_OBJECT_STR &&
                 proto_id_parse(src->via.str.ptr, src->via.str.size, &id) == 0 &&
                 proto_id_cmp(id, s->src_id) > 0)
            s->past = true; /* outputs come in input order: ours are all read */
    }
    msgpack_unpacked_destroy(&u);
}

static void on_dlq_entry(struct scan_state *s, const struct xread_entry *e)
{
    size_t len = 0, reason_len = 0, detail_len = 0;
    const char *src = xread_field(e, "src", &len);
    if (src == NULL || len != strlen(s->src) || memcmp(src, s->src, len) != 0)
        return;
    const char *reason = xread_field(e, "reason", &reason_len);
    const char *detail = xread_field(e, "detail", &detail_len);
    fputs("rejected: ", stdout);
    msgview_print_bytes(stdout, reason ? reason : "?", reason ? reason_len : 1);
    fputs(" (", stdout);
    msgview_print_bytes(stdout, detail ? detail : "", detail ? detail_len : 0);
    fputs(")\n", stdout);
    s->rejected = true;
}

static void on_entry(void *ctx, const struct xread_entry *e)
{
    if (e->stream == STREAM_DLQ)
        on_dlq_entry(ctx, e);
    else
        on_out_entry(ctx, e);
}

/* 1 when the progress marker is at or past the scan's id, 0 when not (or
 * not set yet), -1 with err set on a Redis error or a malformed marker. */
static int marker_reached(redisContext *c, const char *key, struct proto_id src,
                          struct client_error *err)
{
    struct proto_id at;
    int rc = -1;
    redisReply *r = redisCommand(c, "GET %s", key);
    if (r != NULL && r->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (r != NULL && r->type == REDIS_REPLY_STRING &&
             proto_id_parse(r->str, r->len, &at) == 0)
        rc = proto_id_cmp(at, src) >= 0 ? 1 : 0;
    if (rc < 0)
        snprintf(err->text, sizeof err->text, "GET %s: %s", key,
                 r == NULL ? c->errstr : "not a stream id");
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static void nap_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

/* Reads <prefix>out and <prefix>dlq until the scan's outputs are all in, it
 * was rejected, or the timeout passed. */
static enum scan_result wait_outputs(redisContext *c, struct xread_cursor *cur,
                                     const char *progress_key, struct scan_state *s,
                                     uint32_t timeout_ms, struct client_error *err)
{
    int64_t deadline_us = s->t0_us + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t now_us = client_mono_us();
        if (now_us >= deadline_us || client_stopping())
            return SCAN_TIMEOUT;
        bool fast = now_us - s->t0_us < SCAN_FAST_MS * 1000;
        int n = xread_poll(c, cur, STREAM_COUNT, fast ? 0 : SCAN_BLOCK_MS, on_entry, s, err);
        if (n < 0)
            return SCAN_ERROR;
        if (s->rejected)
            return SCAN_REJECTED;
        if (s->past)
            return SCAN_DONE;
        if (s->committed_us == 0) {
            int rc = marker_reached(c, progress_key, s->src_id, err);
            if (rc < 0)
                return SCAN_ERROR;
            if (rc > 0)
                s->committed_us = client_mono_us();
        }
        if (s->committed_us != 0 && n == 0 &&
            client_mono_us() - s->committed_us >= SCAN_SETTLE_MS * 1000)
            return SCAN_DONE;
        if (fast && n == 0)
            nap_us(SCAN_FAST_SLEEP_US);
    }
}

/* XADDs the scan entry; sets s->src, s->src_id and s->t0_us. */
static int add_scan(redisContext *c, const struct scan_opts *o, const char *in_key,
                    struct scan_state *s, struct client_error *err)
{
    static struct proto_entry e; /* large (room for 64 lines): not on the stack */
    msgpack_sbuffer buf;
    memset(&e, 0, sizeof e);
    e.kind = PROTO_SCAN;
    e.ts = client_wall_ms();
    snprintf(e.member, sizeof e.member, "%s", o->member);
    snprintf(e.store, sizeof e.store, "%s", o->store);
    msgpack_sbuffer_init(&buf);
    int rc = proto_encode_entry(&buf, &e);
    LY_ASSERT(rc == 0);
    s->t0_us = client_mono_us();
    redisReply *r = redisCommand(c, "XADD %s * m %b", in_key, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    rc = -1;
    if (r != NULL && r->type == REDIS_REPLY_STRING && r->len < sizeof s->src &&
        proto_id_parse(r->str, r->len, &s->src_id) == 0) {
        memcpy(s->src, r->str, r->len + 1);
        rc = 0;
    } else {
        snprintf(err->text, sizeof err->text, "XADD %s: %s", in_key,
                 r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static void report(const struct scan_opts *o, const struct scan_state *s)
{
    if (s->perks > 0)
        printf("latency %lld us (XADD to perk events)\n",
               (long long)(s->first_out_us - s->t0_us));
    else
        printf("no perks (loyaltyctl member %s shows the tier); committed %lld us "
               "after the XADD\n", o->member, (long long)(s->committed_us - s->t0_us));
}

/* Places the cursors, scans, waits. Returns the exit code. */
static int scan(redisContext *c, const struct scan_opts *o)
{
    struct xread_cursor cur[STREAM_COUNT];
    struct scan_state s = {0};
    struct client_error err;
    char in_key[CLIENT_KEY_MAX + 1], out_key[CLIENT_KEY_MAX + 1];
    char dlq_key[CLIENT_KEY_MAX + 1], progress_key[CLIENT_KEY_MAX + 1];
    client_key(&o->base, "in", in_key, sizeof in_key);
    client_key(&o->base, "out", out_key, sizeof out_key);
    client_key(&o->base, "dlq", dlq_key, sizeof dlq_key);
    client_key(&o->base, "progress", progress_key, sizeof progress_key);
    if (xread_start(c, &cur[STREAM_OUT], out_key, NULL, &err) != 0 ||
        xread_start(c, &cur[STREAM_DLQ], dlq_key, NULL, &err) != 0 ||
        add_scan(c, o, in_key, &s, &err) != 0)
        goto fail;
    printf("scan %s at %s: entry %s\n", o->member, o->store, s.src);
    switch (wait_outputs(c, cur, progress_key, &s, o->timeout_ms, &err)) {
    case SCAN_REJECTED:
        return SCAN_EXIT_REJECTED;
    case SCAN_TIMEOUT:
        fprintf(stderr, "%s: no answer for entry %s within %u ms (is loyaltyd running?)\n",
                PROG, s.src, (unsigned)o->timeout_ms);
        return SCAN_EXIT_TIMEOUT;
    case SCAN_ERROR:
        goto fail;
    case SCAN_DONE:
        break;
    }
    report(o, &s);
    return CLIENT_EXIT_OK;
fail:
    fprintf(stderr, "%s: %s\n", PROG, err.text);
    return SCAN_EXIT_TIMEOUT;
}

int main(int argc, char **argv)
{
    struct scan_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    redisContext *c = client_start(PROG, &o.base, CLIENT_CONNECT_MS + SCAN_BLOCK_MS);
    if (c == NULL)
        return SCAN_EXIT_TIMEOUT;
    rc = scan(c, &o);
    redisFree(c);
    return rc;
}
