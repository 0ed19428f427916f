'use strict';
// The event contract of loyaltyd (README "The event contract"): building
// input entries, validating them exactly as the daemon's decoder does
// (proto/proto_decode.c: same limits, same order of checks, same reason
// codes), encoding them to msgpack, and decoding output events.
//
// An entry is a plain object: { v: 1, kind, ts, ... }. Integers are JS
// numbers (every limit is a safe integer) or BigInts; a number with a
// fraction is a float, which the daemon refuses (wrong_type).

const msgpack = require('@msgpack/msgpack');

const VERSION = 1;

// Limits, from proto/proto.h. Input over a limit is rejected, never cut.
const LIMITS = Object.freeze({
  ENTRY_BYTES_MAX: 8192,
  DEPTH_MAX: 4,
  KEYS_MAX: 32,
  TXN_MAX: 64,
  MEMBER_MAX: 32,
  NAME_MAX: 32,
  REASON_MAX: 128,
  LINES_MAX: 64,
  AMOUNT_MAX: 10_000_000_000,
  POINTS_MAX: 1_000_000_000_000,
  QTY_MAX: 1_000_000,
  TS_MAX: 253_402_300_799_999,
  HASH_LEN: 32, // a rulebook's identity: XXH3-128 in lowercase hex
  LABEL_MAX: 64, // an operator's name for a rulebook version
});
const L = LIMITS;

const INPUT_KINDS = Object.freeze(['purchase', 'refund', 'redeem', 'adjust', 'enroll', 'scan',
  'tick', 'rules', 'transfer', 'set_tier']);
const OUTPUT_KINDS = Object.freeze(['points.changed', 'tier.changed', 'reward.issued',
  'redeem.result', 'perk.triggered', 'points.expired', 'segment.changed', 'rules.changed',
  'transfer.result', 'campaign.exhausted', 'points.pending', 'tier.at_risk',
  'points.expiring']);

// Field specs [key, type, required, min, max], in the decoder's order: the
// first problem found is the one reported. Types: id (printable ASCII
// without spaces), text (no NUL byte), int, delta (int, not 0), bool,
// birthday ("MM-DD"), lines.
const COMMON = [['ts', 'int', true, 1, L.TS_MAX]];
const FIELDS = {
  purchase: [['txn', 'id', true, 1, L.TXN_MAX], ['member', 'id', true, 1, L.MEMBER_MAX],
    ['store', 'id', true, 1, L.NAME_MAX], ['amount', 'int', true, 1, L.AMOUNT_MAX],
    ['lines', 'lines', false, 0, L.LINES_MAX]],
  refund: [['txn', 'id', true, 1, L.TXN_MAX], ['orig_txn', 'id', true, 1, L.TXN_MAX],
    ['member', 'id', true, 1, L.MEMBER_MAX], ['amount', 'int', true, 1, L.AMOUNT_MAX]],
  redeem: [['txn', 'id', true, 1, L.TXN_MAX], ['member', 'id', true, 1, L.MEMBER_MAX],
    ['points', 'int', false, 1, L.POINTS_MAX], ['reward', 'id', false, 1, L.NAME_MAX]],
  adjust: [['txn', 'id', true, 1, L.TXN_MAX], ['member', 'id', true, 1, L.MEMBER_MAX],
    ['points', 'delta', true, -L.POINTS_MAX, L.POINTS_MAX],
    ['reason', 'text', true, 1, L.REASON_MAX], ['qualifying', 'bool', false, 0, 1]],
  enroll: [['txn', 'id', true, 1, L.TXN_MAX], ['member', 'id', true, 1, L.MEMBER_MAX],
    ['birthday', 'birthday', false, 0, 0], ['referrer', 'id', false, 1, L.MEMBER_MAX]],
  scan: [['member', 'id', true, 1, L.MEMBER_MAX], ['store', 'id', true, 1, L.NAME_MAX],
    ['txn', 'id', false, 1, L.TXN_MAX]],
  tick: [],
  rules: [['hash', 'id', true, 1, L.HASH_LEN], ['label', 'text', false, 1, L.LABEL_MAX],
    ['effective_ts', 'int', false, 1, L.TS_MAX]],
  transfer: [['txn', 'id', true, 1, L.TXN_MAX], ['member', 'id', true, 1, L.MEMBER_MAX],
    ['to', 'id', true, 1, L.MEMBER_MAX], ['points', 'int', true, 1, L.POINTS_MAX]],
  set_tier: [['txn', 'id', true, 1, L.TXN_MAX], ['member', 'id', true, 1, L.MEMBER_MAX],
    ['tier', 'id', true, 1, L.NAME_MAX], ['until_ts', 'int', false, 1, L.TS_MAX],
    ['reason', 'text', true, 1, L.REASON_MAX]],
};
const LINE_FIELDS = [['sku', 'id', true, 1, L.NAME_MAX], ['cat', 'id', true, 1, L.NAME_MAX],
  ['qty', 'int', true, 1, L.QTY_MAX], ['amount', 'int', true, 0, L.AMOUNT_MAX]];
