/* bench_history.c - the input archive and the replay of the history, in
 * process, without Redis.
 *
 * Writes an archive (engine/store/archive.h) in DIR/archive the way the
 * daemon does: M enrolments, a purchase history for each, then N entries
 * of the realistic mix (workload.h), committed every 100,000 entries (a
 * trim). Reports the disk cost of the mix per million entries (against
 * the msgpack bytes of the entries themselves), the append and the read
 * (decompress + checksum) rates. Then replays the whole archive from empty
 * state with loyalty-whatif's replay path (history.h + replay.h: read,
 * decode, rules_apply under the rulebook of -c) and reports entries per
 * second: the figure run_history.sh compares with bench_core's rules_apply
 * of the same mix in the same run. The archive is left in DIR for
 * loyalty-whatif --archive-only.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "archread.h"
#include "benchargs.h"
#include "benchclock.h"
#include "config.h"
#include "history.h"
#include "replay.h"
#include "rulecanon.h"
#include "workload.h"

#define HIST_ENTRIES_MAX 100000000u /* 100M: about 3 GB of archive */
#define HIST_COMMIT_EVERY 100000u    /* entries between commits, as trims come */

struct options {
    const char *conf, *dir;
    uint32_t members, entries;
};

static int usage(FILE *out, int rc)
{
    fprintf(out, "usage: bench_history -c CONF --dir DIR [--members M] [--entries N]\n"
                 "\n"
                 "Writes the input archive of M enrolled members with a history and N\n"
                 "entries of the realistic mix into DIR/archive (DIR must not hold one),\n"
                 "reports its disk cost per million entries and its append and read rates,\n"
                 "then replays it from empty state as loyalty-whatif does (entries/s).\n"
                 "Prints `result KEY VALUE` lines. M default 100000, N default 1000000.\n");
    return rc;
}

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"dir", required_argument, NULL, 'd'},
        {"members", required_argument, NULL, 'm'}, {"entries", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    *o = (struct options){NULL, NULL, 100000, 1000000};
    for (int c; (c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1;) {
        int rc = 0;
        switch (c) {
        case 'c': o->conf = optarg; break;
        case 'd': o->dir = optarg; break;
        case 'm':
            rc = bench_option_u32("bench_history", "--members", optarg, 1, WORKLOAD_MEMBERS_MAX,
                                  &o->members);
            break;
        case 'n':
            rc = bench_option_u32("bench_history", "--entries", optarg, 1, HIST_ENTRIES_MAX,
                                  &o->entries);
            break;
        case 'h': return usage(stdout, 0) + 1;
        default: return usage(stderr, 2);
        }
        if (rc != 0)
            return 2;
    }
    return o->conf && o->dir ? 0 : usage(stderr, 2);
}

/* Appends `e` under the next id; commits every HIST_COMMIT_EVERY. */
static int put(struct archive *a, msgpack_sbuffer *buf, struct proto_id *id,
               const struct proto_entry *e, uint64_t *raw)
{
    struct arch_error err;
    buf->size = 0;
    if (proto_encode_entry(buf, e) != 0)
        return -1;
    id->ms++;
    *raw += buf->size;
    if (archive_append(a, *id, buf->data, buf->size, true, &err) != 0 ||
        (id->ms % HIST_COMMIT_EVERY == 0 && archive_commit(a, &err) != 0)) {
        fprintf(stderr, "bench_history: %s\n", err.text);
        return -1;
    }
    return 0;
}

static int write_archive(const struct options *o, const struct config *cfg, const char *dir)
{
    static struct proto_entry e;
    struct workload w;
    struct arch_error err;
    struct archive_stats before, after;
    char hash[RULECANON_HASH_LEN + 1];
    char *text = rulecanon_text(&cfg->rules);
    if (text == NULL)
        return -1;
    rulecanon_hash_text(text, hash);
    struct archive *a = archive_open(dir, hash, text, NULL, NULL, &err);
    free(text);
    if (a == NULL)
        return fprintf(stderr, "bench_history: %s\n", err.text), -1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    struct proto_id id = {WORKLOAD_TS_START_MS - 10000000, 0};
    uint64_t raw = 0, setup_raw = 0;
    int rc = 0;
    workload_init(&w, o->members, 1, "a");
    for (uint32_t i = 0; rc == 0 && i < o->members; i++) {
        workload_enroll(&w, i, &e);
        rc = put(a, &buf, &id, &e, &setup_raw);
        workload_history(&w, i, &e);
        rc = rc != 0 ? rc : put(a, &buf, &id, &e, &setup_raw);
    }
    rc = rc != 0 ? rc : archive_commit(a, &err);
    archive_get_stats(a, &before);
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; rc == 0 && i < o->entries; i++) {
        workload_mixed(&w, &e);
        rc = put(a, &buf, &id, &e, &raw);
    }
    rc = rc != 0 ? rc : archive_commit(a, &err);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    archive_get_stats(a, &after);
    archive_close(a);
    msgpack_sbuffer_destroy(&buf);
    if (rc != 0)
        return -1;
    double bytes = (double)(after.bytes - before.bytes);
    printf("result archive.entries %u\n", o->entries);
    printf("result archive.raw_bytes_per_entry %.1f\n", (double)raw / o->entries);
    printf("result archive.bytes_per_entry %.1f\n", bytes / o->entries); /* = MB per million */
    printf("result archive.ratio %.2f\n", (double)raw / bytes);
    printf("result archive.append_per_s %.0f\n", o->entries / s);
    return 0;
}

