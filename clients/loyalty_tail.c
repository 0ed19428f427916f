/* loyalty_tail.c - follows <prefix>out (and <prefix>dlq) and prints one line
 * per event: a readable line, or the event as one JSON object.
 *
 * It decodes any msgpack map, so output kinds added to the contract later
 * print as key=value pairs without a change here; the kinds it knows get a
 * short template (FORMATS). Text from the streams is escaped before it
 * reaches the terminal.
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

#define PROG "loyalty-tail"
#define TAIL_BLOCK_MS 500 /* XREAD BLOCK slice: how soon a stop is noticed */
#define TAIL_KINDS_MAX 16 /* --kinds names: the contract has 7 output kinds */
#define TAIL_KINDS_TEXT_MAX 512 /* --kinds text: 16 names of up to 31 bytes */
#define TAIL_KIND_WIDTH 14   /* "perk.triggered", the widest known kind */
#define TAIL_MEMBER_WIDTH 8  /* "M000042" and a space */
#define TAIL_FIELD_NAME_MAX 31 /* a {field} in a template */

enum { STREAM_OUT, STREAM_DLQ };

struct tail_opts {
    struct client_base base;
    const char *from; /* NULL: from now */
    bool dlq;
    bool json;
    bool time;
    uint32_t kind_count; /* 0: every kind */
    const char *kinds[TAIL_KINDS_MAX]; /* point into kinds_text */
    char kinds_text[TAIL_KINDS_TEXT_MAX + 1];
};

/* A line per known kind: {field} prints the field's value, {+field} a
 * signed number with its sign. Fields not named are not printed. */
struct tail_format {
    const char *kind;
    const char *template;
};

static const struct tail_format FORMATS[] = {
    {"points.changed", "{+delta} -> {balance} ({cause})"},
    {"tier.changed", "{from} -> {to} ({reason})"},
    {"perk.triggered", "{perk} @ store {store} ({tier})"},
    {"reward.issued", "{reward} (cost {cost})"},
    {"points.expired", "-{points} -> {balance}"},
    {"segment.changed", "{dimension} {from} -> {to} rfm={rfm}"},
};

/* Keys every output carries, left out of the key=value form. */
static const char *const ENVELOPE[] = {"v", "kind", "member", "id", "src", "ts"};

static const char USAGE[] =
    "Usage: " PROG " [OPTIONS]\n"
    "Follows <prefix>out (and <prefix>dlq with --dlq) and prints one line per\n"
    "event, e.g.\n"
    "  tier.changed   M000042  silver -> gold (upgrade)\n"
    "  perk.triggered M000042  lounge @ store S003 (platinum)\n\n"
    CLIENT_BASE_USAGE
    "  --from ID           start after stream id ID (default: from now)\n"
    "  --dlq               also follow <prefix>dlq (rejected input)\n"
    "  --kinds K1,K2       only these output kinds (e.g. tier.changed,perk.triggered)\n"
    "  --json              each event as one JSON object per line\n"
    "  --time              start each line with the event time (UTC)\n";

enum { OPT_FROM = CLIENT_OPT_FIRST_FREE, OPT_DLQ, OPT_KINDS, OPT_JSON, OPT_TIME };

static const struct option LONGOPTS[] = {
    CLIENT_BASE_LONGOPTS,
    {"from", required_argument, NULL, OPT_FROM},
    {"dlq", no_argument, NULL, OPT_DLQ},
    {"kinds", required_argument, NULL, OPT_KINDS},
    {"json", no_argument, NULL, OPT_JSON},
    {"time", no_argument, NULL, OPT_TIME},
    {NULL, 0, NULL, 0},
};

static int parse_kinds(struct tail_opts *o, const char *arg, struct client_error *err)
{
    char *save = NULL;
    if (strlen(arg) > TAIL_KINDS_TEXT_MAX) {
        snprintf(err->text, sizeof err->text, "--kinds is over %d bytes",
                 TAIL_KINDS_TEXT_MAX);
        return -1;
    }
    snprintf(o->kinds_text, sizeof o->kinds_text, "%s", arg);
    o->kind_count = 0;
    for (char *k = strtok_r(o->kinds_text, ",", &save); k != NULL;
         k = strtok_r(NULL, ",", &save)) {
        if (o->kind_count == TAIL_KINDS_MAX) {
            snprintf(err->text, sizeof err->text, "--kinds names more than %d kinds",
                     TAIL_KINDS_MAX);
            return -1;
        }
        o->kinds[o->kind_count++] = k;
    }
    if (o->kind_count == 0) {
        snprintf(err->text, sizeof err->text, "--kinds names no kind");
        return -1;
    }
    return 0;
}