const LEAP_YEAR_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** An entry the daemon would reject; `code` is the DLQ reason it would give. */
class ValidationError extends Error {
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.name = 'ValidationError';
    this.code = code;
    this.detail = detail;
  }
}

/** Bytes that are not an output event of this contract version. */
class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

const fail = (code, detail) => { throw new ValidationError(code, detail); };
const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) &&
  !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer);
const isInt = (v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));

function typeName(v) {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return 'a boolean';
  if (isInt(v)) return 'an integer';
  if (typeof v === 'number') return 'a float';
  if (typeof v === 'string') return 'a string';
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return 'binary';
  if (Array.isArray(v)) return 'an array';
  return 'a map';
}

// Nesting and key counts, in the order the encoded bytes put them.
function checkShape(v, depth, path) {
  if (!Array.isArray(v) && !isMap(v)) return;
  const where = path || 'the entry';
  if (depth + 1 > L.DEPTH_MAX) fail('too_deep', `${where} nests deeper than ${L.DEPTH_MAX} levels`);
  const children = Array.isArray(v) ? v.entries() : Object.entries(v);
  if (!Array.isArray(v) && Object.keys(v).length > L.KEYS_MAX) {
    fail('too_large', `${where} has ${Object.keys(v).length} keys, at most ${L.KEYS_MAX}`);
  }
  for (const [k, x] of children) checkShape(x, depth + 1, `${path}[${JSON.stringify(k)}]`);
}

function checkStr(key, v, type, hi) {
  if (typeof v !== 'string') fail('wrong_type', `field '${key}': got ${typeName(v)}, expected a string`);
  const b = Buffer.from(v, 'utf8');
  if (b.length === 0) fail('bad_value', `field '${key}' is empty`);
  if (b.length > hi) fail('field_too_long', `field '${key}': ${b.length} bytes, at most ${hi}`);
  b.forEach((c, i) => {
    if ((type === 'id' && (c < 0x21 || c > 0x7e)) || c === 0) {
      fail('bad_value', `field '${key}': byte ${i} (0x${c.toString(16).padStart(2, '0')}) is ` +
        `not allowed${type === 'id' ? ' in an id' : ''}`);
    }
  });
}

function checkInt(key, v, type, lo, hi) {
  if (!isInt(v)) fail('wrong_type', `field '${key}': got ${typeName(v)}, expected an integer`);
  const x = BigInt(v);
  if (x < 0n && lo >= 0) fail('wrong_type', `field '${key}': ${x} is negative`);
  if (x < BigInt(lo) || x > BigInt(hi)) fail('out_of_range', `field '${key}': ${x} is outside ${lo}..${hi}`);
  if (x === 0n && type === 'delta') fail('bad_value', `field '${key}' is zero`);
}

function checkBirthday(v) {
  if (typeof v !== 'string') fail('wrong_type', `field 'birthday': got ${typeName(v)}, expected a string`);
  const b = Buffer.from(v, 'utf8');
  const digit = (c) => c >= 0x30 && c <= 0x39;
  if (b.length !== 5 || b[2] !== 0x2d || ![0, 1, 3, 4].every((i) => digit(b[i]))) {
    fail('bad_value', `field 'birthday': ${b.length} bytes that are not "MM-DD"`);
  }
  const month = Number(v.slice(0, 2));
  const day = Number(v.slice(3));
  if (month < 1 || month > 12 || day < 1 || day > LEAP_YEAR_DAYS[month - 1]) {
    fail('bad_value', `field 'birthday': month ${month} day ${day} is not a day of the year`);
  }
}

