/* partition.h - which partition a member belongs to: part of the contract.
 *
 * A program has P partitions, fixed when it is set up (README "Scaling
 * out"). A member's partition is
 *
 *     partition_of(member) = crc32(member id bytes) mod P
 *
 * with crc32 the IEEE 802.3 CRC-32 exactly as zlib's crc32() computes it
 * (reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF): every language has it (Python's zlib.crc32, Node's
 * zlib.crc32 or a 10-line table), so producers pick the partition of an
 * entry the way the daemon checks it. tests/vectors/partition.json holds
 * vectors the daemon's unit test and the client libraries all check.
 *
 * Keys: with P = 1 a program's keys carry the configured prefix as it is
 * (`loyalty:in`); with P > 1, partition p's keys carry `<prefix>{p}:`
 * (`loyalty:{7}:in`), a Redis Cluster hash tag, so that all keys of a
 * partition share one slot and its commit stays one atomic call.
 */
#ifndef LOYALTY_PARTITION_H
#define LOYALTY_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* Partitions a program may have: far more than instances will ever be
 * (partitions move between instances, never split), and few enough that a
 * daemon can hold the table of served ones in its configuration. */
#define PARTITION_COUNT_MAX 1024

/* The DLQ reason of an entry for a member of another partition. */
#define PARTITION_R_WRONG "wrong_partition"

/* Which partition of how many a partition's state is (the rules core
 * learns it from the shell when the state is made: state.h). */
struct partition_place {
    uint32_t partition;  /* < partitions */
    uint32_t partitions; /* P >= 1 */
};

/* crc32 of member[0..len) as zlib computes it (see above). */
uint32_t partition_crc32(const char *member, size_t len);

/* The partition of member[0..len) among `partitions` (>= 1, asserted). */
uint32_t partition_of(const char *member, size_t len, uint32_t partitions);

#endif
