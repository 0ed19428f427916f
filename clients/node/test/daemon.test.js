'use strict';
// The Node client against the real daemon. tests/integration/
// test_client_node.py starts a redis-server and loyaltyd and runs this file
// with LOYALTY_REDIS_PORT and LOYALTY_HTTP_PORT set; without them every
// test here is skipped (and that wrapper fails on any skip).
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { execFile } = require('node:child_process');
const Redis = require('ioredis');
const msgpack = require('@msgpack/msgpack');
const loyalty = require('..');

const REDIS_PORT = Number(process.env.LOYALTY_REDIS_PORT);
const HTTP_PORT = Number(process.env.LOYALTY_HTTP_PORT);
const skip = !REDIS_PORT || !HTTP_PORT ? 'needs LOYALTY_REDIS_PORT and LOYALTY_HTTP_PORT' : false;
const TIMEOUT_MS = 30000;

const connect = () => new Redis({ port: REDIS_PORT, host: '127.0.0.1', maxRetriesPerRequest: 2 });

/** GET /v1/members/ID from the daemon: the parsed JSON. */
function member(id) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: HTTP_PORT, path: `/v1/members/${id}`, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body))
          : reject(new Error(`GET ${id}: HTTP ${res.statusCode} ${body}`))));
      });
    req.on('timeout', () => req.destroy(new Error('HTTP timeout')));
    req.on('error', reject);
  });
}

