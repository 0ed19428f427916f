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
#define HISTORY_AGAIN 3     /* the stream was trimmed past the cursor: read the archive again */
/* Readings of the archive in one run: each one after the daemon archived
 * and trimmed entries this had not read yet, which needs the daemon to
 * trim past the reader's position again and again (a stream shorter than
 * what the tool reads while the daemon archives it); past it the tool asks
 * to be run again rather than chase the daemon for ever. */
#define HISTORY_ROUNDS_MAX 64

struct ctx {
    const struct history_src *src;
    struct rulestore *rs;
    const struct history_hooks *h;
    struct history_info *info;
    struct client_error *err;
    bool begun;
    uint32_t chunk;              /* entries per XRANGE */
    uint64_t archive_total;      /* entries in the archive at its last reading */
    struct proto_id archive_last; /* its last entry then (0-0: none) */
    long long gap_added, gap_held; /* the counts of a failed check, for the message */
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
    if (c->info->entries > 0 && proto_id_cmp(id, c->info->last) <= 0)
        return 0; /* taken already (the archive read again after a trim) */
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
    if (from_stream)
        c->info->stream_entries++;
    else
        c->info->archive_entries++;
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
        c->archive_total = c->info->archive.entries;
        c->archive_last = c->info->archive.last;
    }
    archread_free(rd);
    return rc;
}

/* Replays one XRANGE reply; *n gets its length. */
static int replay_chunk(struct ctx *c, const redisReply *r, size_t *n)
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
    }
    return 0;
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

/* One atomic look at <prefix>in (a MULTI of reads: a trim cannot fall
 * between them): its counters, with `overlap` how many of its entries the
 * archive holds too (ids up to the archive's last: a trim with ~ leaves
 * some), and the next chunk after the cursor. */
struct look {
    redisReply *exec;       /* the EXEC reply, owned */
    struct stream_counts sc;
    long long overlap;      /* 0 when not asked (no archive) */
    const redisReply *chunk;
};

static int look(struct ctx *c, bool with_overlap, struct look *lk)
{
    char key[CLIENT_KEY_MAX + 1], upto[PROTO_ID_STR_MAX], from[PROTO_ID_STR_MAX + 1] = "(";
    char end[PROTO_ID_STR_MAX] = "+";
    redisContext *rc = c->src->rc;
    const struct proto_id until = c->src->until, a_last = c->archive_last;
    snprintf(key, sizeof(key), "%sin", c->src->prefix);
    proto_id_format(a_last, upto, sizeof(upto));
    proto_id_format(c->info->last, from + 1, sizeof(from) - 1);
    if (until.ms != 0 || until.seq != 0)
        proto_id_format(until, end, sizeof(end));
    with_overlap = with_overlap && (a_last.ms != 0 || a_last.seq != 0);
    redisAppendCommand(rc, "MULTI");
    redisAppendCommand(rc, "XINFO STREAM %s", key);
    if (with_overlap)
        redisAppendCommand(rc, "XRANGE %s - %s", key, upto);
    redisAppendCommand(rc, "XRANGE %s %s %s COUNT %u", key, c->info->entries ? from : "-", end,
                       c->chunk);
    redisAppendCommand(rc, "EXEC");
    memset(lk, 0, sizeof(*lk));
    for (int i = 0; i < (with_overlap ? 5 : 4); i++) {
        freeReplyObject(lk->exec);
        lk->exec = NULL;
        if (redisGetReply(rc, (void **)&lk->exec) != REDIS_OK)
            return fail(c, "MULTI XINFO STREAM %s: %s", key, rc->errstr);
    }
    const redisReply *r = lk->exec;
    size_t n = with_overlap ? 3 : 2;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n ||
        r->element[n - 1]->type != REDIS_REPLY_ARRAY ||
        (with_overlap && r->element[1]->type != REDIS_REPLY_ARRAY))
        return fail(c, "MULTI XINFO STREAM %s: unexpected reply", key);
    if (r->element[0]->type != REDIS_REPLY_ERROR) /* no such key: nothing was ever added */
        parse_counts(r->element[0], &lk->sc);
    lk->overlap = with_overlap ? (long long)r->element[1]->elements : 0;
    lk->chunk = r->element[n - 1];
    return 0;
}

