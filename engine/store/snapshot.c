/* snapshot.c - see snapshot.h: the header, the checksums, the file. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "lebuf.h"
#include "lyassert.h"
#include "snapliab.h"
#include "snapv2.h"

static const char SNAPSHOT_MAGIC[8] = {'L', 'Y', 'S', 'N', 'A', 'P', 0, 1};

/* Header offsets (snapshot.h). */
enum {
    H_VERSION = 8, H_SIZE = 12, H_BODY_LEN = 16, H_BODY_HASH = 24, H_LAST_MS = 32,
    H_LAST_SEQ = 40, H_CLOCK = 48, H_APPLIED = 56, H_REJECTED = 64, H_DUPLICATE = 72,
    H_EVICTED = 80, H_MEMBERS = 88, H_TXNS = 92, H_LOTS = 96, H_ZERO = 100, H_HASH = 104
};
_Static_assert(H_HASH + 8 == SNAPSHOT_HEADER_SIZE, "the header ends with its checksum");
_Static_assert(H_CLOCK == H_LAST_MS + 16 && H_EVICTED == H_LAST_MS + 48,
               "the run snaprec_read_head reads");
_Static_assert(SNAPV2_HEADER_SIZE >= SNAPSHOT_HEADER_SIZE, "a peek reads either header");

/* ---- writing ----------------------------------------------------------- */

/* Where the body goes: a file or memory, hashed on the way. */
struct body_sink {
    FILE *f;             /* NULL: memory */
    char *mem;
    size_t mem_len, mem_cap;
    uint64_t len;
    XXH3_state_t hash;
};

static int sink_write(void *ctx, const void *p, size_t n)
{
    struct body_sink *s = ctx;
    XXH3_64bits_update(&s->hash, p, n);
    s->len += n;
    if (s->f != NULL)
        return fwrite(p, 1, n, s->f) == n ? 0 : -1;
    if (s->mem_len + n > s->mem_cap) {
        size_t cap = s->mem_cap ? s->mem_cap : 65536;
        while (cap < s->mem_len + n)
            cap *= 2;
        char *m = realloc(s->mem, cap);
        if (m == NULL)
            return -1;
        s->mem = m;
        s->mem_cap = cap;
    }
    memcpy(s->mem + s->mem_len, p, n);
    s->mem_len += n;
    return 0;
}

static void put_u32_at(unsigned char *h, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        h[off + i] = (unsigned char)(v >> (8 * i));
}

static void put_u64_at(unsigned char *h, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        h[off + i] = (unsigned char)(v >> (8 * i));
}

static void fill_header(unsigned char *h, const struct state *st, const struct body_sink *s)
{
    memset(h, 0, SNAPSHOT_HEADER_SIZE);
    memcpy(h, SNAPSHOT_MAGIC, sizeof(SNAPSHOT_MAGIC));
    put_u32_at(h, H_VERSION, SNAPSHOT_VERSION);
    put_u32_at(h, H_SIZE, SNAPSHOT_HEADER_SIZE);
    put_u64_at(h, H_BODY_LEN, s->len);
    put_u64_at(h, H_BODY_HASH, XXH3_64bits_digest(&s->hash));
    put_u64_at(h, H_LAST_MS, st->last_id.ms);
    put_u64_at(h, H_LAST_SEQ, st->last_id.seq);
    put_u64_at(h, H_CLOCK, (uint64_t)st->clock_ms);
    put_u64_at(h, H_APPLIED, st->entries_applied);
    put_u64_at(h, H_REJECTED, st->entries_rejected);
    put_u64_at(h, H_DUPLICATE, st->entries_duplicate);
    put_u64_at(h, H_EVICTED, st->txns.evicted_early);
    put_u32_at(h, H_MEMBERS, st->members.count);
    put_u32_at(h, H_TXNS, st->txns.count);
    put_u32_at(h, H_LOTS, st->members.lots_per);
    put_u64_at(h, H_HASH, XXH3_64bits(h, H_HASH));
}

/* Writes the body of `st` to `s`; the lebuf_out (64 KiB) lives on the
 * heap, not the stack. Returns 0, or -1. */
static int write_body(const struct state *st, const struct rulebook_codec *codec,
                      struct body_sink *s)
{
    struct lebuf_out *o = malloc(sizeof(*o));
    if (o == NULL)
        return -1;
    XXH3_64bits_reset(&s->hash);
    lebuf_out_init(o, sink_write, s);
    int rc = snaprec_write_body(o, st, codec);
    free(o);
    return rc;
}

