/* replay.h - one state replaying the history in process, as the daemon
 * applies it (ingest.c): a decoded entry goes through rules_apply, an
 * entry that does not decode only moves the state's position
 * (rules_skip). Its outputs of the last entry are in `ob`.
 */
#ifndef LOYALTY_REPLAY_H
#define LOYALTY_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"
#include "versions.h"

struct replay {
    struct state st;
    struct outbox ob; /* the last entry's verdict and outputs */
};

/* Starts an empty state under `startup` (the start-up version) holding at
 * most `members_max` members. Returns 0, or -1 when out of memory. */
int replay_init(struct replay *r, const struct rulebook *startup, uint32_t members_max);

/* Frees the state and the outbox. */
void replay_free(struct replay *r);

/* Applies entry `id` (after the state's last id): `e` NULL when it does
 * not decode; `rt` a rules entry's resolved text (NULL otherwise). */
void replay_apply(struct replay *r, struct proto_id id, const struct proto_entry *e,
                  const struct rules_text *rt);

/* One replay fed by history_replay: use replay_one_begin and
 * replay_one_entry as its hooks (history.h) with a struct replay_one as
 * their argument. */
struct replay_one {
    uint32_t members_max; /* set by the caller */
    struct replay rp;     /* valid once `ready` */
    bool ready;
};

/* Starts rp under `startup`. Returns 0, or -1 when out of memory. */
int replay_one_begin(void *arg, const struct rulebook *startup);
/* Applies one entry to rp. Returns 0. */
int replay_one_entry(void *arg, struct proto_id id, const struct proto_entry *e,
                     const struct rules_text *rt);
/* Frees rp if it was started. */
void replay_one_free(struct replay_one *r);

#endif
