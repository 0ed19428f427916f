/* evprint.c - printing output events and DLQ entries. See evprint.h. */
#include "evprint.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lyassert.h"
#include "msgview.h"
#include "proto.h"

#define EVPRINT_KIND_WIDTH 15     /* "segment.changed", the widest known kind */
#define EVPRINT_MEMBER_WIDTH 8    /* "M000042" and a space */
#define EVPRINT_FIELD_NAME_MAX 31 /* a {field} in a template */

/* A line per known kind: {field} prints the field's value, {+field} a
 * signed number with its sign. Fields not named are not printed. */
struct evprint_format {
    const char *kind;
    const char *template;
};

static const struct evprint_format FORMATS[] = {
    {"points.changed", "{+delta} -> {balance} ({cause})"},
    {"tier.changed", "{from} -> {to} ({reason})"},
    {"perk.triggered", "{perk} @ store {store} ({tier})"},
    {"reward.issued", "{reward} x{count} (cost {cost})"},
    {"redeem.result", "{txn} ok={ok} {error} balance {balance}"},
    {"points.expired", "-{points} -> {balance}"},
    {"segment.changed", "{dimension} {from} -> {to} rfm={rfm}"},
    {"transfer.result", "{txn} ok={ok} {error} balance {balance}"},
    {"campaign.exhausted", "{campaign}: budget used up"},
    {"points.pending", "{+points} -> pending {pending} (release_ts {release_ts})"},
    {"tier.at_risk", "{tier} needs {needed} by review_ts {review_ts}"},
    {"points.expiring", "{points} expire at {expire_ts} (balance {balance})"},
};

/* Keys every output carries, left out of the key=value form. */
static const char *const ENVELOPE[] = {"v", "kind", "member", "id", "src", "ts"};

int evprint_decode_m(const struct xread_entry *e, msgpack_unpacked *u,
                     struct client_error *err, const char **why)
{
    size_t len = 0;
    const char *m = xread_field(e, "m", &len);
    *why = NULL;
    if (m == NULL || len == 0)
        *why = "no input bytes (field m is missing or empty)";
    else if (msgview_unpack(m, len, u, err) != 0)
        *why = err->text;
    else if (u->data.type != MSGPACK_OBJECT_MAP)
        *why = "not a msgpack map";
    return *why == NULL ? 0 : -1;
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

/* Prints the template of a known kind with the fields of *map; an absent
 * field prints nothing. */
static void print_template(const char *t, const msgpack_object *map)
{
    while (*t != '\0') {
        const char *close = *t == '{' ? strchr(t, '}') : NULL;
        if (close == NULL) {
            fputc(*t++, stdout);
            continue;
        }
        char name[EVPRINT_FIELD_NAME_MAX + 1];
        size_t len = (size_t)(close - t - 1);
        LY_ASSERT(len > 0 && len <= EVPRINT_FIELD_NAME_MAX);
        memcpy(name, t + 1, len);
        name[len] = '\0';
        bool sign = name[0] == '+';
        const msgpack_object *v = msgview_get(map, name + (sign ? 1 : 0));
        if (sign && v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 > 0)
            fputc('+', stdout);
        if (v != NULL)
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

void evprint_event(const struct evprint_opts *o, const msgpack_object *map)
{
    if (o->json) {
        msgview_print_json(stdout, map);
        fputc('\n', stdout);
        return;
    }
    const msgpack_object *kind = msgview_get(map, "kind");
    const char *template = NULL;
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (msgview_is_str(kind, FORMATS[i].kind))
            template = FORMATS[i].template;
    if (o->time)
        print_time(msgview_get(map, "ts"));
    print_column(kind, EVPRINT_KIND_WIDTH);
    print_column(msgview_get(map, "member"), EVPRINT_MEMBER_WIDTH);
    if (template != NULL)
        print_template(template, map);
    else
        print_pairs(map);
    fputc('\n', stdout);
}

void evprint_undecodable(const struct evprint_opts *o, const char *id, const char *why)
{
    if (o->json) {
        fputs("{\"kind\":\"undecodable\",\"entry\":", stdout);
        msgview_json_string(stdout, id, strlen(id));
        fputs(",\"error\":", stdout);
        msgview_json_string(stdout, why, strlen(why));
        fputs("}\n", stdout);
    } else {
        printf("%-*s %-*s %s (entry %s)\n", EVPRINT_KIND_WIDTH, "undecodable",
               EVPRINT_MEMBER_WIDTH, "-", why, id);
    }
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

void evprint_dlq(const struct evprint_opts *o, const struct xread_entry *e,
                 const msgpack_object *input)
{
    if (o->json) {
        fputs("{\"kind\":\"dlq\",\"entry\":", stdout);
        msgview_json_string(stdout, e->id, strlen(e->id));
        json_field(e, "src");
        json_field(e, "reason");
        json_field(e, "detail");
        fputs(",\"m\":", stdout);
        msgview_print_json(stdout, input);
        fputs("}\n", stdout);
        return;
    }
    if (o->time)
        print_time(msgview_get(input, "ts"));
    printf("%-*s ", EVPRINT_KIND_WIDTH, "dlq");
    print_column(msgview_get(input, "member"), EVPRINT_MEMBER_WIDTH);
    text_field(e, "reason");
    fputs(": ", stdout);
    text_field(e, "detail");
    printf(" (entry %s, src ", e->id);
    text_field(e, "src");
    fputs(", input kind ", stdout);
    msgview_print_text(stdout, msgview_get(input, "kind"));
    const msgpack_object *txn = msgview_get(input, "txn");
    if (txn != NULL) {
        fputs(", txn ", stdout);
        msgview_print_text(stdout, txn);
    }
    fputs(")\n", stdout);
}
