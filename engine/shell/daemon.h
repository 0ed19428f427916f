/* daemon.h - the imperative shell: one libevent loop around the core.
 *
 * daemon_run wires the consumer (Redis), the HTTP server, the tick timer
 * and the signal handlers onto one event loop, runs it until SIGTERM or
 * SIGINT, then stops cleanly: the batch in hand is committed, the
 * connection closed, and it returns.
 */
#ifndef LOYALTY_DAEMON_H
#define LOYALTY_DAEMON_H

#include "config.h"

/* Runs the daemon with `cfg` until a stop signal. Returns 0 after a clean
 * stop, or -1 (after logging why) when it could not start. */
int daemon_run(const struct config *cfg);

#endif
