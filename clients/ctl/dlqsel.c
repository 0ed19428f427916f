/* dlqsel.c - choosing DLQ entries. See dlqsel.h. */
#include "dlqsel.h"

#include <stdio.h>
#include <string.h>

#include "lyassert.h"
#include "evprint.h"
#include "msgview.h"
#include "proto.h"

/* Parses a stream id option into buf in normal form. */
static int id_option(const char *name, const char *arg, char *buf, struct client_error *err)
{
    struct proto_id id;
    if (proto_id_parse(arg, strlen(arg), &id) != 0) {
        snprintf(err->text, sizeof err->text, "%s '%.48s': expected a stream id <ms>-<seq>",
                 name, arg);
        return -1;
    }
    proto_id_format(id, buf, PROTO_ID_STR_MAX);
    return 0;
}

/* Adds an --id, once: the same id given twice is one entry. */
static int add_id(struct dlqsel *s, const char *arg, struct client_error *err)
{
    char id[PROTO_ID_STR_MAX];
    if (id_option("--id", arg, id, err) != 0)
        return -1;
    for (uint32_t i = 0; i < s->id_count; i++)
        if (strcmp(s->ids[i], id) == 0)
            return 1;
    if (s->id_count == DLQSEL_IDS_MAX) {
        snprintf(err->text, sizeof err->text, "--id given more than %d times; use --from/--to",
                 DLQSEL_IDS_MAX);
        return -1;
    }
    memcpy(s->ids[s->id_count++], id, sizeof id);
    return 1;
}

int dlqsel_option(struct dlqsel *s, int opt, const char *arg, struct client_error *err)
{
    switch (opt) {
    case DLQSEL_OPT_ID:
        return add_id(s, arg, err);
    case DLQSEL_OPT_FROM:
        return id_option("--from", arg, s->from, err) == 0 ? 1 : -1;
    case DLQSEL_OPT_TO:
        return id_option("--to", arg, s->to, err) == 0 ? 1 : -1;
    case DLQSEL_OPT_REASON:
        s->reason = arg;
        return 1;
    case DLQSEL_OPT_MEMBER:
        s->member = arg;
        return 1;
    case DLQSEL_OPT_KIND:
        s->kind = arg;
        return 1;
    case DLQSEL_OPT_LIMIT:
        return client_parse_u64("--limit", arg, 1, DLQSEL_LIMIT_MAX, &s->limit, err) == 0
                   ? 1 : -1;
    default:
        return 0;
    }
}

bool dlqsel_narrowed(const struct dlqsel *s)
{
    return s->id_count > 0 || s->from[0] != '\0' || s->to[0] != '\0' || s->reason != NULL ||
           s->member != NULL || s->kind != NULL;
}

static bool field_is(const struct xread_entry *e, const char *name, const char *want)
{
    size_t len = 0;
    const char *v = xread_field(e, name, &len);
    return v != NULL && len == strlen(want) && memcmp(v, want, len) == 0;
}

/* Filters one entry and hands it to fn. Returns 1 chosen, 0 not, -1 stop. */
static int visit(const struct dlqsel *s, const struct xread_entry *e, dlqsel_fn fn, void *ctx)
{
    struct client_error err;
    msgpack_unpacked u;
    const char *why = NULL;
    int rc = 0;
    msgpack_unpacked_init(&u);
    const msgpack_object *input = evprint_decode_m(e, &u, &err, &why) == 0 ? &u.data : NULL;
    if ((s->reason == NULL || field_is(e, "reason", s->reason)) &&
        (s->member == NULL || msgview_is_str(msgview_get(input, "member"), s->member)) &&
        (s->kind == NULL || msgview_is_str(msgview_get(input, "kind"), s->kind)))
        rc = fn(ctx, e, input) == 0 ? 1 : -1;
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* One XRANGE page [start, end]; walks its entries. Sets *last to the id of
 * the last entry read ("" when none). Returns the number chosen, or -1. */
static int64_t walk_page(redisContext *c, const char *key, const char *start, const char *end,
                         const struct dlqsel *s, uint64_t room, dlqsel_fn fn, void *ctx,
                         char *last, struct client_error *err)
{
    int64_t chosen = 0;
    redisReply *r = redisCommand(c, "XRANGE %s %s %s COUNT %d", key, start, end,
                                 DLQSEL_PAGE_ENTRIES);
    last[0] = '\0';
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err->text, sizeof err->text, "XRANGE %s: %s", key,
                 r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        chosen = -1;
    }
    for (size_t i = 0; chosen >= 0 && i < r->elements && (uint64_t)chosen < room; i++) {
        const redisReply *x = r->element[i];
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
            x->element[0]->type != REDIS_REPLY_STRING ||
            x->element[0]->len >= PROTO_ID_STR_MAX) {
            snprintf(err->text, sizeof err->text, "XRANGE %s: malformed entry", key);
            chosen = -1;
            break;
        }
        struct xread_entry e = {.stream = 0, .id = x->element[0]->str, .fields = x->element[1]};
        memcpy(last, e.id, x->element[0]->len + 1);
        int rc = visit(s, &e, fn, ctx);
        if (rc < 0) {
            snprintf(err->text, sizeof err->text, "stopped at DLQ entry %s", e.id);
            chosen = -1;
        }
        chosen += rc > 0 ? 1 : 0;
    }
    if (r != NULL)
        freeReplyObject(r);
    return chosen;
}

int64_t dlqsel_walk(redisContext *c, const char *key, const struct dlqsel *s,
                    dlqsel_fn fn, void *ctx, struct client_error *err)
{
    char start[PROTO_ID_STR_MAX + 1], last[PROTO_ID_STR_MAX];
    const char *end = s->to[0] != '\0' ? s->to : "+";
    uint64_t room = s->limit != 0 ? s->limit : UINT64_MAX;
    int64_t total = 0;
    for (uint32_t i = 0; i < s->id_count && (uint64_t)total < room; i++) {
        int64_t n = walk_page(c, key, s->ids[i], s->ids[i], s, 1, fn, ctx, last, err);
        if (n < 0)
            return -1;
        if (last[0] == '\0') {
            snprintf(err->text, sizeof err->text, "no entry %s in %s", s->ids[i], key);
            return -1;
        }
        total += n;
    }
    if (s->id_count > 0)
        return total;
    snprintf(start, sizeof start, "%s", s->from[0] != '\0' ? s->from : "-");
    while ((uint64_t)total < room) {
        int64_t n = walk_page(c, key, start, end, s, room - (uint64_t)total, fn, ctx, last, err);
        if (n < 0)
            return -1;
        total += n;
        if (last[0] == '\0')
            break;
        snprintf(start, sizeof start, "(%s", last); /* exclusive: after `last` */
    }
    return total;
}
