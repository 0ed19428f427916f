/* archive.c - see archive.h.
 *
 * The block being assembled lives in memory (raw); archive_commit or a
 * full block compresses it and appends it to the current segment. A block
 * that starts a new segment (the current one is full, or there is none)
 * creates the segment when it is written: header to a temporary file,
 * fsync, rename, fsync of the directory, then HEAD is moved to it, so that
 * HEAD always names a segment that exists and everything before its
 * committed length is durable.
 */
#include "archive.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "archread.h"
#include "lyassert.h"

/* zstd's default level: about 300 MB/s per core here, a third of the
 * entries' size (measured in bench/RESULTS.md, archive); higher levels
 * cost more CPU than the disk they save is worth. */
#define ARCHIVE_ZSTD_LEVEL 3
#define DAY_MS 86400000ull

struct archive {
    char dir[ARCH_DIR_MAX + 1];
    int seg_fd;                       /* current segment; -1: none yet */
    char seg_name[ARCH_SEG_NAME_LEN + 1];
    uint64_t seg_bytes;               /* its length, blocks written */
    uint64_t committed_bytes;         /* what HEAD says of it */
    uint64_t other_bytes;             /* the older segments' */
    uint32_t segments;
    uint64_t segment_bytes;           /* close a segment past this */
    uint64_t appended;
    struct proto_id last;             /* last entry appended */
    struct proto_id flushed_last;     /* last entry in a written block */
    struct proto_id committed_last;   /* HEAD's */
    uint32_t text_count;              /* texts in the current segment */
    char texts[ARCH_SEGMENT_TEXTS_MAX][ARCH_HASH_LEN + 1];
    /* The block being assembled. */
    unsigned char *raw;
    size_t raw_len;
    uint32_t records;
    struct proto_id first, block_last;
    bool new_seg;                     /* it starts a new segment */
    unsigned char *comp;
    size_t comp_cap;
    ZSTD_CCtx *cctx;
    char startup_hash[ARCH_HASH_LEN + 1];
    char *startup_text;
    size_t startup_len;
    archive_note_fn *note;
    void *note_arg;
};

static int fail_errno(struct arch_error *err, const char *what, const char *path)
{
    snprintf(err->text, sizeof(err->text), "archive: %s %.200s: %s", what, path,
             strerror(errno));
    return -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes `len` bytes to dir/name atomically: temporary file, fsync,
 * rename, fsync of the directory. */
static int write_atomic(const char *dir, const char *name, const void *buf, size_t len,
                        struct arch_error *err)
{
    char path[ARCH_PATH_MAX], tmp[ARCH_PATH_MAX + 8];
    LY_ASSERT(strlen(name) <= ARCH_SEG_NAME_LEN);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return fail_errno(err, "cannot create", tmp);
    if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        fail_errno(err, "cannot write", tmp);
        close(fd);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0 || fsync_dir(dir) != 0)
        return fail_errno(err, "cannot install", path);
    return 0;
}

static int write_head(struct archive *a, struct arch_error *err)
{
    char buf[512];
    struct arch_head h;
    memcpy(h.segment, a->seg_name, sizeof(h.segment));
    h.committed = a->seg_bytes;
    h.last = a->flushed_last;
    size_t n = archfmt_put_head(buf, sizeof(buf), &h);
    if (write_atomic(a->dir, ARCH_HEAD_NAME, buf, n, err) != 0)
        return -1;
    a->committed_bytes = a->seg_bytes;
    a->committed_last = a->flushed_last;
    return 0;
}

/* Closes the current segment (fsynced) and starts the one named after
 * `first`, whose header records the last entry before it. */
