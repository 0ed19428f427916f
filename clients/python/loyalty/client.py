"""Talking to loyaltyd through Redis: appending input entries, waiting for
what the daemon made of one (its outputs or its DLQ reason), and reading
output events (or DLQ entries) with a consumer group.

Uses redis-py (Debian's python3-redis). Every wait is bounded: a timeout
raises TimeoutError naming what was awaited.
"""
import time
from dataclasses import dataclass, field

import msgpack
import redis

from .contract import DecodeError, decode_output, encode
from . import contract

DEFAULT_PREFIX = "loyalty:"
PAGE_ENTRIES = 256       # entries per XRANGE while collecting an entry's outputs
POLL_FIRST_S = 0.0005    # first pause between progress checks: a scan takes ~0.1 ms
POLL_MAX_S = 0.02        # pauses double up to this


def _sid(v):
    return v.decode() if isinstance(v, bytes) else v


def _sid_key(sid):
    ms, _, seq = _sid(sid).partition("-")
    return int(ms), int(seq or 0)


@dataclass
class Outcome:
    """What the daemon made of one input entry: its outputs, or the reason
    it was rejected (then `events` is empty)."""
    entry_id: str
    events: list = field(default_factory=list)
    rejected: tuple = None  # (reason, detail) when the entry went to the DLQ

    @property
    def ok(self):
        return self.rejected is None

    @property
    def perks(self):
        """Names of the perks a scan triggered, in order."""
        return [e["perk"] for e in self.events if e["kind"] == "perk.triggered"]

    @property
    def tier(self):
        """The tier the perks came with (None without perks)."""
        return next((e["tier"] for e in self.events if e["kind"] == "perk.triggered"), None)

    def of_kind(self, kind):
        return [e for e in self.events if e["kind"] == kind]


class Client:
    """A producer: validates and appends entries to <prefix>in.

    `r` is a redis.Redis (the caller owns it and its credentials: a POS user
    needs XADD on <prefix>in; submit() also reads <prefix>out, <prefix>dlq
    and <prefix>progress)."""

    def __init__(self, r, prefix=DEFAULT_PREFIX):
        self.r = r
        self.prefix = prefix

    def key(self, suffix):
        return self.prefix + suffix

    def add(self, entry):
        """Validates and appends `entry`; returns its stream id. Raises
        contract.ValidationError before anything is sent when the daemon
        would reject it at decode time."""
        return _sid(self.r.xadd(self.key("in"), {"m": encode(entry)}))

    def progress(self):
        """The id of the last input entry whose outputs are published."""
        v = self.r.get(self.key("progress"))
        return None if v is None else _sid(v)

    def submit(self, entry, timeout_s=5.0):
        """Appends `entry` and waits (at most timeout_s) until the daemon has
        committed it: returns its Outcome (outputs, or the DLQ reason)."""
        data = encode(entry)
        pipe = self.r.pipeline(transaction=False)
        pipe.xrevrange(self.key("out"), count=1)
        pipe.xrevrange(self.key("dlq"), count=1)
        pipe.xadd(self.key("in"), {"m": data})
        last_out, last_dlq, sid = pipe.execute()
        sid = _sid(sid)
        self.wait_committed(sid, timeout_s)
        after_out = _sid(last_out[0][0]) if last_out else "0-0"
        after_dlq = _sid(last_dlq[0][0]) if last_dlq else "0-0"
        return Outcome(sid, self._outputs_of(sid, after_out), self._rejection_of(sid, after_dlq))

    def scan(self, member, store, txn=None, timeout_s=5.0):
        """Scans `member`'s card at `store`: the Outcome's perks and tier."""
        return self.submit(contract.scan(member, store, txn=txn), timeout_s)

    def wait_committed(self, sid, timeout_s=5.0):
        """Waits until <prefix>progress reaches entry `sid`: its outputs and
        DLQ entry are then all in Redis (one commit: one Redis Function call)."""
        want = _sid_key(sid)
        deadline = time.monotonic() + timeout_s
        pause = POLL_FIRST_S
        while True:
            at = self.progress()
            if at is not None and _sid_key(at) >= want:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"loyaltyd did not commit entry {sid} within {timeout_s}s "
                                   f"({self.key('progress')} is {at}); is it running?")
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)

    def _outputs_of(self, sid, after):
        """Outputs whose src is `sid`, after stream id `after`. Outputs come
        in input order, so the first output of a later input ends the search."""
        want, found, start = _sid_key(sid), [], "(" + after
        while True:
            page = self.r.xrange(self.key("out"), min=start, max="+", count=PAGE_ENTRIES)
            for eid, fields in page:
                event = decode_output(fields[b"m"])
                src = _sid_key(event["src"])
                if src == want:
                    found.append(event)
                elif src > want:
                    return found
            if len(page) < PAGE_ENTRIES:
                return found
            start = "(" + _sid(page[-1][0])

    def _rejection_of(self, sid, after):
        """(reason, detail) of the DLQ entry whose src is `sid`, or None."""
        start = "(" + after
        while True:
            page = self.r.xrange(self.key("dlq"), min=start, max="+", count=PAGE_ENTRIES)
            for _, fields in page:
                if _sid(fields.get(b"src", b"")) == sid:
                    return (fields[b"reason"].decode(), fields[b"detail"].decode())
            if len(page) < PAGE_ENTRIES:
                return None
            start = "(" + _sid(page[-1][0])


