/* commit.h - the one place a batch's effects reach Redis.
 *
 * A batch commits as one call of the fenced library (fenced.h): XADD of
 * every output to <prefix>out, of every rejected entry to <prefix>dlq and
 * of every relay entry (batch.h) to <prefix>xfer,
 * and SET of the progress marker <prefix>progress to the batch's last id,
 * only if the partition's owner epoch is still ours and the marker is
 * still where the batch expects it. Redis runs a function as a unit and
 * (with AOF) persists it as a unit, so after a crash at any instant either
 * all of a batch's effects are in Redis or none are; the marker says
 * which. A partition's keys share one Cluster slot (<prefix>{p}:).
 *
 * The call is formatted once into the batch's own buffer (RESP, no
 * printf, no allocation per output: the buffer grows by doubling and is
 * kept for the next batch) and queued as it is.
 */
#ifndef LOYALTY_COMMIT_H
#define LOYALTY_COMMIT_H

#include <hiredis/async.h>

#include "batch.h"
#include "config.h"
#include "fenced.h"

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
    char xfer[COMMIT_KEY_MAX];   /* relay entries for other partitions (xrelay.h) */
};

/* Fills the key names of partition `p` from cfg->prefix. */
void commit_keys_init(struct commit_keys *k, const struct config *cfg, uint32_t p);

/* Formats the commit of `b` (not empty) into b->cmd: the fenced commit of
 * keys `k` by owner epoch `epoch` (decimal), expecting marker
 * b->expect_str, trimming out and dlq to about `maxlen` entries (0: no
 * trim). Returns 0, or -1 when out of memory. */
int commit_format(struct batch *b, const struct commit_keys *k, const char *epoch,
                  uint64_t maxlen);

/* Checks a commit reply. Returns 0 when the batch is committed; -1 with
 * the reason in why[0..cap) and, in *refusal, whether the fence refused it
 * (another owner, or the marker moved) or it failed otherwise. */
int commit_check(const redisReply *reply, enum fenced_refusal *refusal, char *why, size_t cap);

#endif
