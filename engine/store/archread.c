/* archread.c - see archread.h. */
#include "archread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "lyassert.h"

/* Segments one directory listing considers: at 64 MiB each, 64 TiB. */
#define ARCHREAD_SEGMENTS_MAX 1000000u

struct archread {
    ZSTD_DCtx *dctx;
    unsigned char *comp; /* one block's compressed payload */
    unsigned char *raw;  /* and its records */
};

/* What one segment read is checking as it goes. */
struct seg_cursor {
    const char *path, *name;
    uint64_t off;         /* of the block being read */
    struct proto_id last; /* the last entry id seen */
    archread_visit_fn *fn;
    void *arg;
    struct archread_seg_info *info;
};

static int fail(struct arch_error *err, const char *path, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct arch_error *err, const char *path, uint64_t off, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(err->text, sizeof(err->text), "archive segment %.200s: offset %" PRIu64 ": %s",
             path, off, what);
    return -1;
}

struct archread *archread_new(void)
{
    struct archread *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->dctx = ZSTD_createDCtx();
    r->comp = malloc(2 * ARCH_BLOCK_RAW_MAX);
    r->raw = malloc(ARCH_BLOCK_RAW_MAX);
    if (r->dctx == NULL || r->comp == NULL || r->raw == NULL) {
        archread_free(r);
        return NULL;
    }
    return r;
}

