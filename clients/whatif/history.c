/* history.c - see history.h. */
#include "history.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xread.h"

#define HISTORY_CHUNK 10000 /* entries per XRANGE: a few MB of reply */
#define HISTORY_STOP 2      /* a visitor's "until reached" (not an error) */

struct ctx {
    const struct history_src *src;
    struct rulestore *rs;
    const struct history_hooks *h;
    struct history_info *info;
    struct client_error *err;
    bool begun;
    struct proto_entry e; /* decoded entry, ~6 KiB: here rather than on a stack per call */
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->text, sizeof(c->err->text), fmt, ap);
    va_end(ap);
    return -1;
}

static int begin_with(struct ctx *c, const struct rulebook *rb)
{
    if (c->begun)
        return 0;
    c->begun = true;
    return c->h->begin(c->h->arg, rb);
}

/* The text of rulebook `hash` as the daemon finds it for an entry of the
 * stream: <prefix>rules:<hash>. */
static void fetch_text(struct ctx *c, const char *hash)
{
    if (c->src->rc == NULL || rulestore_known(c->rs, hash))
        return;
    redisReply *r = redisCommand(c->src->rc, "GET %srules:%s", c->src->prefix, hash);
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        rulestore_add_text(c->rs, hash, r->str, r->len);
    freeReplyObject(r);
}

static int on_entry(struct ctx *c, struct proto_id id, const char *data, size_t len,
                    bool decodable, bool from_stream)
{
    struct proto_reject rej;
    const struct proto_id until = c->src->until;
    if ((until.ms != 0 || until.seq != 0) && proto_id_cmp(id, until) > 0)
        return HISTORY_STOP;
    int rc = begin_with(c, c->src->config_rb);
    if (rc != 0)
        return rc;
    bool ok = decodable && proto_decode(data, len, &c->e, &rej) == 0;
    struct rules_text rt = {NULL, NULL};
    if (ok && c->e.kind == PROTO_RULES) {
        if (from_stream)
            fetch_text(c, c->e.hash);
        rt = rulestore_resolve(c->rs, c->e.hash);
    }
    c->info->entries++;
    c->info->last = id;
    return c->h->entry(c->h->arg, id, ok ? &c->e : NULL,
                       ok && c->e.kind == PROTO_RULES ? &rt : NULL);
}

/* The start-up rulebook of a segment: the first one begins the replay; a
 * different one later means the daemon was restarted with another
 * configuration, which the log does not record. */
static int on_startup(struct ctx *c, const struct archread_record *r)
{
    if (rulestore_add_text(c->rs, r->hash, r->data, r->len) != 0)
        return fail(c, "too many rulebook versions (%d)", RULESTORE_MAX);
    if (c->info->startup_hash[0] == '\0') {
        struct rules_text rt = rulestore_resolve(c->rs, r->hash);
        if (rt.rb == NULL)
            return fail(c, "archive segment %s: its start-up rulebook is bad: %s", r->segment,
                        rt.problem);
        memcpy(c->info->startup_hash, r->hash, sizeof(c->info->startup_hash));
        return begin_with(c, rt.rb);
    }
    if (strcmp(r->hash, c->info->startup_hash) != 0 && c->info->warning[0] == '\0')
        snprintf(c->info->warning, sizeof(c->info->warning),
                 "archive segment %s was written by a daemon configured with rulebook %.12s, "
                 "not %.12s: a restart under another configuration changed the rules without "
                 "a rules entry, which a replay cannot see", r->segment, r->hash,
                 c->info->startup_hash);
    return 0;
}

static int on_record(void *arg, const struct archread_record *r)
{
    struct ctx *c = arg;
    switch (r->type) {
    case ARCH_R_STARTUP: return on_startup(c, r);
    case ARCH_R_TEXT:
        return rulestore_add_text(c->rs, r->hash, r->data, r->len) == 0
                   ? 0 : fail(c, "too many rulebook versions (%d)", RULESTORE_MAX);
    case ARCH_R_ENTRY: return on_entry(c, r->id, r->data, r->len, true, false);
    case ARCH_R_ENTRY_CUT:
    case ARCH_R_NO_M: return on_entry(c, r->id, NULL, 0, false, false);
    }
    return fail(c, "archive segment %s: unknown record", r->segment);
}

