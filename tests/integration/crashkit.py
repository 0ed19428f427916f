"""crashkit.py - what test_exactly_once.py needs beyond harness.py: a seeded
POS workload with explicit stream ids (so that two Redis servers hold the
same entries under the same ids and a crashed daemon can be compared output
by output with a reference), a crasher that SIGKILLs the daemon at chosen
instants (among them while a snapshot is being written) and restarts it on
the same data dir, and a Redis without AOF whose saved dump can be loaded
again, which is how Redis "goes back in time" after a power loss.

Every wait is bounded (harness.wait_until); processes are killed by pid.
"""
import bisect
import heapq
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import msgpack
import redis

from harness import (BASE_TS_MS, PREFIX, REDIS_BIN, START_TIMEOUT_S, RedisServer, free_port,
                     sid_key, wait_until)

# Stream ids of the workload: "<ms>-<seq>", four entries a millisecond, far
# below the wall clock of any test run, so that an id the daemon itself made
# up with XADD * (it never should: tick_interval_ms = 0) would stand out by
# breaking the next explicit XADD.
ID_BASE_MS = 1_600_000_000_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# The shipped rulebook's vocabulary (conf/loyaltyd.conf): stores with and
# without the spring campaign, categories with their own multipliers (and
# one that earns nothing, and one it does not list), catalog rewards (one
# with stock 40, one unknown).
STORES = ["store_001", "store_005", "store_012", "store_027", "store_031", "store_040"]
CATEGORIES = ["wine", "fresh", "tobacco", "bakery", "home"]
REWARDS = ["voucher_5", "voucher_10", "cinema_ticket", "wine_tasting", "no_such_reward"]

# Ticks are this share of the entries: time passes with every entry (the
# engine clock follows the largest ts), and ticks do the work that is due.
# The tests run with tick_interval_ms = 0, so the daemon appends no tick of
# its own and both runs of a test see the same log.
TICK_SHARE = 0.05

SNAP_SUFFIX = ".lysnap"
TMP_SUFFIX = ".lysnap.tmp"
CORRUPT_SUFFIX = ".lysnap.corrupt"

# Kinds a POS resends on a timeout. Not scans: they change nothing, so the
# daemon never deduplicates them (each one announces the perks again).
RETRIED = ("purchase", "refund", "redeem", "adjust", "enroll")


def entry_id(index):
    """The stream id of the workload's entry number `index`."""
    return f"{ID_BASE_MS + index // 4}-{index % 4}"


