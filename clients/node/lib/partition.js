'use strict';
// Which partition a member belongs to: crc32 (IEEE 802.3, as zlib computes
// it) of the member id's bytes, modulo the number of partitions. The daemon
// and the Python client use the same function; tests/vectors/
// partition.json holds the shared test vectors. (node:zlib has crc32 only
// from Node 20.15 / 22.2; Debian 12 ships Node 18, so it is computed here.)

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** crc32 of `bytes` (a Buffer, Uint8Array or string, as UTF-8): 0..2^32-1. */
function crc32(bytes) {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The partition (0..partitions-1) of `memberId` (string or bytes). */
function partitionOf(memberId, partitions) {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, not ${partitions}`);
  }
  return crc32(memberId) % partitions;
}

/**
 * The key prefix of `memberId`'s partition, as the daemon names its keys:
 * `prefix` itself with one partition, else `<prefix>{p}:` (a Redis Cluster
 * hash tag). new Client(redis, { prefix: partitionPrefix(...) }) then sends
 * that member's entries to the right partition.
 */
function partitionPrefix(prefix, memberId, partitions) {
  if (partitions === 1) return prefix;
  return `${prefix}{${partitionOf(memberId, partitions)}}:`;
}

module.exports = { crc32, partitionOf, partitionPrefix };
