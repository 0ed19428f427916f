/* ingest.c - see ingest.h. */
#include "ingest.h"

#include <stdbool.h>
#include <string.h>

#include "lyassert.h"
#include "partition.h"
#include "rules.h"

const redisReply *ingest_field_m(const redisReply *fields)
{
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i];
        const redisReply *v = fields->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == 1 && k->str[0] == 'm' &&
            v->type == REDIS_REPLY_STRING)
            return v;
    }
    return NULL;
}

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

/* The event loop's decoder: its zone is reserved once and reused, so an
 * entry's decode allocates nothing (ingest runs on the event loop only).
 * Until it could be reserved, entries are decoded with a zone each. */
static struct proto_decoder loop_decoder;
static int loop_decoder_state; /* 0: not tried, 1: ready, -1: out of memory */

static int decode(const char *buf, size_t len, struct proto_entry *e, struct proto_reject *rej)
{
    if (loop_decoder_state <= 0)
        loop_decoder_state = proto_decoder_init(&loop_decoder) == 0 ? 1 : -1;
    return loop_decoder_state == 1 ? proto_decode_with(&loop_decoder, buf, len, e, rej)
                                   : proto_decode(buf, len, e, rej);
}

int ingest_apply_rules(const void *arg, struct state *st, struct proto_id id,
                       const redisReply *idr, const redisReply *fields, struct batch *b,
                       struct outbox *res)
{
    const struct ingest_rules *rules = arg;
    struct proto_entry e; /* ~6 KiB with its line items */
    struct proto_reject rej = {PROTO_R_NO_M_FIELD, "entry has no field 'm'"};
    const redisReply *m = ingest_field_m(fields);
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        snprintf(rej.detail, sizeof(rej.detail), "entry was deleted from the stream");
    int decoded = m != NULL && decode(m->str, m->len, &e, &rej) == 0;
    if (!decoded || wrong_partition(rules, &e, &rej)) {
        rules_skip(st, id);
        return b ? batch_add_dlq(b, idr->str, m ? m->str : NULL, m ? m->len : 0, &rej) : 0;
    }
    struct rules_text rt = {NULL, NULL};
    if (e.kind == PROTO_RULES &&
        rules->resolve(rules->ctx, st, e.hash, &rt) == INGEST_TEXT_UNKNOWN)
        return INGEST_NEED_TEXT; /* nothing applied: the shell fetches the text first */
    rules_apply(st, id, &e, e.kind == PROTO_RULES ? &rt : NULL, res);
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

int ingest_entries(ingest_apply_fn *apply, const void *arg, struct state *st,
                   const redisReply *entries, size_t *pos, struct batch *b,
                   struct outbox *scratch, struct ingest_stats *stats)
{
    if (entries->type != REDIS_REPLY_ARRAY)
        return -1;
    for (; *pos < entries->elements; ++*pos) {
        const redisReply *ent = entries->element[*pos];
        struct proto_id id;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING ||
            proto_id_parse(ent->element[0]->str, ent->element[0]->len, &id) != 0)
            return -1;
        bool fresh = proto_id_cmp(id, st->last_id) > 0;
        if (fresh) {
            int rc = apply(arg, st, id, ent->element[0], ent->element[1], b, scratch);
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
