/* ledger_main.c - loyalty-ledger: every output event of loyaltyd in a SQL
 * database (SQLite or PostgreSQL), member history over HTTP, and liability
 * by earning month. Options, start-up, the report mode, signals, shutdown.
 * The writer thread (writer.h) does the work; this thread serves HTTP.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "db.h"
#include "lyassert.h"
#include "lconf.h"
#include "lhttp.h"
#include "llog.h"
#include "lstatus.h"
#include "report.h"
#include "writer.h"

#define PROG "loyalty-ledger"
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char USAGE[] =
    "Usage: " PROG " [-c FILE] [OPTIONS]\n"
    "Consumes loyaltyd's output streams (<prefix>out) with a consumer group and\n"
    "writes every event into a SQL database, exactly once; serves member history\n"
    "and the liability report by earning month over HTTP.\n\n"
    "  -c, --config FILE     the configuration (conf/ledger.conf documents it)\n"
    "  --redis HOST:PORT     overrides ledger.redis\n"
    "  --http HOST:PORT      overrides ledger.http\n"
    "  --database URL        overrides ledger.database: sqlite:///path/ledger.db\n"
    "                        or postgresql://user@host:port/dbname\n"
    "  --check-config        validate the configuration and exit (0 when valid)\n"
    "  --report              print the liability report and exit\n"
    "  --format json|csv     the report's format (json)\n"
    "  --table cohorts|curves  with csv: which table (cohorts)\n"
    "  -h, --help            this text\n\n"
    "HTTP: GET /v1/members/ID/history?limit=N&before=ENTRY, /v1/members/ID/lots,\n"
    "/v1/ledger/report?format=json|csv&table=cohorts|curves, /healthz, /metrics.\n"
    "SIGTERM or SIGINT: finish the batch in hand, acknowledge it, exit 0.\n";

enum { OPT_REDIS = 0x100, OPT_HTTP, OPT_DATABASE, OPT_CHECK, OPT_REPORT, OPT_FORMAT, OPT_TABLE };

struct opts {
    const char *config;
    const char *redis, *http, *database;
    bool check, report, csv, curves;
};

static int usage_error(const char *text)
{
    fprintf(stderr, "%s: %s (see --help)\n", PROG, text);
    return EXIT_USAGE;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option LONGOPTS[] = {
        {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, OPT_REDIS},
        {"http", required_argument, NULL, OPT_HTTP},
        {"database", required_argument, NULL, OPT_DATABASE},
        {"check-config", no_argument, NULL, OPT_CHECK}, {"report", no_argument, NULL, OPT_REPORT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"table", required_argument, NULL, OPT_TABLE}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:h", LONGOPTS, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case OPT_REDIS: o->redis = optarg; break;
        case OPT_HTTP: o->http = optarg; break;
        case OPT_DATABASE: o->database = optarg; break;
        case OPT_CHECK: o->check = true; break;
        case OPT_REPORT: o->report = true; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "json") != 0)
                return usage_error("--format is json or csv");
            o->csv = strcmp(optarg, "csv") == 0;
            break;
        case OPT_TABLE:
            if (strcmp(optarg, "curves") != 0 && strcmp(optarg, "cohorts") != 0)
                return usage_error("--table is cohorts or curves");
            o->curves = strcmp(optarg, "curves") == 0;
            break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: return usage_error("unknown option");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument");
    return -1;
}

/* Defaults, the file, the overrides, the environment. */
static int configure(const struct opts *o, struct lconf *cfg)
{
    struct lconf_error err = {{0}};
    lconf_defaults(cfg);
    int rc = o->config ? lconf_load(cfg, o->config, &err) : 0;
    if (rc == 0 && o->redis && lconf_parse_endpoint(o->redis, &cfg->redis, &err) != 0)
        rc = -1;
    if (rc == 0 && o->http && lconf_parse_endpoint(o->http, &cfg->http, &err) != 0)
        rc = -1;
    if (rc == 0 && o->database) {
        if (strlen(o->database) >= sizeof cfg->database) {
            snprintf(err.text, sizeof err.text, "--database: longer than %d bytes",
                     LCONF_URL_MAX);
            rc = -1;
        } else {
            snprintf(cfg->database, sizeof cfg->database, "%s", o->database);
            cfg->database_env[0] = '\0'; /* the flag wins over the environment */
        }
    }
    if (rc == 0)
        rc = lconf_finish(cfg, &err);
    if (rc != 0)
        fprintf(stderr, "%s: bad configuration: %s\n", PROG, err.text);
    return rc;
}