class Workload:
    """A deterministic POS day-to-day over `span_days` of event time, starting
    at harness.BASE_TS_MS (2026-05-28), so that it crosses Black Friday, the
    March spring campaign, a year of expiry and the first anniversaries.

    entries: [(stream id, {"m": bytes})] in id order, ready for XADD.
    members: every member id that ends up enrolled.
    retries: {index of a resend: index of the original}; a resend carries
             the original's bytes unchanged (what a POS does on a timeout).

    retry_share is the share of txn-carrying entries (purchases, refunds,
    redemptions, adjustments, enrolments) resent 1 to 4 more times, each
    resend 1..`retry_gap` entries after the previous send: some in the
    same batch, most in later ones, some across restarts.
    """

    def __init__(self, seed, count, members=120, span_days=560, retry_share=0.12,
                 retry_gap=60):
        self.rnd = random.Random(seed)
        self.count = count
        self.step_ms = span_days * DAY_MS // count  # event time per entry, on average
        self.clock = BASE_TS_MS
        self.candidates = [f"c{seed}-{n:04d}" for n in range(members)]
        self.members = []
        self.active_until = {}  # member: last event time they shop (churners)
        self.enrolled_at = {}  # member: id of the entry that enrolled them
        self.sales = []  # [txn, member, amount left to refund, ts]
        self.retry_share = retry_share
        self.retry_gap = retry_gap
        self.due = []  # heap of (index, order, original index)
        self.entries = []
        self.payloads = []
        self.retries = {}
        self.seed = seed
        self._build()

    # -- building ---------------------------------------------------------
    def _build(self):
        self._emit(msgpack.packb(self._tick()))
        while len(self.entries) < self.count:
            if self.due and self.due[0][0] <= len(self.entries):
                _, _, original = heapq.heappop(self.due)
                self._emit(self.payloads[original], retry_of=original)
                continue
            self.clock += self.rnd.randint(0, 2 * self.step_ms)
            m = self._next_entry()
            pos = self._emit(m if isinstance(m, bytes) else msgpack.packb(m))
            if isinstance(m, dict) and m["kind"] == "enroll":
                self.enrolled_at.setdefault(m["member"], self.entries[pos][0])
            if isinstance(m, dict) and m["kind"] in RETRIED and \
                    self.rnd.random() < self.retry_share:
                self._schedule_retries(pos)

    def _emit(self, data, retry_of=None):
        pos = len(self.entries)
        self.entries.append((entry_id(pos), {"m": data}))
        self.payloads.append(data)
        if retry_of is not None:
            self.retries[pos] = retry_of
        return pos

    def _schedule_retries(self, pos):
        at = pos
        for _ in range(self.rnd.randint(1, 4)):
            at += self.rnd.randint(1, self.retry_gap)
            heapq.heappush(self.due, (at, self.rnd.random(), pos))

    def _txn(self, letter):
        return f"{letter}{self.seed}-{len(self.entries)}"

    def _base(self, kind, **fields):
        m = {"v": 1, "kind": kind, "ts": self.clock}
        m.update(fields)
        return m

    def _next_entry(self):
        enrolled = len(self.members)
        # Most members enrol early; the rest join over the whole span.
        want = len(self.candidates) * (0.6 + 0.4 * len(self.entries) / self.count)
        if not self.members or (enrolled < want and self.rnd.random() < 0.3):
            return self._enroll()
        roll = self.rnd.random()
        for share, make in ((0.42, self._purchase), (0.07, self._refund),
                            (0.06, self._redeem_points), (0.05, self._redeem_reward),
                            (0.03, self._adjust), (0.10, self._scan), (TICK_SHARE, self._tick),
                            (0.02, self._bad)):
            if roll < share:
                return make()
            roll -= share
        return self._purchase()

    def _member(self):
        """A member still shopping (churners stop: their points expire and
        their tier is reviewed with no purchases in the window)."""
        active = [m for m in self.members if self.active_until[m] >= self.clock]
        return self.rnd.choice(active or self.members)

    def _enroll(self):
        left = [c for c in self.candidates if c not in self.members]
        if not left or self.rnd.random() < 0.03:  # member_exists: to the DLQ
            return self._base("enroll", txn=self._txn("e"), member=self._member())
        member = left[0]
        m = self._base("enroll", txn=self._txn("e"), member=member)
        if self.rnd.random() < 0.4:
            m["birthday"] = f"{self.rnd.randint(1, 12):02d}-{self.rnd.randint(1, 28):02d}"
        if self.members and self.rnd.random() < 0.3:
            m["referrer"] = self._member()
        self.members.append(member)
        churns = self.rnd.random() < 0.4
        self.active_until[member] = self.clock + self.rnd.randint(20, 200) * DAY_MS \
            if churns else float("inf")
        return m

    def _purchase(self):
        member = self._member()
        amount = self.rnd.choice([self.rnd.randint(100, 9000), self.rnd.randint(5000, 60000)])
        m = self._base("purchase", txn=self._txn("p"), member=member,
                       store=self.rnd.choice(STORES), amount=amount)
        if self.rnd.random() < 0.5:
            m["lines"] = self._lines(amount)
        if self.rnd.random() < 0.03:  # a till that was offline: judged at its own time
            m["ts"] = self.clock - self.rnd.randint(HOUR_MS, 3 * DAY_MS)
        self.sales.append([m["txn"], member, amount, m["ts"]])
        return m

    def _lines(self, amount):
        n = self.rnd.randint(1, 4)
        cuts = sorted(self.rnd.randint(0, amount) for _ in range(n - 1))
        parts = [b - a for a, b in zip([0] + cuts, cuts + [amount])]
        return [dict(sku=f"sku{self.rnd.randint(1, 50)}", cat=self.rnd.choice(CATEGORIES),
                     qty=self.rnd.randint(1, 3), amount=p) for p in parts]

    def _refund(self):
        # Refunds come within the idempotency window of their sale.
        recent = [s for s in self.sales[-200:] if s[2] > 0 and self.clock - s[3] < 30 * DAY_MS]
        if not recent:
            return self._purchase()
        sale = self.rnd.choice(recent)
        if self.rnd.random() < 0.05:  # more than is left of the sale: to the DLQ
            amount = sale[2] + 1
        else:
            amount = self.rnd.randint(1, sale[2]) if self.rnd.random() < 0.8 else sale[2]
            sale[2] -= amount
        return self._base("refund", txn=self._txn("f"), orig_txn=sale[0], member=sale[1],
                          amount=amount)

    def _redeem_points(self):
        return self._base("redeem", txn=self._txn("r"), member=self._member(),
                          points=self.rnd.randint(50, 1500))

    def _redeem_reward(self):
        return self._base("redeem", txn=self._txn("w"), member=self._member(),
                          reward=self.rnd.choice(REWARDS))

    def _adjust(self):
        return self._base("adjust", txn=self._txn("a"), member=self._member(),
                          points=self.rnd.choice([-1, 1]) * self.rnd.randint(1, 300),
                          reason="service")

    def _scan(self):
        m = self._base("scan", member=self._member(), store=self.rnd.choice(STORES))
        if self.rnd.random() < 0.3:
            m["txn"] = self._txn("s")
        return m

    def _tick(self):
        return {"v": 1, "kind": "tick", "ts": self.clock}

    def _bad(self):
        choice = self.rnd.randint(0, 3)
        if choice == 0:
            return bytes(self.rnd.getrandbits(8) for _ in range(self.rnd.randint(1, 30)))
        if choice == 1:
            return self._base("purchase", txn=self._txn("u"), member="nobody", store="x",
                              amount=100)
        if choice == 2:
            return self._base("teleport", member=self._member())
        m = self._purchase()
        m["lines"] = [dict(sku="x", cat="wine", qty=1, amount=m["amount"] + 1)]
        return m

    # -- views ------------------------------------------------------------
    def without_retries(self):
        """The entries a POS that never retried would have sent: the same
        ids and bytes, the resends left out."""
        return [e for pos, e in enumerate(self.entries) if pos not in self.retries]

    def members_of(self, entries):
        """The members that `entries` (a part of this workload) enrol."""
        ids = {sid for sid, _ in entries}
        return [m for m in self.members if self.enrolled_at[m] in ids]

    def decoded(self, pos):
        """The `m` map of entry `pos`, or {} for garbage."""
        try:
            m = msgpack.unpackb(self.payloads[pos], raw=False)
        except Exception:  # noqa: BLE001 - garbage entries are part of the load
            return {}
        return m if isinstance(m, dict) else {}


