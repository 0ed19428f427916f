/* test_history_trim.c - the history (clients/whatif/history.h) read while
 * the daemon archives and trims <prefix>in: each interleaving that a
 * what-if or rebuild running next to a live daemon can meet, made
 * deterministic by doing the daemon's part (archive, commit, XTRIM) from
 * the replay's own hook at a chosen entry. A real redis-server on a free
 * loopback port (started and stopped here, by pid) and a real archive.
 *
 * Every interleaving in which the daemon archived before it trimmed gives
 * the whole history, each entry once and in order; a trim without the
 * archive, or an XDEL, is still a gap and fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "archive.h"
#include "history.h"
#include "rulecanon.h"
#include "rulestore.h"

#define ENTRIES 20              /* entries 1..20 in the stream, ids (1000 + k)-0 */
#define ARCHIVED_AT_START 5     /* entries 1..5 archived and trimmed before the run */
#define START_TIMEOUT_MS 10000  /* redis-server answering PING, on a loaded machine */
#define RULES_TEXT "earning = { points_per_unit = 1; minor_per_unit = 100; };\n"
#define KEY "t:in"

/* What the daemon does at one entry of the replay. */
enum action { NONE, ARCHIVE_AND_TRIM, TRIM_ONLY, XDEL_ONE };

struct fixture {
    char dir[64], archive_dir[96];
    pid_t redis_pid;
    int port;
    redisContext *rc;
    struct archive *arch;
    struct rulebook rb;
    char hash[RULECANON_HASH_LEN + 1];
    /* the daemon's move, made when the replay reaches entry `at` */
    enum action action;
    uint64_t at, upto; /* ARCHIVE_AND_TRIM / TRIM_ONLY: entries up to `upto`; XDEL: `upto` */
    uint64_t seen[ENTRIES + 1];
    size_t seen_count;
};

static struct proto_id id_of(uint64_t k)
{
    return (struct proto_id){1000 + k, 0};
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* redis-server in f->dir, no persistence; connected when it answers PING. */
static void start_redis(struct fixture *f)
{
    char port[16];
    f->port = free_port();
    snprintf(port, sizeof(port), "%d", f->port);
    f->redis_pid = fork();
    assert_true(f->redis_pid >= 0);
    if (f->redis_pid == 0) {
        const char *bin = getenv("REDIS_SERVER_BIN") ? getenv("REDIS_SERVER_BIN") : "redis-server";
        execlp(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--dir", f->dir, "--logfile", "redis.log", (char *)NULL);
        _exit(127);
    }
    long long deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        assert_int_equal(waitpid(f->redis_pid, NULL, WNOHANG), 0); /* still running */
        redisContext *rc = redisConnect("127.0.0.1", f->port);
        redisReply *r = rc && !rc->err ? redisCommand(rc, "PING") : NULL;
        if (r != NULL && r->type == REDIS_REPLY_STATUS) {
            freeReplyObject(r);
            f->rc = rc;
            return;
        }
        freeReplyObject(r);
        redisFree(rc);
        usleep(10 * 1000); /* nothing to wait on before it listens */
    }
    fail_msg("redis-server did not answer PING within %d ms", START_TIMEOUT_MS);
}

static void command_ok(struct fixture *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->rc, fmt, ap);
    va_end(ap);
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", r ? r->str : f->rc->errstr);
    freeReplyObject(r);
}

/* The daemon's archiver: entries after the archive's last up to `upto`,
 * read back from the stream, appended and committed. */
