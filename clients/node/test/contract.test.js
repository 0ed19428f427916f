'use strict';
// The contract without a daemon: validation gives the decoder's reason code
// for every shared vector (tests/vectors/entries.json, which the Python
// tests check against the real daemon), partitionOf matches the shared
// partition vectors, output decoding refuses what is not an event.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const msgpack = require('@msgpack/msgpack');
const loyalty = require('..');

const VECTORS = path.join(__dirname, '..', '..', '..', 'tests', 'vectors');
const load = (name) => JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));

test('partitionOf matches the shared vectors', () => {
  const doc = load('partition.json');
  assert.equal(loyalty.crc32(doc.check.member), doc.check.crc32);
  assert.ok(doc.vectors.length > 20);
  for (const v of doc.vectors) {
    assert.equal(loyalty.partitionOf(v.member, v.partitions), v.partition, JSON.stringify(v));
    assert.equal(loyalty.crc32(Buffer.from(v.member)), v.crc32);
  }
  for (const bad of [0, -1, 1.5, '4']) assert.throws(() => loyalty.partitionOf('M1', bad), RangeError);
  for (const v of doc.vectors) {
    const want = v.partitions === 1 ? 'loyalty:' : `loyalty:{${v.partition}}:`;
    assert.equal(loyalty.partitionPrefix('loyalty:', v.member, v.partitions), want);
  }
});

test('validation gives the decoder\'s reason code for every vector', () => {
  const { vectors } = load('entries.json');
  assert.ok(vectors.length > 60);
  for (const v of vectors) {
    if (v.reason === null) {
      const bytes = loyalty.encode(v.entry);
      assert.deepEqual(loyalty.unpack(bytes), v.entry, v.name);
    } else {
      assert.throws(() => loyalty.encode(v.entry),
        (e) => e instanceof loyalty.ValidationError && e.code === v.reason, v.name);
    }
  }
});

test('builders make every input kind and refuse bad values', () => {
  const ts = 1780000000000;
  const made = [
    loyalty.purchase({ txn: 't1', member: 'M1', store: 'S1', amount: 100, ts,
      lines: [loyalty.line('A', 'food', 1, 100)] }),
    loyalty.refund({ txn: 't2', origTxn: 't1', member: 'M1', amount: 50, ts }),
    loyalty.redeem({ txn: 't3', member: 'M1', points: 10, ts }),
    loyalty.adjust({ txn: 't4', member: 'M1', points: -5, reason: 'goodwill', ts }),
    loyalty.enroll({ txn: 't5', member: 'M2', birthday: '02-29', referrer: 'M1', ts }),
    loyalty.scan({ member: 'M1', store: 'S1', ts }),
    loyalty.tick({ ts }),
    loyalty.rules({ hash: '0123456789abcdef0123456789abcdef', label: 'spring', effectiveTs: ts + 1, ts }),
    loyalty.transfer({ txn: 't6', member: 'M1', to: 'M2', points: 25, ts }),
    loyalty.setTier({ txn: 't7', member: 'M1', tier: 'gold', reason: 'status match', untilTs: ts + 1, ts }),
  ];
  assert.deepEqual(made.map((e) => e.kind), loyalty.INPUT_KINDS);
  for (const e of made) assert.deepEqual(msgpack.decode(loyalty.encode(e)), e);
  assert.equal(made[1].orig_txn, 't1');
  const code = (fn) => { try { loyalty.encode(fn()); } catch (e) { return e.code; } return null; };
  assert.equal(code(() => loyalty.purchase({ txn: 't', member: 'M1', store: 'S1', amount: 1.5 })), 'wrong_type');
  assert.equal(code(() => loyalty.purchase({ txn: 't', member: 'M1', store: 'S1', amount: 10n ** 11n })), 'out_of_range');
  assert.equal(code(() => loyalty.adjust({ txn: 't', member: 'M1', points: 7n, reason: 'x' })), null);
  assert.equal(code(() => ({ ...loyalty.scan({ member: 'M1', store: 'S1' }), meta: 2n ** 60n })), 'out_of_range');
  assert.equal(msgpack.decode(loyalty.encode(loyalty.tick({ ts: 1780000000000 }))).ts, 1780000000000);
  const tsBytes = loyalty.encode(loyalty.tick({ ts: 1780000000000 }));
  const u64 = Buffer.alloc(9);
  u64[0] = 0xcf; // ts as a uint64, never a float64 (0xcb), which the daemon refuses
  u64.writeBigUInt64BE(1780000000000n, 1);
  assert.ok(tsBytes.includes(u64) && !tsBytes.includes(0xcb), tsBytes.toString('hex'));
  assert.equal(code(() => loyalty.scan({ member: 'M1' })), 'missing_field');
  assert.equal(code(() => loyalty.redeem({ txn: 't', member: 'M1', points: 1, reward: 'r' })), 'bad_value');
  assert.equal(made[7].effective_ts, ts + 1);
  assert.equal(made[9].until_ts, ts + 1);
  assert.equal(code(() => loyalty.rules({ hash: 'ABCDEF0123456789abcdef0123456789' })), 'bad_value');
  assert.equal(code(() => loyalty.transfer({ txn: 't', member: 'M1', to: 'M1', points: 1 })), 'bad_value');
  assert.equal(code(() => loyalty.setTier({ txn: 't', member: 'M1', tier: 'gold', reason: 'r', untilTs: ts, ts })), 'bad_value');
});

test('decodeOutput refuses what is not an output event', () => {
  const ok = { v: 1, kind: 'points.changed', member: 'M1', delta: 5, balance: 2 ** 40 };
  assert.deepEqual(loyalty.decodeOutput(msgpack.encode(ok)), ok);
  const big = loyalty.decodeOutput(msgpack.encode({ v: 1, kind: 'x', n: 2n ** 60n }, { useBigInt64: true }));
  assert.equal(big.n, 2n ** 60n); // past 2^53: a BigInt, never a rounded number
  for (const bad of [Buffer.from([0xc1]), msgpack.encode([1]), msgpack.encode({ v: 2, kind: 'x' }),
    msgpack.encode({ v: 1 })]) {
    assert.throws(() => loyalty.decodeOutput(bad), loyalty.DecodeError);
  }
});
