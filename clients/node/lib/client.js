'use strict';
// Talking to loyaltyd through Redis (ioredis): appending input entries,
// waiting for what the daemon made of one (its outputs or its DLQ reason),
// and reading output events (or DLQ entries) with a consumer group. Every
// wait is bounded: a timeout rejects with an Error naming what was awaited.

const contract = require('./contract');

const DEFAULT_PREFIX = 'loyalty:';
const PAGE_ENTRIES = 256; // entries per XRANGE while collecting an entry's outputs
const POLL_FIRST_MS = 1; // first pause between progress checks
const POLL_MAX_MS = 20; // pauses double up to this

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const str = (b) => (Buffer.isBuffer(b) ? b.toString('utf8') : String(b));

/** A stream id "ms-seq" as [ms, seq] BigInts, for comparing. */
function sidKey(sid) {
  const [ms, seq = '0'] = str(sid).split('-');
  return [BigInt(ms), BigInt(seq)];
}

function sidCompare(a, b) {
  const [x, y] = [sidKey(a), sidKey(b)];
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

/** Field/value array of a stream entry as a Map of name -> Buffer. */
function fieldMap(fields) {
  const m = new Map();
  for (let i = 0; fields && i + 1 < fields.length; i += 2) m.set(str(fields[i]), fields[i + 1]);
  return m;
}

/** What the daemon made of one input entry: its outputs, or why it was rejected. */
class Outcome {
  constructor(entryId, events, rejected) {
    this.entryId = entryId;
    this.events = events;
    this.rejected = rejected; // null, or { reason, detail } when it went to the DLQ
  }

  get ok() { return this.rejected === null; }

  /** Names of the perks a scan triggered, in order. */
  get perks() { return this.ofKind('perk.triggered').map((e) => e.perk); }

  /** The tier the perks came with (null without perks). */
  get tier() { return this.ofKind('perk.triggered')[0]?.tier ?? null; }

  ofKind(kind) { return this.events.filter((e) => e.kind === kind); }
}

/**
 * A producer: validates and appends entries to <prefix>in. `redis` is an
 * ioredis client the caller owns (a POS user needs XADD on <prefix>in;
 * submit() also reads <prefix>out, <prefix>dlq and <prefix>progress).
 */
class Client {
  constructor(redis, { prefix = DEFAULT_PREFIX } = {}) {
    this.redis = redis;
    this.prefix = prefix;
  }

  key(suffix) { return this.prefix + suffix; }

  /**
   * Validates and appends `entry`; resolves to its stream id. Throws
   * ValidationError (nothing sent) when the daemon would reject it at
   * decode time.
   */
  async add(entry) {
    return this.redis.xadd(this.key('in'), '*', 'm', contract.encode(entry));
  }

  /** The id of the last input entry whose outputs are published, or null. */
  async progress() {
    return this.redis.get(this.key('progress'));
  }

  /**
   * Appends `entry` and waits (at most timeoutMs) until the daemon has
   * committed it: resolves to its Outcome (outputs, or the DLQ reason).
   */
  async submit(entry, { timeoutMs = 5000 } = {}) {
    const data = contract.encode(entry);
    const replies = await this.redis.pipeline()
      .xrevrange(this.key('out'), '+', '-', 'COUNT', 1)
      .xrevrange(this.key('dlq'), '+', '-', 'COUNT', 1)
      .xadd(this.key('in'), '*', 'm', data)
      .exec();
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    const [[, lastOut], [, lastDlq], [, sid]] = replies;
    await this.waitCommitted(sid, { timeoutMs });
    const events = await this.outputsOf(sid, lastOut.length ? lastOut[0][0] : '0-0');
    const rejected = await this.rejectionOf(sid, lastDlq.length ? lastDlq[0][0] : '0-0');
    return new Outcome(sid, events, rejected);
  }

  /** Scans `member`'s card at `store`: the Outcome's perks and tier. */
  async scan(member, store, { txn, timeoutMs } = {}) {
    return this.submit(contract.scan({ member, store, txn }), { timeoutMs });
  }

  /**
   * Waits until <prefix>progress reaches entry `sid`: its outputs and DLQ
   * entry are then all in Redis (one commit: one Redis Function call).
   */
  async waitCommitted(sid, { timeoutMs = 5000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
      const at = await this.progress();
      if (at !== null && sidCompare(at, sid) >= 0) return;
      if (Date.now() >= deadline) {
        throw new Error(`loyaltyd did not commit entry ${sid} within ${timeoutMs} ms ` +
          `(${this.key('progress')} is ${at}); is it running?`);
      }
      await sleep(pause);
    }
  }

  // Outputs whose src is `sid`, after stream id `after`. Outputs come in
  // input order: the first output of a later input ends the search.
  async outputsOf(sid, after) {
    const found = [];
    for (let start = `(${after}`; ;) {
      const page = await this.redis.xrangeBuffer(this.key('out'), start, '+', 'COUNT', PAGE_ENTRIES);
      for (const [, fields] of page) {
        const event = contract.decodeOutput(fieldMap(fields).get('m'));
        const order = sidCompare(event.src, sid);
        if (order === 0) found.push(event);
        else if (order > 0) return found;
      }
      if (page.length < PAGE_ENTRIES) return found;
      start = `(${str(page[page.length - 1][0])}`;
    }
  }

  // { reason, detail } of the DLQ entry whose src is `sid`, or null.
  async rejectionOf(sid, after) {
    for (let start = `(${after}`; ;) {
      const page = await this.redis.xrangeBuffer(this.key('dlq'), start, '+', 'COUNT', PAGE_ENTRIES);
      for (const [, fields] of page) {
        const f = fieldMap(fields);
        if (f.has('src') && str(f.get('src')) === sid) {
          return { reason: str(f.get('reason')), detail: str(f.get('detail')) };
        }
      }
      if (page.length < PAGE_ENTRIES) return null;
      start = `(${str(page[page.length - 1][0])}`;
    }
  }
}

/**
 * One entry read by a Consumer. For <prefix>out, `data` is the decoded
 * event; for <prefix>dlq, { src, reason, detail, m (the rejected bytes),
 * input (m decoded, or null) }. `error` is set instead of `data` when the
 * entry does not decode: it is still delivered, to be acked.
 */
class Event {
  constructor(entryId, data, error = null) {
    this.entryId = entryId;
    this.data = data;
    this.error = error;
  }
}

function decodeDlq(f) {
  const m = f.get('m') ?? Buffer.alloc(0);
  let input = null;
  try {
    const v = m.length ? contract.unpack(m) : null;
    input = v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    input = null;
  }
  const text = (k) => (f.has(k) ? str(f.get(k)) : '');
  return { src: text('src'), reason: text('reason'), detail: text('detail'), m, input };
}

/**
 * Reads <prefix>out (or <prefix>dlq) as member `name` of consumer group
 * `group`: each entry goes to one member of the group and stays pending
 * until acked. At-least-once: after a crash, entries read but not acked are
 * delivered again (read() starts with them), so deduplicate on the event's
 * `id` (stable: "<src>:<n>"). Give it its own ioredis connection: a
 * blocking read holds the connection while it waits.
 */
class Consumer {
  constructor(redis, { group, name, prefix = DEFAULT_PREFIX, stream = 'out', start = '$' }) {
    if (stream !== 'out' && stream !== 'dlq') throw new RangeError("stream is 'out' or 'dlq'");
    Object.assign(this, { redis, group, name, stream, start, key: prefix + stream });
    this.pendingAfter = '0'; // own pending entries first; null once drained
    this.created = false;
  }

  /** Creates the group (at `start`) unless it exists. read() calls it. */
  async ensureGroup() {
    if (this.created) return;
    try {
      await this.redis.xgroup('CREATE', this.key, this.group, this.start, 'MKSTREAM');
    } catch (e) {
      if (!String(e.message).includes('BUSYGROUP')) throw e;
    }
    this.created = true;
  }

  /**
   * Up to `count` entries: first those this member read before and never
   * acked, then new ones, waiting up to blockMs (0: not at all).
   */
  async read({ count = 100, blockMs = 1000 } = {}) {
    await this.ensureGroup();
    while (this.pendingAfter !== null) {
      const entries = await this.readGroup(count, 0, this.pendingAfter);
      if (entries.length) {
        this.pendingAfter = str(entries[entries.length - 1][0]);
        return entries.map(([id, fields]) => this.event(id, fields));
      }
      this.pendingAfter = null;
    }
    const entries = await this.readGroup(count, blockMs, '>');
    return entries.map(([id, fields]) => this.event(id, fields));
  }

  async readGroup(count, blockMs, id) {
    const args = ['GROUP', this.group, this.name, 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const reply = await this.redis.xreadgroupBuffer(...args, 'STREAMS', this.key, id);
    return reply ? reply[0][1] : [];
  }

  event(id, fields) {
    const entryId = str(id);
    const f = fieldMap(fields); // a pending entry deleted from the stream has none
    if (this.stream === 'dlq') return new Event(entryId, decodeDlq(f));
    try {
      return new Event(entryId, contract.decodeOutput(f.get('m') ?? Buffer.alloc(0)));
    } catch (e) {
      return new Event(entryId, null, e.message);
    }
  }

  /** Acknowledges events (or entry ids): they will not come again. */
  async ack(...events) {
    const ids = events.map((e) => (e instanceof Event ? e.entryId : e));
    return ids.length ? this.redis.xack(this.key, this.group, ...ids) : 0;
  }

  /** How many entries the group has delivered and not had acked. */
  async pending() {
    const [count] = await this.redis.xpending(this.key, this.group);
    return Number(count);
  }
}

module.exports = { DEFAULT_PREFIX, Client, Consumer, Event, Outcome, sidCompare };
