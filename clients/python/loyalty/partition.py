"""Which partition a member belongs to: crc32 (IEEE 802.3, the one zlib
computes) of the member id's bytes, modulo the number of partitions. The
daemon and the Node library use the same function; tests/vectors/
partition.json holds the shared test vectors."""
import zlib


def partition_of(member_id, partitions):
    """The partition (0..partitions-1) of `member_id` (str or bytes)."""
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise ValueError(f"partitions must be a positive integer, not {partitions!r}")
    data = member_id.encode("utf-8") if isinstance(member_id, str) else bytes(member_id)
    return zlib.crc32(data) % partitions


def partition_prefix(prefix, member_id, partitions):
    """The key prefix of `member_id`'s partition, as the daemon names its
    keys: `prefix` itself with one partition, else "<prefix>{p}:" (a Redis
    Cluster hash tag). Client(r, prefix=partition_prefix(...)) then sends
    that member's entries to the right partition."""
    if partitions == 1:
        return prefix
    return f"{prefix}{{{partition_of(member_id, partitions)}}}:"