/* The archive must start at the beginning of the stream. */
static int check_archive_start(struct ctx *c)
{
    char (*names)[ARCH_SEG_NAME_LEN + 1];
    size_t n;
    struct arch_error aerr;
    struct arch_seg_header first;
    char path[ARCH_PATH_MAX];
    if (archread_list(c->src->archive_dir, &names, &n, &aerr) != 0)
        return fail(c, "%s", aerr.text);
    int rc = 0;
    if (n > 0) {
        snprintf(path, sizeof(path), "%s/%s", c->src->archive_dir, names[0]);
        if (archread_seg_header(path, &first, &aerr) != 0)
            rc = fail(c, "%s", aerr.text);
        else if (first.prev.ms != 0 || first.prev.seq != 0)
            rc = fail(c, "the archive starts after entry %" PRIu64 "-%" PRIu64 " (older "
                      "segments were deleted by retention): the history is not whole",
                      first.prev.ms, first.prev.seq);
    }
    free(names);
    return rc;
}

static int read_archive(struct ctx *c)
{
    struct arch_error aerr;
    struct archread *rd = archread_new();
    if (rd == NULL)
        return fail(c, "out of memory");
    int rc = check_archive_start(c);
    if (rc == 0) {
        rc = archread_dir(rd, c->src->archive_dir, on_record, c, NULL, &c->info->archive,
                          &aerr);
        if (rc == -1 && c->err->text[0] == '\0')
            fail(c, "%s", aerr.text);
    }
    archread_free(rd);
    return rc;
}

/* Replays one XRANGE reply; *n gets its length. */
static int replay_chunk(struct ctx *c, const redisReply *r, size_t *n, struct proto_id *last)
{
    *n = r->elements;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *ent = r->element[i];
        struct proto_id id;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING ||
            proto_id_parse(ent->element[0]->str, ent->element[0]->len, &id) != 0)
            return fail(c, "malformed XRANGE reply");
        struct xread_entry xe = {0, ent->element[0]->str, ent->element[1]};
        size_t len = 0;
        const char *m = xread_field(&xe, "m", &len);
        int rc = on_entry(c, id, m, len, m != NULL, true);
        if (rc != 0)
            return rc;
        *last = id;
        c->info->stream_entries++;
    }
    return 0;
}

static int read_stream(struct ctx *c, struct proto_id after)
{
    char start[PROTO_ID_STR_MAX + 1] = "(", end[PROTO_ID_STR_MAX] = "+", count[16];
    const struct proto_id until = c->src->until;
    snprintf(count, sizeof(count), "%d", HISTORY_CHUNK);
    if (until.ms != 0 || until.seq != 0)
        proto_id_format(until, end, sizeof(end));
    for (;;) {
        proto_id_format(after, start + 1, sizeof(start) - 1);
        char key[CLIENT_KEY_MAX + 1];
        snprintf(key, sizeof(key), "%sin", c->src->prefix);
        const char *argv[] = {"XRANGE", key, after.ms || after.seq ? start : "-", end, "COUNT",
                              count};
        redisReply *r = redisCommandArgv(c->src->rc, 6, argv, NULL);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            fail(c, "XRANGE %s: %s", key, r && r->str ? r->str : c->src->rc->errstr);
            freeReplyObject(r);
            return -1;
        }
        size_t n;
        int rc = replay_chunk(c, r, &n, &after);
        freeReplyObject(r);
        if (rc != 0 || n < HISTORY_CHUNK)
            return rc;
    }
}

/* XINFO STREAM's counters of <prefix>in. */
struct stream_counts {
    struct proto_id max_deleted; /* the largest id XDEL removed (trims do not count) */
    long long length, added;     /* entries now; entries ever added */
};

