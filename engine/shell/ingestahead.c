/* ingestahead.c - see ingestahead.h. */
#include "ingestahead.h"

#include <stdio.h>

#include "lyassert.h"
#include "prefetch.h"

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

void ingest_decode_fields(const redisReply *fields, struct ingest_decoded *d)
{
    d->rej = (struct proto_reject){PROTO_R_NO_M_FIELD, "entry has no field 'm'"};
    d->m = ingest_field_m(fields);
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        snprintf(d->rej.detail, sizeof(d->rej.detail), "entry was deleted from the stream");
    d->rc = d->m != NULL && decode(d->m->str, d->m->len, &d->e, &d->rej) == 0 ? 0 : -1;
}

void ingest_ahead_start(struct ingest_ahead *a, const redisReply *entries, size_t pos)
{
    a->entries = entries;
    a->next = pos;
}

/* Decodes entry a->next into its slot. */
static void decode_next(struct ingest_ahead *a)
{
    const redisReply *ent = a->entries->element[a->next];
    const redisReply *fields =
        ent->type == REDIS_REPLY_ARRAY && ent->elements == 2 ? ent->element[1] : NULL;
    ingest_decode_fields(fields, &a->slot[a->next % INGEST_AHEAD_SLOTS]);
    a->next++;
}

/* The decoded entry `k` when it decoded, else NULL. */
static const struct proto_entry *decoded(const struct ingest_ahead *a, size_t k)
{
    const struct ingest_decoded *d = &a->slot[k % INGEST_AHEAD_SLOTS];
    return k < a->next && d->rc == 0 ? &d->e : NULL;
}

const struct ingest_decoded *ingest_ahead_take(struct ingest_ahead *a, const struct state *st,
                                               size_t pos)
{
    LY_ASSERT(pos < a->entries->elements && pos + INGEST_AHEAD_SLOTS >= a->next);
    if (a->next < pos)
        a->next = pos; /* entries passed over (applied before) need no decoding */
    while (a->next <= pos + INGEST_AHEAD && a->next < a->entries->elements)
        decode_next(a);
    const struct proto_entry *e2 = decoded(a, pos + 2);
    const struct proto_entry *e1 = decoded(a, pos + 1);
    if (e2 != NULL)
        prefetch_slot(st, e2);
    if (e1 != NULL)
        prefetch_member(st, e1);
    return &a->slot[pos % INGEST_AHEAD_SLOTS];
}
