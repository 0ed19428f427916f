/* ingest.c - see ingest.h. */
#include "ingest.h"

#include <stdbool.h>
#include <string.h>

#include "ingestahead.h"
#include "lyassert.h"
#include "partition.h"
#include "rules.h"

/* True when entry `e` names a member of another partition than the one
 * it was read from (rej says which); entries without a member (tick,
 * rules) belong to every partition. */
static bool wrong_partition(const struct ingest_rules *ir, const struct proto_entry *e,
                            struct proto_reject *rej)
{
    if (ir->partitions == 1 || e->member[0] == '\0')
        return false;
    uint32_t p = partition_of(e->member, strlen(e->member), ir->partitions);
    if (p == ir->partition)
        return false;
    rej->code = PARTITION_R_WRONG;
    snprintf(rej->detail, sizeof(rej->detail),
             "member '%s' is in partition %u of %u, not %u: send it to that partition's input",
             e->member, p, ir->partitions, ir->partition);
    return true;
}

/* ingest_apply_rules for the entry `d` holds, decoded from `fields`. */
static int apply_decoded(const void *arg, struct state *st, struct proto_id id,
                         const redisReply *idr, const struct ingest_decoded *d, struct batch *b,
                         struct outbox *res)
{
    const struct ingest_rules *rules = arg;
    const struct proto_entry *e = &d->e;
    const redisReply *m = d->m;
    struct proto_reject rej = d->rej;
    if (d->rc != 0 || wrong_partition(rules, e, &rej)) {
        rules_skip(st, id);
        return b ? batch_add_dlq(b, idr->str, m ? m->str : NULL, m ? m->len : 0, &rej) : 0;
    }
    struct rules_text rt = {NULL, NULL};
    if (e->kind == PROTO_RULES &&
        rules->resolve(rules->ctx, st, e->hash, &rt) == INGEST_TEXT_UNKNOWN)
        return INGEST_NEED_TEXT; /* nothing applied: the shell fetches the text first */
    rules_apply(st, id, e, e->kind == PROTO_RULES ? &rt : NULL, res);
    if (b == NULL)
        return 0;
    if (res->verdict == OUTBOX_REJECTED &&
        batch_add_dlq(b, idr->str, m->str, m->len, &res->reject) != 0)
        return -1;
    if (res->has_relay && batch_add_relay(b, res) != 0)
        return -1; /* a transfer's credit or return for another partition (xfer.h) */
    if (res->count == 0)
        return 0; /* a rejected entry keeps only a rulebook switch it triggered */
    return batch_add_outputs(b, id, res);
}

int ingest_apply_rules(const void *arg, struct state *st, struct proto_id id,
                       const redisReply *idr, const redisReply *fields, struct batch *b,
                       struct outbox *res)
{
    struct ingest_decoded d; /* ~7 KiB with its line items */
    ingest_decode_fields(fields, &d);
    return apply_decoded(arg, st, id, idr, &d, b, res);
}

/* The decode-ahead window of the daemon's apply (ingestahead.h): one, as
 * ingest runs on the event loop only, reserved with the program. */
static struct ingest_ahead ahead;

int ingest_entries(ingest_apply_fn *apply, const void *arg, struct state *st,
                   const redisReply *entries, size_t *pos, struct batch *b,
                   struct outbox *scratch, struct ingest_stats *stats)
{
    if (entries->type != REDIS_REPLY_ARRAY)
        return -1;
    /* The daemon's apply decodes ahead and hints members into the cache;
     * another apply function (bench_bare's) is called as it is. */
    bool decode_ahead = apply == ingest_apply_rules;
    if (decode_ahead)
        ingest_ahead_start(&ahead, entries, *pos);
    for (; *pos < entries->elements; ++*pos) {
        const redisReply *ent = entries->element[*pos];
        struct proto_id id;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING ||
            proto_id_parse(ent->element[0]->str, ent->element[0]->len, &id) != 0)
            return -1;
        bool fresh = proto_id_cmp(id, st->last_id) > 0;
        if (fresh) {
            int rc = decode_ahead ? apply_decoded(arg, st, id, ent->element[0],
                                                  ingest_ahead_take(&ahead, st, *pos), b, scratch)
                                  : apply(arg, st, id, ent->element[0], ent->element[1], b, scratch);
            if (rc != 0)
                return rc; /* -1, or INGEST_NEED_TEXT: *pos waits, not in `b` */
            stats->applied++;
        } else {
            stats->skipped++;
        }
        stats->entries++;
        /* After apply: an entry that waits for its text is not acknowledged. */
        if (b != NULL)
            batch_add_entry(b, id, ent->element[0]->str, fresh);
    }
    return 0;
}