async function withRedis(fn) {
  const redis = connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

test('every input kind is built, appended and applied', { skip, timeout: TIMEOUT_MS }, () => withRedis(async (redis) => {
  const till = new loyalty.Client(redis);
  let ts = 1780000000000;
  const next = () => (ts += 1000);
  assert.ok((await till.submit(loyalty.enroll({ txn: 'n-e1', member: 'N1', birthday: '02-29', ts: next() }))).ok);
  assert.ok((await till.submit(loyalty.enroll({ txn: 'n-e2', member: 'N2', referrer: 'N1', ts: next() }))).ok);
  const sale = await till.submit(loyalty.purchase({ txn: 'n-s1', member: 'N1', store: 'S1', amount: 20000, ts: next(),
    lines: [loyalty.line('A1', 'food', 2, 15000), loyalty.line('B2', 'home', 1, 5000)] }));
  const gained = sale.ofKind('points.changed');
  assert.ok(gained.length >= 1 && gained.every((e) => typeof e.delta === 'number' && e.delta > 0));
  assert.equal(gained[gained.length - 1].balance, (await member('N1')).balance);
  const ref = await till.submit(loyalty.refund({ txn: 'n-f1', origTxn: 'n-s1', member: 'N1', amount: 10000, ts: next() }));
  assert.ok(ref.ofKind('points.changed')[0].delta < 0);
  const red = await till.submit(loyalty.redeem({ txn: 'n-d1', member: 'N1', points: 10, ts: next() }));
  const result = red.ofKind('redeem.result')[0];
  assert.equal(result.ok, true);
  assert.equal(result.txn, 'n-d1');
  const adj = await till.submit(loyalty.adjust({ txn: 'n-a1', member: 'N1', points: -5, reason: 'goodwill', ts: next() }));
  assert.deepEqual(adj.ofKind('points.changed').map((e) => [e.cause, e.delta]), [['adjust', -5]]);
  const record = await member('N1');
  assert.equal(record.balance, adj.ofKind('points.changed')[0].balance);
  const scan = await till.scan('N1', 'S7');
  assert.ok(scan.ok);
  assert.deepEqual(scan.perks, record.perks);
  assert.ok((await till.submit(loyalty.tick({ ts: next() }))).ok);
  const sent = await till.submit(loyalty.transfer({ txn: 'n-x1', member: 'N1', to: 'N2', points: 3, ts: next() }));
  assert.equal(sent.ofKind('transfer.result')[0].ok, true);
  assert.equal((await member('N1')).balance, record.balance - 3);
  const status = await till.submit(loyalty.setTier({ txn: 'n-m1', member: 'N2', tier: record.tier,
    reason: 'status match', untilTs: ts + 86400000, ts: next() }));
  assert.ok(status.ok);
  assert.equal((await member('N2')).tier, record.tier);
  const lost = await till.submit(loyalty.purchase({ txn: 'n-s2', member: 'nobody', store: 'S1', amount: 100, ts: next() }));
  assert.equal(lost.rejected.reason, 'unknown_member');
  assert.deepEqual(lost.events, []);
  await assert.rejects(till.add(loyalty.scan({ member: 'has space', store: 'S1' })),
    (e) => e instanceof loyalty.ValidationError && e.code === 'bad_value');
}));

test('a consumer group decodes real outputs, at least once', { skip, timeout: TIMEOUT_MS }, () => withRedis(async (redis) => {
  const till = new loyalty.Client(redis);
  await till.add(loyalty.enroll({ txn: 'n-e3', member: 'N3' }));
  await till.waitCommitted(await till.add(loyalty.purchase({ txn: 'n-s3', member: 'N3', store: 'S1', amount: 300000 })));
  const raw = await redis.xrangeBuffer('loyalty:out', '-', '+');
  const want = raw.map(([, f]) => msgpack.decode(f[1]));
  const feedRedis = connect();
  try {
    const feed = new loyalty.Consumer(feedRedis, { group: 'node-crm', name: 'c1', start: '0' });
    const got = [];
    while (got.length < want.length) {
      const batch = await feed.read({ count: 3, blockMs: 2000 });
      assert.ok(batch.length > 0, `no more events after ${got.length} of ${want.length}`);
      got.push(...batch);
    }
    assert.deepEqual(got.map((e) => e.data), want);
    assert.deepEqual(got.map((e) => e.entryId), raw.map(([id]) => id.toString()));
    assert.ok(got.some((e) => e.data.kind === 'tier.changed' && e.data.member === 'N3'));
    await feed.ack(...got.slice(0, 2));
    assert.equal(await feed.pending(), want.length - 2);
    const again = new loyalty.Consumer(feedRedis, { group: 'node-crm', name: 'c1' }); // a restart
    const redelivered = await again.read({ count: 1000, blockMs: 0 });
    assert.deepEqual(redelivered.map((e) => e.entryId), got.slice(2).map((e) => e.entryId));
    await again.ack(...redelivered);
    assert.equal(await again.pending(), 0);
    assert.deepEqual(await again.read({ count: 10, blockMs: 0 }), []);
  } finally {
    feedRedis.disconnect();
  }
}));

test('a DLQ consumer sees the rejected bytes and reason', { skip, timeout: TIMEOUT_MS }, () => withRedis(async (redis) => {
  const dlq = new loyalty.Consumer(redis, { group: 'node-ops', name: 'o1', stream: 'dlq' });
  await dlq.ensureGroup(); // from now: earlier DLQ entries are not ours
  const till = new loyalty.Client(redis);
  await redis.xadd('loyalty:in', '*', 'm', Buffer.from([0xc1]));
  const sid = await till.add(loyalty.scan({ member: 'ghost-n', store: 'S1' }));
  await till.waitCommitted(sid);
  const events = await dlq.read({ count: 10, blockMs: 2000 });
  assert.deepEqual(events.map((e) => e.data.reason), ['bad_msgpack', 'unknown_member']);
  assert.deepEqual([...events[0].data.m], [0xc1]);
  assert.equal(events[0].data.input, null);
  assert.equal(events[1].data.input.member, 'ghost-n');
  assert.equal(events[1].data.src, sid);
}));

test('the till example prints the member\'s perks', { skip, timeout: TIMEOUT_MS }, async () => {
  const script = path.join(__dirname, '..', 'examples', 'till.js');
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [script, '--redis', `127.0.0.1:${REDIS_PORT}`, '--member', 'N-TILL-1'],
      { timeout: TIMEOUT_MS }, (err, out, errText) => (err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out)));
  });
  const lines = stdout.trim().split('\n');
  const record = await member('N-TILL-1');
  assert.equal(lines[0], 'enrolled N-TILL-1');
  assert.ok(lines.includes(`scan at S001: tier ${record.tier}`), stdout);
  const perks = lines.filter((l) => l.startsWith('perk ')).map((l) => l.slice(5));
  assert.ok(perks.length > 0, stdout);
  assert.deepEqual(perks, record.perks);
  assert.equal(lines[lines.length - 1], `redeem 100 points: ok, balance ${record.balance}`);
});
