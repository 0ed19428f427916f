/* rulefan.h - a rulebook version pushed to every partition of a program.
 *
 * A `rules` entry belongs to every partition: each switches at its own
 * place in its own input (README "Scaling out"). rulefan pushes the
 * version (rulepush_send: its text at <prefix>{p}:rules:<hash> and the
 * entry in <prefix>{p}:in, one MULTI/EXEC) to each of cfg's partitions in
 * turn (the plain prefix with one partition). On a Redis Cluster the
 * partitions live on several nodes: a push refused with MOVED (slot host:
 * port) is sent again to the node named, connected with the daemon's
 * credentials, and later partitions start at that node too; ASK, TRYAGAIN
 * and CLUSTERDOWN (a slot moving, a failover) are waited out (the
 * transaction was refused whole, EXECABORT). Each append is
 * reported as it is made; the first failure stops the push, and the
 * report says which partitions have the entry (a second push of the same
 * file is harmless for those: they switch to the version in force).
 * Blocking: for `loyaltyd --push-rules` and `loyaltyctl rules push`.
 */
#ifndef LOYALTY_RULEFAN_H
#define LOYALTY_RULEFAN_H

#include <stdint.h>

#include "config.h"
#include "rulepush.h"

/* Redis nodes one push follows MOVED to at most (the daemon's
 * ROUTER_NODES_MAX). */
#define RULEFAN_NODES_MAX 64
/* A partition's slot being migrated (ASK, TRYAGAIN) or a failover
 * (CLUSTERDOWN) is waited out this often, this long apart: the few keys of
 * a partition move in one MIGRATE, and a failover takes the cluster's node
 * timeout, so 10 s is plenty; then the push fails, saying so. */
#define RULEFAN_WAITS 100
#define RULEFAN_WAIT_MS 100

/* Hears of each partition's append: entry `id` in `in` (the input key),
 * on node "host:port". */
typedef void rulefan_report_fn(void *arg, uint32_t partition, const char *in, const char *id,
                               const char *node);

/* Pushes b (label "" for none, effective_ts 0 for at once) to every
 * partition of cfg, from cfg->redis, reporting each append. Returns the
 * number of partitions appended to (cfg->partitions when all went), with
 * err set when it stopped short. */
uint32_t rulefan_push(const struct config *cfg, const struct rulepush_book *b,
                      const char *label, int64_t effective_ts, unsigned timeout_ms,
                      rulefan_report_fn *report, void *arg, char *err, size_t cap);

#endif
