/* outbox.c - see outbox.h. */
#include "outbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lyassert.h"

void outbox_init(struct outbox *ob, uint32_t cap)
{
    LY_ASSERT(cap >= 1);
    memset(ob, 0, sizeof(*ob));
    ob->cap = cap;
    ob->out = calloc(cap, sizeof(ob->out[0]));
    LY_ALLOC_CHECK(ob->out != NULL);
}

void outbox_free(struct outbox *ob)
{
    free(ob->out);
    memset(ob, 0, sizeof(*ob));
}

void outbox_reset(struct outbox *ob)
{
    LY_ASSERT(ob->out != NULL);
    ob->verdict = OUTBOX_APPLIED;
    ob->has_relay = false;
    ob->count = 0;
    ob->kept = 0;
    ob->reject.code = NULL;
    ob->reject.detail[0] = '\0';
}

uint32_t outbox_room(const struct outbox *ob)
{
    return ob->cap - ob->count;
}

struct proto_output *outbox_emit(struct outbox *ob, enum proto_out_kind kind, int64_t ts,
                                 const struct member *m)
{
    LY_ASSERT(ob->count < ob->cap && "a producer did not check outbox_room");
    struct proto_output *o = &ob->out[ob->count++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->ts = ts;
    memcpy(o->member, m->id, m->id_len + 1u);
    return o;
}

void outbox_reject(struct outbox *ob, const char *code, const char *fmt, ...)
{
    va_list ap;
    ob->verdict = OUTBOX_REJECTED;
    ob->has_relay = false;
    ob->count = ob->kept;
    ob->reject.code = code;
    va_start(ap, fmt);
    vsnprintf(ob->reject.detail, sizeof(ob->reject.detail), fmt, ap);
    va_end(ap);
}