static void parse_counts(const redisReply *r, struct stream_counts *sc)
{
    memset(sc, 0, sizeof(*sc));
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "max-deleted-entry-id") == 0 && v->type == REDIS_REPLY_STRING)
            proto_id_parse(v->str, v->len, &sc->max_deleted);
        else if (strcmp(k->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER)
            sc->length = v->integer;
        else if (strcmp(k->str, "entries-added") == 0 && v->type == REDIS_REPLY_INTEGER)
            sc->added = v->integer;
    }
}

/* In one MULTI (reads only, atomic against a trim running meanwhile): the
 * stream's counters and how many of its entries the archive holds too
 * (ids up to `archive_last`: a trim with ~ leaves some). */
static int stream_counts(struct ctx *c, struct proto_id archive_last, struct stream_counts *sc,
                         long long *overlap)
{
    char key[CLIENT_KEY_MAX + 1], end[PROTO_ID_STR_MAX];
    redisContext *rc = c->src->rc;
    redisReply *r = NULL;
    snprintf(key, sizeof(key), "%sin", c->src->prefix);
    proto_id_format(archive_last, end, sizeof(end));
    redisAppendCommand(rc, "MULTI");
    redisAppendCommand(rc, "XINFO STREAM %s", key);
    redisAppendCommand(rc, "XRANGE %s - %s", key, end);
    redisAppendCommand(rc, "EXEC");
    for (int i = 0; i < 4; i++) {
        freeReplyObject(r);
        r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK)
            return fail(c, "MULTI XINFO STREAM %s: %s", key, rc->errstr);
    }
    int ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    if (ok && r->element[0]->type == REDIS_REPLY_ERROR) {
        memset(sc, 0, sizeof(*sc)); /* no such key: nothing was ever added */
        *overlap = 0;
    } else if (ok && r->element[1]->type == REDIS_REPLY_ARRAY) {
        parse_counts(r->element[0], sc);
        *overlap = archive_last.ms || archive_last.seq ? (long long)r->element[1]->elements : 0;
    } else {
        ok = 0;
    }
    freeReplyObject(r);
    return ok ? 0 : fail(c, "XINFO STREAM %s: unexpected reply", key);
}

/* Every entry ever added to the stream is either in the archive or still
 * in the stream: nothing was removed (trimmed without archiving, or
 * deleted) that the history lacks. */
static int check_no_gap(struct ctx *c, struct proto_id archive_last)
{
    struct stream_counts sc;
    long long overlap = 0;
    if (stream_counts(c, archive_last, &sc, &overlap) != 0)
        return -1;
    long long held = (long long)c->info->archive.entries + sc.length - overlap;
    if (sc.added == held && proto_id_cmp(sc.max_deleted, archive_last) <= 0)
        return 0;
    return fail(c, "%sin was trimmed or had entries deleted: %lld entries were added, the "
                "archive (up to %" PRIu64 "-%" PRIu64 ") and the stream hold %lld; the "
                "history is not whole (trimmed without the archive, or trimmed while this "
                "ran: run it again)", c->src->prefix, sc.added, archive_last.ms,
                archive_last.seq, held);
}

int history_replay(const struct history_src *src, struct rulestore *rs,
                   const struct history_hooks *h, struct history_info *info,
                   struct client_error *err)
{
    struct ctx *c = calloc(1, sizeof(*c));
    memset(info, 0, sizeof(*info));
    err->text[0] = '\0';
    if (c == NULL) {
        snprintf(err->text, sizeof(err->text), "out of memory");
        return -1;
    }
    *c = (struct ctx){.src = src, .rs = rs, .h = h, .info = info, .err = err};
    int rc = 0;
    if (src->archive_dir != NULL)
        rc = read_archive(c);
    bool in_archive = rc == HISTORY_STOP; /* `until` reached in the archive */
    struct proto_id archive_last = info->archive.last;
    if (rc == 0 && src->rc != NULL)
        rc = read_stream(c, archive_last);
    if (rc == HISTORY_STOP)
        rc = 0;
    if (rc == 0 && src->rc != NULL && !in_archive)
        rc = check_no_gap(c, archive_last);
    if (rc == 0)
        rc = begin_with(c, src->config_rb); /* an empty history still starts */
    free(c);
    return rc;
}