static int fsync_dir_of(const char *path)
{
    char copy[SNAPSHOT_PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int snapshot_tmp_path(const char *path, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s" SNAPSHOT_TMP_SUFFIX, path);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int snapshot_write(const struct state *st, const struct rulebook_codec *codec, const char *path,
                   struct snapshot_error *err)
{
    char tmp[SNAPSHOT_PATH_MAX + sizeof(SNAPSHOT_TMP_SUFFIX)];
    unsigned char h[SNAPSHOT_HEADER_SIZE];
    if (snapshot_tmp_path(path, tmp, sizeof(tmp)) != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "path too long: %.200s", path);
    struct body_sink s = {.f = fopen(tmp, "wb")};
    if (s.f == NULL)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "cannot create %s: %s", tmp,
                            strerror(errno));
    memset(h, 0, sizeof(h)); /* a placeholder until the body hash is known */
    if (fwrite(h, sizeof(h), 1, s.f) != 1 || write_body(st, codec, &s) != 0)
        goto fail;
    fill_header(h, st, &s);
    if (fseek(s.f, 0, SEEK_SET) != 0 || fwrite(h, sizeof(h), 1, s.f) != 1 ||
        fflush(s.f) != 0 || fsync(fileno(s.f)) != 0)
        goto fail;
    FILE *done = s.f;
    s.f = NULL;
    if (fclose(done) != 0 || rename(tmp, path) != 0 || fsync_dir_of(path) != 0)
        goto fail;
    return 0;
fail:
    snaprec_fail(err, SNAPSHOT_DAMAGED, "cannot write %s: %s", tmp,
                 strerror(errno ? errno : EIO));
    if (s.f != NULL)
        fclose(s.f);
    unlink(tmp);
    return -1;
}

int snapshot_encode(const struct state *st, const struct rulebook_codec *codec, char **out,
                    size_t *len)
{
    unsigned char h[SNAPSHOT_HEADER_SIZE];
    struct body_sink s = {.f = NULL};
    memset(h, 0, sizeof(h));
    if (sink_write(&s, h, sizeof(h)) != 0 || write_body(st, codec, &s) != 0) {
        free(s.mem);
        return -1;
    }
    s.len -= sizeof(h); /* the body's length: without the placeholder */
    fill_header(h, st, &s);
    memcpy(s.mem, h, sizeof(h));
    *out = s.mem;
    *len = s.mem_len;
    return 0;
}

/* ---- reading ----------------------------------------------------------- */

static enum snapshot_status check_header(const char *h, size_t len, struct snapshot_error *err)
{
    if (lebuf_u32_at(h, H_SIZE) != SNAPSHOT_HEADER_SIZE ||
        lebuf_u64_at(h, H_HASH) != XXH3_64bits(h, H_HASH))
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "header checksum mismatch");
    uint64_t body = lebuf_u64_at(h, H_BODY_LEN);
    if (body != len - SNAPSHOT_HEADER_SIZE)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "truncated or oversized: body is %zu bytes, "
                            "the header says %llu", len - SNAPSHOT_HEADER_SIZE,
                            (unsigned long long)body);
    if (XXH3_64bits(h + SNAPSHOT_HEADER_SIZE, body) != lebuf_u64_at(h, H_BODY_HASH))
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "body checksum mismatch (corrupt)");
    return SNAPSHOT_OK;
}

static enum snapshot_status decode_v3(const char *buf, size_t len,
                                      const struct rulebook_codec *codec, struct state *st,
                                      struct snapshot_error *err)
{
    enum snapshot_status s = check_header(buf, len, err);
    if (s == SNAPSHOT_OK)
        s = snaprec_read_head(st, buf + H_LAST_MS, err);
    if (s != SNAPSHOT_OK)
        return s;
    struct lebuf_in in;
    lebuf_in_init(&in, buf + SNAPSHOT_HEADER_SIZE, len - SNAPSHOT_HEADER_SIZE);
    return snaprec_read_body(&in, lebuf_u32_at(buf, H_VERSION), lebuf_u32_at(buf, H_MEMBERS),
                             lebuf_u32_at(buf, H_TXNS), codec, st, err);
}

