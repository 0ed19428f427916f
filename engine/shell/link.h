/* link.h - one connection to one Redis node.
 *
 * One hiredis async connection on the daemon's libevent loop (the router,
 * router.h, keeps one per node and shares it between the partitions whose
 * slots the node serves). The link connects to its endpoint, sends AUTH
 * before anything else when a password is configured,
 * reconnects with exponential backoff (LINK_BACKOFF_MIN_MS doubling up to
 * daemon.reconnect_max_ms) after every loss, and drops a connection that
 * leaves a command unanswered for block_ms + LINK_REPLY_TIMEOUT_MS (the
 * watchdog). It knows nothing of streams: its owner queues the commands and
 * is told when a connection attempt starts, comes up or goes down.
 *
 * Replies: each command is queued with a `struct link_cmd` naming its
 * handler. The link runs the prologue every handler needs, once: a NULL
 * reply (the connection is going away; the disconnect decides what comes
 * next) never reaches the handler; any other reply proves Redis alive for
 * the watchdog; an error reply drops the connection, with the command's
 * name in the log, unless the command takes its errors itself.
 *
 * Users: a command may belong to a `struct link_user` (a partition sharing
 * the connection). The link counts the user's commands in flight, and a
 * user can turn deaf (replies are counted but not delivered) and hear when
 * the last one is in (drained), so it can start over cleanly on this
 * connection or another. A user's command whose reply is a Cluster
 * redirection (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING, READONLY,
 * MASTERDOWN) goes to the user's `redirect`, and one that fails (an error
 * it does not take itself) to the user's `failed`, instead of dropping the
 * connection every user shares.
 *
 * Ownership: hiredis owns every reply and frees it when the handler
 * returns: a handler never keeps a pointer into one. hiredis owns the
 * context: it frees it after the disconnect callback (so the link forgets
 * it there), or at once when it never connected (so link_hangup forgets it
 * then). Freeing a context inside a reply handler is deferred by hiredis
 * until the handler returns.
 */
#ifndef LOYALTY_LINK_H
#define LOYALTY_LINK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>

#include "config.h"
#include "metrics.h"

struct replyarena;

struct event;
struct event_base;

/* The first reconnection delay; it doubles after each failed attempt. */
#define LINK_BACKOFF_MIN_MS 100u
/* A Redis that answers nothing for this long beyond the BLOCK time is
 * treated as gone (paused, partitioned): the connection is dropped and
 * re-established, which reconciles against the marker as after any
 * disconnect. */
#define LINK_REPLY_TIMEOUT_MS 5000u
/* How often the watchdog looks; a timeout is noticed this much late at most. */
#define LINK_WATCHDOG_MS 500u

/* Gets every non-NULL reply to a command (error replies only when the
 * command's `own_errors` is set). */
typedef void link_reply_fn(void *owner, const redisReply *r);

struct link;
struct link_user;

/* See "Users" above. Each may be NULL (then the link's default applies:
 * drop the connection on errors). */
struct link_user_fns {
    void (*drained)(struct link_user *u);
    void (*redirect)(struct link_user *u, const redisReply *r, const struct link *l);
    void (*failed)(struct link_user *u, const char *why);
};

struct link_user {
    unsigned outstanding; /* commands queued whose reply has not come */
    bool deaf;            /* replies are counted, not delivered */
    const struct link_user_fns *fns;
};

/* One kind of command: queue many with the same one. Must outlive every
 * reply to it (the owner keeps it in its own struct). */
struct link_cmd {
    link_reply_fn *fn;
    void *owner;      /* passed to fn */
    const char *what; /* the command, for the log */
    bool own_errors;  /* fn handles error replies itself (redirections excepted) */
    struct link_user *user; /* whose command it is (NULL: the link's owner's) */
};

enum link_event {
    LINK_CONNECTING, /* an attempt started */
    LINK_UP,         /* connected; AUTH, if configured, is already queued */
    LINK_DOWN,       /* the attempt failed or the connection is gone; unless
                      * closing, the next attempt is scheduled */
};

typedef void link_event_fn(void *owner, enum link_event ev);

struct link {
    struct event_base *base;
    const struct config *cfg;
    struct config_endpoint ep; /* the node */
    struct metrics *m;
    redisAsyncContext *ac;  /* NULL while neither connected nor connecting */
    struct replyarena *arena; /* its replies' objects once connected (replyarena.h) */
    unsigned backoff_ms;    /* delay before the next attempt */
    struct event *retry_timer;
    struct event *watchdog;
    uint64_t last_reply_us; /* last reply, or last moment nothing was awaited */
    bool closing;           /* the owner is stopping: no new connection */
    link_event_fn *on_event;
    void *owner;
    struct link_cmd auth;
    char name[CONFIG_HOST_MAX + 8]; /* "host:port" */
};

/* Prepares `l` on `base` to connect to `ep` with the settings of `cfg`
 * (which, with `m`, must outlive it); `on_event(owner, ...)` hears of
 * connections. Does not connect yet. Returns 0, or -1 when out of memory
 * (link_free cleans up). */
int link_init(struct link *l, struct event_base *base, const struct config *cfg,
              const struct config_endpoint *ep, struct metrics *m, link_event_fn *on_event,
              void *owner);

/* Closes the link and frees its connection (LINK_DOWN is still delivered)
 * and timers. */
void link_free(struct link *l);

/* Starts the watchdog and the first connection attempt. */
void link_start(struct link *l);

/* The owner is stopping: no new connection will be made. The current one,
 * if any, stays until link_hangup. */
void link_close(struct link *l);

/* Stops the watchdog and any scheduled attempt, once the owner stopped. */
void link_disarm(struct link *l);

/* True after link_close. */
bool link_closing(const struct link *l);

/* True while there is a connection (or an attempt under way). */
bool link_connected(const struct link *l);

/* The owner is consuming: the next loss starts again from the shortest
 * reconnection delay. */
void link_reset_backoff(struct link *l);

/* Closes the connection without a word; LINK_DOWN follows (at once, or
 * when the reply handler running now returns). Safe inside a handler. */
void link_hangup(struct link *l);

/* Logs `why` as a warning, then link_hangup: a reconnection follows. */
void link_drop(struct link *l, const char *why);

/* Queues a command (hiredis format, see redisAsyncCommand) whose replies
 * go to `cmd`. Needs a connection. Returns 0, or -1 when hiredis could not
 * queue it (the caller drops the link). */
int link_command(struct link *l, const struct link_cmd *cmd, const char *fmt, ...);

/* link_command with a va_list. */
int link_vcommand(struct link *l, const struct link_cmd *cmd, const char *fmt, va_list ap);

/* link_command with an argument vector (lengths NULL: C strings). */
int link_command_argv(struct link *l, const struct link_cmd *cmd, int argc, const char **argv,
                      const size_t *argvlen);

/* link_command with a command already in RESP (buf[0..len), copied). */
int link_formatted(struct link *l, const struct link_cmd *cmd, const char *buf, size_t len);

/* "host:port" of the node, for the log. */
const char *link_name(const struct link *l);

#endif
