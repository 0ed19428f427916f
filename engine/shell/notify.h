/* notify.h - the daemon's side of systemd's service protocol (sd_notify).
 *
 * Under a Type=notify unit systemd passes NOTIFY_SOCKET (and, with
 * WatchdogSec, WATCHDOG_USEC); libsystemd's sd_notify() sends datagrams
 * there. This module is the one place that sends them, one function per
 * state:
 *   READY=1      once the consumer first reports "consuming" (recovery done)
 *   STATUS=...   each time the consumer's state word changes (consuming,
 *                connecting = Redis down, recovering, redis_behind, ...),
 *                found by looking at it every NOTIFY_POLL_MS
 *   WATCHDOG=1   from a timer on the event loop, at half of WATCHDOG_USEC:
 *                a loop that stops turning stops the pings
 *   RELOADING=1, then READY=1   around the reload SIGHUP asks for
 *   STOPPING=1   when a stop signal arrives
 * Without NOTIFY_SOCKET nothing is sent and no timer runs. SIGHUP is
 * handled either way, so that it never kills the daemon.
 */
#ifndef LOYALTY_NOTIFY_H
#define LOYALTY_NOTIFY_H

#include "fleet.h"

struct event_base;
struct notify;

/* The work a reload does (the rulebook); 0 when done, -1 when it failed
 * and the daemon carries on as before (the function logs why). */
typedef int notify_reload_fn(void *arg);

/* Starts watching the served partitions `f` (which must outlive the
 * notifier: fleet_status() is the state word) on `base`, the watchdog
 * timer when systemd asked for one, and the SIGHUP handler. Returns NULL
 * when out of memory or the signal cannot be caught. */
struct notify *notify_new(struct event_base *base, const struct fleet *f);

/* Sets the work SIGHUP runs between RELOADING=1 and READY=1. Without one,
 * SIGHUP logs that there is nothing to reload. */
void notify_set_reload(struct notify *n, notify_reload_fn *fn, void *arg);

/* Says STOPPING=1: the daemon is finishing its batch and will exit. Status
 * changes are no longer reported; the watchdog keeps running. */
void notify_stopping(struct notify *n);

/* Stops the timers and the SIGHUP handler and frees the notifier. */
void notify_free(struct notify *n);

#endif