static void archive_upto(struct fixture *f, uint64_t upto)
{
    struct arch_error err;
    struct proto_id last = archive_last(f->arch);
    for (uint64_t k = last.ms == 0 ? 1 : last.ms - 1000 + 1; k <= upto; k++) {
        redisReply *r = redisCommand(f->rc, "XRANGE " KEY " %llu-0 %llu-0",
                                     (unsigned long long)(1000 + k), (unsigned long long)(1000 + k));
        assert_true(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
        const redisReply *fields = r->element[0]->element[1];
        assert_int_equal(archive_append(f->arch, id_of(k), fields->element[1]->str,
                                        fields->element[1]->len, true, &err), 0);
        freeReplyObject(r);
    }
    assert_int_equal(archive_commit(f->arch, &err), 0);
}

static void trim_upto(struct fixture *f, uint64_t upto)
{
    command_ok(f, "XTRIM " KEY " MINID %llu-0", (unsigned long long)(1000 + upto + 1));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct config_error cerr;
    struct arch_error aerr;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_history_trim.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->archive_dir, sizeof(f->archive_dir), "%s/archive", f->dir);
    start_redis(f);
    assert_int_equal(rulecanon_parse(RULES_TEXT, "test", &f->rb, &cerr), 0);
    char *text = rulecanon_text(&f->rb);
    assert_non_null(text);
    rulecanon_hash_text(text, f->hash);
    f->arch = archive_open(f->archive_dir, f->hash, text, NULL, NULL, &aerr);
    free(text);
    assert_non_null(f->arch);
    for (uint64_t k = 1; k <= ENTRIES; k++)
        command_ok(f, "XADD " KEY " %llu-0 m entry-%llu", (unsigned long long)(1000 + k),
                   (unsigned long long)k);
    archive_upto(f, ARCHIVED_AT_START);
    trim_upto(f, ARCHIVED_AT_START);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    archive_close(f->arch);
    redisFree(f->rc);
    kill(f->redis_pid, SIGTERM);
    assert_int_equal(waitpid(f->redis_pid, NULL, 0), f->redis_pid);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int on_begin(void *arg, const struct rulebook *startup)
{
    (void)arg;
    assert_non_null(startup);
    return 0;
}

/* Records the entry, then makes the daemon's move when it is the one. */
static int on_entry(void *arg, struct proto_id id, const struct proto_entry *e,
                    const struct rules_text *rt)
{
    struct fixture *f = arg;
    (void)e;
    assert_null(rt);
    assert_true(f->seen_count < ENTRIES);
    uint64_t k = id.ms - 1000;
    f->seen[f->seen_count++] = k;
    if (k != f->at)
        return 0;
    if (f->action == ARCHIVE_AND_TRIM)
        archive_upto(f, f->upto);
    if (f->action == ARCHIVE_AND_TRIM || f->action == TRIM_ONLY)
        trim_upto(f, f->upto);
    if (f->action == XDEL_ONE)
        command_ok(f, "XDEL " KEY " %llu-0", (unsigned long long)(1000 + f->upto));
    return 0;
}

static int replay(struct fixture *f, uint32_t chunk, struct history_info *info,
                  struct client_error *err)
{
    struct history_src src = {.archive_dir = f->archive_dir, .rc = f->rc, .prefix = "t:",
                              .config_rb = &f->rb, .chunk_entries = chunk};
    struct history_hooks h = {on_begin, on_entry, f};
    struct rulestore *rs = calloc(1, sizeof(*rs)); /* ~70 KiB: not on the stack */
    assert_non_null(rs);
    rulestore_init(rs);
    int rc = history_replay(&src, rs, &h, info, err);
    rulestore_free(rs);
    free(rs);
    return rc;
}

/* The run gave entries 1..ENTRIES, each once, in order. */
static void assert_whole(struct fixture *f, int rc, const struct history_info *info,
                         const struct client_error *err)
{
    if (rc != 0)
        fail_msg("history_replay: %s", err->text);
    assert_int_equal(f->seen_count, ENTRIES);
    for (size_t i = 0; i < ENTRIES; i++)
        assert_int_equal(f->seen[i], i + 1);
    assert_int_equal(info->entries, ENTRIES);
    assert_int_equal(info->archive_entries + info->stream_entries, ENTRIES);
}

static void set_move(struct fixture *f, enum action action, uint64_t at, uint64_t upto)
{
    f->action = action;
    f->at = at;
    f->upto = upto;
}

/* The daemon archives and trims entries up to `upto` when the replay
 * reaches entry `at` (XRANGE chunks of `chunk`): the run still gives the
 * whole history. */
static struct history_info whole_despite_trim(struct fixture *f, uint64_t at, uint64_t upto,
                                              uint32_t chunk)
{
    struct history_info info;
    struct client_error err;
    set_move(f, ARCHIVE_AND_TRIM, at, upto);
    assert_whole(f, replay(f, chunk, &info, &err), &info, &err);
    return info;
}

/* The flake of test_whatif: the tool read the stream to its end, then the
 * daemon archived and trimmed part of what it had read. */
static void a_trim_after_the_stream_was_read_loses_nothing(void **state)
{
    struct history_info info = whole_despite_trim(*state, ENTRIES, 15, 0);
    assert_int_equal(info.stream_entries, ENTRIES - ARCHIVED_AT_START);
}

/* The tool read the archive; the daemon then archived and trimmed entries
 * before the tool's first XRANGE: the archive is read again. */
static void a_trim_between_the_archive_and_the_stream_reads_the_archive_again(void **state)
{
    struct history_info info = whole_despite_trim(*state, ARCHIVED_AT_START, 15, 0);
    assert_int_equal(info.archive_entries, 15);
}

/* A trim past the reader's position between two chunks of the stream
 * (chunks of 4: 6..9 read, then the trim up to 17). */
static void a_trim_past_the_cursor_between_chunks_reads_the_archive_again(void **state)
{
    struct history_info info = whole_despite_trim(*state, 8, 17, 4);
    assert_int_equal(info.archive_entries, ARCHIVED_AT_START + 8); /* 1..5, then 10..17 */
}

/* The daemon's move at entry 8, read in chunks of 4, is a gap: the run
 * fails, and nothing after the chunk before it (1..9) was replayed. */
static void assert_gap_at_8(struct fixture *f, enum action action, uint64_t upto)
{
    struct history_info info;
    struct client_error err;
    set_move(f, action, 8, upto);
    assert_int_equal(replay(f, 4, &info, &err), -1);
    assert_non_null(strstr(err.text, "the history is not whole"));
    assert_int_equal(f->seen_count, 9);
}

/* A trim the archive did not see first is a gap, wherever it falls. */
static void a_trim_without_the_archive_is_a_gap(void **state)
{
    assert_gap_at_8(*state, TRIM_ONLY, 17);
}

static void an_entry_deleted_before_it_was_read_is_a_gap(void **state)
{
    assert_gap_at_8(*state, XDEL_ONE, 12);
}

/* A trim before the run that the archive did not see first. */
static void a_stream_trimmed_without_the_archive_fails_at_once(void **state)
{
    struct fixture *f = *state;
    struct history_info info;
    struct client_error err;
    trim_upto(f, 9);
    assert_int_equal(replay(f, 0, &info, &err), -1);
    assert_non_null(strstr(err.text, "the history is not whole"));
    assert_int_equal(f->seen_count, ARCHIVED_AT_START);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_trim_after_the_stream_was_read_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_trim_between_the_archive_and_the_stream_reads_the_archive_again, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_trim_past_the_cursor_between_chunks_reads_the_archive_again, setup, teardown),
        cmocka_unit_test_setup_teardown(a_trim_without_the_archive_is_a_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(an_entry_deleted_before_it_was_read_is_a_gap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_stream_trimmed_without_the_archive_fails_at_once,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
