/* rulepush.h - putting a rulebook version into the log, and reading which
 * one is in force: what the daemon's own appends (rulesync.h),
 * `loyaltyd --push-rules`, `loyaltyd --check-config --redis` and
 * `loyaltyctl rules push` share.
 *
 * A version goes in as one MULTI/EXEC of two writes: SET
 * <prefix>rules:<hash> to its canonical text (no expiry: a text stays
 * while the input stream still holds an entry naming it, see README), then
 * XADD <prefix>in of a `rules` entry naming it. Both keys carry the
 * prefix, so with a hash-tagged prefix they share the partition's slot,
 * and Redis runs the SET before the XADD: the text is there before any
 * reader sees the entry.
 *
 * <prefix>rules:current is the daemon's summary of the version in force
 * (rulejson.h), written after each commit that changed it: readers that
 * have Redis but not the daemon's HTTP API compare a file with it.
 */
#ifndef LOYALTY_RULEPUSH_H
#define LOYALTY_RULEPUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "config.h"
#include "proto.h"
#include "rulebook.h"
#include "rulecanon.h"

/* <prefix>rules:<hash> and <prefix>rules:current. */
#define RULEPUSH_KEY_MAX (CONFIG_KEY_MAX + 8 + PROTO_HASH_LEN)
/* The longest text a rules entry may name: the most the parser reads (a
 * rulebook prints to a few KiB); a longer one is refused as bad_rulebook. */
#define RULEPUSH_TEXT_MAX CONFIG_FILE_MAX
#define RULEPUSH_ERROR_MAX 512

/* A rulebook read from a file, ready to push. */
struct rulepush_book {
    struct rulebook *rb; /* malloc'd */
    char *text;          /* its canonical text, malloc'd */
    char hash[RULECANON_HASH_LEN + 1];
};

/* Writes "<prefix>rules:<hash>" (hash NULL: "<prefix>rules:current") into
 * buf[0..cap), cap >= RULEPUSH_KEY_MAX + 1. */
void rulepush_key(const char *prefix, const char *hash, char *buf, size_t cap);

/* Encodes the `m` of a rules entry naming `hash`, with `label` ("" for
 * none), `effective_ts` (0 for at once) and event time `ts`. Returns 0,
 * or -1 when out of memory. */
int rulepush_encode(msgpack_sbuffer *buf, const char *hash, const char *label,
                    int64_t effective_ts, int64_t ts);

/* Checks a rulebook against the daemon's limits (expiry_months_max).
 * Returns NULL when it fits, or `buf` holding the problem. */
const char *rulepush_limits(const struct rulebook *rb, uint32_t expiry_months_max, char *buf,
                            size_t cap);

/* Fills `b` from rulebook `rb`: a copy, its canonical text and hash.
 * Returns 0, or -1 when out of memory. */
int rulepush_book_of(const struct rulebook *rb, struct rulepush_book *b);

/* Reads configuration file `path` (a full loyaltyd.conf or only rule
 * sections; its daemon settings are ignored) into `b`, checked against
 * `expiry_months_max`. Returns 0, or -1 with "PATH:LINE: problem" in err. */
int rulepush_load(const char *path, uint32_t expiry_months_max, struct rulepush_book *b,
                  char *err, size_t cap);

/* Frees what `b` holds. */
void rulepush_book_free(struct rulepush_book *b);

/* Connects to cfg->redis (within `timeout_ms`) and authenticates as the
 * daemon does (redis_user, redis_password). Returns the context, or NULL
 * with err set. */
redisContext *rulepush_connect(const struct config *cfg, unsigned timeout_ms, char *err,
                               size_t cap);

/* rulepush_connect to node host:port instead of cfg->redis (a cluster's
 * node named by MOVED: rulefan.h). */
redisContext *rulepush_connect_to(const struct config *cfg, const char *host, int port,
                                  unsigned timeout_ms, char *err, size_t cap);

/* Stores b's text and appends a rules entry naming it (label "" for none,
 * effective_ts 0 for at once, stamped with the wall clock) in one
 * MULTI/EXEC on `c`. Returns 0 with the entry's id in id[0..idcap), or -1
 * with err set. */
int rulepush_send(redisContext *c, const char *prefix, const struct rulepush_book *b,
                  const char *label, int64_t effective_ts, char *id, size_t idcap, char *err,
                  size_t cap);

/* What <prefix>rules:current says. */
struct rulepush_current {
    bool found; /* the key exists (a daemon with this prefix has committed) */
    char hash[PROTO_HASH_LEN + 1];
    char label[PROTO_LABEL_MAX + 1];
    char since_id[PROTO_ID_STR_MAX];
    bool has_next;
    char next_hash[PROTO_HASH_LEN + 1];
    int64_t next_effective_ts;
};

/* Reads <prefix>rules:current. Returns 0 (cur->found false when absent),
 * or -1 with err set (Redis error, or a value that is not the summary). */
int rulepush_read_current(redisContext *c, const char *prefix, struct rulepush_current *cur,
                          char *err, size_t cap);

#endif
