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

/* Settings given on the command line, over the file's (NULL: not given). */
struct daemon_overrides {
    const char *redis, *http, *data; /* HOST:PORT, HOST:PORT, a directory */
    const char *serve;               /* partitions, as daemon.serve */
    const char *take;                /* partitions to take (--take-partitions) */
};

/* Fills `*cfg`: the built-in defaults, then the file `path` (NULL: none),
 * then the overrides `o` (fields may be NULL; `o` too), then the final
 * checks (config_finish). Returns 0, or -1 after saying on stderr, as
 * program `prog`, what is wrong (file and line for the file's errors). */
int daemon_configure(struct config *cfg, const char *path, const struct daemon_overrides *o,
                     const char *prog);

/* Runs the daemon with `cfg` until a stop signal; the partitions listed in
 * `take` (as daemon.serve; NULL: none; checked by daemon_configure) are
 * taken from their former owner (the hand-over, README "Scaling out").
 * `config_path` (NULL: none) is the file `cfg` came from: its rule
 * sections are read again on SIGHUP. The file's rulebook becomes the
 * version in force through the log of each served partition once its
 * consumer has caught up with the partition's input (rulesync.h).
 * Returns 0 after a clean stop, or -1 (after logging why) when it could
 * not start. */
int daemon_run(const struct config *cfg, const char *take, const char *config_path);

#endif