def push_entries(client, entries, chunk=500):
    """XADDs (id, fields) with their explicit ids, pipelined."""
    for start in range(0, len(entries), chunk):
        pipe = client.pipeline(transaction=False)
        for sid, fields in entries[start:start + chunk]:
            pipe.xadd(PREFIX + "in", fields, id=sid)
        pipe.execute()


class PacedPusher(threading.Thread):
    """Pushes `entries` (explicit ids) from its own connection in chunks, at
    most `rate` entries a second and at most `backlog` entries ahead of the
    progress marker, so that the load goes on through every crash and
    restart instead of landing all at once before the first one. A chunk
    refused because Redis is away fails the run (Redis stays up here)."""

    def __init__(self, port, entries, chunk=40, rate=900, backlog=700, deadline_s=120):
        super().__init__(daemon=True)
        self.port = port
        self.entries = entries
        self.keys = [sid_key(sid) for sid, _ in entries]
        self.chunk = chunk
        self.rate = rate
        self.backlog = backlog
        self.deadline = time.monotonic() + deadline_s
        self.pushed = 0
        self.error = None

    def committed(self, client):
        """How many entries the progress marker in Redis covers."""
        marker = client.get(PREFIX + "progress")
        return 0 if marker is None else bisect.bisect_right(self.keys, sid_key(marker))

    def run(self):
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
        started = time.monotonic()
        try:
            for start in range(0, len(self.entries), self.chunk):
                wait_until(lambda: self.committed(client) >= start - self.backlog,
                           max(0.1, self.deadline - time.monotonic()),
                           "the daemon to keep up with the load", interval=0.005)
                push_entries(client, self.entries[start:start + self.chunk])
                self.pushed = min(len(self.entries), start + self.chunk)
                # Load shape, not synchronisation: `rate` entries a second.
                time.sleep(max(0.0, started + self.pushed / self.rate - time.monotonic()))
        except Exception as e:  # noqa: BLE001 - re-raised by finish()
            self.error = e
        finally:
            client.close()

    def finish(self):
        self.join(timeout=max(1, self.deadline - time.monotonic()))
        assert not self.is_alive(), "the pusher did not finish in time"
        if self.error is not None:
            raise self.error


