/* loyalty_whatif.c - loyalty-whatif: what a candidate rulebook would have
 * done to the whole history.
 *
 *   loyalty-whatif -c FILE --candidate RULES --from DATE [--out DIR] [--top N]
 *
 * Replays the history (the input archive, then <prefix>in: history.h) in
 * process twice at once, each entry decoded once: (a) as logged, under
 * the versions the log names; (b) the same, but from the first entry whose
 * event time reaches DATE on (rules entries aside: their ts is when they
 * were appended), the candidate is in force (a version switch
 * injected there, with the same migration a rules entry gets; rules
 * entries after it name the candidate in b, so they change nothing). Then compares them (wicompare.h)
 * and writes report.json, report.md and PNG plots into DIR. Read-only: it
 * writes nothing to Redis or to the daemon's data directory.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "caltime.h"
#include "replay.h"
#include "rulecanon.h"
#include "switchover.h"
#include "toolopts.h"
#include "wicompare.h"
#include "wiplot.h"
#include "wireport.h"
#include "wistats.h"

#define PROG "loyalty-whatif"
#define WHATIF_TOP_DEFAULT 20

static const char USAGE[] =
    "usage: " PROG " -c FILE --candidate RULES --from DATE [--out DIR] [--top N]\n"
    "                      [--label TEXT] [--redis HOST:PORT] [--data DIR] [--until ID]\n"
    "\n"
    "Replays the whole input history (the archive in DATA/archive, then <prefix>in)\n"
    "twice in process: as logged, and with the candidate rulebook in force from the\n"
    "first entry whose event time reaches DATE. Writes DIR/report.md, report.json and\n"
    "PNG plots (gnuplot): points issued, redeemed and expired per month, outstanding\n"
    "liability, the tier migration matrix, segment sizes, rewards, campaign costs and\n"
    "the members most affected. Read-only: writes nothing to Redis or DATA.\n"
    "Exit 0 with the report written, 1 when it could not be, 2 bad usage.\n"
    "\n"
    "options:\n" TOOL_USAGE
    "  --candidate FILE    the candidate rulebook: a file of rule sections (or a whole\n"
    "                      loyaltyd.conf, whose daemon section is ignored)\n"
    "  --from DATE         YYYY-MM-DD (00:00 UTC), YYYY-MM-DDTHH:MM:SSZ or ms since epoch\n"
    "  --out DIR           where the report goes (created; default ./whatif-report)\n"
    "  --top N             members listed by points difference (20, at most 1000)\n"
    "  --label TEXT        a name for the candidate in the report\n";

enum { OPT_CANDIDATE = TOOL_OPT_FIRST_FREE, OPT_FROM, OPT_OUT, OPT_TOP, OPT_LABEL };

struct whatif {
    const struct config *cfg;
    struct rulebook *cand;
    char cand_hash[RULECANON_HASH_LEN + 1];
    int64_t from_ts;
    struct replay a, b;
    struct wistats sa, sb;
    bool ready, injected, switched;
    int64_t switch_ts;
    struct proto_id switch_after;
    struct proto_entry rules_entry; /* a logged rules entry, rewritten for run b */
    char problem[CLIENT_ERROR_MAX];
};

static int wi_begin(void *arg, const struct rulebook *startup)
{
    struct whatif *w = arg;
    if (replay_init(&w->a, startup, w->cfg->members_max) != 0)
        return -1;
    if (replay_init(&w->b, startup, w->cfg->members_max) != 0) {
        replay_free(&w->a);
        return -1;
    }
    if (wistats_init(&w->sa, w->from_ts) != 0 || wistats_init(&w->sb, w->from_ts) != 0) {
        replay_free(&w->a);
        replay_free(&w->b);
        return -1;
    }
    w->ready = true;
    return 0;
}

/* Run b: the candidate takes over before entry `e`, as a rules entry
 * would (the same switch and migration), unless it is the version in
 * force already. */
static int inject(struct whatif *w, const struct proto_entry *e)
{
    char now[RULECANON_HASH_LEN + 1];
    struct state *st = &w->b.st;
    w->injected = true;
    w->switch_ts = e->ts;
    w->switch_after = st->last_id;
    st->ver->has_next = false; /* a version the log scheduled does not come in b */
    if (rulecanon_hash(&st->ver->now, now) != 0)
        return -1;
    if (strcmp(now, w->cand_hash) == 0)
        return 0;
    struct proto_entry syn = {.kind = PROTO_RULES, .ts = e->ts};
    memcpy(syn.hash, w->cand_hash, sizeof(syn.hash));
    snprintf(syn.label, sizeof(syn.label), "what-if");
    struct rules_text rt = {w->cand, NULL};
    outbox_reset(&w->b.ob);
    switchover_apply(st, st->last_id, &syn, &rt, &w->b.ob);
    if (w->b.ob.verdict == OUTBOX_REJECTED) {
        snprintf(w->problem, sizeof(w->problem), "the candidate cannot replace the rulebook "
                 "in force: %s", w->b.ob.reject.detail);
        return -1;
    }
    w->switched = true;
    wistats_after(&w->sb, NULL, &w->b.ob); /* the migration's tier changes */
    return 0;
}

