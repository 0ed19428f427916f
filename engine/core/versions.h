/* versions.h - rulebook versions as part of the state.
 *
 * The rulebook in force is state: it changes only through a `rules` entry
 * applied at its place in the stream (DESIGN.md, Rulebook versions), so
 * replay and recovery see the versions that were in force when each entry
 * was applied. A version is named by its hash (rulecanon.h); the shell
 * resolves the text the entry names and hands the core the parsed,
 * verified rulebook (or the problem), so the core stays pure.
 *
 * At the switch, versions_switch migrates the state from the old rulebook
 * to the new one as a pure function of (state, old, new):
 *  - tiers are matched by name; a member of a removed tier goes to the
 *    highest remaining tier whose threshold is at or below the removed
 *    one's; a member whose window now qualifies for a higher tier moves up
 *    at once; both publish tier.changed with reason "rules". A member
 *    whose tier kept its name stays (a higher threshold waits for the
 *    review, as any shortfall does);
 *  - segments are matched by name (a removed one: the last segment, the
 *    catch-all) and every member is reclassified on the next tick(s);
 *  - reward counters move with their reward's name (state_reindex);
 *  - expiry lots keep the months they were earned in.
 */
#ifndef LOYALTY_VERSIONS_H
#define LOYALTY_VERSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "outbox.h"
#include "proto.h"
#include "rulebook.h"

struct state;

/* Switch points remembered for GET /v1/rulebook: the version in force and
 * the ones before it. Operators change a program a few times a month; 8
 * covers the recent history an operator looks at, and the input stream
 * (or its archive) holds the rest. */
#define RULEBOOK_VERSIONS_MAX 8

/* Where and when a version took (or takes) effect. */
struct rulebook_version {
    char hash[PROTO_HASH_LEN + 1];   /* "" for the built-in start-up version */
    char label[PROTO_LABEL_MAX + 1];
    struct proto_id entry_id;        /* the rules entry that named it */
    int64_t effective_ts;            /* 0: at once */
    struct proto_id since_id;        /* the entry at which it took effect */
    int64_t since_ts;                /* event time it took effect */
};

/* What the shell found for a rules entry: the rulebook its text parses to
 * (verified against the entry's hash), or NULL and the problem. */
struct rules_text {
    const struct rulebook *rb;
    const char *problem;
};

struct versions {
    struct rulebook now;  /* in force */
    struct rulebook prev; /* the one before (outputs of the switch name its tiers) */
    struct rulebook next; /* scheduled, when has_next */
    bool has_next;
    struct rulebook_version next_info;
    uint32_t count;       /* history[0..count): oldest first; the last one is in force */
    struct rulebook_version history[RULEBOOK_VERSIONS_MAX];
};

/* Outputs a switch appends at most before member migration. */
#define VERSIONS_SWITCH_OUTPUTS 1

/* Starts `v` with `rb` in force under the empty hash (the version a
 * state starts with, before any rules entry). */
void versions_init(struct versions *v, const struct rulebook *rb);

/* The version in force. */
const struct rulebook_version *versions_current(const struct versions *v);

/* Applies rules entry `e` (read at `id`): rejects it as bad_rulebook when
 * `rt` has no rulebook; switches at once when it has no effective_ts or
 * that time is reached by the engine clock; otherwise holds it as the
 * scheduled version (replacing any scheduled one). */
void versions_apply(struct state *st, struct proto_id id, const struct proto_entry *e,
                    const struct rules_text *rt, struct outbox *ob);

/* Switches to the scheduled version when the engine clock has reached its
 * effective_ts; called before each entry. Its outputs stand even if the
 * entry is then rejected (ob->kept). */
void versions_due(struct state *st, struct proto_id id, struct outbox *ob);

/* Migrates `st` from `old` to `new` (see above), stamping outputs `ts`.
 * Pure; appends one tier.changed per member whose tier changes while
 * `ob` has room. */
void versions_migrate(struct state *st, const struct rulebook *old, const struct rulebook *new,
                      int64_t ts, struct outbox *ob);

#endif
