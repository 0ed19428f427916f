/* httppreview.c - see httppreview.h.
 *
 * Memory per request: the body (bounded by HTTPPREVIEW_BODY_MAX), jansson's
 * parse of a JSON body and the answer's JSON; the msgpack an entry
 * becomes goes into a fixed buffer, and the preview itself (preview.h)
 * allocates nothing.
 */
#include "httppreview.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "partition.h"
#include "preview.h"
#include "reasons.h"
#include "rules.h"

/* Nesting copied from JSON: the decoder refuses more than PROTO_DEPTH_MAX
 * anyway (too_deep), so deeper values are copied as nil. */
#define HTTPPREVIEW_DEPTH_MAX 16

struct httppreview {
    struct fleet *f;
    uint32_t partitions;
    struct state *st;       /* the request's: the newest clock, then the member's partition */
    struct preview pv;
    char packed[PROTO_ENTRY_BYTES_MAX + 1]; /* the entry's msgpack; one more: too_large */
    size_t packed_len;
    bool packed_full;
    struct proto_entry e;   /* ~6 KiB */
    msgpack_sbuffer out;    /* one output's msgpack, reused */
};

struct httppreview *httppreview_new(struct fleet *f, uint32_t partitions)
{
    struct httppreview *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->f = f;
    p->partitions = partitions;
    preview_init(&p->pv);
    msgpack_sbuffer_init(&p->out);
    return p;
}

void httppreview_free(struct httppreview *p)
{
    if (p == NULL)
        return;
    preview_free(&p->pv);
    msgpack_sbuffer_destroy(&p->out);
    free(p);
}

/* msgpack writer into p->packed; past its end the entry is too large. */
static int pack_write(void *data, const char *buf, size_t len)
{
    struct httppreview *p = data;
    if (len > sizeof(p->packed) - p->packed_len) {
        p->packed_full = true;
        return -1;
    }
    memcpy(p->packed + p->packed_len, buf, len);
    p->packed_len += len;
    return 0;
}

static void pack_ts(msgpack_packer *pk, int64_t ts)
{
    msgpack_pack_str_with_body(pk, "ts", 2);
    msgpack_pack_int64(pk, ts);
}

static void pack_json(msgpack_packer *pk, const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i;
    if (depth > HTTPPREVIEW_DEPTH_MAX) {
        msgpack_pack_nil(pk);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach((json_t *)v, key, item) {
            msgpack_pack_str_with_body(pk, key, strlen(key));
            pack_json(pk, item, depth + 1);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, item)
            pack_json(pk, item, depth + 1);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(v)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(v)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_NULL: msgpack_pack_nil(pk); break;
    }
}

static json_t *error(const char *code, const char *detail)
{
    return json_pack("{s:s, s:s}", "error", code, "detail", detail);
}

/* A JSON body into p->packed, with `ts` added when the object has none. */
static int from_json(struct httppreview *p, const char *body, size_t len, json_t **out)
{
    json_error_t jerr;
    msgpack_packer pk;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        bool dup = strstr(jerr.text, "duplicate") != NULL;
        *out = error(dup ? PROTO_R_DUPLICATE_KEY : "bad_json", jerr.text);
        return -1;
    }
    msgpack_packer_init(&pk, p, pack_write);
    if (json_is_object(doc) && json_object_get(doc, "ts") == NULL && p->st->clock_ms > 0)
        json_object_set_new(doc, "ts", json_integer(p->st->clock_ms));
    pack_json(&pk, doc, 0);
    json_decref(doc);
    return 0;
}

/* A msgpack body into p->packed: as sent, or with `ts` added to a map
 * that has none. */
static void from_msgpack(struct httppreview *p, const char *body, size_t len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_packer pk;
    msgpack_unpacked_init(&u);
    msgpack_packer_init(&pk, p, pack_write);
    bool map = msgpack_unpack_next(&u, body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
               off == len && u.data.type == MSGPACK_OBJECT_MAP;
    bool has_ts = false;
    for (uint32_t i = 0; map && i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        has_ts |= k->type == MSGPACK_OBJECT_STR && k->via.str.size == 2 &&
                  memcmp(k->via.str.ptr, "ts", 2) == 0;
    }
    if (!map || has_ts || p->st->clock_ms == 0) { /* no clock yet: ts is missing */
        pack_write(p, body, len); /* the decoder judges the bytes as sent */
    } else {
        msgpack_pack_map(&pk, u.data.via.map.size + 1);
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            msgpack_pack_object(&pk, u.data.via.map.ptr[i].key);
            msgpack_pack_object(&pk, u.data.via.map.ptr[i].val);
        }
        pack_ts(&pk, p->st->clock_ms);
    }
    msgpack_unpacked_destroy(&u);
}

/* A msgpack value of an output event as JSON (the encoder's own fields). */
static json_t *to_json(const msgpack_object *o)
{
    json_t *v;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_STR: return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        v = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(v, to_json(&o->via.array.ptr[i]));
        return v;
    case MSGPACK_OBJECT_MAP:
        v = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            char key[32];
            snprintf(key, sizeof(key), "%.*s", (int)k->via.str.size, k->via.str.ptr);
            if (strcmp(key, "id") != 0 && strcmp(key, "src") != 0 && strcmp(key, "v") != 0)
                json_object_set_new(v, key, to_json(&o->via.map.ptr[i].val));
        }
        return v;
    default: return json_null();
    }
}

