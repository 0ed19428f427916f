/* link.c - see link.h. */
#include "link.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "lyassert.h"
#include "monotime.h"
#include "replyarena.h"

/* Error replies of Redis Cluster that mean "not here, not now": the
 * user finds its partition's node again (router.h). */
static bool redirection(const redisReply *r)
{
    static const char *const codes[] = {"MOVED ", "ASK ", "TRYAGAIN ", "CLUSTERDOWN ",
                                        "LOADING ", "READONLY ", "MASTERDOWN "};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (r->len >= strlen(codes[i]) && memcmp(r->str, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

/* A user's reply: counted; withheld from a deaf user (which hears when
 * the last is in) and, when it is a redirection or an unexpected error,
 * given to the user's own hooks. Returns true when the reply is dealt
 * with here. */
static bool user_reply(struct link *l, const struct link_cmd *cmd, const redisReply *r)
{
    struct link_user *u = cmd->user;
    LY_ASSERT(u->outstanding > 0);
    u->outstanding--;
    if (u->deaf) {
        if (u->outstanding == 0 && u->fns->drained != NULL)
            u->fns->drained(u);
        return true;
    }
    if (r == NULL || r->type != REDIS_REPLY_ERROR)
        return r == NULL;
    if (redirection(r) && u->fns->redirect != NULL) {
        u->fns->redirect(u, r, l);
        return true;
    }
    if (!cmd->own_errors && u->fns->failed != NULL) {
        char why[256];
        snprintf(why, sizeof(why), "%s failed: %.*s", cmd->what, (int)r->len, r->str);
        u->fns->failed(u, why);
        return true;
    }
    return false;
}

/* The reply callback of every command queued through a link: the
 * prologue of link.h, then the command's handler. */
static void link_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    const struct link_cmd *cmd = priv;
    struct link *l = ac->data;
    const redisReply *r = reply;
    if (r != NULL)
        l->last_reply_us = monotime_us();
    if (cmd->user != NULL && user_reply(l, cmd, r))
        return;
    if (r == NULL)
        return; /* connection going away: the disconnect callback decides */
    if (r->type == REDIS_REPLY_ERROR && !cmd->own_errors) {
        char why[256];
        snprintf(why, sizeof(why), "%s failed: %.*s", cmd->what, (int)r->len, r->str);
        link_drop(l, why);
        return;
    }
    cmd->fn(cmd->owner, r);
}

/* Schedules the next connection attempt with exponential backoff. */
static void retry_later(struct link *l)
{
    struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
    event_add(l->retry_timer, &tv);
    l->backoff_ms = l->backoff_ms * 2 > l->cfg->reconnect_max_ms ? l->cfg->reconnect_max_ms
                                                                 : l->backoff_ms * 2;
}

void link_hangup(struct link *l)
{
    if (l->ac == NULL)
        return;
    /* Inside a reply handler hiredis frees after the handler returns, and
     * the disconnect callback forgets the context. Elsewhere it frees now,
     * calling the disconnect callback only for a context that had
     * connected: one that had not is forgotten here. */
    bool deferred = (l->ac->c.flags & REDIS_IN_CALLBACK) != 0;
    replyarena_release(l->arena); /* freed now or with the reply still alive */
    l->arena = NULL;
    redisAsyncFree(l->ac);
    if (!deferred && l->ac != NULL) {
        l->ac = NULL;
        if (!l->closing)
            retry_later(l);
        l->on_event(l->owner, LINK_DOWN);
    }
}

void link_drop(struct link *l, const char *why)
{
    log_warn("redis: %s; reconnecting", why);
    link_hangup(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    (void)status;
    l->ac = NULL;
    replyarena_release(l->arena);
    l->arena = NULL;
    if (!l->closing) {
        log_warn("redis: disconnected from %s (%s); retrying in %u ms", l->name,
                 ac->errstr[0] ? ac->errstr : "closed", l->backoff_ms);
        retry_later(l);
    }
    l->on_event(l->owner, LINK_DOWN);
}

static void on_auth(void *owner, const redisReply *r)
{
    struct link *l = owner;
    if (r->type == REDIS_REPLY_ERROR) {
        /* The reply names no secret; ours is never logged. */
        const char *user = l->cfg->redis_user[0] ? l->cfg->redis_user : "default";
        log_error("redis: AUTH as '%s' refused: %.*s", user,
                  (int)(r->len > 120 ? 120 : r->len), r->str);
        link_hangup(l);
    }
}

/* AUTH [user] password, before anything else on a new connection. */
static int send_auth(struct link *l)
{
    const char *argv[3] = {"AUTH", l->cfg->redis_user, l->cfg->redis_password};
    if (l->cfg->redis_password[0] == '\0')
        return 0;
    if (l->cfg->redis_user[0] == '\0') {
        argv[1] = l->cfg->redis_password;
        return link_command_argv(l, &l->auth, 2, argv, NULL);
    }
    return link_command_argv(l, &l->auth, 3, argv, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees a context that never connected without calling
         * the disconnect callback: forget it here and retry. */
        log_warn("redis: cannot connect to %s: %s; retrying in %u ms", l->name, ac->errstr,
                 l->backoff_ms);
        l->ac = NULL;
        if (!l->closing)
            retry_later(l);
        l->on_event(l->owner, LINK_DOWN);
        return;
    }
    l->m->reconnects++;
    log_info("redis: connected to %s", l->name);
    LY_ASSERT(l->arena == NULL);
    l->arena = replyarena_attach(l->ac->c.reader); /* NULL: hiredis' own objects */
    if (send_auth(l) != 0) {
        link_drop(l, "cannot queue AUTH");
        return;
    }
    l->on_event(l->owner, LINK_UP);
}

static void connect_now(struct link *l)
{
    LY_ASSERT(l->ac == NULL);
    l->on_event(l->owner, LINK_CONNECTING);
    redisAsyncContext *ac = redisAsyncConnect(l->ep.host, l->ep.port);
    if (ac == NULL || ac->err) {
        log_warn("redis: cannot connect to %s: %s", l->name, ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        retry_later(l);
        l->on_event(l->owner, LINK_DOWN);
        return;
    }
    ac->data = l;
    l->ac = ac;
    redisLibeventAttach(ac, l->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct link *l = arg;
    if (!l->closing && l->ac == NULL)
        connect_now(l);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct link *l = arg;
    uint64_t now = monotime_us();
    if (l->ac == NULL || l->ac->replies.head == NULL) {
        l->last_reply_us = now; /* nothing awaited: nothing overdue */
        return;
    }
    uint64_t limit_us = ((uint64_t)l->cfg->block_ms + LINK_REPLY_TIMEOUT_MS) * 1000u;
    if (now - l->last_reply_us > limit_us) {
        char why[96];
        unsigned waited_ms = (unsigned)((now - l->last_reply_us) / 1000);
        snprintf(why, sizeof(why), "no reply for %u ms", waited_ms);
        l->m->redis_timeouts++;
        l->last_reply_us = now;
        link_drop(l, why);
    }
}

int link_init(struct link *l, struct event_base *base, const struct config *cfg,
              const struct config_endpoint *ep, struct metrics *m, link_event_fn *on_event,
              void *owner)
{
    *l = (struct link){.base = base, .cfg = cfg, .ep = *ep, .m = m,
                       .backoff_ms = LINK_BACKOFF_MIN_MS, .on_event = on_event, .owner = owner,
                       .auth = {on_auth, l, "AUTH", true, NULL}};
    snprintf(l->name, sizeof(l->name), "%s:%d", ep->host, ep->port);
    l->retry_timer = evtimer_new(base, on_retry, l);
    l->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, l);
    return l->retry_timer != NULL && l->watchdog != NULL ? 0 : -1;
}

void link_free(struct link *l)
{
    l->closing = true;
    link_hangup(l);
    if (l->retry_timer)
        event_free(l->retry_timer);
    if (l->watchdog)
        event_free(l->watchdog);
    l->retry_timer = l->watchdog = NULL;
}

void link_start(struct link *l)
{
    struct timeval wd = {0, LINK_WATCHDOG_MS * 1000};
    l->last_reply_us = monotime_us();
    event_add(l->watchdog, &wd);
    connect_now(l);
}

void link_close(struct link *l)
{
    l->closing = true;
    event_del(l->retry_timer);
}

void link_disarm(struct link *l)
{
    event_del(l->retry_timer);
    event_del(l->watchdog);
}

bool link_closing(const struct link *l) { return l->closing; }

bool link_connected(const struct link *l) { return l->ac != NULL; }

void link_reset_backoff(struct link *l) { l->backoff_ms = LINK_BACKOFF_MIN_MS; }

/* Counts a user's command once hiredis queued it. */
static int queued(const struct link_cmd *cmd, int rc)
{
    if (rc != REDIS_OK)
        return -1;
    if (cmd->user != NULL)
        cmd->user->outstanding++;
    return 0;
}

int link_vcommand(struct link *l, const struct link_cmd *cmd, const char *fmt, va_list ap)
{
    LY_ASSERT(l->ac != NULL);
    return queued(cmd, redisvAsyncCommand(l->ac, link_on_reply, (void *)cmd, fmt, ap));
}

int link_command(struct link *l, const struct link_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = link_vcommand(l, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int link_command_argv(struct link *l, const struct link_cmd *cmd, int argc, const char **argv,
                      const size_t *argvlen)
{
    LY_ASSERT(l->ac != NULL);
    return queued(cmd, redisAsyncCommandArgv(l->ac, link_on_reply, (void *)cmd, argc, argv,
                                             argvlen));
}

int link_formatted(struct link *l, const struct link_cmd *cmd, const char *buf, size_t len)
{
    LY_ASSERT(l->ac != NULL);
    return queued(cmd, redisAsyncFormattedCommand(l->ac, link_on_reply, (void *)cmd, buf, len));
}

const char *link_name(const struct link *l) { return l->name; }
