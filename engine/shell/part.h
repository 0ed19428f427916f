/* part.h - one partition this daemon serves.
 *
 * Its state, its snapshots (DATA/p<N>/, or DATA itself when the program
 * has one partition, as before partitions existed) and its consumer, with
 * the hooks between them: a snapshot when one is due and the state equals
 * what Redis holds (reading holds until no batch is in flight), the input
 * trim after a snapshot (after the archiver archived what goes, when
 * daemon.archive is set: DIR/archive), the rebuild from a snapshot when Redis lost
 * writes, and the DLQ ring fed with what landed. Partitions share nothing
 * else: each recovers, snapshots and is fenced on its own.
 */
#ifndef LOYALTY_PART_H
#define LOYALTY_PART_H

#include <stdbool.h>
#include <stdint.h>

#include "archiver.h"
#include "config.h"
#include "consumer.h"
#include "dlqring.h"
#include "metrics.h"
#include "router.h"
#include "snapdir.h"
#include "snapper.h"
#include "state.h"
#include "xrelay.h"

struct event_base;

struct part {
    const struct config *cfg;
    uint32_t p;                /* the partition */
    struct state st;
    struct snapdir sd;         /* lock_fd -1 without snapshots */
    struct snapper *snapper;   /* NULL without snapshots */
    struct consumer *consumer;
    struct archiver *archiver; /* NULL unless trim_input and archive, with snapshots */
    struct dlqring *dlq;       /* shared by the daemon's partitions; may be NULL */
    struct xrelay *relay;      /* carries its transfers' credits (xrelay.h); may be NULL */
};

/* Opens partition `p` into `pt` (zeroed by the caller): with snapshots
 * (`gate` not NULL: the daemon's partitions take turns writing them) loads
 * its newest valid snapshot, locking its directory; prepares its consumer
 * over `r`. Everything given must outlive it. Returns 0, or -1 after
 * logging why (part_close cleans up). */
int part_open(struct part *pt, struct event_base *base, const struct config *cfg,
              struct router *r, uint32_t p, struct metrics *m, struct dlqring *dlq,
              struct snapper_gate *gate);

/* Frees what part_open made (after the router: router.h). */
void part_close(struct part *pt);

/* After the consumer stopped: writes a snapshot when every applied entry is
 * committed (a snapshot must not hold effects Redis has not), else logs
 * that none is written. */
void part_final_snapshot(struct part *pt);

#endif