@dataclass
class Event:
    """One entry read by a Consumer. For <prefix>out, `data` is the decoded
    event; for <prefix>dlq, a dict of src, reason, detail, m (the rejected
    bytes) and input (m decoded, or None). `error` is set instead of `data`
    when the entry does not decode: it is still delivered, to be acked."""
    entry_id: str
    data: dict = None
    error: str = None

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        return self.data.get(key, default) if self.data else default


def _decode_dlq(fields):
    m = fields.get(b"m", b"")
    try:
        inp = msgpack.unpackb(m, raw=False) if m else None
    except (ValueError, msgpack.UnpackException, TypeError):
        inp = None
    text = {k: fields.get(k.encode(), b"").decode("utf-8", "replace")
            for k in ("src", "reason", "detail")}
    return dict(text, m=m, input=inp if isinstance(inp, dict) else None)


class Consumer:
    """Reads <prefix>out (or <prefix>dlq) as member `name` of consumer group
    `group`: each entry goes to one member of the group, and stays pending
    until acked. At-least-once: after a crash, entries read but not acked
    are delivered again (read() starts with them), so deduplicate on the
    event's `id` (stable: "<src>:<n>")."""

    def __init__(self, r, group, name, prefix=DEFAULT_PREFIX, stream="out", start="$"):
        if stream not in ("out", "dlq"):
            raise ValueError("stream is 'out' or 'dlq'")
        self.r = r
        self.group = group
        self.name = name
        self.stream = stream
        self.key = prefix + stream
        self._pending_after = "0"  # own pending entries first; None once drained
        try:
            r.xgroup_create(self.key, group, id=start, mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def read(self, count=100, block_ms=1000):
        """Up to `count` entries: first those this member read before and
        never acked, then new ones, waiting up to block_ms (0: not at all)."""
        while self._pending_after is not None:
            reply = self.r.xreadgroup(self.group, self.name, {self.key: self._pending_after},
                                      count=count)
            entries = reply[0][1] if reply else []
            if entries:
                self._pending_after = _sid(entries[-1][0])
                return [self._event(eid, fields) for eid, fields in entries]
            self._pending_after = None
        reply = self.r.xreadgroup(self.group, self.name, {self.key: ">"}, count=count,
                                  block=block_ms or None)
        return [self._event(eid, fields) for eid, fields in (reply[0][1] if reply else [])]

    def _event(self, eid, fields):
        eid = _sid(eid)
        fields = fields or {}  # a pending entry deleted from the stream has none
        if self.stream == "dlq":
            return Event(eid, _decode_dlq(fields))
        try:
            return Event(eid, decode_output(fields.get(b"m", b"")))
        except DecodeError as e:
            return Event(eid, error=str(e))

    def ack(self, *events):
        """Acknowledges events (or entry ids): they will not come again."""
        ids = [e.entry_id if isinstance(e, Event) else e for e in events]
        return self.r.xack(self.key, self.group, *ids) if ids else 0

    def pending(self):
        """How many entries the group has delivered and not had acked."""
        return self.r.xpending(self.key, self.group)["pending"]