static int wi_entry(void *arg, struct proto_id id, const struct proto_entry *e,
                    const struct rules_text *rt)
{
    struct whatif *w = arg;
    wistats_before(&w->sa, &w->a.st, e);
    replay_apply(&w->a, id, e, rt);
    wistats_after(&w->sa, e, &w->a.ob);
    /* A rules entry's ts is when it was appended (rulesync.h: the wall
     * clock), not an event's time: the date is judged by the events. */
    if (!w->injected && e != NULL && e->kind != PROTO_RULES && e->ts >= w->from_ts &&
        inject(w, e) != 0)
        return -1;
    const struct proto_entry *eb = e;
    struct rules_text cand = {w->cand, NULL};
    if (w->injected && e != NULL && e->kind == PROTO_RULES) {
        /* After the date every rules entry names the candidate: in force
         * already, it changes nothing, and the state counts it as the
         * logged run does. */
        memcpy(&w->rules_entry, e, sizeof(w->rules_entry));
        memcpy(w->rules_entry.hash, w->cand_hash, sizeof(w->rules_entry.hash));
        eb = &w->rules_entry;
        rt = &cand;
    }
    wistats_before(&w->sb, &w->b.st, eb);
    replay_apply(&w->b, id, eb, rt);
    wistats_after(&w->sb, eb, &w->b.ob);
    return 0;
}

/* --from: a date, a UTC time or milliseconds. */
static int parse_from(const char *s, int64_t *ts)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    char *end;
    errno = 0;
    long long ms = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0 && ms > 0 && ms <= PROTO_TS_MAX) {
        *ts = ms;
        return 0;
    }
    if ((sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || s[n] != '\0') &&
        (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
         s[n] != '\0'))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > caltime_month_days(y, mo) || h > 23 ||
        mi > 59 || sec > 59)
        return -1;
    *ts = caltime_ts((struct caltime_date){y, (uint8_t)mo, (uint8_t)d}) +
          ((int64_t)h * 3600 + mi * 60 + sec) * 1000;
    return 0;
}

struct wi_opts {
    struct tool_opts tool;
    const char *candidate, *from, *out, *label;
    uint32_t top;
};

static int apply_option(struct wi_opts *o, int c, const char *arg, struct client_error *err)
{
    uint64_t v;
    switch (c) {
    case OPT_CANDIDATE: o->candidate = arg; return 1;
    case OPT_FROM: o->from = arg; return 1;
    case OPT_OUT: o->out = arg; return 1;
    case OPT_LABEL: o->label = arg; return 1;
    case OPT_TOP:
        if (client_parse_u64("--top", arg, 0, WICOMPARE_TOP_MAX, &v, err) != 0)
            return -1;
        o->top = (uint32_t)v;
        return 1;
    default: return tool_option(&o->tool, c, arg, err);
    }
}

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct wi_opts *o)
{
    static const struct option longopts[] = {
        TOOL_LONGOPTS, {"candidate", required_argument, NULL, OPT_CANDIDATE},
        {"from", required_argument, NULL, OPT_FROM}, {"out", required_argument, NULL, OPT_OUT},
        {"top", required_argument, NULL, OPT_TOP}, {"label", required_argument, NULL, OPT_LABEL},
        {NULL, 0, NULL, 0}};
    struct client_error err;
    *o = (struct wi_opts){.out = "whatif-report", .top = WHATIF_TOP_DEFAULT};
    for (int c; (c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1;) {
        if (c == 'h')
            return fputs(USAGE, stdout), CLIENT_EXIT_OK;
        int known = apply_option(o, c, optarg, &err);
        if (known <= 0)
            return client_usage_error(PROG, known < 0 ? err.text : "unknown option");
    }
    if (optind != argc)
        return client_usage_error(PROG, "unexpected argument");
    if (o->candidate == NULL || o->from == NULL)
        return client_usage_error(PROG, "--candidate FILE and --from DATE are needed");
    return -1;
}

/* Creates `out` (if missing); it must not be inside the data directory. */
static int prepare_out(const char *out, const char *data_dir, struct client_error *err)
{
    char ro[PATH_MAX], rd[PATH_MAX];
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        snprintf(err->text, sizeof(err->text), "cannot create %.200s: %s", out, strerror(errno));
        return -1;
    }
    if (realpath(out, ro) == NULL) {
        snprintf(err->text, sizeof(err->text), "%.200s: %s", out, strerror(errno));
        return -1;
    }
    size_t n = realpath(data_dir, rd) ? strlen(rd) : 0;
    if (n > 0 && strncmp(ro, rd, n) == 0 && (ro[n] == '/' || ro[n] == '\0')) {
        snprintf(err->text, sizeof(err->text), "--out %.200s is inside the daemon's data "
                 "directory: choose another place", out);
        return -1;
    }
    return 0;
}

