/* commit.h - the one place a batch's effects reach Redis.
 *
 * A batch commits as one MULTI/EXEC: XADD of every output to <prefix>out,
 * XADD of every rejected entry to <prefix>dlq, XACK of every input entry,
 * and SET of the progress marker <prefix>progress to the batch's last id.
 * Redis runs a transaction as a unit and (with AOF) persists it as a unit,
 * so after a crash at any instant either all of a batch's effects are in
 * Redis or none are; the marker says which. All keys share the prefix, so
 * with a hash-tagged prefix they share one Cluster slot.
 */
#ifndef LOYALTY_COMMIT_H
#define LOYALTY_COMMIT_H

#include <hiredis/async.h>

#include "batch.h"
#include "config.h"

/* Room for a partition's prefix: the configured one and a hash tag
 * "{1023}:"; and for a key: that prefix and a name. */
#define COMMIT_PREFIX_MAX (CONFIG_KEY_MAX + 8)
#define COMMIT_KEY_MAX (COMMIT_PREFIX_MAX + 16)

struct commit_keys {
    char prefix[COMMIT_PREFIX_MAX + 1]; /* the partition's (config_partition_prefix) */
    char in[COMMIT_KEY_MAX];
    char out[COMMIT_KEY_MAX];
    char dlq[COMMIT_KEY_MAX];
    char progress[COMMIT_KEY_MAX];
    char owner[COMMIT_KEY_MAX];  /* the partition's owner and epoch */
};

/* Fills the key names of partition `p` from cfg->prefix. */
void commit_keys_init(struct commit_keys *k, const struct config *cfg, uint32_t p);

/* Queues the commit of `b` on `ac`; `cb(ac, reply, priv)` gets the EXEC
 * reply (check it with commit_check). The batch must stay unchanged until
 * then. Returns 0, or -1 when hiredis could not queue a command (the
 * caller drops the connection). */
int commit_send(redisAsyncContext *ac, const struct config *cfg, const struct commit_keys *k,
                const struct batch *b, redisCallbackFn *cb, void *priv);

/* Checks an EXEC reply. Returns 0 when every command of the transaction
 * succeeded; -1 with a reason in `why` (static text or a copy of Redis's
 * error, at most `cap` bytes) otherwise. */
int commit_check(const redisReply *reply, char *why, size_t cap);

#endif
