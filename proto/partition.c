/* partition.c - see partition.h.
 *
 * zlib's crc32() is the definition the contract names ("IEEE CRC-32 as
 * zlib computes it"), so the daemon calls zlib itself (Debian's zlib1g,
 * already on every machine) rather than a CRC of its own that could drift
 * from it; zlib's is also the fastest generally available one.
 */
#include "partition.h"

#include <zlib.h>

#include "lyassert.h"

uint32_t partition_crc32(const char *member, size_t len)
{
    LY_ASSERT(len <= UINT32_MAX);
    return (uint32_t)crc32(0L, (const Bytef *)member, (uInt)len);
}

uint32_t partition_of(const char *member, size_t len, uint32_t partitions)
{
    LY_ASSERT(partitions >= 1);
    return partition_crc32(member, len) % partitions;
}
