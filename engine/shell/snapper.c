/* snapper.c - see snapper.h. */
#define _GNU_SOURCE /* SCHED_IDLE */
#include "snapper.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "monotime.h"
#include "rulecanon.h"

struct snapper {
    const struct config *cfg;
    const struct state *st;
    const struct snapdir *sd;
    struct metrics *m;
    struct snapper_gate *gate;
    snapper_written_fn *on_written;
    void *arg;
    struct event *sigchld;
    pid_t child;               /* 0 when none running */
    struct proto_id child_id;  /* what the running child writes */
    uint64_t child_started_us;
    uint64_t last_entries;     /* entries counted at the last snapshot */
    uint64_t last_us;          /* when the last snapshot started */
};

static uint64_t entries_of(const struct state *st)
{
    return st->entries_applied + st->entries_rejected + st->entries_duplicate;
}

/* After a snapshot landed: prune, then let the consumer trim. */
static void written(struct snapper *s, struct proto_id id, uint64_t us)
{
    struct proto_id oldest;
    s->m->snapshots++;
    s->m->snapshot_last_us = us;
    log_info("snapshot %" PRIu64 "-%" PRIu64 " written in %.1f ms", id.ms, id.seq, us / 1e3);
    if (snapdir_prune(s->sd, &oldest) == 0 && s->on_written != NULL)
        s->on_written(s->arg, oldest);
}

/* Reaps the writer when it finished. Returns true when it did. */
static bool reap(struct snapper *s, int options)
{
    int status;
    if (s->child == 0)
        return false;
    pid_t p = waitpid(s->child, &status, options);
    if (p == 0 || (p < 0 && errno == EINTR))
        return false;
    s->child = 0;
    s->gate->writing--;
    if (p > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        written(s, s->child_id, monotime_us() - s->child_started_us);
    } else {
        s->m->snapshot_failures++;
        log_error("snapshot %" PRIu64 "-%" PRIu64 " failed (writer exit status %d); the "
                  "previous snapshots stay valid; retrying at the next interval",
                  s->child_id.ms, s->child_id.seq, p > 0 ? status : -1);
    }
    return true;
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    struct snapper *s = arg;
    (void)fd;
    (void)what;
    if (reap(s, WNOHANG) && s->gate->writing == 0 && s->gate->free_again != NULL)
        s->gate->free_again(s->gate->arg);
}

struct snapper *snapper_new(struct event_base *base, const struct config *cfg,
                            const struct state *st, const struct snapdir *sd,
                            struct metrics *m, struct snapper_gate *gate,
                            snapper_written_fn *on_written, void *arg)
{
    struct snapper *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    *s = (struct snapper){cfg, st, sd, m, gate, on_written, arg, NULL, 0, {0, 0}, 0, 0, 0};
    s->last_entries = entries_of(st);
    s->last_us = monotime_us();
    s->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, s);
    if (s->sigchld == NULL || evsignal_add(s->sigchld, NULL) != 0) {
        snapper_free(s);
        return NULL;
    }
    return s;
}

void snapper_free(struct snapper *s)
{
    if (s == NULL)
        return;
    reap(s, 0);
    if (s->sigchld)
        event_free(s->sigchld);
    free(s);
}

/* Stops a writer still running (its temp file removed). Returns true when
 * there was one (its id stays in child_id for the caller's log line). */
static bool abandon(struct snapper *s)
{
    if (s->child == 0)
        return false;
    char path[SNAPDIR_PATH_MAX], tmp[SNAPDIR_PATH_MAX + sizeof(SNAPSHOT_TMP_SUFFIX)];
    kill(s->child, SIGKILL);
    waitpid(s->child, NULL, 0);
    s->gate->writing--;
    snapdir_path(s->sd, s->child_id, path, sizeof(path));
    if (snapshot_tmp_path(path, tmp, sizeof(tmp)) == 0)
        unlink(tmp); /* what the killed writer left */
    s->child = 0;
    return true;
}

