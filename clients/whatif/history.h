/* history.h - the whole input history, replayed: the archive, then the
 * stream.
 *
 * Reads the input archive (archread.h) from its first segment, then
 * <prefix>in from after the archive's last entry (XRANGE, read-only),
 * decoding each entry once and resolving rulebook texts (rulestore.h)
 * from the archive's text records, <prefix>rules:<hash> and the
 * configured rulebook. Checks that the history is whole: the archive
 * starts at the beginning of the stream (retention deleted nothing), its
 * segments chain, and Redis trimmed nothing the archive lacks.
 *
 * The daemon may archive and trim <prefix>in while this runs (it trims
 * only what it archived first). Each XRANGE goes out in one MULTI with
 * XINFO STREAM, so the check that nothing before the chunk is missing
 * holds for the chunk as read: the first chunk's check is that every entry
 * ever added (entries-added) is in the archive or the stream, and a later
 * chunk's that nothing after the last entry taken was trimmed or deleted.
 * When a trim reached past what was read, the archive is read again from
 * there (it holds what was trimmed) and the stream after it; only what is
 * in neither (trimmed without the archive, deleted with XDEL) fails.
 */
#ifndef LOYALTY_HISTORY_H
#define LOYALTY_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "archread.h"
#include "client_common.h"
#include "proto.h"
#include "rulebook.h"
#include "rulestore.h"

/* Where the history is. */
struct history_src {
    const char *archive_dir;    /* DATA/archive; NULL: no archive */
    redisContext *rc;           /* NULL: no stream (the archive alone) */
    const char *prefix;         /* key prefix of <prefix>in, <prefix>rules:<hash> */
    struct proto_id until;      /* stop after this entry (0-0: read everything) */
    const struct rulebook *config_rb; /* the daemon's configured rulebook */
    uint32_t chunk_entries;     /* entries per XRANGE; 0: the default (10,000) */
};

/* What the replay is told, in order. */
struct history_hooks {
    /* Once, before the first entry: the rulebook a state starts with (the
     * archive's start-up version, or the configured one without archive). */
    int (*begin)(void *arg, const struct rulebook *startup);
    /* Each entry, in id order: `e` is NULL when it does not decode (no `m`,
     * bad bytes: the daemon rejected it without applying). `rt` is the
     * resolved text for a rules entry, NULL otherwise. */
    int (*entry)(void *arg, struct proto_id id, const struct proto_entry *e,
                 const struct rules_text *rt);
    void *arg;
};

struct history_info {
    struct archread_summary archive; /* the archive at its last reading */
    uint64_t archive_entries; /* replayed from the archive */
    uint64_t stream_entries;  /* replayed from <prefix>in */
    uint64_t entries;         /* all */
    struct proto_id last;     /* last entry replayed */
    char startup_hash[PROTO_HASH_LEN + 1];
    char warning[CLIENT_ERROR_MAX]; /* "" or what the caller should print */
};

/* Reads and replays the history (see above) through `h`, resolving with
 * `rs` (texts are added to it as they are met). Returns 0, the first
 * non-zero value a hook returned, or -1 with err set. */
int history_replay(const struct history_src *src, struct rulestore *rs,
                   const struct history_hooks *h, struct history_info *info,
                   struct client_error *err);

#endif
