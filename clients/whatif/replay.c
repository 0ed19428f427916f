/* replay.c - see replay.h. */
#include "replay.h"

#include <string.h>

#include "rules.h"

int replay_init(struct replay *r, const struct rulebook *startup, uint32_t members_max)
{
    memset(r, 0, sizeof(*r));
    if (state_init(&r->st, startup, members_max) != 0)
        return -1;
    rules_outbox_init(&r->ob);
    return 0;
}

void replay_free(struct replay *r)
{
    state_free(&r->st);
    outbox_free(&r->ob);
}

void replay_apply(struct replay *r, struct proto_id id, const struct proto_entry *e,
                  const struct rules_text *rt)
{
    if (e == NULL) {
        outbox_reset(&r->ob);
        r->ob.verdict = OUTBOX_REJECTED;
        rules_skip(&r->st, id);
        return;
    }
    rules_apply(&r->st, id, e, e->kind == PROTO_RULES ? rt : NULL, &r->ob);
}

int replay_one_begin(void *arg, const struct rulebook *startup)
{
    struct replay_one *r = arg;
    r->ready = replay_init(&r->rp, startup, r->members_max) == 0;
    return r->ready ? 0 : -1;
}

int replay_one_entry(void *arg, struct proto_id id, const struct proto_entry *e,
                     const struct rules_text *rt)
{
    struct replay_one *r = arg;
    replay_apply(&r->rp, id, e, rt);
    return 0;
}

void replay_one_free(struct replay_one *r)
{
    if (r->ready)
        replay_free(&r->rp);
    r->ready = false;
}
