/* rulestore.h - rulebook texts by hash, parsed, for replays.
 *
 * A replay resolves each `rules` entry's hash the way the daemon does:
 * to the rulebook whose canonical text hashes to it, when that text is
 * known (archived with the entry, stored at <prefix>rules:<hash>, or the
 * configured rulebook's), else to nothing (the entry is then rejected as
 * bad_rulebook, as it was live). A text that does not parse or does not
 * hash to its name resolves to nothing as well, with the problem kept.
 */
#ifndef LOYALTY_RULESTORE_H
#define LOYALTY_RULESTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "cfgparse.h"
#include "rulebook.h"
#include "versions.h"

/* Distinct versions one replay resolves: operators change a program a few
 * times a month, so this is decades. */
#define RULESTORE_MAX 256
#define RULESTORE_PROBLEM_MAX CONFIG_ERROR_MAX

struct rulestore_item {
    char hash[PROTO_HASH_LEN + 1];
    struct rulebook *rb;                 /* NULL: the text is bad */
    char problem[RULESTORE_PROBLEM_MAX]; /* when rb is NULL */
};

struct rulestore {
    size_t count;
    struct rulestore_item items[RULESTORE_MAX];
};

/* An empty store. */
void rulestore_init(struct rulestore *rs);
void rulestore_free(struct rulestore *rs);

/* Adds the text of `hash` (verified: parsed and hashed again) unless the
 * hash is known already. Returns 0, or -1 when the store is full or out of
 * memory (a bad text is not an error: it is kept as a problem). */
int rulestore_add_text(struct rulestore *rs, const char *hash, const char *text, size_t len);

/* Adds a copy of the parsed rulebook `rb` under `hash` (known: no-op).
 * Returns 0, or -1 when full or out of memory. */
int rulestore_add(struct rulestore *rs, const char *hash, const struct rulebook *rb);

/* True when `hash` was added (with a good text or a bad one). */
bool rulestore_known(const struct rulestore *rs, const char *hash);

/* What a rules entry naming `hash` resolves to (versions.h). */
struct rules_text rulestore_resolve(const struct rulestore *rs, const char *hash);

#endif