static int apply_option(void *opts, int opt, const char *arg,
                        struct client_error *err)
{
    struct tail_opts *o = opts;
    switch (opt) {
    case OPT_FROM:
        o->from = arg;
        return 0;
    case OPT_DLQ:
        o->dlq = true;
        return 0;
    case OPT_KINDS:
        return parse_kinds(o, arg, err);
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_TIME:
        o->time = true;
        return 0;
    default:
        LY_ASSERT(!"unhandled option");
        return -1;
    }
}

/* Parses argv into *o. Returns -1 to go on, or an exit code for main. */
static int parse_args(int argc, char **argv, struct tail_opts *o)
{
    memset(o, 0, sizeof *o);
    client_base_defaults(&o->base);
    return client_parse_args(argc, argv, PROG, USAGE, LONGOPTS, &o->base,
                             apply_option, o);
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

/* Prints *v padded to `width` when it is a plain id (printable ASCII, as the
 * contract's ids are), else escaped; then a space. */
static void print_column(const msgpack_object *v, int width)
{
    bool plain = v != NULL && v->type == MSGPACK_OBJECT_STR;
    for (uint32_t i = 0; plain && i < v->via.str.size; i++)
        plain = v->via.str.ptr[i] > ' ' && v->via.str.ptr[i] < 0x7f;
    if (plain)
        printf("%-*.*s ", width, (int)v->via.str.size, v->via.str.ptr);
    else if (v != NULL && v->type == MSGPACK_OBJECT_STR) {
        msgview_print_text(stdout, v);
        fputc(' ', stdout);
    } else
        printf("%-*s ", width, "-");
}

/* "2024-03-01T09:30:00.250Z " from the event's ts. */
static void print_time(const msgpack_object *ts)
{
    struct tm tm;
    time_t secs;
    if (ts == NULL || ts->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        ts->via.u64 > (uint64_t)PROTO_TS_MAX) {
        printf("%-24s ", "-");
        return;
    }
    secs = (time_t)(ts->via.u64 / 1000);
    gmtime_r(&secs, &tm);
    printf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts->via.u64 % 1000));
}

/* Prints the template of a known kind with the fields of *map. */
static void print_template(const char *t, const msgpack_object *map)
{
    while (*t != '\0') {
        const char *close = *t == '{' ? strchr(t, '}') : NULL;
        if (close == NULL) {
            fputc(*t++, stdout);
            continue;
        }
        char name[TAIL_FIELD_NAME_MAX + 1];
        size_t len = (size_t)(close - t - 1);
        LY_ASSERT(len > 0 && len <= TAIL_FIELD_NAME_MAX);
        memcpy(name, t + 1, len);
        name[len] = '\0';
        bool sign = name[0] == '+';
        const msgpack_object *v = msgview_get(map, name + (sign ? 1 : 0));
        if (sign && v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 > 0)
            fputc('+', stdout);
        msgview_print_text(stdout, v);
        t = close + 1;
    }
}

/* key=value for every key outside the envelope: kinds we have no template
 * for still print everything they carry. */
static void print_pairs(const msgpack_object *map)
{
    bool first = true;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        bool envelope = false;
        for (size_t e = 0; e < sizeof ENVELOPE / sizeof ENVELOPE[0]; e++)
            envelope = envelope || msgview_is_str(&kv->key, ENVELOPE[e]);
        if (envelope)
            continue;
        fputs(first ? "" : " ", stdout);
        msgview_print_text(stdout, &kv->key);
        fputc('=', stdout);
        msgview_print_text(stdout, &kv->val);
        first = false;
    }
}

static void print_event_line(const struct tail_opts *o, const msgpack_object *map)
{
    const msgpack_object *kind = msgview_get(map, "kind");
    const char *template = NULL;
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (msgview_is_str(kind, FORMATS[i].kind))
            template = FORMATS[i].template;
    if (o->time)
        print_time(msgview_get(map, "ts"));
    print_column(kind, TAIL_KIND_WIDTH);
    print_column(msgview_get(map, "member"), TAIL_MEMBER_WIDTH);
    if (template != NULL)
        print_template(template, map);
    else
        print_pairs(map);
    fputc('\n', stdout);
}

/* An entry whose `m` does not decode: said, not skipped. */
static void print_undecodable(const struct tail_opts *o, const char *id,
                              const char *why)
{
    if (o->json) {
        fputs("{\"kind\":\"undecodable\",\"entry\":", stdout);
        msgview_json_string(stdout, id, strlen(id));
        fputs(",\"error\":", stdout);
        msgview_json_string(stdout, why, strlen(why));
        fputs("}\n", stdout);
    } else {
        printf("%-*s %-*s %s (entry %s)\n", TAIL_KIND_WIDTH, "undecodable",
               TAIL_MEMBER_WIDTH, "-", why, id);
    }
}

