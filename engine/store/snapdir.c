/* snapdir.c - see snapdir.h. */
#include "snapdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lyassert.h"

#define SNAPDIR_EXT ".lysnap" /* a snapshot file's extension */


static int mkdir_p(const char *dir)
{
    char p[SNAPDIR_DIR_MAX + 1];
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

int snapdir_open(struct snapdir *sd, const char *dir, uint32_t keep, snapdir_report_fn *report,
                 struct snapshot_error *err)
{
    char path[SNAPDIR_PATH_MAX];
    memset(sd, 0, sizeof(*sd));
    sd->lock_fd = -1;
    sd->keep = keep;
    sd->report = report;
    snprintf(sd->dir, sizeof(sd->dir), "%s", dir);
    if (mkdir_p(dir) != 0) {
        snprintf(err->text, sizeof(err->text), "cannot create data dir %.200s: %s", dir,
                 strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    sd->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    /* A POSIX record lock, not flock: it belongs to this process and is not
     * shared with a forked snapshot writer, so a daemon killed while its
     * (idle-scheduled) writer still runs frees the directory at once. */
    struct flock whole = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (sd->lock_fd < 0 || fcntl(sd->lock_fd, F_SETLK, &whole) != 0) {
        char pid[32] = "?";
        ssize_t n = sd->lock_fd >= 0 ? pread(sd->lock_fd, pid, sizeof(pid) - 1, 0) : -1;
        if (n > 0)
            pid[n] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err->text, sizeof(err->text),
                 "data dir %.160s is in use by another loyaltyd (pid %.20s holds LOCK)", dir,
                 pid);
        if (sd->lock_fd >= 0)
            close(sd->lock_fd);
        sd->lock_fd = -1;
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (ftruncate(sd->lock_fd, 0) != 0 || pwrite(sd->lock_fd, line, (size_t)n, 0) != n)
        sd->report(SNAPDIR_WARN, "cannot write pid to %s: %s", path, strerror(errno));
    return 0;
}

void snapdir_close(struct snapdir *sd)
{
    if (sd->lock_fd >= 0)
        close(sd->lock_fd); /* releases the lock */
    sd->lock_fd = -1;
}

void snapdir_path(const struct snapdir *sd, struct proto_id id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/snap-%020" PRIu64 "-%020" PRIu64 SNAPDIR_EXT, sd->dir, id.ms, id.seq);
}

static int parse_name(const char *name, struct proto_id *id)
{
    char tail[16];
    unsigned long long ms, seq;
    if (strlen(name) != 5 + 20 + 1 + 20 + 7 ||
        sscanf(name, "snap-%20llu-%20llu%15s", &ms, &seq, tail) != 3 ||
        strcmp(tail, SNAPDIR_EXT) != 0)
        return -1;
    id->ms = ms;
    id->seq = seq;
    return 0;
}

static int cmp_ids(const void *a, const void *b)
{
    return proto_id_cmp(*(const struct proto_id *)a, *(const struct proto_id *)b);
}

int snapdir_list(const struct snapdir *sd, struct proto_id *ids, size_t cap)
{
    DIR *d = opendir(sd->dir);
    if (d == NULL)
        return -1;
    size_t n = 0, oldest;
    struct dirent *e;
    struct proto_id id;
    /* Every entry is read: directory order is arbitrary, so stopping at
     * `cap` could miss the newest snapshot. Past `cap`, a newer id takes
     * the place of the oldest one kept. */
    while ((e = readdir(d)) != NULL) {
        if (parse_name(e->d_name, &id) != 0)
            continue;
        if (n < cap) {
            ids[n++] = id;
            continue;
        }
        oldest = 0;
        for (size_t i = 1; i < n; i++)
            if (proto_id_cmp(ids[i], ids[oldest]) < 0)
                oldest = i;
        if (proto_id_cmp(id, ids[oldest]) > 0)
            ids[oldest] = id;
    }
    closedir(d);
    qsort(ids, n, sizeof(ids[0]), cmp_ids);
    return (int)n;
}

int snapdir_load(const struct snapdir *sd, const struct rulebook *rb,
                 const struct rulebook_codec *codec, const struct state_limits *lim,
                 struct proto_id not_after, struct state *st)
{
    struct proto_id ids[SNAPDIR_FILES_MAX];
    int n = snapdir_list(sd, ids, SNAPDIR_FILES_MAX);
    for (int i = n - 1; i >= 0; i--) {
        char path[SNAPDIR_PATH_MAX], bad[SNAPDIR_PATH_MAX + 16];
        struct snapshot_error err;
        if (proto_id_cmp(ids[i], not_after) > 0)
            continue;
        snapdir_path(sd, ids[i], path, sizeof(path));
        enum snapshot_status s = snapshot_read(path, rb, codec, st, &err);
        if (s == SNAPSHOT_OK) {
            sd->report(SNAPDIR_INFO,
                       "loaded snapshot %s: %u members, last entry %" PRIu64 "-%" PRIu64, path,
                       st->members.count, st->last_id.ms, st->last_id.seq);
            return 1;
        }
        if (s == SNAPSHOT_FOREIGN) {
            /* Not ours to judge: a newer build may read it; it stays. */
            sd->report(SNAPDIR_WARN, "snapshot %s was written by another build or for another "
                       "configuration (%s); skipped and kept; trying the previous one", path,
                       err.text);
        } else {
            sd->report(SNAPDIR_ERROR, "snapshot %s is damaged (%s); renamed *.corrupt; trying "
                       "the previous one", path, err.text);
            snprintf(bad, sizeof(bad), "%s.corrupt", path);
            if (rename(path, bad) != 0)
                sd->report(SNAPDIR_WARN, "cannot rename %s aside: %s", path, strerror(errno));
        }
        state_free(st);
        if (state_init_limits(st, rb, lim) != 0)
            return -1;
    }
    return 0;
}

int snapdir_discard_after(const struct snapdir *sd, struct proto_id id)
{
    struct proto_id ids[SNAPDIR_FILES_MAX];
    int n = snapdir_list(sd, ids, SNAPDIR_FILES_MAX), moved = 0;
    for (int i = 0; i < n; i++) {
        char path[SNAPDIR_PATH_MAX], aside[SNAPDIR_PATH_MAX + 16];
        if (proto_id_cmp(ids[i], id) <= 0)
            continue;
        snapdir_path(sd, ids[i], path, sizeof(path));
        snprintf(aside, sizeof(aside), "%s.discarded", path);
        if (rename(path, aside) == 0) {
            sd->report(SNAPDIR_WARN,
                       "snapshot %s holds entries Redis no longer has; renamed to %s", path,
                       aside);
            moved++;
        } else {
            sd->report(SNAPDIR_ERROR, "cannot set aside %s: %s", path, strerror(errno));
        }
    }
    return moved;
}

/* Deletes "*.lysnap.tmp" files: a writer that died left them behind. */
static void remove_temporaries(const struct snapdir *sd)
{
    DIR *d = opendir(sd->dir);
    struct dirent *e;
    const char *suffix = SNAPDIR_EXT SNAPSHOT_TMP_SUFFIX;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len > sl && strcmp(e->d_name + len - sl, suffix) == 0 &&
            strncmp(e->d_name, "snap-", 5) == 0 && unlinkat(dirfd(d), e->d_name, 0) != 0)
            sd->report(SNAPDIR_WARN, "cannot delete %s/%s: %s", sd->dir, e->d_name,
                       strerror(errno));
    }
    if (d != NULL)
        closedir(d);
}

/* Deletes the snapshot files older than `keep_from` found in one pass over
 * the directory; returns how many it deleted. */
static int remove_older_pass(const struct snapdir *sd, struct proto_id keep_from)
{
    DIR *d = opendir(sd->dir);
    struct dirent *e;
    struct proto_id id;
    int removed = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (parse_name(e->d_name, &id) != 0 || proto_id_cmp(id, keep_from) >= 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
        else
            sd->report(SNAPDIR_WARN, "cannot delete old snapshot %s/%s: %s", sd->dir,
                       e->d_name, strerror(errno));
    }
    if (d != NULL)
        closedir(d);
    return removed;
}

/* Deletes every snapshot file older than `keep_from`. readdir may skip
 * entries while the directory changes under it, so passes repeat until
 * one finds nothing left (a bounded number: each pass deletes most). */
#define SNAPDIR_PRUNE_PASSES_MAX 16
static void remove_older(const struct snapdir *sd, struct proto_id keep_from)
{
    for (int pass = 0; pass < SNAPDIR_PRUNE_PASSES_MAX; pass++)
        if (remove_older_pass(sd, keep_from) == 0)
            return;
}

int snapdir_prune(const struct snapdir *sd, struct proto_id *oldest)
{
    remove_temporaries(sd);
    struct proto_id ids[SNAPDIR_FILES_MAX];
    LY_ASSERT(sd->keep >= 1 && sd->keep <= SNAPDIR_FILES_MAX);
    memset(oldest, 0, sizeof(*oldest));
    int n = snapdir_list(sd, ids, sd->keep); /* the newest `keep` */
    if (n < 0)
        return -1;
    if (n > 0) {
        *oldest = ids[0];
        remove_older(sd, ids[0]);
    }
    return 0;
}