/* Whether every entry ever added to the stream is either in the archive
 * or still in the stream (nothing removed that the history lacks: trimmed
 * without archiving, or deleted), at the instant of `lk`. */
static bool is_whole(const struct ctx *c, const struct look *lk)
{
    long long held = (long long)c->archive_total + lk->sc.length - lk->overlap;
    return lk->sc.added == held && proto_id_cmp(lk->sc.max_deleted, c->archive_last) <= 0;
}

/* Whether the stream still holds every entry after the cursor, at the
 * instant of `lk`, given that everything up to the cursor was taken (the
 * entries taken so far are the first ones ever added). Entries are
 * only removed as a prefix (a trim) or by XDEL: if a trim reached past the
 * cursor, the stream lacks more than was taken; an XDEL past it shows in
 * max-deleted-entry-id. */
static bool is_contiguous(const struct ctx *c, const struct look *lk)
{
    return lk->sc.added - lk->sc.length <= (long long)c->info->entries &&
           proto_id_cmp(lk->sc.max_deleted, c->info->last) <= 0;
}

/* Reads <prefix>in after the cursor, chunk by chunk, each chunk in the
 * same atomic look as the check that nothing before it is missing.
 * Returns 0 (read to the end), HISTORY_STOP (`until` reached),
 * HISTORY_AGAIN (entries were removed while this ran: the daemon trims only
 * what it archived first, so the archive is to be read again), or -1. */
static int read_stream(struct ctx *c)
{
    for (bool first = true;; first = false) {
        struct look lk;
        int rc = look(c, first, &lk);
        if (rc == 0 && !(first ? is_whole(c, &lk) : is_contiguous(c, &lk))) {
            c->gap_added = lk.sc.added;
            c->gap_held = (long long)c->archive_total + lk.sc.length - lk.overlap;
            rc = HISTORY_AGAIN;
        }
        size_t n = 0;
        if (rc == 0)
            rc = replay_chunk(c, lk.chunk, &n);
        freeReplyObject(lk.exec);
        if (rc != 0 || n < c->chunk)
            return rc;
    }
}

static int gap(struct ctx *c)
{
    return fail(c, "%sin was trimmed or had entries deleted: %lld entries were added, the "
                "archive (up to %" PRIu64 "-%" PRIu64 ") and the stream hold %lld; the "
                "history is not whole (trimmed without the archive, or entries deleted)",
                c->src->prefix, c->gap_added, c->archive_last.ms, c->archive_last.seq,
                c->gap_held);
}

/* The archive, then the stream; the archive again (from the cursor on)
 * when the daemon archived and trimmed entries this had not read yet, as
 * long as each time it holds something new. */
static int read_all(struct ctx *c)
{
    for (int round = 0;; round++) {
        uint64_t taken = c->info->entries;
        int rc = c->src->archive_dir != NULL ? read_archive(c) : 0;
        if (rc != 0 || c->src->rc == NULL)
            return rc;
        if (round > 0 && c->info->entries == taken)
            return gap(c); /* what was removed is not in the archive either */
        if (round == HISTORY_ROUNDS_MAX)
            return fail(c, "%sin was trimmed past what this had read %d times while it ran "
                        "(the daemon archives faster than this reads): run it again",
                        c->src->prefix, HISTORY_ROUNDS_MAX);
        rc = read_stream(c);
        if (rc != HISTORY_AGAIN)
            return rc;
    }
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
    *c = (struct ctx){.src = src, .rs = rs, .h = h, .info = info, .err = err,
                      .chunk = src->chunk_entries ? src->chunk_entries : HISTORY_CHUNK};
    int rc = read_all(c);
    if (rc == HISTORY_STOP)
        rc = 0;
    if (rc == 0)
        rc = begin_with(c, src->config_rb); /* an empty history still starts */
    free(c);
    return rc;
}