/* The outputs the sale would publish, as on <prefix>out (no id, src, v). */
static json_t *outputs_json(struct httppreview *p, json_t *by_cause)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < p->pv.ob.count; i++) {
        const struct proto_output *o = &p->pv.ob.out[i];
        msgpack_unpacked u;
        size_t off = 0;
        p->out.size = 0;
        if (proto_encode_output(&p->out, o, p->st->last_id, i) != 0)
            continue;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, p->out.data, p->out.size, &off) == MSGPACK_UNPACK_SUCCESS)
            json_array_append_new(arr, to_json(&u.data));
        msgpack_unpacked_destroy(&u);
        if (o->kind == PROTO_OUT_POINTS_CHANGED) {
            const char *c = proto_cause_name(o->cause);
            json_t *sum = json_object_get(by_cause, c);
            json_object_set_new(by_cause, c, json_integer(o->delta +
                                                          (sum ? json_integer_value(sum) : 0)));
        }
    }
    return arr;
}

static json_t *perks(const struct rulebook_tier *t)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < t->perk_count; i++)
        json_array_append_new(a, json_string(t->perks[i]));
    return a;
}

static json_t *answer(struct httppreview *p, const struct preview_result *r)
{
    const struct rulebook *rb = &p->st->ver->now;
    json_t *by_cause = json_object();
    json_t *outputs = outputs_json(p, by_cause);
    return json_pack(
        "{s:s, s:s, s:b, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:b, s:o, s:I, s:I, s:I, s:b}",
        "verdict", r->verdict == PREVIEW_DUPLICATE ? "duplicate" : "applied", "member",
        p->e.member, "new_member", r->new_member, "ts", (json_int_t)p->e.ts, "outputs", outputs,
        "points_by_cause", by_cause, "balance_before", (json_int_t)r->balance_before, "balance",
        (json_int_t)r->balance, "pending_before", (json_int_t)r->pending_before, "pending",
        (json_int_t)r->pending, "tier_before", rb->tiers[r->tier_before].name, "tier",
        rb->tiers[r->tier].name, "tier_changed", r->tier != r->tier_before, "perks",
        perks(&rb->tiers[r->tier]), "lifetime_points", (json_int_t)r->lifetime_points,
        "qualifying", (json_int_t)r->qualifying, "purchases", (json_int_t)r->purchases,
        "rulebook_switch_due", r->switch_due);
}

static bool is_msgpack(const char *ctype)
{
    return ctype != NULL && (strncmp(ctype, "application/msgpack", 19) == 0 ||
                             strncmp(ctype, "application/x-msgpack", 21) == 0);
}

/* The served partitions' newest clock stands for "now" (a missing ts). */
static struct state *newest_clock(struct fleet *f)
{
    struct state *st = &fleet_part(f, 0)->st;
    for (uint32_t i = 1; i < fleet_count(f); i++)
        if (fleet_part(f, i)->st.clock_ms > st->clock_ms)
            st = &fleet_part(f, i)->st;
    return st;
}

/* The state of the entry's member, or NULL (with the 421 answer in *out)
 * when this daemon does not serve its partition. */
static struct state *member_state(struct httppreview *p, json_t **out)
{
    uint32_t want = partition_of(p->e.member, strlen(p->e.member), p->partitions);
    for (uint32_t i = 0; i < fleet_count(p->f); i++)
        if (fleet_part(p->f, i)->p == want)
            return &fleet_part(p->f, i)->st;
    char detail[160];
    snprintf(detail, sizeof(detail), "this member is in partition %u of %u, which this daemon "
             "does not serve: ask the daemon that serves it", want, p->partitions);
    *out = json_pack("{s:s, s:s, s:i}", "error", "wrong_partition", "detail", detail,
                     "partition", (int)want);
    return NULL;
}

int httppreview_answer(struct httppreview *p, const char *ctype, const char *body, size_t len,
                       json_t **out)
{
    struct proto_reject rej;
    struct preview_result r;
    p->st = newest_clock(p->f);
    p->packed_len = 0;
    p->packed_full = false;
    if (is_msgpack(ctype))
        from_msgpack(p, body, len);
    else if (from_json(p, body, len, out) != 0)
        return 400;
    if (p->packed_full) {
        *out = error(PROTO_R_TOO_LARGE, "the entry is larger than 8 KiB as msgpack");
        return 400;
    }
    if (proto_decode(p->packed, p->packed_len, &p->e, &rej) != 0) {
        *out = error(rej.code, rej.detail);
        return 400;
    }
    if (p->e.kind != PROTO_PURCHASE) {
        *out = error("not_a_purchase", "POST /v1/preview takes a purchase entry");
        return 400;
    }
    if ((p->st = member_state(p, out)) == NULL)
        return 421;
    preview_purchase(&p->pv, p->st, &p->e, &r);
    switch (r.verdict) {
    case PREVIEW_UNKNOWN_MEMBER:
        *out = error(RULES_R_UNKNOWN_MEMBER, "the member is not enrolled (enrolment is required)");
        return 404;
    case PREVIEW_REJECTED:
        *out = error(p->pv.ob.reject.code, p->pv.ob.reject.detail);
        return 422;
    default:
        *out = answer(p, &r);
        return 200;
    }
}
