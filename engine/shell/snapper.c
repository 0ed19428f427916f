/* snapper.c - see snapper.h. */
#define _GNU_SOURCE /* SCHED_IDLE */
#include "snapper.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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
    struct event *deadline;    /* a low-priority writer's time is up */
    pid_t child;               /* 0 when none running */
    struct proto_id child_id;  /* what the running child writes */
    uint64_t child_started_us;
    bool escalate;             /* the next writer runs at normal priority, now */
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
    evtimer_del(s->deadline);
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

static bool abandon(struct snapper *s);

/* A low-priority writer still running at snapshot_deadline_ms: the machine
 * is too busy for it to finish. An unprivileged daemon cannot raise its
 * priority again (RLIMIT_NICE 0 allows only lowering), so it is stopped
 * and the next writer, of the state as it is by then, runs at normal
 * priority and starts at the next commit (or at once, through the gate,
 * when the partition is idle). A snapshot therefore lands within the
 * deadline plus one write at normal priority. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct snapper *s = arg;
    (void)fd;
    (void)what;
    if (!reap(s, WNOHANG) && abandon(s)) { /* else it finished meanwhile */
        s->m->snapshot_escalations++;
        s->escalate = true;
        log_warn("snapshot %" PRIu64 "-%" PRIu64 " not written after %u ms at low priority "
                 "(a busy machine): stopped; the next one runs at normal priority",
                 s->child_id.ms, s->child_id.seq, s->cfg->snapshot_deadline_ms);
    }
    if (s->gate->writing == 0 && s->gate->free_again != NULL)
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
    *s = (struct snapper){.cfg = cfg, .st = st, .sd = sd, .m = m, .gate = gate,
                          .on_written = on_written, .arg = arg};
    s->last_entries = entries_of(st);
    s->last_us = monotime_us();
    s->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, s);
    s->deadline = evtimer_new(base, on_deadline, s);
    if (s->sigchld == NULL || s->deadline == NULL || evsignal_add(s->sigchld, NULL) != 0) {
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
    if (s->deadline)
        event_free(s->deadline);
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
    evtimer_del(s->deadline);
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
    s->escalate = false;
}

/* ioprio_set(2) has no glibc wrapper: an I/O class for this process. */
#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_BE_LOWEST 7
#define IOPRIO_WHO_PROCESS 1
#define WRITER_NICE 19 /* the lowest SCHED_OTHER priority */

/* The writer yields to ingestion, so that tills' scans and purchases are
 * not queued behind the encoding of millions of members on a machine with
 * few cores. Measured with bench/snapscan.sh (README, Snapshots without a
 * stall):
 * - idle: SCHED_IDLE and the idle I/O class: CPU and disk time nobody else
 *   wants. A waking daemon always preempts it, but on a saturated machine
 *   it gets almost nothing (weight 3 against 1024), and an unprivileged
 *   process can never leave SCHED_IDLE again (RLIMIT_NICE 0).
 * - low: SCHED_OTHER nice 19 and the lowest best-effort I/O priority: the
 *   scheduler still prefers a waking daemon (its virtual deadline is far
 *   earlier), and the writer keeps a share of a busy CPU (weight 15).
 * - normal: as the daemon.
 * Neither idle nor low bounds the write on a saturated machine by itself:
 * snapshot_deadline_ms does (on_deadline). Best effort: a refused call
 * leaves the writer at normal priority, logged. */
static void writer_yields(enum config_snap_priority prio)
{
    struct sched_param none = {0};
    int ioprio = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT;
    if (prio == CONFIG_SNAP_NORMAL)
        return;
    if (prio == CONFIG_SNAP_IDLE && sched_setscheduler(0, SCHED_IDLE, &none) != 0)
        log_warn("snapshot writer: SCHED_IDLE: %s", strerror(errno));
    if (prio == CONFIG_SNAP_LOW) {
        if (setpriority(PRIO_PROCESS, 0, WRITER_NICE) != 0)
            log_warn("snapshot writer: nice %d: %s", WRITER_NICE, strerror(errno));
        ioprio = IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT | IOPRIO_BE_LOWEST;
    }
    (void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio);
}

/* snapshot_write_delay_ms, a testing aid (as Redis's rdb-key-save-delay):
 * the writer creates its temporary file and holds it that long before
 * writing, so that a test can see a snapshot in progress (kill the daemon
 * during one, read the writer's priority) however small its state. */
static void writer_delays(const char *path, uint32_t ms)
{
    char tmp[SNAPDIR_PATH_MAX + sizeof(SNAPSHOT_TMP_SUFFIX)];
    if (ms == 0 || snapshot_tmp_path(path, tmp, sizeof(tmp)) != 0)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool due(const struct snapper *s)
{
    if (entries_of(s->st) < s->last_entries)
        return false; /* a rebuild replaced the state: snapper_reset comes next */
    if (s->escalate)
        return true; /* the writer replaced at its deadline wrote nothing */
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
        writer_yields(s->escalate ? CONFIG_SNAP_NORMAL : s->cfg->snapshot_priority);
        writer_delays(path, s->cfg->snapshot_write_delay_ms);
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
    if (!s->escalate && s->cfg->snapshot_priority != CONFIG_SNAP_NORMAL &&
        s->cfg->snapshot_deadline_ms > 0) {
        struct timeval tv = {s->cfg->snapshot_deadline_ms / 1000,
                             s->cfg->snapshot_deadline_ms % 1000 * 1000};
        evtimer_add(s->deadline, &tv);
    }
    s->escalate = false;
}

int snapper_write_now(struct snapper *s)
{
    /* A writer still running is at low priority (writer_yields): on a busy
     * machine waiting for it could take long, and this write supersedes it. */
    bool abandoned = !reap(s, WNOHANG) && abandon(s);
    if (abandoned)
        log_info("snapshot %" PRIu64 "-%" PRIu64 " in progress abandoned: this one supersedes it",
                 s->child_id.ms, s->child_id.seq);
    if (!abandoned && !s->escalate && entries_of(s->st) == s->last_entries)
        return 0; /* nothing applied since the snapshot loaded or last written (a writer
                   * stopped at its deadline wrote nothing: escalate says so) */
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
    s->escalate = false;
    written(s, s->st->last_id, monotime_us() - t0);
    return 0;
}