void archread_free(struct archread *r)
{
    if (r == NULL)
        return;
    ZSTD_freeDCtx(r->dctx);
    free(r->comp);
    free(r->raw);
    free(r);
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static bool is_hash(const unsigned char *p)
{
    for (int i = 0; i < ARCH_HASH_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* Parses one record at raw[*pos..end) into *rec; -1 with err when it is
 * malformed. */
static int parse_record(struct seg_cursor *c, const unsigned char *raw, size_t end, size_t *pos,
                        struct archread_record *rec, struct arch_error *err)
{
    const unsigned char *p = raw + *pos;
    size_t left = end - *pos;
    memset(rec, 0, sizeof(*rec));
    rec->segment = c->name;
    rec->type = (enum arch_record)p[0];
    if (rec->type == ARCH_R_ENTRY || rec->type == ARCH_R_ENTRY_CUT || rec->type == ARCH_R_NO_M) {
        size_t head = rec->type == ARCH_R_NO_M ? 17 : 21;
        if (left < head)
            return fail(err, c->path, c->off, "record runs past its block");
        rec->id.ms = archfmt_get_u64(p + 1);
        rec->id.seq = archfmt_get_u64(p + 9);
        rec->len = rec->type == ARCH_R_NO_M ? 0 : archfmt_get_u32(p + 17);
        if (rec->len > ARCH_ENTRY_BYTES_MAX || rec->len > left - head)
            return fail(err, c->path, c->off, "entry of %zu bytes runs past its block", rec->len);
        if (proto_id_cmp(rec->id, c->last) <= 0)
            return fail(err, c->path, c->off, "entry %" PRIu64 "-%" PRIu64 " out of order",
                        rec->id.ms, rec->id.seq);
        c->last = rec->id;
        rec->data = (const char *)p + head;
        *pos += head + rec->len;
        return 0;
    }
    if (rec->type == ARCH_R_TEXT || rec->type == ARCH_R_STARTUP) {
        size_t head = 1 + ARCH_HASH_LEN + 4;
        if (left < head || !is_hash(p + 1))
            return fail(err, c->path, c->off, "malformed rulebook text record");
        memcpy(rec->hash, p + 1, ARCH_HASH_LEN);
        rec->len = archfmt_get_u32(p + 1 + ARCH_HASH_LEN);
        if (rec->len > ARCH_TEXT_BYTES_MAX || rec->len > left - head)
            return fail(err, c->path, c->off, "rulebook text runs past its block");
        rec->data = (const char *)p + head;
        *pos += head + rec->len;
        return 0;
    }
    return fail(err, c->path, c->off, "unknown record type %u", p[0]);
}

/* Visits the records of one decompressed block, checking them against
 * its header. */
static int visit_block(struct seg_cursor *c, const unsigned char *raw,
                       const struct arch_block_header *bh, struct arch_error *err)
{
    size_t pos = 0;
    uint32_t n = 0;
    struct proto_id first = {0, 0}, last = {0, 0};
    struct archread_seg_info *info = c->info;
    while (pos < bh->raw_len) {
        struct archread_record rec;
        if (parse_record(c, raw, bh->raw_len, &pos, &rec, err) != 0)
            return -1;
        n++;
        if (rec.type == ARCH_R_TEXT || rec.type == ARCH_R_STARTUP) {
            info->texts++;
            if (rec.type == ARCH_R_STARTUP && info->startup_hash[0] == '\0')
                memcpy(info->startup_hash, rec.hash, sizeof(rec.hash));
        } else {
            if (first.ms == 0 && first.seq == 0)
                first = rec.id;
            last = rec.id;
            info->entries++;
        }
        int rc = c->fn != NULL ? c->fn(c->arg, &rec) : 0;
        if (rc != 0)
            return rc;
    }
    if (n != bh->records || proto_id_cmp(first, bh->first) != 0 ||
        proto_id_cmp(last, bh->last) != 0)
        return fail(err, c->path, c->off, "block content does not match its header");
    if (info->first.ms == 0 && info->first.seq == 0)
        info->first = first;
    if (last.ms != 0 || last.seq != 0)
        info->last = last;
    return 0;
}

/* Reads, checks and decompresses the block at c->off (its header `bh`). */
static int read_block(struct archread *r, int fd, struct seg_cursor *c,
                      const struct arch_block_header *bh, struct arch_error *err)
{
    if (read_at(fd, r->comp, bh->comp_len, c->off + ARCH_BLOCK_HEADER_BYTES) != 0)
        return fail(err, c->path, c->off, "cannot read the block: %s", strerror(errno));
    if (XXH3_64bits(r->comp, bh->comp_len) != bh->payload_hash)
        return fail(err, c->path, c->off, "block checksum mismatch (the data is damaged)");
    size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, ARCH_BLOCK_RAW_MAX, r->comp, bh->comp_len);
    if (ZSTD_isError(n) || n != bh->raw_len)
        return fail(err, c->path, c->off, "block does not decompress to %u bytes: %s",
                    bh->raw_len, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
    return visit_block(c, r->raw, bh, err);
}

/* The segment's header into info (prev); -1 with err. */
static int read_seg_header(int fd, const char *path, uint64_t end,
                           struct archread_seg_info *info, struct arch_error *err)
{
    unsigned char hb[ARCH_HEADER_BYTES];
    struct arch_seg_header sh;
    if (end < ARCH_HEADER_BYTES || read_at(fd, hb, sizeof(hb), 0) != 0)
        return fail(err, path, 0, "shorter than its header");
    if (archfmt_get_seg_header(hb, &sh, err) != 0)
        return fail(err, path, 0, "%s", err->text);
    info->prev = sh.prev;
    return 0;
}

int archread_segment(struct archread *r, const char *path, uint64_t limit, struct proto_id after,
                     archread_visit_fn *fn, void *arg, struct archread_seg_info *info,
                     struct arch_error *err)
{
    struct stat sb;
    const char *slash = strrchr(path, '/');
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", slash ? slash + 1 : path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, path, 0, "cannot open: %s", strerror(e));
    }
    uint64_t end = (uint64_t)sb.st_size < limit ? (uint64_t)sb.st_size : limit;
    struct seg_cursor c = {path, info->name, ARCH_HEADER_BYTES, after, fn, arg, info};
    int rc = read_seg_header(fd, path, end, info, err);
    if (rc == 0 && (after.ms != 0 || after.seq != 0) && proto_id_cmp(info->prev, after) != 0)
        rc = fail(err, path, 0, "starts after %" PRIu64 "-%" PRIu64 " but the segment before "
                  "it ends at %" PRIu64 "-%" PRIu64 " (a segment is missing)", info->prev.ms,
                  info->prev.seq, after.ms, after.seq);
    if (rc == 0 && proto_id_cmp(info->prev, after) > 0)
        c.last = info->prev;
    while (rc == 0 && c.off + ARCH_BLOCK_HEADER_BYTES <= end) {
        unsigned char hb[ARCH_BLOCK_HEADER_BYTES];
        struct arch_block_header bh;
        if (read_at(fd, hb, sizeof(hb), c.off) != 0) {
            rc = fail(err, path, c.off, "cannot read a block header: %s", strerror(errno));
            break;
        }
        if (archfmt_get_block_header(hb, &bh, err) != 0) {
            rc = fail(err, path, c.off, "%s", err->text);
            break;
        }
        if (c.off + ARCH_BLOCK_HEADER_BYTES + bh.comp_len > end) {
            rc = fail(err, path, c.off, "block runs past the end (%" PRIu64 " bytes): truncated",
                      end);
            break;
        }
        rc = read_block(r, fd, &c, &bh, err);
        c.off += ARCH_BLOCK_HEADER_BYTES + bh.comp_len;
        info->blocks++;
        info->raw_bytes += bh.raw_len;
    }
    if (rc == 0 && c.off != end)
        rc = fail(err, path, c.off, "%" PRIu64 " stray bytes at the end", end - c.off);
    info->bytes = c.off;
    close(fd);
    return rc;
}

int archread_seg_header(const char *path, struct arch_seg_header *h, struct arch_error *err)
{
    unsigned char hb[ARCH_HEADER_BYTES];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, path, 0, "cannot open: %s", strerror(errno));
    int rc = read_at(fd, hb, sizeof(hb), 0);
    close(fd);
    if (rc != 0)
        return fail(err, path, 0, "shorter than its header");
    if (archfmt_get_seg_header(hb, h, err) != 0)
        return fail(err, path, 0, "%s", err->text);
    return 0;
}

int archread_head(const char *dir, struct arch_head *head, struct arch_error *err)
{
    char path[ARCH_PATH_MAX], buf[512];
    snprintf(path, sizeof(path), "%s/" ARCH_HEAD_NAME, dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        snprintf(err->text, sizeof(err->text), "cannot open %.200s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0 || archfmt_get_head(buf, (size_t)n, head, err) != 0) {
        char why[ARCH_ERROR_MAX];
        snprintf(why, sizeof(why), "%s", n < 0 ? strerror(errno) : err->text);
        snprintf(err->text, sizeof(err->text), "archive %.200s: %.300s", path, why);
        return -1;
    }
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

int archread_list(const char *dir, char (**names)[ARCH_SEG_NAME_LEN + 1], size_t *n,
                  struct arch_error *err)
{
    size_t cap = 0;
    struct proto_id id;
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL && errno == ENOENT)
        return 0;
    if (d == NULL) {
        snprintf(err->text, sizeof(err->text), "cannot read %.200s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (archfmt_parse_seg_name(e->d_name, &id) != 0)
            continue;
        if (*n == cap) {
            size_t want = cap ? 2 * cap : 64;
            void *grown = want <= ARCHREAD_SEGMENTS_MAX ? realloc(*names, want * sizeof(**names))
                                                        : NULL;
            if (grown == NULL) {
                closedir(d);
                free(*names);
                *names = NULL;
                snprintf(err->text, sizeof(err->text), "too many segments in %.200s", dir);
                return -1;
            }
            *names = grown;
            cap = want;
        }
        memcpy((*names)[(*n)++], e->d_name, ARCH_SEG_NAME_LEN + 1);
    }
    closedir(d);
    if (*n > 0)
        qsort(*names, *n, sizeof(**names), cmp_names);
    return 0;
}

/* Adds one segment read (its place in the chain checked) to the summary. */
static void chain(struct archread_summary *sum, const struct archread_seg_info *info)
{
    if (sum->segments == 0) {
        sum->prev = info->prev;
        memcpy(sum->startup_hash, info->startup_hash, sizeof(sum->startup_hash));
    }
    sum->segments++;
    sum->entries += info->entries;
    sum->bytes += info->bytes;
    sum->raw_bytes += info->raw_bytes;
    if (sum->first.ms == 0 && sum->first.seq == 0)
        sum->first = info->first;
    if (info->entries > 0)
        sum->last = info->last;
    else if (sum->segments == 1)
        sum->last = info->prev;
}

int archread_dir(struct archread *r, const char *dir, archread_visit_fn *fn, void *arg,
                 void (*per_segment)(void *arg, const struct archread_seg_info *info),
                 struct archread_summary *sum, struct arch_error *err)
{
    struct arch_head head;
    char (*names)[ARCH_SEG_NAME_LEN + 1];
    size_t n;
    memset(sum, 0, sizeof(*sum));
    int has_head = archread_head(dir, &head, err);
    if (has_head < 0 || archread_list(dir, &names, &n, err) != 0)
        return -1;
    int rc = 0;
    if (has_head == 0 && n > 0) {
        snprintf(err->text, sizeof(err->text), "archive %.200s: %zu segment(s) but no HEAD", dir,
                 n);
        rc = -1;
    }
    bool seen_head = has_head == 0;
    for (size_t i = 0; rc == 0 && i < n && strcmp(names[i], head.segment) <= 0; i++) {
        char path[ARCH_PATH_MAX];
        struct archread_seg_info info;
        bool is_head = strcmp(names[i], head.segment) == 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        rc = archread_segment(r, path, is_head ? head.committed : UINT64_MAX, sum->last, fn, arg,
                              &info, err);
        if (rc == 0)
            chain(sum, &info);
        if (rc == 0 && per_segment != NULL)
            per_segment(arg, &info);
        seen_head |= is_head;
    }
    free(names);
    if (rc == 0 && !seen_head) {
        snprintf(err->text, sizeof(err->text), "archive %.200s: HEAD names %s, which is missing",
                 dir, head.segment);
        return -1;
    }
    if (rc == 0 && has_head && proto_id_cmp(sum->last, head.last) != 0) {
        snprintf(err->text, sizeof(err->text),
                 "archive %.200s: HEAD says the last entry is %" PRIu64 "-%" PRIu64
                 ", the segments end at %" PRIu64 "-%" PRIu64, dir, head.last.ms, head.last.seq,
                 sum->last.ms, sum->last.seq);
        return -1;
    }
    return rc;
}
