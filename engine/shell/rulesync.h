/* rulesync.h - rulebook texts between Redis and the core, for the consumer.
 *
 * Resolving. The core applies a `rules` entry with the rulebook its text
 * parses to (versions.h, switchover.h); the text is in Redis at
 * <prefix>rules:<hash> (<prefix> being the partition's: <prefix>{p}: when
 * there are several, so the text shares the slot of the partition's
 * input). The resolver (rulesync_resolver, an ingest_rules)
 * answers from what it holds: the state's own versions (in force and
 * scheduled: a snapshot carries their texts) or the text it fetched last.
 * Holding neither, it says UNKNOWN and ingest stops before the entry,
 * applying nothing (INGEST_NEED_TEXT). The pipeline (or the cursor's
 * replay) then calls rulesync_fetch with the entries and where it stopped:
 * rulesync keeps its own copy of the entries (hiredis frees a reply when
 * its handler returns), queues GET <prefix>rules:<hash> on the partition's
 * route, and when the answer is in, calls the caller back to go on
 * from that entry, in the same batch. A text that is missing, too long,
 * does not parse or does not hash to its name resolves to that problem:
 * the core sends the entry to the DLQ as bad_rulebook, naming it, and
 * changes nothing. Nothing blocks the loop, and the answer depends only on
 * the entry and on what Redis holds under a content-addressed name, so a
 * replay resolves the same way (texts are kept while the stream holds an
 * entry naming them: README).
 *
 * Appending. The configuration file's rulebook takes effect only through
 * the log. rulesync_want() takes it (at start, and on each SIGHUP); once
 * the consumer has caught up with the input stream (a live read returned
 * less than a full batch: rulesync_caught_up), if it is neither the
 * version in force nor the scheduled one (nor the one rulesync appended
 * and the state has not reached yet), rulesync stores its text and appends
 * a rules entry naming it (rulepush.h: SET and XADD in one MULTI/EXEC),
 * logging both hashes.
 *
 * Summary. Once caught up, and after each batch Redis confirmed in which
 * the versions changed, rulesync SETs <prefix>rules:current to the
 * summary of the version in force (rulejson.h), which
 * `loyaltyd --check-config --redis` reads.
 *
 * Ownership: the consumer owns the rulesync (embedded) and calls
 * rulesync_link_up on each new connection; rulesync owns its copy of the
 * entries it waits with, and frees it once the caller went through them.
 */
#ifndef LOYALTY_RULESYNC_H
#define LOYALTY_RULESYNC_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "commit.h"
#include "config.h"
#include "ingest.h"
#include "link.h"
#include "router.h"
#include "rulepush.h"
#include "state.h"

/* Called to go on with `entries` (rulesync's copy) from index `pos`, the
 * entry whose text is now at hand. */
typedef void rulesync_resume_fn(void *arg, const redisReply *entries, size_t pos);

struct rulesync {
    const struct config *cfg;
    struct state *st;
    struct route *route;       /* the partition's */
    const struct commit_keys *keys;
    struct ingest_rules resolver;
    bool enabled;              /* appends and the summary (not for bench_bare) */
    /* resolving */
    char wanted[PROTO_HASH_LEN + 1]; /* the hash the resolver did not hold */
    redisReply *held;          /* our copy of the entries we wait with */
    size_t held_pos;
    rulesync_resume_fn *resume;
    void *resume_arg;
    bool waiting;              /* a GET is out */
    char slot_hash[PROTO_HASH_LEN + 1]; /* the text fetched last ("": none) */
    bool slot_ok;
    struct rulebook *slot_rb;  /* its rulebook when slot_ok */
    char slot_problem[PROTO_DETAIL_MAX];
    struct rulebook *scratch;  /* what the resolver hands the core */
    /* appending */
    struct rulepush_book want; /* the file's rulebook (want.rb NULL: none) */
    char want_label[PROTO_LABEL_MAX + 1];
    bool want_pending;
    bool sending;              /* an append is out */
    char sent_hash[PROTO_HASH_LEN + 1];
    struct proto_id sent_id;   /* the rules entry rulesync appended last */
    /* summary */
    char summary_sig[2 * PROTO_HASH_LEN + 2 * PROTO_ID_STR_MAX + 8];
    struct link_cmd get, queued, appended, summary;
};

/* Prepares `rs` for partition `partition` (its keys `keys`, its route
 * `route`); everything given must outlive it. Returns 0, or -1 when
 * out of memory (rulesync_free cleans up). */
int rulesync_init(struct rulesync *rs, const struct config *cfg, struct state *st,
                  struct route *route, const struct commit_keys *keys, uint32_t partition);

/* Frees what `rs` holds. */
void rulesync_free(struct rulesync *rs);

/* The apply argument of ingest_apply_rules that resolves through `rs`. */
const struct ingest_rules *rulesync_resolver(struct rulesync *rs);

/* No appends and no summary: the program applies entries its own way
 * (bench/bench_bare.c). */
void rulesync_disable(struct rulesync *rs);

/* A new connection came up: whatever was out on the old one is lost (the
 * caller's entries stay pending in Redis; an append is tried again once
 * caught up). */
void rulesync_link_up(struct rulesync *rs);

/* Ingest stopped at entries[pos], a rules entry whose text the resolver
 * did not hold: fetches it, then calls fn(arg, copy, pos). Needs a
 * connection. Returns 0, or -1 when out of memory or the GET cannot be
 * queued (the caller drops the connection). */
int rulesync_fetch(struct rulesync *rs, const redisReply *entries, size_t pos,
                   rulesync_resume_fn *fn, void *arg);

/* The file's rulebook `rb` (copied), to make the version in force once
 * caught up; `label` names the occasion (1..PROTO_LABEL_MAX bytes).
 * Returns 0, or -1 when out of memory. */
int rulesync_want(struct rulesync *rs, const struct rulebook *rb, const char *label);

/* The hash of the file's rulebook last given to rulesync_want ("": none). */
const char *rulesync_file_hash(const struct rulesync *rs);

/* A live read returned less than a full batch: the state has applied what
 * the stream held. Appends the file's rulebook if due; writes the summary. */
void rulesync_caught_up(struct rulesync *rs);

/* A batch Redis confirmed: writes the summary if the versions changed. */
void rulesync_landed(struct rulesync *rs);

#endif