static int print_report(const struct lconf *cfg, const struct opts *o)
{
    struct db_error err = {0};
    struct db *db = db_open(cfg->database, DB_READER, cfg->db_timeout_ms, &err);
    struct report *r = NULL;
    if (db != NULL && db_prepare_schema(db, DB_READER, &err) == 0)
        r = report_load(db, &err);
    if (r == NULL) {
        fprintf(stderr, "%s: report: %s\n", PROG, err.text);
        db_close(db);
        return EXIT_FAIL;
    }
    char *text = o->csv ? report_csv(r, o->curves ? REPORT_CURVES : REPORT_COHORTS) : NULL;
    if (text == NULL) {
        json_t *j = report_json(r);
        text = json_dumps(j, JSON_INDENT(2));
        json_decref(j);
        LY_ALLOC_CHECK(text != NULL);
    }
    fputs(text, stdout);
    if (!o->csv)
        fputc('\n', stdout);
    free(text);
    report_free(r);
    db_close(db);
    return 0;
}

/* Migrates the schema before anything starts, so that a database this
 * binary cannot use stops it at once with a clear error; a database that
 * is only unreachable is left to the writer, which retries. */
static int check_database(const struct lconf *cfg)
{
    struct db_error err = {0};
    struct db *db = db_open(cfg->database, DB_WRITER, cfg->db_timeout_ms, &err);
    if (db != NULL && db_prepare_schema(db, DB_WRITER, &err) == 0) {
        db_close(db);
        return 0;
    }
    db_close(db);
    if (err.fatal) {
        fprintf(stderr, "%s: database: %s\n", PROG, err.text);
        return -1;
    }
    llog_warn("database: %s (the writer keeps retrying)", err.text);
    return 0;
}

struct run {
    struct event_base *base;
    struct event *done;
    struct writer *writer;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct run *r = arg;
    (void)what;
    llog_info("signal %d: finishing the batch in hand", (int)sig);
    writer_stop(r->writer);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* From the writer thread: wakes the main loop (libevent is thread-aware). */
static void writer_done(void *arg)
{
    event_active(((struct run *)arg)->done, EV_READ, 0);
}

/* Starts the writer with the stop signals blocked, so that they reach this
 * thread's event loop and never interrupt the writer's calls. */
static int start_writer(struct writer *w)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = writer_start(w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int serve(const struct lconf *cfg)
{
    struct lstatus status;
    struct run r = {0};
    char err[LHTTP_ERROR_MAX] = "";
    if (check_database(cfg) != 0 || lstatus_init(&status) != 0)
        return EXIT_FAIL;
    int threads = evthread_use_pthreads();
    r.base = event_base_new();
    LY_ALLOC_CHECK(threads == 0 && r.base != NULL);
    struct lhttp *http = lhttp_new(r.base, cfg, &status, err);
    struct event *sigterm = evsignal_new(r.base, SIGTERM, on_signal, &r);
    struct event *sigint = evsignal_new(r.base, SIGINT, on_signal, &r);
    r.done = event_new(r.base, -1, 0, on_done, r.base);
    r.writer = writer_new(cfg, &status, writer_done, &r);
    LY_ALLOC_CHECK(sigterm && sigint && r.done);
    int rc = EXIT_FAIL;
    if (http == NULL) {
        fprintf(stderr, "%s: %s\n", PROG, err);
    } else if (event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0 ||
               start_writer(r.writer) != 0) {
        fprintf(stderr, "%s: cannot start\n", PROG);
    } else {
        llog_info("listening on %s:%d; database %s; %u stream(s) from %s:%d", cfg->http.host,
                  cfg->http.port, strncmp(cfg->database, "sqlite:", 7) == 0 ? "sqlite"
                                                                            : "postgresql",
                  cfg->prefix_count, cfg->redis.host, cfg->redis.port);
        event_base_dispatch(r.base);
        rc = writer_join(r.writer) == 0 ? 0 : EXIT_FAIL;
        llog_info("stopped (%s)", rc == 0 ? "clean" : "after an error");
    }
    writer_free(r.writer);
    lhttp_free(http);
    event_free(sigterm);
    event_free(sigint);
    event_free(r.done);
    event_base_free(r.base);
    lstatus_destroy(&status);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    static struct lconf cfg; /* ~30 KiB: not on the stack */
    if (configure(&o, &cfg) != 0)
        return EXIT_USAGE;
    if (o.check) {
        printf("%s: configuration ok\n", PROG);
        return 0;
    }
    if (o.report)
        return print_report(&cfg, &o);
    signal(SIGPIPE, SIG_IGN); /* a closed socket is an error return, not a death */
    return serve(&cfg);
}
