"""The event contract of loyaltyd (README "The event contract"): building
input entries, validating them exactly as the daemon's decoder does
(proto/proto_decode.c: same limits, same order of checks, same reason
codes), encoding them to msgpack, and decoding output events.

An entry is a plain dict: {"v": 1, "kind": ..., "ts": ..., ...}. Builders
(purchase(), scan(), ...) fill v, kind and ts; encode() validates and
returns the bytes of the stream field `m`.
"""
import time

import msgpack

VERSION = 1

# Limits, from proto/proto.h. Input over a limit is rejected, never cut.
ENTRY_BYTES_MAX = 8192
DEPTH_MAX = 4
KEYS_MAX = 32
TXN_MAX = 64
MEMBER_MAX = 32
NAME_MAX = 32
REASON_MAX = 128
LINES_MAX = 64
AMOUNT_MAX = 10_000_000_000
POINTS_MAX = 1_000_000_000_000
QTY_MAX = 1_000_000
TS_MAX = 253_402_300_799_999
HASH_LEN = 32   # a rulebook's identity: XXH3-128 in lowercase hex
LABEL_MAX = 64  # an operator's name for a rulebook version

INPUT_KINDS = ("purchase", "refund", "redeem", "adjust", "enroll", "scan", "tick", "rules",
               "transfer", "set_tier")
OUTPUT_KINDS = ("points.changed", "tier.changed", "reward.issued", "redeem.result",
                "perk.triggered", "points.expired", "segment.changed", "rules.changed",
                "transfer.result", "campaign.exhausted", "points.pending", "tier.at_risk",
                "points.expiring")

# Field specs: (key, type, required, min, max). Types: "id" (printable
# ASCII without spaces), "text" (no NUL byte), "int", "delta" (int, not 0), "bool",
# "birthday" ("MM-DD"), "lines". Order is the decoder's: the first problem
# found is the one reported.
_COMMON = (("ts", "int", True, 1, TS_MAX),)
_FIELDS = {
    "purchase": (("txn", "id", True, 1, TXN_MAX), ("member", "id", True, 1, MEMBER_MAX),
                 ("store", "id", True, 1, NAME_MAX), ("amount", "int", True, 1, AMOUNT_MAX),
                 ("lines", "lines", False, 0, LINES_MAX)),
    "refund": (("txn", "id", True, 1, TXN_MAX), ("orig_txn", "id", True, 1, TXN_MAX),
               ("member", "id", True, 1, MEMBER_MAX), ("amount", "int", True, 1, AMOUNT_MAX)),
    "redeem": (("txn", "id", True, 1, TXN_MAX), ("member", "id", True, 1, MEMBER_MAX),
               ("points", "int", False, 1, POINTS_MAX), ("reward", "id", False, 1, NAME_MAX)),
    "adjust": (("txn", "id", True, 1, TXN_MAX), ("member", "id", True, 1, MEMBER_MAX),
               ("points", "delta", True, -POINTS_MAX, POINTS_MAX),
               ("reason", "text", True, 1, REASON_MAX), ("qualifying", "bool", False, 0, 1)),
    "enroll": (("txn", "id", True, 1, TXN_MAX), ("member", "id", True, 1, MEMBER_MAX),
               ("birthday", "birthday", False, 0, 0), ("referrer", "id", False, 1, MEMBER_MAX)),
    "scan": (("member", "id", True, 1, MEMBER_MAX), ("store", "id", True, 1, NAME_MAX),
             ("txn", "id", False, 1, TXN_MAX)),
    "tick": (),
    "rules": (("hash", "id", True, 1, HASH_LEN), ("label", "text", False, 1, LABEL_MAX),
              ("effective_ts", "int", False, 1, TS_MAX)),
    "transfer": (("txn", "id", True, 1, TXN_MAX), ("member", "id", True, 1, MEMBER_MAX),
                 ("to", "id", True, 1, MEMBER_MAX), ("points", "int", True, 1, POINTS_MAX)),
    "set_tier": (("txn", "id", True, 1, TXN_MAX), ("member", "id", True, 1, MEMBER_MAX),
                 ("tier", "id", True, 1, NAME_MAX), ("until_ts", "int", False, 1, TS_MAX),
                 ("reason", "text", True, 1, REASON_MAX)),
}
_HEX = frozenset("0123456789abcdef")
_LINE_FIELDS = (("sku", "id", True, 1, NAME_MAX), ("cat", "id", True, 1, NAME_MAX),
                ("qty", "int", True, 1, QTY_MAX), ("amount", "int", True, 0, AMOUNT_MAX))
