"""harness.py - a throwaway redis-server and the real loyaltyd, driven from tests.

Everything here is bounded: every wait polls with a short interval up to a
deadline and fails with a message naming what it waited for. Processes are
stopped by pid (SIGTERM, wait, SIGKILL as a last resort), never by name.
conftest.py turns these classes into fixtures; test files import the helpers.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import msgpack
import redis

REPO = Path(__file__).resolve().parents[2]
CONF_PATH = REPO / "conf" / "loyaltyd.conf"
LOYALTYD_BIN = os.environ.get("LOYALTYD_BIN", str(REPO / "build" / "engine" / "loyaltyd"))
BENCH_BARE_BIN = os.environ.get("BENCH_BARE_BIN", str(REPO / "build" / "bench" / "bench_bare"))
REDIS_BIN = os.environ.get("REDIS_SERVER_BIN", "redis-server")
PREFIX = "loyalty:"

# Bounds on every wait, in seconds. Generous against a slow CI machine, small
# enough that a hang fails fast.
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 20
EVENT_TIMEOUT_S = 20
POLL_INTERVAL_S = 0.02
HTTP_TIMEOUT_S = 5

# Event time of the first entry a test pushes (2026-05-28T20:26:40Z); later
# entries are one second apart, so every run sees the same calendar months.
BASE_TS_MS = 1_780_000_000_000


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=EVENT_TIMEOUT_S, what="condition", interval=POLL_INTERVAL_S):
    """Polls pred() until it returns something truthy and returns that value;
    fails the test after `timeout` seconds. This is how tests await an event."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop_pid(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
    """Sends `sig` to the process and waits for it; SIGKILL if it does not go.
    Returns (exit code, whether it stopped by itself)."""
    if proc.poll() is not None:
        return proc.returncode, True
    os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout), True
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=timeout), False


def sid_key(sid):
    """A stream id ("ms-seq", str or bytes) as a tuple that orders like Redis."""
    if isinstance(sid, bytes):
        sid = sid.decode()
    ms, seq = sid.split("-")
    return int(ms), int(seq)


