/* wiplot.c - see wiplot.h. */
#include "wiplot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define WIPLOT_PATH_MAX 4096
#define WIPLOT_TOP 20 /* members drawn: more do not fit a readable bar chart */

extern char **environ;

/* A name as one data-file field: no tab, newline or quote. */
static void field(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '"' || *s == '\\' ? '_' : *s, f);
}

static FILE *open_in(const struct wireport_meta *mt, const char *name)
{
    char path[WIPLOT_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", mt->out_dir, name);
    return fopen(path, "w");
}

static int write_months(const struct wicompare *c, const struct wireport_meta *mt)
{
    char label[8];
    FILE *f = open_in(mt, "months.dat");
    if (f == NULL)
        return -1;
    for (uint32_t i = 0; i < c->month_count; i++) {
        const struct wistats_month *a = &c->months[i].a, *b = &c->months[i].b;
        wireport_month_label(c->months[i].month, label);
        fprintf(f, "%u\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%"
                   PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\n", i, label,
                a->issued, b->issued, a->redeemed, b->redeemed, a->expired, b->expired,
                a->liability, b->liability, a->by_cause[PROTO_CAUSE_PURCHASE],
                b->by_cause[PROTO_CAUSE_PURCHASE]);
    }
    return fclose(f);
}

static int write_pairs(const struct wireport_meta *mt, const char *name,
                       const struct wicompare_pair *p, uint32_t n, bool points)
{
    FILE *f = open_in(mt, name);
    if (f == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        field(f, p[i].name);
        fprintf(f, "\t%" PRId64 "\t%" PRId64 "\n", points ? p[i].points_a : p[i].a,
                points ? p[i].points_b : p[i].b);
    }
    return fclose(f);
}

static int write_tiers(const struct wicompare *c, const struct wireport_meta *mt)
{
    FILE *f = open_in(mt, "tiers.dat");
    if (f == NULL)
        return -1;
    for (uint32_t i = 0; i < c->tiers_a; i++) /* rows: logged tier (y); columns: candidate (x) */
        for (uint32_t j = 0; j < c->tiers_b; j++)
            fprintf(f, "%u\t%u\t%" PRId64 "\n", j, i, c->matrix[i][j]);
    return fclose(f);
}

static int write_members(const struct wicompare *c, const struct wireport_meta *mt)
{
    FILE *f = open_in(mt, "members.dat");
    if (f == NULL)
        return -1;
    for (uint32_t i = 0; i < c->top_count && i < WIPLOT_TOP; i++)
        fprintf(f, "%s\t%" PRId64 "\t%" PRId64 "\n", c->top[i].id, c->top[i].lifetime_a,
                c->top[i].lifetime_b);
    return fclose(f);
}

static void tics(FILE *g, const char *axis, const char *const *names, uint32_t n)
{
    fprintf(g, "set %s (", axis);
    for (uint32_t i = 0; i < n; i++) {
        fputc('"', g);
        field(g, names[i]);
        fprintf(g, "\" %u%s", i, i + 1 < n ? ", " : "");
    }
    fprintf(g, ")\n");
}

static void plot_bars(FILE *g, const struct wireport_meta *mt, const char *png,
                      const char *title, const char *data, const char *ylabel)
{
    fprintf(g, "reset\nset terminal pngcairo size 960,540 noenhanced\nset datafile separator "
               "\"\\t\"\nset output \"%s/%s\"\nset title \"%s\"\nset ylabel \"%s\"\nset grid y\n"
               "set style data histograms\nset style histogram clustered gap 1\n"
               "set style fill solid 0.8 border -1\nset xtics rotate by -30\nset yrange [0:*]\n"
               "plot \"%s/%s\" using 2:xtic(1) title \"logged\" lc rgb \"#4477aa\", '' using 3 "
               "title \"candidate\" lc rgb \"#ee6677\"\n", mt->out_dir, png, title, ylabel,
            mt->out_dir, data);
}

static void plot_months(FILE *g, const struct wireport_meta *mt)
{
    fprintf(g, "set terminal pngcairo size 960,540 noenhanced\nset datafile separator \"\\t\"\n"
               "set grid\nset xtics rotate by -45\nset key outside bottom center horizontal\n"
               "set output \"%s/points.png\"\nset title \"Points per month (solid: as logged, "
               "dashed: candidate)\"\nset ylabel \"points\"\nd = \"%s/months.dat\"\n"
               "plot d using 1:3:xtic(2) with lines lw 2 lc rgb \"#4477aa\" title \"issued\", "
               "d using 1:4 with lines lw 2 dt 2 lc rgb \"#4477aa\" title \"issued, candidate\", "
               "d using 1:5 with lines lw 2 lc rgb \"#228833\" title \"redeemed\", "
               "d using 1:6 with lines lw 2 dt 2 lc rgb \"#228833\" title \"redeemed, candidate\", "
               "d using 1:7 with lines lw 2 lc rgb \"#ee6677\" title \"expired\", "
               "d using 1:8 with lines lw 2 dt 2 lc rgb \"#ee6677\" title \"expired, candidate\"\n"
               "set output \"%s/liability.png\"\nset title \"Outstanding points at each month's "
               "end\"\nplot d using 1:9:xtic(2) with lines lw 2 lc rgb \"#4477aa\" title "
               "\"as logged\", d using 1:10 with lines lw 2 dt 2 lc rgb \"#ee6677\" title "
               "\"candidate\"\n", mt->out_dir, mt->out_dir, mt->out_dir);
}

static void plot_tiers(FILE *g, const struct wicompare *c, const struct wireport_meta *mt)
{
    fprintf(g, "reset\nset terminal pngcairo size 720,600 noenhanced\nset datafile separator "
               "\"\\t\"\nset output \"%s/tiers.png\"\nset title \"Tier migration: members by "
               "final tier\"\nset xlabel \"under the candidate\"\nset ylabel \"as logged\"\n"
               "set palette defined (0 \"white\", 1 \"#4477aa\")\nunset key\n"
               "set xrange [-0.5:%u.5]\nset yrange [-0.5:%u.5]\n", mt->out_dir,
            c->tiers_b - 1, c->tiers_a - 1);
    tics(g, "xtics", c->tier_names_b, c->tiers_b);
    tics(g, "ytics", c->tier_names_a, c->tiers_a);
    fprintf(g, "plot \"%s/tiers.dat\" using 1:2:3 with image, '' using 1:2:(sprintf(\"%%d\", "
               "$3)) with labels\n", mt->out_dir);
}

/* Writes plots.gp; `names` gets the PNGs it draws. */
static int write_script(const struct wicompare *c, struct wireport_meta *mt)
{
    FILE *g = open_in(mt, "plots.gp");
    if (g == NULL)
        return -1;
    mt->plot_count = 0;
    if (c->month_count > 0) {
        plot_months(g, mt);
        mt->plots[mt->plot_count++] = "points.png";
        mt->plots[mt->plot_count++] = "liability.png";
    }
    if (c->tiers_a > 0 && c->tiers_b > 0) {
        plot_tiers(g, c, mt);
        mt->plots[mt->plot_count++] = "tiers.png";
    }
    const struct { uint32_t n; const char *png, *title, *data, *y; } bars[] = {
        {c->segment_count, "segments.png", "Segment sizes at the end", "segments.dat", "members"},
        {c->reward_count, "rewards.png", "Rewards issued", "rewards.dat", "rewards"},
        {c->campaign_count, "campaigns.png", "Campaign costs (marginal, before caps)",
         "campaigns.dat", "points"},
        {c->top_count, "members.png", "Members most affected: lifetime points", "members.dat",
         "points"},
    };
    for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++)
        if (bars[i].n > 0 && mt->plot_count < WIREPORT_PLOTS_MAX) {
            plot_bars(g, mt, bars[i].png, bars[i].title, bars[i].data, bars[i].y);
            mt->plots[mt->plot_count++] = bars[i].png;
        }
    return fclose(g);
}