void snapper_reset(struct snapper *s)
{
    if (abandon(s))
        log_warn("snapshot %" PRIu64 "-%" PRIu64 " abandoned: the state was rebuilt",
                 s->child_id.ms, s->child_id.seq);
    s->last_entries = entries_of(s->st);
    s->last_us = monotime_us();
}

/* ioprio_set(2) has no glibc wrapper: the idle I/O class, for this process. */
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1

/* The writer yields to ingestion: it runs on CPU time and disk time nobody
 * else wants (SCHED_IDLE, the idle I/O class), so that tills' scans and
 * purchases are not queued behind the encoding of millions of members on
 * a machine with few cores. A busy machine makes the snapshot take
 * longer, never the entries; both calls are best effort. */
static void writer_yields(void)
{
    struct sched_param none = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &none) != 0)
        log_warn("snapshot writer: SCHED_IDLE: %s", strerror(errno));
    (void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
                  IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
}

static bool due(const struct snapper *s)
{
    if (entries_of(s->st) < s->last_entries)
        return false; /* a rebuild replaced the state: snapper_reset comes next */
    uint64_t entries = entries_of(s->st) - s->last_entries;
    if (entries == 0)
        return false;
    if (s->cfg->snapshot_every_entries > 0 && entries >= s->cfg->snapshot_every_entries)
        return true;
    return s->cfg->snapshot_every_ms > 0 &&
           monotime_us() - s->last_us >= (uint64_t)s->cfg->snapshot_every_ms * 1000u;
}

bool snapper_due(const struct snapper *s)
{
    return s->child == 0 && s->gate->writing == 0 && due(s);
}

void snapper_maybe(struct snapper *s)
{
    if (!snapper_due(s))
        return;
    char path[SNAPDIR_PATH_MAX];
    snapdir_path(s->sd, s->st->last_id, path, sizeof(path));
    uint64_t t0 = monotime_us();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* The writer must not outlive the daemon or keep its data dir
         * locked: die with the parent, and drop the inherited lock. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1); /* the parent died before prctl took effect */
        close(s->sd->lock_fd);
        writer_yields();
        struct snapshot_error err;
        int rc = snapshot_write(s->st, rulecanon_codec(), path, &err);
        if (rc != 0)
            log_error("snapshot writer: %s", err.text);
        _exit(rc == 0 ? 0 : 1); /* no atexit handlers, no stdio flush of the parent's */
    }
    uint64_t stall = monotime_us() - t0;
    if (stall > s->m->snapshot_fork_us_max)
        s->m->snapshot_fork_us_max = stall;
    s->last_entries = entries_of(s->st);
    s->last_us = t0;
    if (pid < 0) {
        s->m->snapshot_failures++;
        log_error("snapshot: fork failed: %s; retrying at the next interval", strerror(errno));
        return;
    }
    s->child = pid;
    s->gate->writing++;
    s->child_id = s->st->last_id;
    s->child_started_us = t0;
}

int snapper_write_now(struct snapper *s)
{
    /* A writer still running is idle-scheduled (writer_yields): on a busy
     * machine waiting for it could take long, and this write supersedes it. */
    bool abandoned = !reap(s, WNOHANG) && abandon(s);
    if (abandoned)
        log_info("snapshot %" PRIu64 "-%" PRIu64 " in progress abandoned: this one supersedes it",
                 s->child_id.ms, s->child_id.seq);
    if (!abandoned && entries_of(s->st) == s->last_entries)
        return 0; /* nothing applied since the snapshot loaded or last written */
    char path[SNAPDIR_PATH_MAX];
    struct snapshot_error err;
    snapdir_path(s->sd, s->st->last_id, path, sizeof(path));
    uint64_t t0 = monotime_us();
    if (snapshot_write(s->st, rulecanon_codec(), path, &err) != 0) {
        s->m->snapshot_failures++;
        log_error("snapshot: %s", err.text);
        return -1;
    }
    s->last_entries = entries_of(s->st);
    written(s, s->st->last_id, monotime_us() - t0);
    return 0;
}
