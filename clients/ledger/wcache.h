/* wcache.h - the writer's cache of member wallets (balance and lots) as
 * committed, so that a batch reads from the database only the members it
 * has not seen lately: at tens of thousands of events a second, two SELECTs
 * per member and batch cost more than the inserts themselves.
 *
 * It holds copies of committed state only: lbatch puts wallets in after a
 * COMMIT and clears the whole cache after any failed write (a COMMIT whose
 * outcome is unknown may have happened). At most `members_max` members;
 * when full it is cleared and fills again (misses cost a read, nothing
 * else), which keeps it simple and bounded. One thread only.
 */
#ifndef LOYALTY_LEDGER_WCACHE_H
#define LOYALTY_LEDGER_WCACHE_H

#include <stdint.h>

#include "cohort.h"

struct wcache;

/* A cache of at most members_max (>= 1) wallets. Aborts when out of memory. */
struct wcache *wcache_new(uint32_t members_max);

void wcache_free(struct wcache *c);

/* Forgets every wallet. */
void wcache_clear(struct wcache *c);

/* The cached wallet of `member`, or NULL. Valid until the next put or clear. */
const struct cohort_wallet *wcache_get(const struct wcache *c, const char *member);

/* Stores a copy of *w as `member`'s wallet (1..PROTO_MEMBER_MAX bytes),
 * replacing any; clears the cache first when it is full. */
void wcache_put(struct wcache *c, const char *member, const struct cohort_wallet *w);

/* Wallets held. */
uint32_t wcache_count(const struct wcache *c);

#endif