function checkLines(v) {
  if (!Array.isArray(v)) fail('wrong_type', `field 'lines': got ${typeName(v)}, expected an array`);
  if (v.length > L.LINES_MAX) fail('field_too_long', `field 'lines': ${v.length} items, at most ${L.LINES_MAX}`);
  v.forEach((item, i) => {
    if (!isMap(item)) fail('wrong_type', `field 'lines[${i}]': got ${typeName(item)}, expected a map`);
    checkFields(item, LINE_FIELDS, `lines[${i}].`);
  });
}

function checkFields(m, specs, prefix = '') {
  for (const [key, type, required, lo, hi] of specs) {
    if (!Object.prototype.hasOwnProperty.call(m, key) || m[key] === undefined) {
      if (required) fail('missing_field', `field '${prefix}${key}' is missing`);
      continue;
    }
    const v = m[key];
    if (type === 'id' || type === 'text') checkStr(prefix + key, v, type, hi);
    else if (type === 'int' || type === 'delta') checkInt(prefix + key, v, type, lo, hi);
    else if (type === 'bool') {
      if (typeof v !== 'boolean') fail('wrong_type', `field '${prefix}${key}': got ${typeName(v)}, expected a boolean`);
    } else if (type === 'birthday') checkBirthday(v);
    else checkLines(v);
  }
}

const has = (m, k) => Object.prototype.hasOwnProperty.call(m, k) && m[k] !== undefined;

function checkEntry(m) {
  if (!isMap(m)) fail('not_a_map', `the entry is ${typeName(m)}, not a map`);
  if (!has(m, 'v')) fail('missing_field', "field 'v' is missing");
  if (!isInt(m.v) || BigInt(m.v) !== BigInt(VERSION)) {
    fail('bad_version', `version ${JSON.stringify(String(m.v))} is not supported, only ${VERSION}`);
  }
  if (!has(m, 'kind')) fail('missing_field', "field 'kind' is missing");
  if (typeof m.kind !== 'string') fail('wrong_type', `field 'kind': got ${typeName(m.kind)}, expected a string`);
  if (!INPUT_KINDS.includes(m.kind)) fail('unknown_kind', `kind '${m.kind.slice(0, 16)}' is not an input kind`);
  checkFields(m, COMMON);
  checkFields(m, FIELDS[m.kind]);
  if (m.kind === 'redeem' && has(m, 'points') === has(m, 'reward')) {
    fail('bad_value', "redeem needs exactly one of 'points' and 'reward', got " +
      (has(m, 'points') ? 'both' : 'neither'));
  }
  if (m.kind === 'enroll' && m.referrer === m.member) {
    fail('bad_value', "field 'referrer': a member cannot refer itself");
  }
  if (m.kind === 'rules' && !new RegExp(`^[0-9a-f]{${L.HASH_LEN}}$`).test(m.hash)) {
    fail('bad_value', `field 'hash' must be ${L.HASH_LEN} lowercase hex digits (a rulebook's identity)`);
  }
  if (m.kind === 'transfer' && m.to === m.member) {
    fail('bad_value', "field 'to': a member cannot transfer to itself");
  }
  if (m.kind === 'set_tier' && has(m, 'until_ts') && m.until_ts !== null &&
      BigInt(m.until_ts) <= BigInt(m.ts)) {
    fail('bad_value', "field 'until_ts' must be after the entry's ts");
  }
}

/**
 * Validates `entry` as the daemon's decoder would and returns its msgpack
 * bytes (a Buffer), the stream field `m`. Throws ValidationError with the
 * reason code the daemon would put in the DLQ.
 */
function encode(entry) {
  let data;
  try {
    // Integers go out as msgpack integers only without useBigInt64 (with
    // it, @msgpack/msgpack writes numbers past 2^32 as floats), so BigInts
    // become numbers first; every limit of the contract is a safe integer.
    data = msgpack.encode(widen(entry), { ignoreUndefined: true });
  } catch (e) {
    fail(e instanceof RangeError ? 'out_of_range' : 'wrong_type', `not encodable: ${e.message}`);
  }
  if (data.length > L.ENTRY_BYTES_MAX) {
    fail('too_large', `the entry is ${data.length} bytes, at most ${L.ENTRY_BYTES_MAX}`);
  }
  checkShape(entry, 0, '');
  checkEntry(entry);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Throws ValidationError when the daemon would reject `entry` at decode time. */
function validate(entry) {
  encode(entry);
}

// A copy of `v` with its BigInts as numbers; one past 2^53 cannot be
// written exactly, and no field of the contract needs it: out_of_range.
function widen(v) {
  if (typeof v === 'bigint') {
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`${v} is past 2^53`);
    }
    return Number(v);
  }
  if (Array.isArray(v)) return v.map(widen);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, widen(x)]));
  return v;
}

