/* lstatus.h - what the writer thread reports and the HTTP thread shows
 * (/healthz, /metrics): connection states, counters, the streams' progress.
 * The writer keeps its own view and publishes copies; a mutex guards the
 * published one and readers take a copy.
 */
#ifndef LOYALTY_LEDGER_LSTATUS_H
#define LOYALTY_LEDGER_LSTATUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "lbatch.h"

#define LSTATUS_ERROR_MAX 512 /* the last error: a database or Redis error text */

struct lstatus_view {
    bool redis_up;
    bool db_up;
    bool stopped;                 /* the writer has ended */
    struct lbatch_counts counts;  /* rows written, duplicates, problems, reconciled */
    uint64_t batches;             /* transactions committed */
    uint64_t db_errors;           /* failed transactions or connections */
    uint64_t redis_errors;        /* failed Redis commands or connections */
    uint64_t gone;                /* pending entries found deleted */
    uint64_t gaps;                /* streams found trimmed past the watermark */
    uint32_t nstreams;
    struct db_stream streams[LBATCH_STREAMS_MAX]; /* committed progress */
    char last_error[LSTATUS_ERROR_MAX];
};

struct lstatus {
    pthread_mutex_t lock;
    struct lstatus_view v;
};

/* Zeroed, with its mutex ready. Returns 0 or -1. */
int lstatus_init(struct lstatus *s);

void lstatus_destroy(struct lstatus *s);

/* A consistent copy of the view. */
void lstatus_get(struct lstatus *s, struct lstatus_view *out);

/* Replaces the view with *v: the writer keeps its own and publishes it. */
void lstatus_publish(struct lstatus *s, const struct lstatus_view *v);

#endif
