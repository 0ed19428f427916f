/* notify.c - see notify.h. libsystemd (Debian's libsystemd-dev) speaks the
 * protocol: sd_notify() finds NOTIFY_SOCKET, abstract or path, and sends
 * one datagram; sd_watchdog_enabled() reads WATCHDOG_USEC/WATCHDOG_PID. */
#include "notify.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"

/* How often the consumer's state word is looked at: a STATUS line or
 * READY=1 follows a change by at most this much. Cheap (a pointer and a
 * string compare), and only when systemd listens. */
#define NOTIFY_POLL_MS 100

struct notify {
    const struct fleet *f;
    bool enabled;           /* NOTIFY_SOCKET is set */
    bool ready;             /* READY=1 sent (start-up finished) */
    bool stopping;          /* STOPPING=1 sent */
    bool send_failed;       /* a failure was logged already */
    const char *word;       /* the consumer state last reported */
    struct event *poll;     /* NULL when not enabled */
    struct event *watchdog; /* NULL unless WATCHDOG_USEC asks for pings */
    struct event *sighup;
    notify_reload_fn *reload;
    void *reload_arg;
};

/* Sends one datagram of newline-separated assignments. A failure (the
 * socket went away) is logged once; the daemon carries on. */
static void say(struct notify *n, const char *text)
{
    if (!n->enabled)
        return;
    int rc = sd_notify(0, text);
    if (rc < 0 && !n->send_failed) {
        n->send_failed = true;
        log_warn("sd_notify failed (%s): systemd will not see the daemon's state",
                 strerror(-rc));
    }
}

/* The STATUS= sentence for a consumer state word (consumer_status()). The
 * word comes first, so a reader can match on it. */
static const char *status_text(const char *word)
{
    static const struct {
        const char *word, *text;
    } texts[] = {
        {"consuming", "STATUS=consuming: applying the input stream"},
        {"connecting", "STATUS=connecting: Redis down or not reached yet; retrying with backoff"},
        {"recovering", "STATUS=recovering: replaying the input stream to the progress marker"},
        {"redis_behind", "STATUS=redis_behind: Redis lost writes; consuming stopped (see log)"},
        {"fenced", "STATUS=fenced: another instance owns a partition this one serves (see log)"},
        {"stopping", "STATUS=stopping: finishing the batch in hand"},
        {"stopped", "STATUS=stopped"},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (strcmp(texts[i].word, word) == 0)
            return texts[i].text;
    return "STATUS=starting";
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct notify *n = arg;
    (void)fd;
    (void)what;
    const char *word = fleet_status(n->f);
    if (n->stopping || (n->word != NULL && strcmp(word, n->word) == 0))
        return;
    n->word = word;
    say(n, status_text(word));
    if (!n->ready && strcmp(word, "consuming") == 0) {
        n->ready = true;
        say(n, "READY=1");
    }
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    say(arg, "WATCHDOG=1");
}

/* RELOADING=1 carries the monotonic time it was sent at, which newer
 * systemd (Type=notify-reload) requires and older versions ignore. */
static void on_sighup(evutil_socket_t fd, short what, void *arg)
{
    struct notify *n = arg;
    (void)fd;
    (void)what;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char msg[96];
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
             (unsigned long long)now.tv_sec * 1000000ull + (unsigned long long)now.tv_nsec / 1000);
    say(n, msg);
    if (n->reload == NULL)
        log_info("SIGHUP: nothing to reload; the rulebook is read at start-up (restart to "
                 "change it)");
    else if (n->reload(n->reload_arg) == 0)
        log_info("SIGHUP: reloaded");
    else
        log_warn("SIGHUP: reload failed; carrying on as before");
    /* Back to what the daemon was doing; READY=1 only once start-up is over. */
    say(n, status_text(fleet_status(n->f)));
    if (n->ready)
        say(n, "READY=1");
}

/* Adds a persistent timer firing every `us` microseconds. */
static struct event *every(struct event_base *base, uint64_t us, event_callback_fn fn, void *arg)
{
    struct event *ev = event_new(base, -1, EV_PERSIST, fn, arg);
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    if (ev != NULL && event_add(ev, &tv) != 0) {
        event_free(ev);
        return NULL;
    }
    return ev;
}

struct notify *notify_new(struct event_base *base, const struct fleet *f)
{
    struct notify *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->f = f;
    n->sighup = evsignal_new(base, SIGHUP, on_sighup, n);
    if (n->sighup == NULL || evsignal_add(n->sighup, NULL) != 0)
        goto fail;
    const char *socket = getenv("NOTIFY_SOCKET");
    n->enabled = socket != NULL && socket[0] != '\0';
    if (!n->enabled)
        return n;
    n->poll = every(base, NOTIFY_POLL_MS * 1000u, on_poll, n);
    if (n->poll == NULL)
        goto fail;
    on_poll(-1, 0, n); /* the first STATUS line now, not a poll later */
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        n->watchdog = every(base, usec / 2, on_watchdog, n);
        if (n->watchdog == NULL)
            goto fail;
        log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)usec / 2000);
    }
    return n;
fail:
    notify_free(n);
    return NULL;
}

void notify_set_reload(struct notify *n, notify_reload_fn *fn, void *arg)
{
    n->reload = fn;
    n->reload_arg = arg;
}

void notify_stopping(struct notify *n)
{
    n->stopping = true;
    say(n, "STOPPING=1\nSTATUS=stopping: finishing the batch in hand");
}

void notify_free(struct notify *n)
{
    if (n == NULL)
        return;
    if (n->poll)
        event_free(n->poll);
    if (n->watchdog)
        event_free(n->watchdog);
    if (n->sighup)
        event_free(n->sighup);
    free(n);
}
