/* fenced.h - the Redis Function library through which a partition's owner
 * writes: every call checks the partition's owner epoch first.
 *
 * The library is named FENCED_LIBRARY (its version is in the name: a new
 * version is a new name, so daemons of two versions on one Redis never
 * replace each other's code). The daemon loads it (FUNCTION LOAD REPLACE)
 * on every Redis node it talks to, each time it connects. Its functions,
 * each with all keys of one partition (one Cluster slot):
 *
 *   claim  KEYS owner            ARGV instance, force
 *     Makes `instance` the partition's owner. Without an owner yet: epoch 1
 *     ("claimed"). Owned by `instance`: its epoch ("resumed"). Owned by
 *     another instance: refused (FENCED) unless `force` is "1", which makes
 *     `instance` the owner at epoch + 1 ("taken"): from then on every
 *     commit of the former owner is refused. Replies [epoch, how, former].
 *   commit KEYS out dlq progress owner xfer
 *          ARGV epoch, expected, marker, n_out, n_dlq, maxlen, n_xfer,
 *               n_out outputs, n_dlq times (m, src, reason, detail),
 *               n_xfer times (m, partition)
 *     Refused with FENCED when the owner's epoch is not `epoch`, NOOWNER
 *     when there is no owner (Redis lost data), MARKER when the progress
 *     marker is not `expected` ("" = no marker yet), WRONGTYPE when out or
 *     dlq is not a stream; otherwise, in
 *     one atomic call: XADD of every output to out, every DLQ entry to
 *     dlq and every relay entry to xfer (fields m and p: an input entry
 *     for partition p, xrelay.h), XTRIM MAXLEN ~ maxlen of out and dlq
 *     (maxlen "0": none; xfer is trimmed by its relay), and SET of the
 *     marker. Nothing is written when it is refused.
 *   trim   KEYS in owner          ARGV epoch, minid
 *     XTRIM in MINID ~ minid, refused (FENCED, NOOWNER) as commit is.
 *
 * The owner key is a hash {epoch, instance}.
 */
#ifndef LOYALTY_FENCED_H
#define LOYALTY_FENCED_H

#include <stdbool.h>
#include <stddef.h>

#define FENCED_LIBRARY "loyaltyd_2"
#define FENCED_CLAIM FENCED_LIBRARY "_claim"
#define FENCED_COMMIT FENCED_LIBRARY "_commit"
#define FENCED_TRIM FENCED_LIBRARY "_trim"

/* The library's source, for FUNCTION LOAD REPLACE. */
extern const char fenced_library_code[];

/* How Redis answered a fenced call with an error (hiredis error text). */
enum fenced_refusal {
    FENCED_NOT_REFUSED, /* another error: a failure, not a refusal */
    FENCED_EPOCH,       /* FENCED: another instance owns the partition now */
    FENCED_MARKER,      /* MARKER: the progress marker moved under us, or
                         * NOOWNER: the owner key is gone (Redis lost data) */
};

/* Classifies error text `err[0..len)` of a fenced call. */
enum fenced_refusal fenced_refusal_of(const char *err, size_t len);

#endif
