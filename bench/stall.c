/* stall.c - see stall.h. */
#include "stall.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchclock.h"

struct gaps {
    uint64_t last_ns, max_ns, sum_ns;
    uint32_t n;
};

static void gap(struct gaps *g, uint64_t now)
{
    uint64_t d = now - g->last_ns;
    if (d > g->max_ns)
        g->max_ns = d;
    g->sum_ns += d;
    g->n++;
    g->last_ns = now;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

/* The snapshot phase: fork, apply while the child writes. */
static int during(stall_batch_fn *apply, void *aarg, stall_write_fn *write, void *warg,
                  uint32_t batches_max, struct stall_result *r)
{
    struct gaps g = {bench_now_ns(), 0, 0, 0};
    uint64_t t0 = g.last_ns, after_ns = 0;
    pid_t pid = fork();
    if (pid == 0)
        _exit(write(warg) == 0 ? 0 : 1);
    r->fork_ms = ms(bench_now_ns() - t0);
    if (pid < 0)
        return -1;
    pid_t done = 0;
    while (g.n < batches_max && (done = waitpid(pid, &r->child_status, WNOHANG)) == 0) {
        apply(aarg, g.n);
        gap(&g, bench_now_ns());
        if (g.n == 1)
            r->first_ms = ms(g.max_ns);
        if (g.n <= STALL_AFTER_BATCHES)
            after_ns = g.sum_ns;
    }
    if (done == 0)
        done = waitpid(pid, &r->child_status, 0);
    r->write_s = (double)(bench_now_ns() - t0) / 1e9;
    r->batches = g.n;
    r->snap_max_ms = ms(g.max_ns);
    r->snap_mean_ms = g.n ? ms(g.sum_ns) / g.n : 0;
    r->after_ms = g.n ? ms(after_ns) / (g.n < STALL_AFTER_BATCHES ? g.n : STALL_AFTER_BATCHES)
                      : 0;
    return done == pid && WIFEXITED(r->child_status) && WEXITSTATUS(r->child_status) == 0
               ? 0 : -1;
}

int stall_measure(stall_batch_fn *apply, void *aarg, stall_write_fn *write, void *warg,
                  uint32_t batches_max, struct stall_result *r)
{
    *r = (struct stall_result){0};
    if (during(apply, aarg, write, warg, batches_max, r) != 0)
        return -1;
    struct gaps g = {bench_now_ns(), 0, 0, 0};
    for (uint32_t i = 0; i < r->batches; i++) {
        apply(aarg, r->batches + i);
        gap(&g, bench_now_ns());
    }
    r->base_max_ms = ms(g.max_ns);
    r->base_mean_ms = g.n ? ms(g.sum_ns) / g.n : 0;
    return 0;
}

uint64_t stall_huge_bytes(void)
{
    char line[256];
    uint64_t kb = 0;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "AnonHugePages: %" SCNu64, &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb * 1024u;
}
