/* versions.h - rulebook versions as part of the state.
 *
 * The rulebook in force is state: it changes only through a `rules` entry
 * applied at its place in the stream (DESIGN.md, Rulebook versions), so
 * replay and recovery see the versions that were in force when each entry
 * was applied. A version is named by its hash (rulecanon.h); the shell
 * resolves the text the entry names and hands the core the parsed,
 * verified rulebook (or the problem), so the core stays pure.
 *
 * Applying a `rules` entry and migrating the state at the switch live a
 * layer up, in switchover.h.
 */
#ifndef LOYALTY_VERSIONS_H
#define LOYALTY_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "rulebook.h"

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

/* Turning a rulebook into its canonical text and back, for the layers
 * that store versions without knowing the configuration format (the
 * snapshots of engine/store): rulecanon_codec() (rulecanon.h) is the
 * implementation, which the shell hands down. */
struct rulebook_codec {
    /* The canonical text of `rb`, malloc'd; NULL when out of memory. */
    char *(*text)(const struct rulebook *rb);
    /* Parses `text` into `*rb`. Returns 0, or -1 with the problem in
     * err[0..cap). */
    int (*parse)(const char *text, struct rulebook *rb, char *err, size_t cap);
};

/* Starts `v` with `rb` in force under the empty hash (the version a
 * state starts with, before any rules entry). */
void versions_init(struct versions *v, const struct rulebook *rb);

/* The version in force. */
const struct rulebook_version *versions_current(const struct versions *v);

#endif