_LEAP_YEAR_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class ValidationError(ValueError):
    """An entry the daemon would reject. `code` is the DLQ reason code the
    daemon would give (missing_field, wrong_type, out_of_range, ...)."""

    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class DecodeError(ValueError):
    """Bytes that are not an output event of this contract version."""


def now_ms():
    return int(time.time() * 1000)


def _type_name(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (bytes, bytearray)):
        return "binary"
    if isinstance(v, (list, tuple)):
        return "an array"
    if isinstance(v, dict):
        return "a map"
    return type(v).__name__


def _check_shape(v, depth, path):
    """Nesting and key counts, in the order the encoded bytes put them."""
    if isinstance(v, dict) or isinstance(v, (list, tuple)):
        if depth + 1 > DEPTH_MAX:
            raise ValidationError("too_deep", f"{path or 'the entry'} nests deeper than "
                                  f"{DEPTH_MAX} levels")
        if isinstance(v, dict) and len(v) > KEYS_MAX:
            raise ValidationError("too_large", f"{path or 'the entry'} has {len(v)} keys, "
                                  f"at most {KEYS_MAX}")
        items = v.items() if isinstance(v, dict) else enumerate(v)
        for k, x in items:
            if isinstance(v, dict):
                _check_shape(k, depth + 1, path)
            _check_shape(x, depth + 1, f"{path}[{k!r}]")


def _check_keys(m, what, non_str_code):
    for i, k in enumerate(m):
        if not isinstance(k, str):
            raise ValidationError(non_str_code, f"key {i} of {what} is {_type_name(k)}, "
                                  "not a string")


def _check_str(key, v, ftype, hi):
    if not isinstance(v, str):
        raise ValidationError("wrong_type", f"field '{key}': got {_type_name(v)}, "
                              "expected a string")
    b = v.encode("utf-8", "surrogatepass")
    if not b:
        raise ValidationError("bad_value", f"field '{key}' is empty")
    if len(b) > hi:
        raise ValidationError("field_too_long", f"field '{key}': {len(b)} bytes, at most {hi}")
    for i, c in enumerate(b):
        if (ftype == "id" and not 0x21 <= c <= 0x7e) or c == 0:
            raise ValidationError("bad_value", f"field '{key}': byte {i} (0x{c:02x}) is "
                                  "not allowed" + (" in an id" if ftype == "id" else ""))


