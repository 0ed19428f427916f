/* snapfuzz_config.h - the one configuration fuzz_snapshot runs under and
 * gen_snapshot_seeds writes its seeds with.
 *
 * Snapshots are only valid against the rulebook they were written under
 * (tier indexes, expiry lots per member) and carry its fingerprint, so the
 * seeds and the target must share it exactly: both call this.
 */
#ifndef LOYALTY_SNAPFUZZ_CONFIG_H
#define LOYALTY_SNAPFUZZ_CONFIG_H

#include "config.h"

/* Small store limits, so a header claiming more members or txns than fit
 * is rejected before anything is allocated or read. Small enough, too, that
 * the member array and the txn ring, with ASan's redzone (up to 2 KiB),
 * stay within its cached allocation sizes (128 KiB): each input gets a
 * fresh state, and a larger one would be mmap'd and unmapped every time
 * (~600 instead of ~10000 execs/s). */
#define SNAPFUZZ_MEMBERS_MAX 224
#define SNAPFUZZ_TXNS_MAX 640

/* The built-in defaults plus four tiers, expiry after 12 months (13 lots
 * per member), a small catalog, every-N rewards (two of one name) and the
 * limits above. */
void snapfuzz_config(struct config *cfg);

#endif