static int load_candidate(struct whatif *w, const char *path, struct client_error *err)
{
    struct config_error cerr;
    struct config *cc = malloc(sizeof(*cc));
    w->cand = malloc(sizeof(*w->cand));
    if (cc == NULL || w->cand == NULL) {
        free(cc);
        snprintf(err->text, sizeof(err->text), "out of memory");
        return -1;
    }
    config_defaults(cc);
    int rc = config_load(cc, path, &cerr);
    if (rc == 0) {
        memcpy(w->cand, &cc->rules, sizeof(*w->cand));
        rc = rulecanon_hash(w->cand, w->cand_hash);
    } else {
        snprintf(err->text, sizeof(err->text), "candidate: %.490s", cerr.text);
    }
    free(cc);
    return rc;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Replays, compares and reports; returns the exit code. */
static int run(struct whatif *w, const struct wi_opts *o, struct client_error *err)
{
    char dir[ARCH_DIR_MAX + 1];
    static struct rulestore rs;
    struct history_src src;
    struct history_info info;
    struct history_hooks h = {wi_begin, wi_entry, w};
    rulestore_init(&rs);
    double t0 = now_s();
    int rc = tool_source(&o->tool, w->cfg, dir, &src, err) == 0 &&
             tool_add_config_rules(&rs, w->cfg) == 0
                 ? history_replay(&src, &rs, &h, &info, err) : -1;
    double seconds = now_s() - t0;
    if (src.rc)
        redisFree(src.rc);
    rulestore_free(&rs);
    if (rc == 0 && !w->injected)
        snprintf(err->text, sizeof(err->text), "the history has no entry at or after --from %s",
                 o->from);
    if (rc != 0 || !w->injected) {
        if (w->problem[0])
            snprintf(err->text, sizeof(err->text), "%s", w->problem);
        return -1;
    }
    struct wicompare *c = calloc(1, sizeof(*c));
    struct wireport_meta mt = {.candidate_path = o->candidate, .label = o->label,
                               .from_ts = w->from_ts, .switched = w->switched,
                               .switch_ts = w->switch_ts, .switch_after = w->switch_after,
                               .hist = &info, .seconds = seconds, .out_dir = o->out};
    memcpy(mt.candidate_hash, w->cand_hash, sizeof(mt.candidate_hash));
    rc = c != NULL && wicompare_build(c, &w->a.st, &w->b.st, &w->sa, &w->sb,
                                      o->top) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err->text, sizeof(err->text), "out of memory");
    if (rc == 0 && wiplot_write(c, &mt) != 0) {
        snprintf(err->text, sizeof(err->text), "cannot write the plot data in %.200s", o->out);
        rc = -1;
    }
    if (rc == 0)
        rc = wireport_write(c, &mt, err);
    if (rc == 0) {
        if (info.warning[0])
            fprintf(stderr, PROG ": warning: %s\n", info.warning);
        if (mt.plot_problem[0])
            fprintf(stderr, PROG ": no plots: %s\n", mt.plot_problem);
        printf("what-if: %" PRIu64 " entries replayed twice in %.2f s (%.0f entries/s); "
               "difference: %s; purchase points %" PRId64 " -> %" PRId64 "; %" PRIu64
               " members differ; report in %s/report.md\n", info.entries, seconds,
               seconds > 0 ? (double)info.entries / seconds : 0.0,
               c->empty ? "none" : "yes", c->totals_a[PROTO_CAUSE_PURCHASE],
               c->totals_b[PROTO_CAUSE_PURCHASE], c->members_changed, o->out);
    }
    if (c != NULL)
        wicompare_free(c);
    free(c);
    return rc;
}

int main(int argc, char **argv)
{
    struct wi_opts o;
    struct client_error err = {{0}};
    int code = parse_args(argc, argv, &o);
    if (code >= 0)
        return code;
    struct config *cfg = malloc(sizeof(*cfg));
    struct whatif *w = calloc(1, sizeof(*w));
    if (cfg == NULL || w == NULL) {
        free(cfg);
        free(w);
        return fputs(PROG ": out of memory\n", stderr), CLIENT_EXIT_FAIL;
    }
    w->cfg = cfg;
    if (tool_config(&o.tool, cfg, &err) != 0 || parse_from(o.from, &w->from_ts) != 0) {
        code = client_usage_error(PROG, err.text[0] ? err.text : "--from: not a date");
    } else if (load_candidate(w, o.candidate, &err) != 0 ||
               prepare_out(o.out, cfg->data_dir, &err) != 0 || run(w, &o, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.text[0] ? err.text : "out of memory");
        code = CLIENT_EXIT_FAIL;
    } else {
        code = CLIENT_EXIT_OK;
    }
    if (w->ready) {
        replay_free(&w->a);
        replay_free(&w->b);
        wistats_free(&w->sa);
        wistats_free(&w->sb);
    }
    free(w->cand);
    free(w);
    free(cfg);
    return code;
}
