/* ingest.c - see ingest.h. */
#include "ingest.h"

#include <stdbool.h>
#include <string.h>

#include "lyassert.h"
#include "partition.h"
#include "rulecanon.h"
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

/* The text of rulebook `hash`: this build knows only the configured
 * rulebook `rb` (the file's); any other hash is not found. */
static void ingest_resolve(const struct rulebook *rb, const char *hash, struct rules_text *rt)
{
    char own[RULECANON_HASH_LEN + 1];
    if (rb != NULL && rulecanon_hash(rb, own) == 0 && strcmp(own, hash) == 0)
        rt->rb = rb;
    else
        rt->problem = "its text is not the configured rulebook's (reading texts from "
                      "Redis is not built yet)";
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

int ingest_apply_rules(const void *rules, struct state *st, struct proto_id id,
                       const redisReply *idr, const redisReply *fields, struct batch *b,
                       struct outbox *res)
{
    const struct ingest_rules *ir = rules;
    const struct rulebook *rb = ir->rb;
    struct proto_entry e; /* ~6 KiB with its line items */
    struct proto_reject rej = {PROTO_R_NO_M_FIELD, "entry has no field 'm'"};
    const redisReply *m = ingest_field_m(fields);
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        snprintf(rej.detail, sizeof(rej.detail), "entry was deleted from the stream");
    int decoded = m != NULL && proto_decode(m->str, m->len, &e, &rej) == 0;
    if (!decoded || wrong_partition(ir, &e, &rej)) {
        rules_skip(st, id);
        return b ? batch_add_dlq(b, idr->str, m ? m->str : NULL, m ? m->len : 0, &rej) : 0;
    }
    struct rules_text rt = {NULL, NULL};
    if (e.kind == PROTO_RULES)
        ingest_resolve(rb, e.hash, &rt);
    rules_apply(st, id, &e, e.kind == PROTO_RULES ? &rt : NULL, res);
    if (b == NULL)
        return 0;
    if (res->verdict == OUTBOX_REJECTED &&
        batch_add_dlq(b, idr->str, m->str, m->len, &res->reject) != 0)
        return -1;
    if (res->count == 0)
        return 0; /* a rejected entry keeps only a rulebook switch it triggered */
    return batch_add_outputs(b, id, res);
}

int ingest_entries(ingest_apply_fn *apply, const void *arg, struct state *st,
                   const redisReply *entries, struct batch *b, struct outbox *scratch,
                   struct ingest_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (entries->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *ent = entries->element[i];
        struct proto_id id;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING ||
            proto_id_parse(ent->element[0]->str, ent->element[0]->len, &id) != 0)
            return -1;
        stats->entries++;
        bool fresh = proto_id_cmp(id, st->last_id) > 0;
        if (b != NULL)
            batch_add_entry(b, id, ent->element[0]->str, fresh);
        if (!fresh) {
            stats->skipped++;
            continue;
        }
        if (apply(arg, st, id, ent->element[0], ent->element[1], b, scratch) != 0)
            return -1;
        stats->applied++;
    }
    return 0;
}