/* Runs gnuplot on plots.gp, its messages in plots.log. */
static void run_gnuplot(struct wireport_meta *mt)
{
    char script[WIPLOT_PATH_MAX], log[WIPLOT_PATH_MAX];
    snprintf(script, sizeof(script), "%s/plots.gp", mt->out_dir);
    snprintf(log, sizeof(log), "%s/plots.log", mt->out_dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {"gnuplot", script, NULL};
    pid_t pid;
    int status = 0;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(mt->plot_problem, sizeof(mt->plot_problem), "cannot run gnuplot (%s): "
                 "install gnuplot-nox", strerror(rc));
    } else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
               WEXITSTATUS(status) != 0) {
        snprintf(mt->plot_problem, sizeof(mt->plot_problem), "gnuplot failed (see %.200s)",
                 log);
    }
    if (mt->plot_problem[0])
        mt->plot_count = 0;
}

int wiplot_write(const struct wicompare *c, struct wireport_meta *mt)
{
    if (strchr(mt->out_dir, '"') != NULL) {
        snprintf(mt->plot_problem, sizeof(mt->plot_problem), "the output directory's name "
                 "holds a double quote");
        return 0;
    }
    if (write_months(c, mt) != 0 || write_tiers(c, mt) != 0 || write_members(c, mt) != 0 ||
        write_pairs(mt, "segments.dat", c->segments, c->segment_count, false) != 0 ||
        write_pairs(mt, "rewards.dat", c->rewards, c->reward_count, false) != 0 ||
        write_pairs(mt, "campaigns.dat", c->campaigns, c->campaign_count, true) != 0 ||
        write_script(c, mt) != 0)
        return -1;
    run_gnuplot(mt);
    return 0;
}
