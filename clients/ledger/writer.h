/* writer.h - the ledger's writing thread: out streams into the database,
 * in order, each entry once.
 *
 * The loop: read a batch (pending entries first, reader.h), build its rows
 * and write them in one transaction (lbatch.h), and only after the COMMIT
 * acknowledge the entries. Whatever fails is retried with a backoff
 * doubling from 100 ms to retry_max_ms and nothing is lost: entries not
 * acknowledged stay in the consumer group's pending list, and a batch whose
 * COMMIT may or may not have happened is built again from the database's
 * own progress after reconnecting, and its stored rows are not applied
 * twice. A schema newer than the binary ends the thread with an error.
 *
 * Why a thread of blocking calls rather than callbacks on the HTTP event
 * loop: the work is one strict sequence with nothing to overlap, and the
 * database calls block (libpq, SQLite); on the event loop every
 * transaction, and every minute of an outage, would stall history
 * requests. The HTTP thread reads through its own connection.
 */
#ifndef LOYALTY_LEDGER_WRITER_H
#define LOYALTY_LEDGER_WRITER_H

#include "lconf.h"
#include "lstatus.h"

struct writer;

/* A writer for `cfg` publishing to `status` (both outlive it). When its
 * thread ends (stopped or failed), it calls done(arg) from that thread.
 * Aborts when out of memory. */
struct writer *writer_new(const struct lconf *cfg, struct lstatus *status,
                          void (*done)(void *arg), void *arg);

/* Starts the thread. Returns 0, or -1 when it cannot be created. */
int writer_start(struct writer *w);

/* Asks the thread to stop after the batch in hand (from any thread). */
void writer_stop(struct writer *w);

/* Waits for the thread: 0 when it stopped as asked, -1 when it failed. */
int writer_join(struct writer *w);

void writer_free(struct writer *w);

#endif