def _check_int(key, v, ftype, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValidationError("wrong_type", f"field '{key}': got {_type_name(v)}, "
                              "expected an integer")
    if v < 0 and lo >= 0:
        raise ValidationError("wrong_type", f"field '{key}': {v} is negative")
    if v < lo or v > hi:
        raise ValidationError("out_of_range", f"field '{key}': {v} is outside {lo}..{hi}")
    if v == 0 and ftype == "delta":
        raise ValidationError("bad_value", f"field '{key}' is zero")


def _check_birthday(v):
    if not isinstance(v, str):
        raise ValidationError("wrong_type", f"field 'birthday': got {_type_name(v)}, "
                              "expected a string")
    b = v.encode("utf-8", "surrogatepass")
    digits = b"0123456789"
    if len(b) != 5 or b[2:3] != b"-" or any(c not in digits for c in b[:2] + b[3:]):
        raise ValidationError("bad_value", f"field 'birthday': {len(b)} bytes that are not "
                              '"MM-DD"')
    month, day = int(b[:2]), int(b[3:])
    if not 1 <= month <= 12 or not 1 <= day <= _LEAP_YEAR_DAYS[month - 1]:
        raise ValidationError("bad_value", f"field 'birthday': month {month} day {day} is "
                              "not a day of the year")


def _check_lines(v):
    if not isinstance(v, (list, tuple)):
        raise ValidationError("wrong_type", f"field 'lines': got {_type_name(v)}, "
                              "expected an array")
    if len(v) > LINES_MAX:
        raise ValidationError("field_too_long", f"field 'lines': {len(v)} items, "
                              f"at most {LINES_MAX}")
    for i, item in enumerate(v):
        what = f"lines[{i}]"
        if not isinstance(item, dict):
            raise ValidationError("wrong_type", f"field '{what}': got {_type_name(item)}, "
                                  "expected a map")
        _check_keys(item, what, "wrong_type")
        _check_fields(item, _LINE_FIELDS, what + ".")


def _check_fields(m, specs, prefix=""):
    for key, ftype, required, lo, hi in specs:
        if key not in m:
            if required:
                raise ValidationError("missing_field", f"field '{prefix}{key}' is missing")
            continue
        v = m[key]
        if ftype in ("id", "text"):
            _check_str(prefix + key, v, ftype, hi)
        elif ftype in ("int", "delta"):
            _check_int(prefix + key, v, ftype, lo, hi)
        elif ftype == "bool":
            if not isinstance(v, bool):
                raise ValidationError("wrong_type", f"field '{prefix}{key}': got "
                                      f"{_type_name(v)}, expected a boolean")
        elif ftype == "birthday":
            _check_birthday(v)
        else:
            _check_lines(v)


def _check_entry(m):
    if not isinstance(m, dict):
        raise ValidationError("not_a_map", f"the entry is {_type_name(m)}, not a map")
    _check_keys(m, "the entry", "not_a_map")
    if "v" not in m:
        raise ValidationError("missing_field", "field 'v' is missing")
    v = m["v"]
    if isinstance(v, bool) or not isinstance(v, int) or v != VERSION:
        raise ValidationError("bad_version", f"version {v!r} is not supported, "
                              f"only {VERSION}")
    if "kind" not in m:
        raise ValidationError("missing_field", "field 'kind' is missing")
    kind = m["kind"]
    if not isinstance(kind, str):
        raise ValidationError("wrong_type", f"field 'kind': got {_type_name(kind)}, "
                              "expected a string")
    if kind not in INPUT_KINDS:
        raise ValidationError("unknown_kind", f"kind {kind[:16]!r} is not an input kind")
    _check_fields(m, _COMMON)
    _check_fields(m, _FIELDS[kind])
    if kind == "redeem" and (m.get("points") is not None) == (m.get("reward") is not None):
        raise ValidationError("bad_value", "redeem needs exactly one of 'points' and "
                              "'reward', got " + ("both" if "points" in m else "neither"))
    if kind == "enroll" and m.get("referrer") == m["member"]:
        raise ValidationError("bad_value", "field 'referrer': a member cannot refer itself")
    if kind == "rules" and (len(m["hash"]) != HASH_LEN or not set(m["hash"]) <= _HEX):
        raise ValidationError("bad_value", f"field 'hash' must be {HASH_LEN} lowercase hex "
                              "digits (a rulebook's identity)")
    if kind == "transfer" and m["to"] == m["member"]:
        raise ValidationError("bad_value", "field 'to': a member cannot transfer to itself")
    if kind == "set_tier" and m.get("until_ts") is not None and m["until_ts"] <= m["ts"]:
        raise ValidationError("bad_value", "field 'until_ts' must be after the entry's ts")


def encode(entry):
    """Validates `entry` (a dict) as the daemon's decoder would and returns
    its msgpack bytes, the stream field `m`. Raises ValidationError with the
    reason code the daemon would put in the DLQ."""
    try:
        data = msgpack.packb(entry, use_bin_type=True)
    except OverflowError as e:
        raise ValidationError("out_of_range", f"an integer does not fit 64 bits: {e}") from None
    except (TypeError, ValueError) as e:
        raise ValidationError("wrong_type", f"not encodable as msgpack: {e}") from None
    if len(data) > ENTRY_BYTES_MAX:
        raise ValidationError("too_large", f"the entry is {len(data)} bytes, "
                              f"at most {ENTRY_BYTES_MAX}")
    _check_shape(entry, 0, "")
    _check_entry(entry)
    return data


def validate(entry):
    """Raises ValidationError when the daemon would reject `entry` at decode
    time; returns None otherwise. (Rules may still reject a valid entry:
    unknown_member, txn_conflict, lines_mismatch...; see the README.)"""
    encode(entry)


def decode_output(data):
    """The output event in msgpack bytes `data` as a dict. Raises DecodeError
    unless it is a map with v == 1 and a string kind. Kinds added to the
    contract later decode too (their fields as they come)."""
    try:
        event = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException, TypeError) as e:
        raise DecodeError(f"not msgpack: {e}") from None
    if not isinstance(event, dict):
        raise DecodeError(f"an output event is a map, not {_type_name(event)}")
    if event.get("v") != VERSION or not isinstance(event.get("kind"), str):
        raise DecodeError(f"not an output event of version {VERSION}: "
                          f"v={event.get('v')!r} kind={event.get('kind')!r}")
    return event


