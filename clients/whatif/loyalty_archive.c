/* loyalty_archive.c - loyalty-archive: check the input archive, and
 * rebuild the state from empty out of the archive and the stream.
 *
 *   loyalty-archive verify  -c FILE [--data DIR]
 *   loyalty-archive rebuild -c FILE [--redis H:P] [--data DIR] --out SNAPSHOT [--until ID]
 *
 * verify reads every committed byte of DATA/archive (checksums, the chain
 * of segments, entry order) and prints one line per segment; a damaged or
 * missing segment is named, exit 1. rebuild replays the whole history
 * (archive, then <prefix>in) from empty state in process, as the daemon
 * applies it, and writes the snapshot of the result to SNAPSHOT: the same
 * bytes as the daemon's own snapshot at the same entry. Neither writes to
 * Redis or to the data directory.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archread.h"
#include "replay.h"
#include "rulecanon.h"
#include "snapshot.h"
#include "toolopts.h"

#define PROG "loyalty-archive"

static const char USAGE[] =
    "usage: " PROG " verify  -c FILE [--data DIR]\n"
    "       " PROG " rebuild -c FILE [--redis HOST:PORT] [--prefix P] [--data DIR]\n"
    "                        --out SNAPSHOT [--until ID] [--archive-only]\n"
    "\n"
    "verify: reads every committed byte of the input archive (DATA/archive):\n"
    "checksums, the chain of segments, entry order; one line per segment.\n"
    "Exit 1 naming the damaged or missing segment.\n"
    "rebuild: replays the whole history (the archive, then <prefix>in) from\n"
    "empty state, as the daemon applies it, and writes the snapshot of the\n"
    "result to SNAPSHOT (the daemon's snapshot format: byte-identical to its own\n"
    "at the same entry). Read-only: writes nothing to Redis or DATA.\n"
    "\n"
    "options:\n" TOOL_USAGE
    "  --out FILE          rebuild: where the snapshot goes\n";

enum { OPT_OUT = TOOL_OPT_FIRST_FREE };

static void print_segment(void *arg, const struct archread_seg_info *s)
{
    (void)arg;
    printf("ok %s entries=%" PRIu64 " first=%" PRIu64 "-%" PRIu64 " last=%" PRIu64 "-%" PRIu64
           " bytes=%" PRIu64 " raw=%" PRIu64 " texts=%" PRIu64 "\n", s->name, s->entries,
           s->first.ms, s->first.seq, s->last.ms, s->last.seq, s->bytes, s->raw_bytes,
           s->texts);
}

static int verify(const struct config *cfg)
{
    char dir[ARCH_DIR_MAX + 1];
    struct arch_error err;
    struct archread_summary sum;
    snprintf(dir, sizeof(dir), "%s/archive", cfg->data_dir);
    struct archread *r = archread_new();
    if (r == NULL)
        return fprintf(stderr, PROG ": out of memory\n"), CLIENT_EXIT_FAIL;
    int rc = archread_dir(r, dir, NULL, NULL, print_segment, &sum, &err);
    archread_free(r);
    if (rc != 0) {
        printf("damaged: %s\n", err.text);
        return CLIENT_EXIT_FAIL;
    }
    printf("archive %s: %u segment(s), %" PRIu64 " entries, %" PRIu64 " bytes (%" PRIu64
           " uncompressed), %s\n", dir, sum.segments, sum.entries, sum.bytes, sum.raw_bytes,
           sum.prev.ms == 0 && sum.prev.seq == 0 ? "from the start of the stream"
                                                 : "older segments deleted by retention");
    return CLIENT_EXIT_OK;
}

static int rebuild(const struct tool_opts *o, const struct config *cfg, const char *out)
{
    char dir[ARCH_DIR_MAX + 1];
    struct client_error err;
    struct history_src src;
    struct history_info info;
    struct snapshot_error serr;
    static struct rulestore rs;
    struct replay_one b = {.members_max = cfg->members_max};
    struct history_hooks h = {replay_one_begin, replay_one_entry, &b};
    rulestore_init(&rs);
    int rc = tool_source(o, cfg, dir, &src, &err) == 0 && tool_add_config_rules(&rs, cfg) == 0
                 ? history_replay(&src, &rs, &h, &info, &err) : -1;
    if (rc == 0 && snapshot_write(&b.rp.st, rulecanon_codec(), out, &serr) != 0) {
        snprintf(err.text, sizeof(err.text), "%s", serr.text);
        rc = -1;
    }
    if (rc == 0) {
        if (info.warning[0])
            fprintf(stderr, PROG ": warning: %s\n", info.warning);
        printf("rebuilt %" PRIu64 " entries (%" PRIu64 " archived, %" PRIu64 " from the stream)"
               " up to %" PRIu64 "-%" PRIu64 ": %u members -> %s\n", info.entries,
               info.archive_entries, info.stream_entries, info.last.ms, info.last.seq,
               (unsigned)b.rp.st.members.count, out);
    } else {
        fprintf(stderr, PROG ": %s\n", err.text[0] ? err.text : "out of memory");
    }
    replay_one_free(&b);
    if (src.rc)
        redisFree(src.rc);
    rulestore_free(&rs);
    return rc == 0 ? CLIENT_EXIT_OK : CLIENT_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {TOOL_LONGOPTS,
                                             {"out", required_argument, NULL, OPT_OUT},
                                             {NULL, 0, NULL, 0}};
    struct tool_opts o = {0};
    struct client_error err;
    const char *out = NULL;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLIENT_EXIT_USAGE : CLIENT_EXIT_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "verify") != 0 && strcmp(cmd, "rebuild") != 0)
        return client_usage_error(PROG, "the command is verify or rebuild");
    for (int c; (c = getopt_long(argc - 1, argv + 1, "c:h", longopts, NULL)) != -1;) {
        int known = tool_option(&o, c, optarg, &err);
        if (c == 'h')
            return fputs(USAGE, stdout), CLIENT_EXIT_OK;
        if (c == OPT_OUT)
            out = optarg;
        else if (known <= 0)
            return client_usage_error(PROG, known < 0 ? err.text : "unknown option");
    }
    if (optind != argc - 1)
        return client_usage_error(PROG, "unexpected argument");
    struct config *cfg = malloc(sizeof(*cfg));
    if (cfg == NULL || tool_config(&o, cfg, &err) != 0) {
        int rc = client_usage_error(PROG, cfg ? err.text : "out of memory");
        free(cfg);
        return rc;
    }
    int rc;
    if (strcmp(cmd, "verify") == 0)
        rc = verify(cfg);
    else
        rc = out ? rebuild(&o, cfg, out) : client_usage_error(PROG, "rebuild needs --out FILE");
    free(cfg);
    return rc;
}