static int start_segment(struct archive *a, struct proto_id first, struct arch_error *err)
{
    char path[ARCH_PATH_MAX];
    unsigned char hb[ARCH_HEADER_BYTES];
    if (a->seg_fd >= 0) {
        if (fsync(a->seg_fd) != 0)
            return fail_errno(err, "cannot fsync", a->seg_name);
        close(a->seg_fd);
        a->seg_fd = -1;
        a->other_bytes += a->seg_bytes;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct arch_seg_header sh = {ARCH_VERSION, a->flushed_last,
                                 (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000};
    archfmt_put_seg_header(hb, &sh);
    archfmt_seg_name(first, a->seg_name);
    if (write_atomic(a->dir, a->seg_name, hb, sizeof(hb), err) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", a->dir, a->seg_name);
    a->seg_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (a->seg_fd < 0)
        return fail_errno(err, "cannot open", path);
    a->seg_bytes = ARCH_HEADER_BYTES;
    a->segments++;
    return write_head(a, err);
}

/* Compresses and writes the block in hand (if any). */
static int flush_block(struct archive *a, struct arch_error *err)
{
    if (a->raw_len == 0)
        return 0;
    if (a->new_seg && start_segment(a, a->first, err) != 0)
        return -1;
    a->new_seg = false;
    size_t n = ZSTD_compressCCtx(a->cctx, a->comp + ARCH_BLOCK_HEADER_BYTES,
                                 a->comp_cap - ARCH_BLOCK_HEADER_BYTES, a->raw, a->raw_len,
                                 ARCHIVE_ZSTD_LEVEL);
    LY_ASSERT(!ZSTD_isError(n)); /* comp_cap is ZSTD_compressBound of a full block */
    struct arch_block_header bh = {(uint32_t)a->raw_len, (uint32_t)n, a->records, a->first,
                                   a->block_last,
                                   XXH3_64bits(a->comp + ARCH_BLOCK_HEADER_BYTES, n)};
    archfmt_put_block_header(a->comp, &bh);
    if (write_all(a->seg_fd, a->comp, ARCH_BLOCK_HEADER_BYTES + n) != 0)
        return fail_errno(err, "cannot append to", a->seg_name);
    a->seg_bytes += ARCH_BLOCK_HEADER_BYTES + n;
    a->flushed_last = a->block_last;
    a->raw_len = 0;
    a->records = 0;
    return 0;
}

static bool text_known(const struct archive *a, const char *hash)
{
    for (uint32_t i = 0; i < a->text_count; i++)
        if (strcmp(a->texts[i], hash) == 0)
            return true;
    return false;
}

static void put_text(struct archive *a, enum arch_record type, const char *hash,
                     const char *text, size_t len)
{
    LY_ASSERT(len <= ARCH_TEXT_BYTES_MAX && strlen(hash) == ARCH_HASH_LEN);
    LY_ASSERT(a->raw_len + 1 + ARCH_HASH_LEN + 4 + len <= ARCH_BLOCK_RAW_MAX);
    LY_ASSERT(a->text_count < ARCH_SEGMENT_TEXTS_MAX);
    unsigned char *p = a->raw + a->raw_len;
    p[0] = (unsigned char)type;
    memcpy(p + 1, hash, ARCH_HASH_LEN);
    archfmt_put_u32(p + 1 + ARCH_HASH_LEN, (uint32_t)len);
    memcpy(p + 1 + ARCH_HASH_LEN + 4, text, len);
    a->raw_len += 1 + ARCH_HASH_LEN + 4 + len;
    a->records++;
    memcpy(a->texts[a->text_count++], hash, ARCH_HASH_LEN + 1);
}

static size_t entry_bytes(size_t len, bool has_m)
{
    return has_m ? 21 + (len > ARCH_ENTRY_BYTES_MAX ? ARCH_ENTRY_BYTES_MAX : len) : 17;
}

static void put_entry(struct archive *a, struct proto_id id, const char *m, size_t len,
                      bool has_m)
{
    unsigned char *p = a->raw + a->raw_len;
    bool cut = has_m && len > ARCH_ENTRY_BYTES_MAX;
    size_t keep = cut ? ARCH_ENTRY_BYTES_MAX : len;
    LY_ASSERT(a->raw_len + entry_bytes(len, has_m) <= ARCH_BLOCK_RAW_MAX);
    p[0] = (unsigned char)(!has_m ? ARCH_R_NO_M : cut ? ARCH_R_ENTRY_CUT : ARCH_R_ENTRY);
    archfmt_put_u64(p + 1, id.ms);
    archfmt_put_u64(p + 9, id.seq);
    if (has_m) {
        archfmt_put_u32(p + 17, (uint32_t)keep);
        memcpy(p + 21, m, keep);
    }
    a->raw_len += entry_bytes(len, has_m);
    a->records++;
    if (a->first.ms == 0 && a->first.seq == 0)
        a->first = id;
    a->block_last = id;
    a->last = id;
    a->appended++;
}

/* Makes room for `need` more bytes in the block (writing it when full),
 * and starts a block: a new segment's begins with the start-up text. */
static int make_room(struct archive *a, size_t need, bool needs_text, struct arch_error *err)
{
    bool texts_full = a->text_count + (needs_text ? 1u : 0u) > ARCH_SEGMENT_TEXTS_MAX;
    if ((a->raw_len > 0 && a->raw_len + need > ARCH_BLOCK_RAW_MAX) ||
        (a->raw_len > 0 && texts_full))
        if (flush_block(a, err) != 0)
            return -1;
    if (a->raw_len > 0)
        return 0;
    a->first = (struct proto_id){0, 0};
    if (a->seg_fd < 0 || a->seg_bytes >= a->segment_bytes || texts_full) {
        a->new_seg = true;
        a->text_count = 0;
        put_text(a, ARCH_R_STARTUP, a->startup_hash, a->startup_text, a->startup_len);
    }
    return 0;
}

int archive_append(struct archive *a, struct proto_id id, const char *m, size_t len, bool has_m,
                   struct arch_error *err)
{
    LY_ASSERT(proto_id_cmp(id, a->last) > 0);
    if (make_room(a, entry_bytes(len, has_m), false, err) != 0)
        return -1;
    put_entry(a, id, m, len, has_m);
    return 0;
}

int archive_append_rules(struct archive *a, struct proto_id id, const char *m, size_t len,
                         const char *hash, const char *text, size_t text_len,
                         struct arch_error *err)
{
    LY_ASSERT(proto_id_cmp(id, a->last) > 0);
    bool with_text = text != NULL && text_len <= ARCH_TEXT_BYTES_MAX &&
                     strlen(hash) == ARCH_HASH_LEN;
    size_t need = entry_bytes(len, true) + (with_text ? 1 + ARCH_HASH_LEN + 4 + text_len : 0);
    if (make_room(a, need, with_text && !text_known(a, hash), err) != 0)
        return -1;
    if (with_text && !text_known(a, hash))
        put_text(a, ARCH_R_TEXT, hash, text, text_len);
    put_entry(a, id, m, len, true);
    return 0;
}

int archive_commit(struct archive *a, struct arch_error *err)
{
    if (flush_block(a, err) != 0)
        return -1;
    if (a->seg_fd < 0 || (a->seg_bytes == a->committed_bytes &&
                          proto_id_cmp(a->flushed_last, a->committed_last) == 0))
        return 0;
    if (fsync(a->seg_fd) != 0)
        return fail_errno(err, "cannot fsync", a->seg_name);
    return write_head(a, err);
}

struct proto_id archive_last(const struct archive *a)
{
    return a->last;
}

void archive_set_segment_bytes(struct archive *a, uint64_t bytes)
{
    LY_ASSERT(bytes >= 1);
    a->segment_bytes = bytes;
}

void archive_get_stats(const struct archive *a, struct archive_stats *s)
{
    s->bytes = a->other_bytes + (a->seg_fd >= 0 ? a->seg_bytes : 0);
    s->segments = a->segments;
    s->appended = a->appended;
}

/* Learns the texts of the current segment while it is checked at open. */
static int note_text(void *arg, const struct archread_record *r)
{
    struct archive *a = arg;
    if ((r->type == ARCH_R_TEXT || r->type == ARCH_R_STARTUP) && !text_known(a, r->hash) &&
        a->text_count < ARCH_SEGMENT_TEXTS_MAX)
        memcpy(a->texts[a->text_count++], r->hash, ARCH_HASH_LEN + 1);
    return 0;
}

static void notef(struct archive *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void notef(struct archive *a, const char *fmt, ...)
{
    char text[ARCH_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (a->note != NULL)
        a->note(a->note_arg, text);
}

/* No HEAD: a new archive, or a first segment whose creation a crash
 * interrupted before HEAD was written (its header only). Anything else
 * means HEAD was lost: refuse rather than guess. */
static int open_headless(struct archive *a, char (*names)[ARCH_SEG_NAME_LEN + 1], size_t n,
                         struct arch_error *err)
{
    char path[ARCH_PATH_MAX];
    struct stat sb;
    if (n == 0)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", a->dir, names[0]);
    if (n == 1 && stat(path, &sb) == 0 && sb.st_size == ARCH_HEADER_BYTES) {
        notef(a, "archive: removed %s, created but never committed", names[0]);
        return unlink(path) == 0 ? 0 : fail_errno(err, "cannot remove", path);
    }
    snprintf(err->text, sizeof(err->text), "archive %.200s: %zu segment(s) but no HEAD: "
             "restore HEAD or move the segments away", a->dir, n);
    return -1;
}

/* Brings HEAD's segment back to its committed length and checks it. */
static int open_head_segment(struct archive *a, const struct arch_head *h, struct archread *rd,
                             struct arch_error *err)
{
    char path[ARCH_PATH_MAX];
    struct stat sb;
    struct archread_seg_info info;
    snprintf(path, sizeof(path), "%s/%s", a->dir, h->segment);
    if (stat(path, &sb) != 0)
        return fail_errno(err, "HEAD names a missing segment", path);
    if ((uint64_t)sb.st_size < h->committed) {
        snprintf(err->text, sizeof(err->text), "archive segment %.200s: %lld bytes, HEAD says "
                 "%" PRIu64 " are committed (data lost)", path, (long long)sb.st_size,
                 h->committed);
        return -1;
    }
    if ((uint64_t)sb.st_size > h->committed) {
        notef(a, "archive: cut %" PRIu64 " uncommitted bytes (an interrupted write) from %s",
              (uint64_t)sb.st_size - h->committed, h->segment);
        if (truncate(path, (off_t)h->committed) != 0)
            return fail_errno(err, "cannot cut the uncommitted tail of", path);
    }
    if (archread_segment(rd, path, UINT64_MAX, (struct proto_id){0, 0}, note_text, a, &info,
                         err) != 0)
        return -1;
    struct proto_id last = info.entries ? info.last : info.prev;
    if (proto_id_cmp(last, h->last) != 0) {
        snprintf(err->text, sizeof(err->text), "archive segment %.200s ends at %" PRIu64 "-%"
                 PRIu64 ", HEAD says %" PRIu64 "-%" PRIu64, path, last.ms, last.seq,
                 h->last.ms, h->last.seq);
        return -1;
    }
    a->seg_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (a->seg_fd < 0 || fsync(a->seg_fd) != 0)
        return fail_errno(err, "cannot open", path);
    memcpy(a->seg_name, h->segment, sizeof(a->seg_name));
    a->seg_bytes = a->committed_bytes = h->committed;
    a->last = a->flushed_last = a->committed_last = h->last;
    return 0;
}

/* Sums the older segments and removes those newer than HEAD's (never
 * committed). */
static int scan_others(struct archive *a, const struct arch_head *h,
                       char (*names)[ARCH_SEG_NAME_LEN + 1], size_t n, struct arch_error *err)
{
    for (size_t i = 0; i < n; i++) {
        char path[ARCH_PATH_MAX];
        struct stat sb;
        int order = strcmp(names[i], h->segment);
        snprintf(path, sizeof(path), "%s/%s", a->dir, names[i]);
        if (order > 0) {
            notef(a, "archive: removed %s, created after the last commit", names[i]);
            if (unlink(path) != 0)
                return fail_errno(err, "cannot remove", path);
        } else if (order < 0) {
            if (stat(path, &sb) != 0)
                return fail_errno(err, "cannot stat", path);
            a->other_bytes += (uint64_t)sb.st_size;
        }
        a->segments += order <= 0;
    }
    return 0;
}

static int open_existing(struct archive *a, struct arch_error *err)
{
    struct arch_head h;
    char (*names)[ARCH_SEG_NAME_LEN + 1] = NULL;
    size_t n = 0;
    int has_head = archread_head(a->dir, &h, err);
    if (has_head < 0 || archread_list(a->dir, &names, &n, err) != 0)
        return -1;
    int rc;
    if (has_head == 0) {
        rc = open_headless(a, names, n, err);
    } else {
        struct archread *rd = archread_new();
        rc = rd == NULL ? -1 : scan_others(a, &h, names, n, err);
        if (rc == 0)
            rc = open_head_segment(a, &h, rd, err);
        if (rd == NULL)
            snprintf(err->text, sizeof(err->text), "archive: out of memory");
        archread_free(rd);
    }
    free(names);
    return rc;
}

struct archive *archive_open(const char *dir, const char *startup_hash, const char *startup_text,
                             archive_note_fn *note, void *note_arg, struct arch_error *err)
{
    struct archive *a = calloc(1, sizeof(*a));
    size_t tlen = strlen(startup_text);
    if (a == NULL || strlen(dir) > ARCH_DIR_MAX ||
        strlen(startup_hash) != ARCH_HASH_LEN || tlen > ARCH_TEXT_BYTES_MAX) {
        snprintf(err->text, sizeof(err->text), "archive: %s", a ? "bad arguments" : "out of memory");
        free(a);
        return NULL;
    }
    a->seg_fd = -1;
    a->segment_bytes = ARCH_SEGMENT_BYTES;
    a->note = note;
    a->note_arg = note_arg;
    snprintf(a->dir, sizeof(a->dir), "%s", dir);
    memcpy(a->startup_hash, startup_hash, ARCH_HASH_LEN + 1);
    a->startup_len = tlen;
    a->startup_text = malloc(tlen + 1);
    a->raw = malloc(ARCH_BLOCK_RAW_MAX);
    a->comp_cap = ARCH_BLOCK_HEADER_BYTES + ZSTD_compressBound(ARCH_BLOCK_RAW_MAX);
    a->comp = malloc(a->comp_cap);
    a->cctx = ZSTD_createCCtx();
    if (a->startup_text == NULL || a->raw == NULL || a->comp == NULL || a->cctx == NULL) {
        snprintf(err->text, sizeof(err->text), "archive: out of memory");
        archive_close(a);
        return NULL;
    }
    memcpy(a->startup_text, startup_text, tlen + 1);
    if ((mkdir(dir, 0750) != 0 && errno != EEXIST && fail_errno(err, "cannot create", dir)) ||
        open_existing(a, err) != 0) {
        archive_close(a);
        return NULL;
    }
    return a;
}

void archive_close(struct archive *a)
{
    if (a == NULL)
        return;
    if (a->seg_fd >= 0)
        close(a->seg_fd);
    ZSTD_freeCCtx(a->cctx);
    free(a->startup_text);
    free(a->raw);
    free(a->comp);
    free(a);
}

/* The event time (ms) of a segment's last entry: the `prev` of the
 * segment after it. -1 when that header cannot be read. */
static int next_prev_ms(const char *dir, const char *next, uint64_t *ms)
{
    char path[ARCH_PATH_MAX];
    struct arch_seg_header sh;
    struct arch_error e;
    snprintf(path, sizeof(path), "%s/%s", dir, next);
    if (archread_seg_header(path, &sh, &e) != 0)
        return -1;
    *ms = sh.prev.ms;
    return 0;
}

int archive_prune(struct archive *a, uint64_t now_ms, uint32_t keep_days, uint64_t keep_bytes,
                  struct arch_error *err)
{
    char (*names)[ARCH_SEG_NAME_LEN + 1];
    size_t n;
    int deleted = 0;
    if ((keep_days == 0 && keep_bytes == 0) || archread_list(a->dir, &names, &n, err) != 0)
        return keep_days == 0 && keep_bytes == 0 ? 0 : -1;
    uint64_t cutoff = now_ms > keep_days * DAY_MS ? now_ms - keep_days * DAY_MS : 0;
    for (size_t i = 0; i + 1 < n && strcmp(names[i], a->seg_name) < 0; i++) {
        char path[ARCH_PATH_MAX];
        struct stat sb;
        uint64_t last_ms;
        snprintf(path, sizeof(path), "%s/%s", a->dir, names[i]);
        if (stat(path, &sb) != 0 || next_prev_ms(a->dir, names[i + 1], &last_ms) != 0)
            break;
        bool old = keep_days > 0 && last_ms < cutoff;
        bool over = keep_bytes > 0 && a->other_bytes + a->seg_bytes > keep_bytes;
        if (!old && !over)
            break;
        if (unlink(path) != 0) {
            free(names);
            return fail_errno(err, "cannot delete", path);
        }
        a->other_bytes -= (uint64_t)sb.st_size < a->other_bytes ? (uint64_t)sb.st_size
                                                               : a->other_bytes;
        a->segments--;
        deleted++;
    }
    free(names);
    if (deleted > 0 && fsync_dir(a->dir) != 0)
        return fail_errno(err, "cannot fsync", a->dir);
    return deleted;
}