class RedisServer:
    """redis-server on a free loopback port, AOF on with fsync at every write,
    no RDB snapshots, its files in `directory`."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = None
        self.proc = None
        self.starts = 0

    def start(self, port=None):
        """Starts on `port` (a restart keeps port and dir), or on a free one."""
        for _ in range(3 if port is None else 1):
            self.port = port or free_port()
            self.starts += 1
            log = self.dir / f"redis.{self.starts}.log"
            self.proc = subprocess.Popen(
                [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                 "--dir", str(self.dir), "--logfile", str(log), "--daemonize", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            if self._wait_ping():
                return self
            stop_pid(self.proc, timeout=5)
        raise AssertionError(f"redis-server did not answer PING; see {self.dir}")

    def _wait_ping(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                time.sleep(POLL_INTERVAL_S)
            return False
        finally:
            client.close()

    def stop(self):
        """SIGTERM (Redis fsyncs its AOF and exits), wait, SIGKILL fallback."""
        if self.proc is None:
            return None
        rc, _ = stop_pid(self.proc)
        self.proc = None
        return rc

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)


def conf_text(overrides, optional=None):
    """conf/loyaltyd.conf with `name = value;` settings replaced. Each name of
    `overrides` must occur exactly once; names of `optional` are replaced
    where the file has them. Values are written as given (quote strings)."""
    text = CONF_PATH.read_text()
    for name, value in dict(optional or {}, **overrides).items():
        text, n = re.subn(rf"^(\s*){name}\s*=\s*[^;]*;", rf"\g<1>{name} = {value};", text,
                          flags=re.M)
        assert n == 1 or (n == 0 and name not in overrides), \
            f"setting {name} occurs {n} times in {CONF_PATH}"
    return text


# Pending points and notices (README "Rules": Returns, pending points and
# notices), which the shipped configuration turns on: off for tests whose
# expectations (or model, lifekit.py) have points spendable at once and no
# notices; test_returns.py turns them on again.
HOLDS_OFF = dict(pending_days=0, tier_days=0, expiry_days=0)

# The test daemon: the shipped configuration, except that no ticks are
# appended (tests control time), reconnects retry quickly, the txn window
# holds fewer entries (it is preallocated), and HOLDS_OFF.
TEST_OVERRIDES = dict(tick_interval_ms=0, reconnect_max_ms=500, block_ms=200, max_txns=100000,
                      **HOLDS_OFF)

# For tests of one rule: earning features that would add to or cap what a
# sale earns are switched off where the configuration has them, so that the
# points follow the base formula with the tiers' multipliers.
PLAIN_EARNING = dict(first_purchase_bonus=0, birthday_bonus=0, referral_bonus=0,
                     txn_cap_points=0, day_cap_points=0)


class Rulebook:
    """The earning and tier rules of conf/loyaltyd.conf, read from the file so
    that the tests follow the configuration instead of copying its numbers."""

    def __init__(self, text=None):
        text = text if text is not None else CONF_PATH.read_text()
        code = re.sub(r"#[^\n]*", "", text)
        self.minor_per_unit = int(re.search(r"minor_per_unit\s*=\s*(\d+);", code).group(1))
        self.points_per_unit = int(re.search(r"points_per_unit\s*=\s*(\d+);", code).group(1))
        self.tiers = []
        for m in re.finditer(r'name\s*=\s*"([^"]+)";\s*threshold\s*=\s*(\d+);\s*'
                             r'multiplier_bp\s*=\s*(\d+);\s*perks\s*=\s*\[([^\]]*)\]', code):
            perks = re.findall(r'"([^"]+)"', m.group(4))
            self.tiers.append(dict(name=m.group(1), threshold=int(m.group(2)),
                                   multiplier_bp=int(m.group(3)), perks=perks))
        assert len(self.tiers) >= 3, "conf/loyaltyd.conf should define at least 3 tiers"

    def earn(self, amount, tier):
        """floor(amount * points_per_unit * mult_bp / (minor_per_unit * 10000))."""
        mult = self.tiers[tier]["multiplier_bp"]
        return amount * self.points_per_unit * mult // (self.minor_per_unit * 10000)

    def tier_for(self, qualifying):
        return max(i for i, t in enumerate(self.tiers) if qualifying >= t["threshold"])

    def amount_for(self, points, tier):
        """The smallest amount that earns at least `points` at `tier`."""
        mult = self.tiers[tier]["multiplier_bp"]
        denom = self.points_per_unit * mult
        amount = -(-points * self.minor_per_unit * 10000 // denom)
        assert self.earn(amount, tier) >= points
        return amount


def http_request(port, path, method="GET"):
    """(status, body): body is the decoded JSON of a JSON reply, else text."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
            status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
    if ctype.startswith("application/json") and raw:
        return status, json.loads(raw)
    return status, raw.decode("utf-8", "replace")


