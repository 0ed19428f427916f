/* stall.h - the ingestion stall of a background snapshot, in process.
 *
 * Measures what the daemon's ingestion sees while snapper.c takes a
 * snapshot: the process fork()s while holding the state, the child writes
 * the snapshot, and the parent keeps applying batches, each write to a
 * page still shared with the child taking a copy-on-write fault. The
 * figure is the longest gap between the ends of two consecutive batches
 * (the first gap includes the fork), against the same number of batches
 * applied without a snapshot in the same run.
 */
#ifndef LOYALTY_BENCH_STALL_H
#define LOYALTY_BENCH_STALL_H

#include <stdint.h>

/* Applies batch number `i` (entries of the caller's choosing). */
typedef void stall_batch_fn(void *arg, uint32_t i);
/* Writes the snapshot in the child; returns 0 on success. */
typedef int stall_write_fn(void *arg);

struct stall_result {
    uint32_t batches;      /* applied during the snapshot, and in the baseline */
    double fork_ms;        /* fork() alone */
    double first_ms;       /* the first gap: fork + the first batch after it */
    double snap_max_ms;    /* longest gap while the child was writing */
    double snap_mean_ms;   /* mean gap then */
    double after_ms;       /* mean of the first STALL_AFTER_BATCHES batches after the fork */
    double base_max_ms;    /* longest gap without a snapshot */
    double base_mean_ms;   /* mean gap without one */
    double write_s;        /* fork to the child's exit */
    int child_status;      /* waitpid status of the writer */
};

/* The batches right after a fork pay the copy-on-write faults. */
#define STALL_AFTER_BATCHES 10u

/* Forks; the child calls write(warg) and exits with its result; the parent
 * applies batches through apply(aarg, i) while the child runs, at most
 * `batches_max` of them, then waits for the child; then applies as many
 * batches again without a snapshot (the baseline). Returns 0, or -1 when
 * fork failed or the writer failed (r->child_status). */
int stall_measure(stall_batch_fn *apply, void *aarg, stall_write_fn *write, void *warg,
                  uint32_t batches_max, struct stall_result *r);

/* Bytes of this process in transparent huge pages (AnonHugePages of
 * /proc/self/smaps_rollup), or 0 when it does not say. */
uint64_t stall_huge_bytes(void);

#endif