def feed(env, entries, step=320):
    """Pushes `entries` `step` at a time, each step once the previous one is
    applied and a snapshot was written after it, so that a daemon with
    snapshot_every_entries <= step snapshots along the way. (A burst pushed at
    once would all be committed while the first snapshot is still written,
    and snapshots start only at a commit.)"""
    for start in range(0, len(entries), step):
        part = entries[start:start + step]
        written = env.daemon.metrics()["loyalty_snapshots_total"]
        push_entries(env.r, part)
        env.wait_applied(part[-1][0], timeout=60)
        if len(part) == step:
            wait_until(lambda: env.daemon.metrics()["loyalty_snapshots_total"] > written,
                       what=f"a snapshot after entry {part[-1][0]}")


def snapshot_files(data_dir, suffix=SNAP_SUFFIX):
    """Files of the data dir ending in `suffix`, in name (= id) order."""
    return sorted(p for p in Path(data_dir).iterdir() if p.name.endswith(suffix))


def snapshot_id(path):
    """The entry id a snapshot file is named after, as a sid_key tuple."""
    ms, seq = Path(path).name[len("snap-"):].split(SNAP_SUFFIX)[0].split("-")
    return int(ms), int(seq)


def writers_of(data_dir):
    """Pids of live processes started with `--data data_dir`: our daemon and
    the snapshot writers it forked (a fork runs the same command line), also
    after the daemon died. The data dir is the test's own temporary path."""
    want = f"--data\0{data_dir}\0".encode()
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if want in Path(entry.path, "cmdline").read_bytes() and not gone(int(entry.name)):
                pids.append(int(entry.name))
        except OSError:
            continue  # exited meanwhile
    return pids


def gone(pid):
    """True when `pid` no longer runs (exited, or a zombie nobody reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def log_lines(daemon, needle, last_run=False):
    """Log lines of the daemon (of its last run only, with last_run) that
    contain `needle`."""
    logs = daemon.logs[-1:] if last_run else daemon.logs
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.exists())
    return [ln for ln in text.splitlines() if needle in ln]


class Crasher:
    """SIGKILLs env.daemon at chosen instants and starts it again on the same
    data dir. `kills` counts the kills, `during_snapshot` those that landed
    while a snapshot writer was running (its *.lysnap.tmp existed),
    `writers_killed` the writers killed with the daemon, and `lock_refusals`
    the restarts refused because the data dir's LOCK was still held: a
    writer outlives a SIGKILL of the daemon alone and keeps the locked file
    open (it was forked with it) until it has finished its snapshot."""

    def __init__(self, env, seed):
        self.env = env
        self.daemon = env.daemon
        self.rnd = random.Random(seed)
        self.kills = 0
        self.during_snapshot = 0
        self.writers_killed = 0
        self.lock_refusals = []

    def kill(self, with_writer=False):
        """SIGKILLs the daemon; with_writer, its snapshot writer too, first
        (a crash of the machine or of the cgroup rather than of a process).
        A writer forked just before the kill is found after it."""
        data = str(self.daemon.data)
        pid = self.daemon.proc.pid
        if with_writer:
            self._kill_writers(w for w in writers_of(data) if w != pid)
        rc = self.daemon.kill()
        assert rc == -signal.SIGKILL, f"the daemon had already exited with {rc}"
        self.kills += 1
        if with_writer:
            self._kill_writers(writers_of(data))

    def _kill_writers(self, pids):
        for w in pids:
            try:
                os.kill(w, signal.SIGKILL)
                self.writers_killed += 1
            except ProcessLookupError:
                pass  # it finished first

    def start(self):
        """Starts the daemon again (without waiting for health, so that the
        next kill may land during recovery). A start refused because the
        lock is held is retried once the orphaned writers are gone."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.daemon.start(wait=False)
            refused = self._refused()
            if not refused:
                return
            self.lock_refusals.append(refused)
            wait_until(lambda: not writers_of(str(self.daemon.data)),
                       max(0.1, deadline - time.monotonic()), "the orphaned writers to exit")

    def _refused(self):
        """The lock message when the daemon just exited refusing the data dir."""
        d = self.daemon

        def settled():
            if not d.alive():
                return "exited"
            status, _ = d.health()
            return status is not None and "listening"
        if wait_until(settled, START_TIMEOUT_S, "the daemon to listen or exit") == "listening":
            return None
        text = d.logs[-1].read_text(errors="replace")
        d.exit_codes.append(d.proc.returncode)
        d.proc = None
        assert "LOCK" in text, f"the daemon exited at start-up:\n{text}"
        return text.strip().splitlines()[-1]

    def kill_after(self, max_s):
        """Kills after a random delay in [0, max_s): an arbitrary instant
        (recovery, a read, a commit in flight, a fork)."""
        time.sleep(self.rnd.uniform(0, max_s))
        self.kill(with_writer=self.rnd.random() < 0.5)

    def kill_in_snapshot(self, timeout=10):
        """Kills as soon as a snapshot writer's temporary file appears (the
        writer itself too, every other time). Returns False when no snapshot
        started within `timeout` (then nothing is killed)."""
        data = self.daemon.data
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.daemon.alive():
            if any(n.endswith(TMP_SUFFIX) for n in os.listdir(data)):
                self.kill(with_writer=self.during_snapshot % 2 == 1)
                self.during_snapshot += 1
                return True
            time.sleep(0.0005)
        return False

    def kill_at_marker(self, client, sid, timeout=20):
        """Kills right after the progress marker reaches `sid` (a commit
        just confirmed: the moment a snapshot starts when one is due)."""
        want = sid_key(sid)
        wait_until(lambda: (self.env.progress(client) or (0, 0)) >= want, timeout,
                   f"{PREFIX}progress >= {sid}", interval=0.001)
        self.kill(with_writer=False)