enum snapshot_status snapshot_decode(const char *buf, size_t len, const struct rulebook *rb,
                                     const struct rulebook_codec *codec, struct state *st,
                                     struct snapshot_error *err)
{
    if (len < 16 || memcmp(buf, SNAPSHOT_MAGIC, sizeof(SNAPSHOT_MAGIC)) != 0)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "not a loyaltyd snapshot (bad magic or "
                            "shorter than a header)");
    uint32_t version = lebuf_u32_at(buf, H_VERSION);
    enum snapshot_status s;
    bool current = version == SNAPSHOT_VERSION || version == SNAPSHOT_VERSION_V4;
    if (current && len >= SNAPSHOT_HEADER_SIZE)
        s = decode_v3(buf, len, codec, st, err);
    else if (version == SNAPSHOT_VERSION_PREV && len >= SNAPV2_HEADER_SIZE) {
        s = snapv2_decode(buf, len, rb, st, err);
        if (s == SNAPSHOT_OK)
            snapliab_derive(st); /* format 2 has no liability section */
    } else if (current || version == SNAPSHOT_VERSION_PREV)
        s = snaprec_fail(err, SNAPSHOT_DAMAGED, "truncated: %zu bytes, shorter than a header",
                         len);
    else
        return snaprec_fail(err, SNAPSHOT_FOREIGN, "format version %u (this build reads %d, "
                            "%d and %d): written by another build", version, SNAPSHOT_VERSION,
                            SNAPSHOT_VERSION_V4, SNAPSHOT_VERSION_PREV);
    if (s == SNAPSHOT_OK)
        state_reindex(st, &st->ver->now);
    return s;
}

/* Opens `path` read-only and tells its size. Returns 0 with *fd, *size,
 * or DAMAGED with err (nothing left open). */
static int open_sized(const char *path, int *fd, size_t *size, struct snapshot_error *err)
{
    struct stat sb;
    *fd = open(path, O_RDONLY);
    if (*fd < 0 || fstat(*fd, &sb) != 0) {
        if (*fd >= 0)
            close(*fd);
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "cannot open: %s", strerror(errno));
    }
    *size = (size_t)sb.st_size;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len, size_t max,
                     struct snapshot_error *err)
{
    int fd;
    size_t size;
    if (open_sized(path, &fd, &size, err) != 0)
        return SNAPSHOT_DAMAGED;
    size_t want = size < max ? size : max;
    char *p = malloc(want ? want : 1);
    size_t got = 0;
    while (p != NULL && got < want) {
        ssize_t n = read(fd, p + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (p == NULL || got != want) {
        free(p);
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "cannot read: %s",
                            p ? "short read" : "out of memory");
    }
    *out = p;
    *len = got;
    return 0;
}

/* Maps the file at `path` read-only for one sequential pass (no copy into
 * the heap: the page cache's pages are read in place). A snapshot is
 * never rewritten in place (snapshot_write renames a new file over it),
 * so the mapping cannot shrink under the reader. Returns 0 with
 * *out, *len (an empty file: NULL, 0), or DAMAGED with err. */
static int map_file(const char *path, const char **out, size_t *len, struct snapshot_error *err)
{
    int fd;
    if (open_sized(path, &fd, len, err) != 0)
        return SNAPSHOT_DAMAGED;
    *out = NULL;
    void *p = *len > 0 ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return snaprec_fail(err, SNAPSHOT_DAMAGED, "cannot map: %s", strerror(e));
    if (p != NULL)
        madvise(p, *len, MADV_SEQUENTIAL); /* a hint: read ahead, drop behind */
    *out = p;
    return 0;
}

enum snapshot_status snapshot_read(const char *path, const struct rulebook *rb,
                                   const struct rulebook_codec *codec, struct state *st,
                                   struct snapshot_error *err)
{
    const char *buf = NULL;
    size_t len = 0;
    if (map_file(path, &buf, &len, err) != 0)
        return SNAPSHOT_DAMAGED;
    static const char empty[1];
    enum snapshot_status s = snapshot_decode(buf ? buf : empty, len, rb, codec, st, err);
    if (buf != NULL)
        munmap((void *)buf, len);
    return s;
}

int snapshot_peek_id(const char *path, struct proto_id *id, struct snapshot_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_file(path, &buf, &len, SNAPV2_HEADER_SIZE, err) != 0)
        return -1;
    uint32_t version = len >= 16 ? lebuf_u32_at(buf, H_VERSION) : 0;
    int rc = -1;
    if (len < 16 || memcmp(buf, SNAPSHOT_MAGIC, sizeof(SNAPSHOT_MAGIC)) != 0)
        rc = -1;
    else if (version == SNAPSHOT_VERSION_PREV && len == SNAPV2_HEADER_SIZE)
        rc = snapv2_peek_id(buf, id);
    else if ((version == SNAPSHOT_VERSION || version == SNAPSHOT_VERSION_V4) &&
             len >= SNAPSHOT_HEADER_SIZE &&
             lebuf_u64_at(buf, H_HASH) == XXH3_64bits(buf, H_HASH)) {
        id->ms = lebuf_u64_at(buf, H_LAST_MS);
        id->seq = lebuf_u64_at(buf, H_LAST_SEQ);
        rc = 0;
    }
    free(buf);
    if (rc != 0)
        snaprec_fail(err, SNAPSHOT_DAMAGED, "bad or truncated header");
    return rc;
}