static void on_out_entry(const struct tail_opts *o, const struct xread_entry *e)
{
    struct client_error err;
    msgpack_unpacked u;
    size_t len = 0;
    const char *why = NULL;
    const char *m = xread_field(e, "m", &len);
    msgpack_unpacked_init(&u);
    if (m == NULL)
        why = "no field m";
    else if (msgview_unpack(m, len, &u, &err) != 0)
        why = err.text;
    else if (u.data.type != MSGPACK_OBJECT_MAP)
        why = "not a map";
    if (why != NULL)
        print_undecodable(o, e->id, why);
    else if (kind_wanted(o, msgview_get(&u.data, "kind"))) {
        if (o->json) {
            msgview_print_json(stdout, &u.data);
            fputc('\n', stdout);
        } else {
            print_event_line(o, &u.data);
        }
    }
    msgpack_unpacked_destroy(&u);
}

/* A stream field as JSON: its string, or null when absent. */
static void json_field(const struct xread_entry *e, const char *name)
{
    size_t len = 0;
    const char *v = xread_field(e, name, &len);
    printf(",\"%s\":", name);
    if (v == NULL)
        fputs("null", stdout);
    else
        msgview_json_string(stdout, v, len);
}

/* A stream field as escaped text, or "-". */
static void text_field(const struct xread_entry *e, const char *name)
{
    size_t len = 0;
    const char *v = xread_field(e, name, &len);
    msgview_print_bytes(stdout, v != NULL ? v : "-", v != NULL ? len : 1);
}

/* A DLQ entry: the stream fields src, reason, detail and, when it decodes,
 * the rejected input itself. */
static void on_dlq_entry(const struct tail_opts *o, const struct xread_entry *e)
{
    struct client_error err;
    msgpack_unpacked u;
    size_t len = 0;
    const char *m = xread_field(e, "m", &len);
    msgpack_unpacked_init(&u);
    bool decoded = m != NULL && msgview_unpack(m, len, &u, &err) == 0;
    if (o->json) {
        fputs("{\"kind\":\"dlq\",\"entry\":", stdout);
        msgview_json_string(stdout, e->id, strlen(e->id));
        json_field(e, "src");
        json_field(e, "reason");
        json_field(e, "detail");
        fputs(",\"m\":", stdout);
        msgview_print_json(stdout, decoded ? &u.data : NULL);
        fputs("}\n", stdout);
    } else {
        printf("%-*s ", TAIL_KIND_WIDTH, "dlq");
        print_column(decoded ? msgview_get(&u.data, "member") : NULL, TAIL_MEMBER_WIDTH);
        text_field(e, "reason");
        fputs(": ", stdout);
        text_field(e, "detail");
        fputs(" (src ", stdout);
        text_field(e, "src");
        fputs(", input kind ", stdout);
        msgview_print_text(stdout, decoded ? msgview_get(&u.data, "kind") : NULL);
        fputs(")\n", stdout);
    }
    msgpack_unpacked_destroy(&u);
}

static void on_entry(void *ctx, const struct xread_entry *e)
{
    if (e->stream == STREAM_DLQ)
        on_dlq_entry(ctx, e);
    else
        on_out_entry(ctx, e);
}

/* Follows the streams until a stop signal. Returns the exit code. */
static int follow(redisContext *c, const struct tail_opts *o)
{
    struct xread_cursor cur[XREAD_STREAMS_MAX];
    struct client_error err;
    char key[CLIENT_KEY_MAX + 1];
    int n = o->dlq ? 2 : 1;
    for (int i = 0; i < n; i++) {
        client_key(&o->base, i == STREAM_DLQ ? "dlq" : "out", key, sizeof key);
        if (xread_start(c, &cur[i], key, o->from, &err) != 0)
            goto fail;
    }
    while (!client_stopping()) {
        if (xread_poll(c, cur, n, TAIL_BLOCK_MS, on_entry, (void *)o, &err) < 0)
            goto fail;
        fflush(stdout);
    }
    return CLIENT_EXIT_OK;
fail:
    fprintf(stderr, "%s: %s\n", PROG, err.text);
    return CLIENT_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    struct tail_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    redisContext *c = client_start(PROG, &o.base, CLIENT_CONNECT_MS + TAIL_BLOCK_MS);
    if (c == NULL)
        return CLIENT_EXIT_FAIL;
    rc = follow(c, &o);
    redisFree(c);
    return rc;
}