HOLD_SETTING = re.compile(r"^(\s*snapshot_write_delay_ms\s*=\s*)(\d+);", re.M)


def kill_in_held_snapshots(crasher, count, timeout):
    """`count` kills, each while a snapshot is being written: the daemon must
    run with snapshot_write_delay_ms (its writers hold their temp file that
    long), so that each kill awaits a snapshot in progress instead of hoping
    to land inside a write of a small state that takes a millisecond. The
    daemon then starts again without the hold, so that the rest of the run
    has snapshots that land (and restarts that load them)."""
    conf = crasher.env.conf_path
    held = HOLD_SETTING.search(conf.read_text())
    assert held and int(held.group(2)) > 0, "the daemon runs without snapshot_write_delay_ms"
    for i in range(count):
        assert crasher.kill_in_snapshot(timeout=timeout), \
            f"no snapshot started within {timeout} s"
        if i == count - 1:
            text, n = HOLD_SETTING.subn(r"\g<1>0;", conf.read_text())
            assert n == 1
            conf.write_text(text)
        crasher.start()


class RdbRedis(RedisServer):
    """redis-server without AOF or automatic saves: only SAVE persists, so
    loading a dump saved earlier (DEBUG RELOAD NOSAVE) makes Redis lose every
    write since, as after a power loss with appendonly off or a failover to
    a lagging replica."""

    def start(self, port=None):
        self.port = port or free_port()
        self.starts += 1
        log = self.dir / f"redis.{self.starts}.log"
        self.proc = subprocess.Popen(
            [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--enable-debug-command", "local", "--dir", str(self.dir),
             "--logfile", str(log), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert self._wait_ping(), f"redis-server did not answer PING; see {log}"
        return self

    def save_as(self, name):
        """SAVEs the dataset and keeps a copy of the dump as `name`."""
        client = self.client()
        try:
            assert client.save()
        finally:
            client.close()
        shutil.copy(self.dir / "dump.rdb", self.dir / name)

    def go_back_to(self, name):
        """Replaces the dataset with the dump saved as `name` and drops every
        other client's connection (they see Redis restart)."""
        shutil.copy(self.dir / name, self.dir / "dump.rdb")
        client = self.client()
        try:
            assert client.execute_command("DEBUG", "RELOAD", "NOSAVE")
            client.client_kill_filter(_type="normal", skipme=True)
        finally:
            client.close()


def use_rdb_redis(env):
    """Swaps env's Redis (AOF, fsync always) for an RdbRedis, before the
    daemon first starts."""
    assert not env.daemon.alive(), "swap Redis before starting the daemon"
    env.r.close()
    env.redis.stop()
    env.redis = RdbRedis(env.tmp / "redis-rdb").start()
    env.r = env.redis.client()
    env.daemon.redis_port = env.redis.port
    env.seed_log()


def redis_goes_back(env, name):
    """Redis loses every write since the dump saved as `name` (and every
    connection); env.r is replaced by a new client."""
    env.r.close()
    env.redis.go_back_to(name)
    env.r = env.redis.client()