// BigInts that fit a safe integer become numbers: balances and deltas are
// numbers unless they really need 64 bits.
function narrow(v) {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  if (Array.isArray(v)) return v.map(narrow);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, narrow(x)]));
  return v;
}

/** Decodes msgpack bytes of any value (integers as numbers, or BigInts past 2^53). */
function unpack(data) {
  return narrow(msgpack.decode(data, { useBigInt64: true }));
}

/**
 * The output event in msgpack bytes `data` as an object. Throws DecodeError
 * unless it is a map with v === 1 and a string kind. Kinds added to the
 * contract later decode too.
 */
function decodeOutput(data) {
  let event;
  try {
    event = unpack(data);
  } catch (e) {
    throw new DecodeError(`not msgpack: ${e.message}`);
  }
  if (!isMap(event)) throw new DecodeError(`an output event is a map, not ${typeName(event)}`);
  if (event.v !== VERSION || typeof event.kind !== 'string') {
    throw new DecodeError(`not an output event of version ${VERSION}`);
  }
  return event;
}

function entry(kind, ts, fields) {
  const m = { v: VERSION, kind, ts: ts ?? Date.now() };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) m[k] = v;
  return m;
}

/** One line item of a purchase: amount in minor units (cents). */
const line = (sku, cat, qty, amount) => ({ sku, cat, qty, amount });
/** A sale of `amount` minor units; lines, when given, add up to it. */
const purchase = ({ txn, member, store, amount, lines, ts }) =>
  entry('purchase', ts, { txn, member, store, amount, lines });
/** (Part of) sale `origTxn` returned: `amount` minor units. */
const refund = ({ txn, origTxn, member, amount, ts }) =>
  entry('refund', ts, { txn, orig_txn: origTxn, member, amount });
/** Spend `points`, or redeem catalog `reward` (exactly one of them). */
const redeem = ({ txn, member, points, reward, ts }) =>
  entry('redeem', ts, { txn, member, points, reward });
/** A manual correction of `points` (signed, not zero). */
// qualifying: true: the points also count toward tier qualification.
const adjust = ({ txn, member, points, reason, qualifying, ts }) =>
  entry('adjust', ts, { txn, member, points, reason, qualifying });
/** A new member; birthday "MM-DD"; referrer an enrolled member's id. */
const enroll = ({ txn, member, birthday, referrer, ts }) =>
  entry('enroll', ts, { txn, member, birthday, referrer });
/** A card scanned at a till: the daemon answers with perk.triggered events. */
const scan = ({ member, store, txn, ts }) => entry('scan', ts, { member, store, txn });
/** Time passes: expiry, tier reviews, lifecycle stages. */
const tick = ({ ts } = {}) => entry('tick', ts, {});
/**
 * A rulebook version takes effect: `hash` (32 lowercase hex digits) names a
 * text stored under <prefix>rulebook:<hash> (README "Changing the program");
 * effectiveTs schedules it. Its ts does not move the engine clock.
 */
const rules = ({ hash, label, effectiveTs, ts }) =>
  entry('rules', ts, { hash, label, effective_ts: effectiveTs });
/** `member` gives `points` to member `to`, oldest points first, keeping their expiry. */
const transfer = ({ txn, member, to, points, ts }) =>
  entry('transfer', ts, { txn, member, to, points });
/** Manual status: `member` holds `tier` until `untilTs` (after ts; none: until a review). */
const setTier = ({ txn, member, tier, reason, untilTs, ts }) =>
  entry('set_tier', ts, { txn, member, tier, reason, until_ts: untilTs });

module.exports = {
  VERSION, LIMITS, INPUT_KINDS, OUTPUT_KINDS, ValidationError, DecodeError, encode, validate,
  decodeOutput, unpack, line, purchase, refund, redeem, adjust, enroll, scan, tick, rules,
  transfer, setTier,
};