class Daemon:
    """The real loyaltyd binary on a given Redis, HTTP on a free port.
    Each start writes its stderr to its own log file in `directory`."""

    def __init__(self, directory, redis_port, conf_path, name="loyaltyd"):
        self.dir = Path(directory)
        self.data = self.dir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.redis_port = redis_port
        self.conf = conf_path
        self.name = name
        self.proc = None
        self.http_port = None
        self.logs = []
        self.exit_codes = []
        self.extra_env = {}  # environment variables added for the daemon
        self.extra_args = []  # command-line arguments added for the next starts

    def start(self, wait=True):
        """Starts the daemon on a free HTTP port (another one if that port
        was taken meanwhile); with `wait`, until /healthz says 200."""
        assert self.proc is None, "already running"
        for _ in range(3):
            self.http_port = free_port()
            log = self.dir / f"{self.name}.{len(self.logs) + 1}.log"
            self.logs.append(log)
            with open(log, "wb") as f:
                self.proc = subprocess.Popen(self.command(), stdout=f,
                                             stderr=subprocess.STDOUT,
                                             env=dict(os.environ, **self.extra_env))
            if not self._lost_port_race():
                break
        if wait:
            self.wait_healthy()
        return self

    def command(self):
        """The command line of one start."""
        return [LOYALTYD_BIN, "-c", str(self.conf), "--redis", f"127.0.0.1:{self.redis_port}",
                "--http", f"127.0.0.1:{self.http_port}", "--data", str(self.data)] + \
            self.extra_args

    def _lost_port_race(self):
        """True (and the process gone) when it could not bind its HTTP port."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            status, _ = self.health()
            if status is not None:
                return False
            time.sleep(POLL_INTERVAL_S)
        if self.proc.poll() is None or "cannot listen" not in self.logs[-1].read_text():
            return False
        self.proc = None
        return True

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def health(self):
        try:
            return self.get("/healthz")
        except OSError:
            return None, None

    def wait_healthy(self, timeout=START_TIMEOUT_S):
        def healthy():
            assert self.alive(), f"{self.name} exited with {self.proc.returncode}"
            status, _ = self.health()
            return status == 200
        wait_until(healthy, timeout, f"{self.name} GET /healthz == 200")

    def get(self, path, method="GET"):
        return http_request(self.http_port, path, method)

    def member(self, member_id):
        status, body = self.get(f"/v1/members/{member_id}")
        assert status == 200, (member_id, status, body)
        return body

    def metrics(self):
        status, text = self.get("/metrics")
        assert status == 200, (status, text)
        return parse_metrics(text)

    def stop(self):
        """SIGTERM and wait: returns the exit code (a clean stop is 0)."""
        rc, by_itself = stop_pid(self.proc)
        assert by_itself, f"{self.name} ignored SIGTERM for {STOP_TIMEOUT_S}s"
        self.proc = None
        self.exit_codes.append(rc)
        return rc

    def kill(self):
        """SIGKILL: a crash at an arbitrary instant."""
        rc, _ = stop_pid(self.proc, sig=signal.SIGKILL)
        self.proc = None
        self.exit_codes.append(rc)
        return rc

    def log_text(self):
        parts = []
        for log in self.logs:
            if log.exists():
                parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')}")
        return "\n".join(parts)


class BareConsumer(Daemon):
    """bench/bench_bare (the benchmarks' bare consumer baseline): started,
    probed and stopped like the daemon; it keeps no data directory."""

    def __init__(self, directory, redis_port, conf_path):
        super().__init__(directory, redis_port, conf_path, name="bench_bare")

    def command(self):
        return [BENCH_BARE_BIN, "-c", str(self.conf), "--redis", f"127.0.0.1:{self.redis_port}",
                "--http", f"127.0.0.1:{self.http_port}"]


def parse_metrics(text):
    """Prometheus text to {"name" or 'name{labels}': float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


class Env:
    """One test's world: its own redis-server and loyaltyd, and helpers to
    push entries and read what the daemon published."""

    def __init__(self, tmp_path, conf_overrides=None, plain=False):
        self.tmp = Path(tmp_path)
        overrides = dict(TEST_OVERRIDES, **(conf_overrides or {}))
        self.conf_path = self.tmp / "loyaltyd.conf"
        self.conf_path.write_text(conf_text(overrides, PLAIN_EARNING if plain else None))
        self.partitions = int(overrides.get("partitions", 1))
        self.rules = Rulebook(self.conf_path.read_text())
        self.redis = RedisServer(self.tmp / "redis").start()
        self.r = self.redis.client()
        self.daemon = Daemon(self.tmp, self.redis.port, self.conf_path)
        self.extra = []  # other servers a test started, stopped at teardown
        self._ts = BASE_TS_MS
        self._lock = threading.Lock()
        self.pushed = []  # (id, fields) of every push_raw, for replays
        # The log starts with the configuration's rulebook, as in a
        # deployment whose daemon appended it at its first start: every
        # entry is applied under a version the log names, and the daemon,
        # finding it in force, appends nothing of its own.
        self.rulebook_hash, self.rulebook_text = rulebook_of(self.conf_path)
        self.rules_entry = (RULES_ENTRY_ID, rules_fields(self.rulebook_hash, "harness"))
        self.seed_log()
        self.pushed.append(self.rules_entry)

    def rewrite_conf(self, text, shipped_tiers=True):
        """Replaces the configuration before the daemon first starts, and
        with it the rulebook the input stream starts with. Without
        `shipped_tiers` (a test's own rulebook) env.rules is None."""
        assert not self.daemon.alive() and self.daemon.logs == [], "the daemon has started"
        self.conf_path.write_text(text)
        self.rules = Rulebook(text) if shipped_tiers else None
        self.rulebook_hash, self.rulebook_text = rulebook_of(self.conf_path)
        self.rules_entry = (RULES_ENTRY_ID, rules_fields(self.rulebook_hash, "harness"))
        self.r.delete(PREFIX + "in")
        self.seed_log()
        self.pushed[0] = self.rules_entry

    def seed_log(self):
        """Stores the configuration's rulebook text and starts the (empty)
        input stream with the rules entry naming it (a Redis swapped in
        before the daemon starts needs this too)."""
        if self.rulebook_hash is None:
            return  # a configuration the daemon refuses: nothing to seed
        for prefix in partition_prefixes(self.partitions):  # each partition's log
            store_rulebook(self.r, self.rulebook_hash, self.rulebook_text, prefix)
            self.r.xadd(prefix + "in", self.rules_entry[1], id=RULES_ENTRY_ID)

    # -- input -----------------------------------------------------------
    def next_ts(self):
        with self._lock:
            self._ts += 1000
            return self._ts

    def entry(self, **fields):
        """An input entry's `m` map: v=1 and ts defaulted."""
        m = {"v": 1}
        m.update(fields)
        m.setdefault("ts", self.next_ts())
        return m

    def push(self, **fields):
        """XADDs one entry (msgpack `m`) and returns its stream id."""
        return self.push_raw(msgpack.packb(self.entry(**fields)))

    def push_raw(self, data, client=None):
        """XADDs `data`: bytes become the `m` field, a dict is the whole field
        list. Returns the entry id."""
        fields = {"m": data} if isinstance(data, (bytes, bytearray)) else data
        sid = (client or self.r).xadd(PREFIX + "in", fields).decode()
        self.pushed.append((sid, fields))
        return sid

    # -- output ----------------------------------------------------------
    def read_out(self, client=None, setup=False):
        """Every output event, decoded, oldest first; `_sid` is its stream id.
        The rules.changed of the stream's first entry (the harness's own,
        RULES_ENTRY_ID) is left out unless `setup`."""
        events = []
        for sid, fields in (client or self.r).xrange(PREFIX + "out"):
            assert set(fields) == {b"m"}, fields
            ev = msgpack.unpackb(fields[b"m"], raw=False)
            ev["_sid"] = sid.decode()
            if setup or ev.get("src") != RULES_ENTRY_ID:
                events.append(ev)
        return events

    def read_dlq(self, client=None):
        """Every DLQ entry: src, reason, detail (str), m (original bytes)."""
        entries = []
        for sid, fields in (client or self.r).xrange(PREFIX + "dlq"):
            entries.append(dict(_sid=sid.decode(), m=fields.get(b"m"),
                                src=fields[b"src"].decode(), reason=fields[b"reason"].decode(),
                                detail=fields[b"detail"].decode()))
        return entries

    def input_ids(self, client=None):
        return [sid.decode() for sid, _ in (client or self.r).xrange(PREFIX + "in")]

    def progress(self, client=None):
        v = (client or self.r).get(PREFIX + "progress")
        return None if v is None else sid_key(v)

    def wait_applied(self, sid, timeout=EVENT_TIMEOUT_S, client=None):
        """Awaits the progress marker reaching entry `sid`: its outputs, DLQ
        entry and ack are then in Redis."""
        want = sid_key(sid)
        wait_until(lambda: (self.progress(client) or (0, 0)) >= want, timeout,
                   f"{PREFIX}progress >= {sid}")

    def pending_count(self, client=None):
        """Input entries after the progress marker: not (yet) committed. The
        daemon reads with XREAD from the marker (no consumer group), so
        this is what it has still to take."""
        marker = self.progress(client)
        start = "-" if marker is None else f"({marker[0]}-{marker[1]}"
        return len((client or self.r).xrange(PREFIX + "in", start, "+"))

    def member(self, member_id):
        return self.daemon.member(member_id)

    def http_get(self, path, method="GET"):
        """(status, decoded JSON or text) from the daemon's HTTP API."""
        return self.daemon.get(path, method)

    def stop_redis(self):
        """SIGTERM to Redis (it writes its AOF and exits); returns its exit code."""
        self.r.close()
        return self.redis.stop()

    def start_redis(self):
        """Starts Redis again on the same port and directory (it loads its AOF)."""
        self.redis.start(port=self.redis.port)
        self.r = self.redis.client()

    def close(self):
        self.r.close()


# The id of the rules entry an Env's stream starts with: the smallest id
# Redis takes, so every id a test makes comes after it. It is one more
# input entry the daemon applies (SETUP_ENTRIES in its counters) and it
# publishes one rules.changed (left out by Env.read_out).
RULES_ENTRY_ID = "0-1"
SETUP_ENTRIES = 1


def rulebook_of(conf_path):
    """(hash, canonical text) of the rulebook of `conf_path`, as the daemon
    computes them (--check-config prints the hash, --print-rules the text);
    (None, None) for a configuration the daemon refuses."""
    check = subprocess.run([LOYALTYD_BIN, "--check-config", "-c", str(conf_path)],
                           capture_output=True, text=True, timeout=HTTP_TIMEOUT_S)
    if check.returncode != 0:
        return None, None  # a test of a configuration the daemon refuses
    digest = re.search(r"^rulebook ([0-9a-f]{32})$", check.stdout, re.M).group(1)
    text = subprocess.run([LOYALTYD_BIN, "--print-rules", "-c", str(conf_path)],
                          capture_output=True, timeout=HTTP_TIMEOUT_S, check=True).stdout
    return digest, text


def rules_fields(digest, label=None, effective_ts=None, ts=BASE_TS_MS):
    """The fields of a `rules` input entry naming rulebook `digest`."""
    m = {"v": 1, "kind": "rules", "ts": ts, "hash": digest}
    if label is not None:
        m["label"] = label
    if effective_ts is not None:
        m["effective_ts"] = effective_ts
    return {"m": msgpack.packb(m)}


def partition_prefixes(partitions):
    """The key prefix of each of `partitions` partitions (config.h)."""
    if partitions == 1:
        return [PREFIX]
    return [f"{PREFIX}{{{p}}}:" for p in range(partitions)]


def store_rulebook(client, digest, text, prefix=PREFIX):
    """SETs a rulebook's text where rules entries (of the partition with
    key prefix `prefix`) find it."""
    client.set(f"{prefix}rules:{digest}", text)


def rulebook_texts(client):
    """{key: text} of every rulebook text in a Redis (not the summary)."""
    return {k: client.get(k) for k in client.scan_iter(match=PREFIX + "rules:*")
            if k != (PREFIX + "rules:current").encode()}


def points_events(events, member):
    return [e for e in events if e["kind"] == "points.changed" and e["member"] == member]


def by_src(events, sid):
    return [e for e in events if e["src"] == sid]


def strip_sid(events):
    return [{k: v for k, v in e.items() if k != "_sid"} for e in events]


def strip_dlq(entries):
    return [{k: v for k, v in e.items() if k != "_sid"} for e in entries]


STATE_COUNTERS = ("loyalty_entries_applied_total", "loyalty_entries_rejected_total",
                  "loyalty_entries_duplicate_total", "loyalty_members",
                  "loyalty_txns_remembered", "loyalty_engine_clock_timestamp_seconds")


class Outcome:
    """What a daemon computed: its published events and DLQ (stream ids
    dropped), the HTTP view of some members, and the state's counters."""

    def __init__(self, env, daemon, client, members):
        self.out = strip_sid(env.read_out(client))
        self.dlq = strip_dlq(env.read_dlq(client))
        self.members = {m: daemon.member(m) for m in members}
        metrics = daemon.metrics()
        self.counters = {k: metrics[k] for k in STATE_COUNTERS}


def fresh_replay(env, members, entries=None, name="reference", texts=None):
    """Copies the input stream (same ids, same bytes) into a new Redis, lets a
    new daemon with the same configuration consume all of it from scratch,
    and returns its Outcome: the reference that a daemon which went through
    restarts and outages must agree with. `entries` ([(id, fields)]) stands
    for the stream when the test kept it itself (the daemon may trim it);
    the Env's first rules entry is added when missing. The rulebook texts
    go along: those `env.r` holds and `texts` ({key: text})."""
    if entries is None:
        entries = [(sid.decode(), fields) for sid, fields in env.r.xrange(PREFIX + "in")]
    if RULES_ENTRY_ID not in {sid for sid, _ in entries}:
        entries = [env.rules_entry] + list(entries)  # the log's first version
    entries = sorted(entries, key=lambda e: sid_key(e[0]))
    assert entries, "nothing to replay"
    directory = env.tmp / name
    ref_redis = RedisServer(directory / "redis").start()
    env.extra.append(ref_redis)
    client = ref_redis.client()
    pipe = client.pipeline(transaction=False)
    texts = dict(rulebook_texts(env.r), **(texts or {}))
    for key, text in texts.items():
        pipe.set(key, text)
    for sid, fields in entries:
        pipe.xadd(PREFIX + "in", fields, id=sid)
    pipe.execute()
    daemon = Daemon(directory, ref_redis.port, env.conf_path, name=name)
    env.extra.append(daemon)
    daemon.start()
    env.wait_applied(entries[-1][0], client=client)

    def counted():
        m = daemon.metrics()
        return sum(m[k] for k in ("loyalty_entries_applied_total",
                                  "loyalty_entries_rejected_total",
                                  "loyalty_entries_duplicate_total")) == len(entries)
    wait_until(counted, what="the reference daemon's counters to cover every entry")
    outcome = Outcome(env, daemon, client, members)
    assert daemon.stop() == 0, daemon.log_text()
    client.close()
    return outcome


def mixed_entries(env, members, count, seed):
    """A deterministic POS workload over enrolled `members`: purchases (some
    with line items), redemptions of points and of catalog rewards (some
    refused), adjustments, scans, partial refunds, POS retries of earlier
    txns, and entries that must go to the DLQ. Returns `m` maps or bytes."""
    rnd = random.Random(seed)
    sales = []   # (txn, member, amount) of purchases so far
    done = []    # `m` maps that a POS may retry
    entries = []
    for i in range(count):
        member = rnd.choice(members)
        roll = rnd.random()
        if roll < 0.45 or not sales:
            amount = rnd.randint(1, 40000)
            m = env.entry(kind="purchase", txn=f"s{seed}-{i}", member=member,
                          store=f"st{rnd.randint(1, 4)}", amount=amount)
            if rnd.random() < 0.3:
                first = rnd.randint(0, amount)
                m["lines"] = [dict(sku="A1", cat=rnd.choice(["wine", "food"]), qty=1,
                                   amount=first),
                              dict(sku="B2", cat="home", qty=2, amount=amount - first)]
            sales.append((m["txn"], member, amount))
        elif roll < 0.52:
            m = env.entry(kind="redeem", txn=f"r{seed}-{i}", member=member,
                          points=rnd.randint(1, 300))
        elif roll < 0.55:
            m = env.entry(kind="redeem", txn=f"w{seed}-{i}", member=member,
                          reward=rnd.choice(["voucher_5", "no_such_reward"]))
        elif roll < 0.60:
            m = env.entry(kind="adjust", txn=f"a{seed}-{i}", member=member,
                          points=rnd.choice([-1, 1]) * rnd.randint(1, 50), reason="service")
        elif roll < 0.70:
            m = env.entry(kind="scan", member=member, store=f"st{rnd.randint(1, 4)}")
        elif roll < 0.80:
            txn, owner, amount = rnd.choice(sales)
            m = env.entry(kind="refund", txn=f"f{seed}-{i}", orig_txn=txn, member=owner,
                          amount=rnd.randint(1, max(1, amount // 3)))
        elif roll < 0.92 and done:
            m = dict(rnd.choice(done), ts=env.next_ts())  # a POS retry
        elif roll < 0.96:
            m = env.entry(kind="purchase", txn=f"u{seed}-{i}", member=f"nobody-{i}",
                          store="st1", amount=100)
        else:
            entries.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 40))))
            continue
        if m.get("txn"):
            done.append(m)
        entries.append(m)
    return entries


def enroll_members(env, count, prefix="mem"):
    """Enrols `count` members (some with a birthday, some referred by the
    first one) and returns their ids."""
    members = [f"{prefix}{i:03d}" for i in range(count)]
    for i, member in enumerate(members):
        fields = dict(kind="enroll", txn=f"enroll-{member}", member=member)
        if i % 3 == 1:
            fields["birthday"] = "05-28"
        if i % 4 == 2:
            fields["referrer"] = members[0]
        env.push(**fields)
    return members


def encode(entry):
    return entry if isinstance(entry, (bytes, bytearray)) else msgpack.packb(entry)


class LoadThread(threading.Thread):
    """Pushes `entries` from a background thread, in pipelined chunks of
    `chunk` entries, on its own connection. Once `pause_after` entries are pushed it sets `paused`
    and waits for `resume`, so a test can break something at a known point
    of the load. A chunk that fails because Redis is away is pushed again
    until it goes through or `deadline_s` passes (part of it may then land
    twice: the daemon must take those as POS retries). `pushed` collects
    (id, fields) as Redis returned them."""

    def __init__(self, env, entries, pause_after=None, deadline_s=60, chunk=100):
        super().__init__(daemon=True)
        self.chunk = chunk
        self.port = env.redis.port
        self.entries = entries
        self.pause_after = pause_after
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.deadline = time.monotonic() + deadline_s
        self.pushed = []
        self.retries = 0
        self.error = None

    def _push(self, client, chunk):
        fields = [{"m": encode(e)} for e in chunk]
        while True:
            try:
                pipe = client.pipeline(transaction=False)
                for f in fields:
                    pipe.xadd(PREFIX + "in", f)
                ids = pipe.execute()
                self.pushed.extend((sid.decode(), f) for sid, f in zip(ids, fields))
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                if time.monotonic() > self.deadline:
                    raise
                self.retries += 1
                time.sleep(POLL_INTERVAL_S)

    def run(self):
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        try:
            for start in range(0, len(self.entries), self.chunk):
                if self.pause_after is not None and start >= self.pause_after and \
                        not self.paused.is_set():
                    self.paused.set()
                    if not self.resume.wait(timeout=max(0, self.deadline - time.monotonic())):
                        raise AssertionError("load thread: never told to resume")
                self._push(client, self.entries[start:start + self.chunk])
        except Exception as e:  # noqa: BLE001 - re-raised by finish()
            self.error = e
        finally:
            self.paused.set()
            client.close()

    def finish(self):
        """Waits (bounded) for the thread and re-raises its error."""
        self.resume.set()
        self.join(timeout=max(1, self.deadline - time.monotonic()))
        assert not self.is_alive(), "load thread did not finish in time"
        if self.error is not None:
            raise self.error
        return self.pushed


def assert_matches(actual, reference):
    """The daemon under test published, dead-lettered and holds exactly what
    a fresh replay of the same stream did: no output twice, none missing."""
    ids = [e["id"] for e in actual.out]
    dup = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not dup, f"output ids published twice: {dup[:10]}"
    ref_ids = [e["id"] for e in reference.out]
    missing = sorted(set(ref_ids) - set(ids))
    extra = sorted(set(ids) - set(ref_ids))
    assert not missing and not extra, \
        f"outputs missing: {missing[:10]} ({len(missing)}), extra: {extra[:10]} ({len(extra)})"
    for got, want in zip(actual.out, reference.out):
        assert got == want, f"output differs from a fresh replay: {got} != {want}"
    assert len(actual.out) == len(reference.out)
    assert [d["src"] for d in actual.dlq] == [d["src"] for d in reference.dlq], \
        "DLQ differs from a fresh replay"
    assert actual.dlq == reference.dlq
    for member, view in reference.members.items():
        assert actual.members[member] == view, member
    assert actual.counters == reference.counters