def _entry(kind, ts, **fields):
    m = {"v": VERSION, "kind": kind, "ts": now_ms() if ts is None else ts}
    m.update((k, v) for k, v in fields.items() if v is not None)
    return m


def line(sku, cat, qty, amount):
    """One line item of a purchase: amount in minor units (cents)."""
    return {"sku": sku, "cat": cat, "qty": qty, "amount": amount}


def purchase(txn, member, store, amount, lines=None, ts=None):
    """A sale of `amount` minor units; lines, when given, add up to it."""
    return _entry("purchase", ts, txn=txn, member=member, store=store, amount=amount,
                  lines=lines)


def refund(txn, orig_txn, member, amount, ts=None):
    """(Part of) sale `orig_txn` returned: `amount` minor units."""
    return _entry("refund", ts, txn=txn, orig_txn=orig_txn, member=member, amount=amount)


def redeem(txn, member, points=None, reward=None, ts=None):
    """Spend `points`, or redeem catalog `reward` (exactly one of them)."""
    return _entry("redeem", ts, txn=txn, member=member, points=points, reward=reward)


def adjust(txn, member, points, reason, qualifying=None, ts=None):
    """A manual correction of `points` (signed, not zero); qualifying=True: the
    points also count toward tier qualification (a migrated member's status).
    Not earning: no lifetime points, no every-N rewards (README "Rules")."""
    return _entry("adjust", ts, txn=txn, member=member, points=points, reason=reason,
                  qualifying=qualifying)


def enroll(txn, member, birthday=None, referrer=None, ts=None):
    """A new member; birthday "MM-DD"; referrer an enrolled member's id."""
    return _entry("enroll", ts, txn=txn, member=member, birthday=birthday, referrer=referrer)


def scan(member, store, txn=None, ts=None):
    """A card scanned at a till or an entrance: the daemon answers with the
    member's perks (perk.triggered)."""
    return _entry("scan", ts, member=member, store=store, txn=txn)


def tick(ts=None):
    """Time passes: expiry, tier reviews, lifecycle stages."""
    return _entry("tick", ts)


def rules(hash, label=None, effective_ts=None, ts=None):
    """A rulebook version takes effect: `hash` (32 lowercase hex digits) names
    a text stored under <prefix>rulebook:<hash> (README "Changing the
    program"; loyaltyctl rules push does both); effective_ts schedules it.
    Its ts does not move the engine clock."""
    return _entry("rules", ts, hash=hash, label=label, effective_ts=effective_ts)


def transfer(txn, member, to, points, ts=None):
    """`member` gives `points` to member `to` (another member), oldest points
    first, keeping their expiry (README "Transfers")."""
    return _entry("transfer", ts, txn=txn, member=member, to=to, points=points)


def set_tier(txn, member, tier, reason, until_ts=None, ts=None):
    """Manual status: `member` holds tier `tier` (a tier's name) until
    `until_ts` (after ts; None: until a review moves it), for `reason`."""
    return _entry("set_tier", ts, txn=txn, member=member, tier=tier, reason=reason,
                  until_ts=until_ts)