static int count_record(void *arg, const struct archread_record *r)
{
    (void)r;
    ++*(uint64_t *)arg;
    return 0;
}

static int read_archive(const char *dir)
{
    struct arch_error err;
    struct archread_summary sum;
    uint64_t n = 0;
    struct archread *r = archread_new();
    uint64_t t0 = bench_now_ns();
    int rc = r ? archread_dir(r, dir, count_record, &n, NULL, &sum, &err) : -1;
    double s = (double)(bench_now_ns() - t0) / 1e9;
    archread_free(r);
    if (rc != 0)
        return fprintf(stderr, "bench_history: %s\n", r ? err.text : "out of memory"), -1;
    printf("result archive.read_per_s %.0f\n", (double)sum.entries / s);
    printf("result archive.read_mb_per_s %.1f\n", (double)sum.raw_bytes / s / 1e6);
    return 0;
}

static int replay_archive(const struct config *cfg, const char *dir)
{
    static struct rulestore rs;
    struct client_error err;
    struct history_info info;
    struct replay_one x = {.members_max = cfg->members_max};
    struct history_src src = {.archive_dir = dir, .prefix = cfg->prefix,
                              .config_rb = &cfg->rules};
    struct history_hooks h = {replay_one_begin, replay_one_entry, &x};
    rulestore_init(&rs);
    uint64_t t0 = bench_now_ns();
    int rc = history_replay(&src, &rs, &h, &info, &err);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc == 0) {
        printf("result replay.entries %" PRIu64 "\n", info.entries);
        printf("result replay.entries_per_s %.0f\n", (double)info.entries / s);
        printf("result replay.members %u\n", (unsigned)x.rp.st.members.count);
    } else {
        fprintf(stderr, "bench_history: %s\n", err.text);
    }
    replay_one_free(&x);
    rulestore_free(&rs);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    struct config_error cerr;
    char dir[ARCH_DIR_MAX + 1];
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    static struct config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, o.conf, &cerr) != 0) {
        fprintf(stderr, "bench_history: %s\n", cerr.text);
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/archive", o.dir);
    if (write_archive(&o, &cfg, dir) != 0 || read_archive(dir) != 0 ||
        replay_archive(&cfg, dir) != 0)
        return 1;
    return 0;
}
