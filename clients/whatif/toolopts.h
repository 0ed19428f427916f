/* toolopts.h - what loyalty-archive and loyalty-whatif share: the daemon's
 * configuration file and the options that override it, and the way to
 * the history (data directory and Redis).
 *
 * Both tools are read-only: they read the archive under the data
 * directory and <prefix>in with XRANGE, XINFO and GET, and never write to
 * Redis or the data directory.
 */
#ifndef LOYALTY_TOOLOPTS_H
#define LOYALTY_TOOLOPTS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "client_common.h"
#include "config.h"
#include "history.h"

#define TOOL_IO_MS 60000 /* one XRANGE of 10,000 entries on a loaded Redis */

struct tool_opts {
    const char *conf;     /* -c FILE: the daemon's configuration */
    const char *redis;    /* --redis HOST:PORT over the file's */
    const char *prefix;   /* --prefix P over the file's */
    const char *data;     /* --data DIR over the file's */
    bool no_stream;       /* --archive-only: leave Redis alone */
    struct proto_id until; /* --until ID */
};

/* Applies one of the shared options (getopt code `opt`, see TOOL_LONGOPTS);
 * returns 1 when it was one, 0 when not, -1 with err when its value is bad. */
int tool_option(struct tool_opts *o, int opt, const char *arg, struct client_error *err);

enum { TOOL_OPT_REDIS = 0x100, TOOL_OPT_PREFIX, TOOL_OPT_DATA, TOOL_OPT_ARCHIVE_ONLY,
       TOOL_OPT_UNTIL, TOOL_OPT_FIRST_FREE = 0x200 };

#define TOOL_LONGOPTS                                                         \
    {"config", required_argument, NULL, 'c'},                                \
        {"redis", required_argument, NULL, TOOL_OPT_REDIS},                  \
        {"prefix", required_argument, NULL, TOOL_OPT_PREFIX},                \
        {"data", required_argument, NULL, TOOL_OPT_DATA},                    \
        {"archive-only", no_argument, NULL, TOOL_OPT_ARCHIVE_ONLY},          \
        {"until", required_argument, NULL, TOOL_OPT_UNTIL},                  \
        {"help", no_argument, NULL, 'h'}

#define TOOL_USAGE                                                            \
    "  -c, --config FILE   the daemon's configuration (conf/loyaltyd.conf): its\n"   \
    "                      redis, prefix, data_dir, members_max and rulebook\n"      \
    "  --redis HOST:PORT   over the file's daemon.redis\n"                           \
    "  --prefix P          over the file's daemon.prefix\n"                          \
    "  --data DIR          over the file's daemon.data_dir (the archive is DIR/archive)\n" \
    "  --archive-only      read the archive alone, not <prefix>in\n"                 \
    "  --until ID          stop after entry ID (a stream id, ms-seq)\n"              \
    "  -h, --help          this text\n"

/* Loads o->conf with the overrides into *cfg. Returns 0, or -1 with err. */
int tool_config(const struct tool_opts *o, struct config *cfg, struct client_error *err);

/* Fills *src for cfg (archive_dir points into `dir`, ARCH_DIR_MAX + 1
 * bytes) and connects to Redis unless o->no_stream (src->rc, freed by the
 * caller with redisFree). Returns 0, or -1 with err. */
int tool_source(const struct tool_opts *o, const struct config *cfg, char *dir,
                struct history_src *src, struct client_error *err);

/* Adds the configured rulebook to `rs` under its hash. Returns 0 or -1. */
int tool_add_config_rules(struct rulestore *rs, const struct config *cfg);

#endif
