"""ledgerkit.py - the real loyalty-ledger, a throwaway PostgreSQL cluster and
the POS load generator, driven from the ledger's tests.

Like harness.py: every wait is bounded and names what it waited for; every
process is started and stopped by pid (SIGTERM, then SIGKILL as a last
resort), never by name. PostgreSQL refuses to run as root, so its cluster
lives in a directory under /tmp owned by the `postgres` system user and its
server runs as that user through setpriv (which execs, so the pid we hold is
the postmaster's).
"""
import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import msgpack
import pytest

from harness import (HTTP_TIMEOUT_S, PREFIX, REPO, START_TIMEOUT_S, Daemon, free_port,
                     sid_key, stop_pid, wait_until)

LEDGER_BIN = os.environ.get("LOYALTY_LEDGER_BIN",
                            str(REPO / "build" / "clients" / "ledger" / "loyalty-ledger"))
POSLOAD_BIN = os.environ.get("LOYALTY_POSLOAD_BIN",
                             str(REPO / "build" / "clients" / "loyalty-posload"))
PG_BIN = Path(os.environ.get("LOYALTY_PG_BIN", "/usr/lib/postgresql/15/bin"))

# Catching up with tens of thousands of events, under AddressSanitizer on a
# shared machine, takes seconds; a hang fails here instead of at ctest's limit.
CATCH_UP_TIMEOUT_S = 120
DAY_MS = 86_400_000


class PostgresServer:
    """A PostgreSQL 15 cluster made by initdb in a temporary directory, its
    server on a free loopback port, trust authentication for user postgres."""

    def __init__(self):
        self.user = pwd.getpwnam("postgres")
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = None
        self.proc = None
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                           "-A", "trust", "-E", "UTF8", "--no-sync"],
                          stdout=subprocess.DEVNULL, check=True, timeout=120)

    def _as_postgres(self, argv, **kw):
        cmd = ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
               "--init-groups", "--"] + argv
        return subprocess.run(cmd, cwd=self.dir, **kw)

    def start(self, port=None):
        """Starts the server (on the same port after a stop) and waits until it
        answers. fsync is off: the tests crash processes, not machines."""
        self.port = port or self.port or free_port()
        cmd = ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
               "--init-groups", "--", str(PG_BIN / "postgres"), "-D", str(self.data),
               "-p", str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
               "-c", "fsync=off", "-c", "max_connections=40"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, START_TIMEOUT_S, f"postgres on port {self.port}")
        return self

    def _ready(self):
        assert self.proc.poll() is None, f"postgres exited; see {self.log}"
        rc = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                            timeout=10).returncode
        return rc == 0

    def stop(self, sig=signal.SIGINT):
        """SIGINT: a fast shutdown; SIGQUIT: an immediate one (crash recovery
        on the next start)."""
        if self.proc is None:
            return None
        rc, _ = stop_pid(self.proc, sig=sig)
        self.proc = None
        return rc

    def psql(self, sql, db="postgres"):
        """Rows of `sql` as lists of strings (NULL as None)."""
        out = subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", "postgres", "-d", db, "-At", "-F", "\t", "-P",
                              "null=\\N", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        return [[None if c == "\\N" else c for c in line.split("\t")]
                for line in out.splitlines()]

    def create_db(self, name):
        self.psql(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class LedgerDB:
    """Direct reads and writes of the ledger's database, for assertions: the
    sqlite3 module for SQLite files, psql for PostgreSQL."""

    def __init__(self, url, pg=None, dbname=None):
        self.url = url
        self.pg = pg
        self.dbname = dbname

    def rows(self, sql):
        """Rows as lists of strings (None for NULL)."""
        if self.pg is not None:
            return self.pg.psql(sql, self.dbname)
        con = sqlite3.connect(self.url[len("sqlite://"):], timeout=30)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(sql)]
        finally:
            con.close()

    def execute(self, sql):
        if self.pg is not None:
            self.pg.psql(sql, self.dbname)
            return
        con = sqlite3.connect(self.url[len("sqlite://"):], timeout=30)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()

    def scalar(self, sql):
        return int(self.rows(sql)[0][0])


class Ledger(Daemon):
    """The real loyalty-ledger on a given Redis and database, HTTP on a free
    port; each start writes its stderr to its own log file. Stopping,
    killing, health and metrics work as the daemon's (harness.Daemon)."""

    def __init__(self, directory, redis_port, database, name="ledger", token=None,
                 batch=200, retry_max_ms=500, prefixes=(PREFIX,)):
        super().__init__(directory, redis_port, Path(directory) / f"{name}.conf", name=name)
        self.token = token
        quoted = ", ".join(f'"{p}"' for p in prefixes)
        self.conf.write_text(
            "ledger = {\n"
            f'  redis = "127.0.0.1:{redis_port}";\n'
            f"  prefixes = [ {quoted} ];\n"
            f'  database = "{database}";\n'
            f'  http_token = "{token or ""}";\n'
            f"  batch_entries_max = {batch};\n"
            "  block_ms = 200;\n"
            f"  retry_max_ms = {retry_max_ms};\n"
            "  db_timeout_ms = 2000;\n"
            "};\n")

    def start(self, wait=True, args=()):
        assert self.proc is None, "already running"
        self.http_port = free_port()
        log = self.dir / f"{self.name}.{len(self.logs) + 1}.log"
        self.logs.append(log)
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(
                [LEDGER_BIN, "-c", str(self.conf), "--http", f"127.0.0.1:{self.http_port}",
                 *args], stdout=f, stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy()
        return self

    def run_to_exit(self, args=(), timeout=START_TIMEOUT_S):
        """Runs the binary with this config and `args` until it exits:
        (exit code, output)."""
        r = subprocess.run([LEDGER_BIN, "-c", str(self.conf), *args], capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def get(self, path, method="GET", token=None):
        """(status, decoded JSON or text), with the bearer token when set."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", method=method)
        token = token if token is not None else self.token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
                status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as e:
            status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
        if ctype.startswith("application/json") and raw:
            return status, json.loads(raw)
        return status, raw.decode("utf-8", "replace")

    def committed(self):
        """The last entry committed, per stream (from /healthz)."""
        status, body = self.health()
        if not isinstance(body, dict):
            return {}
        return {s["stream"]: sid_key(s["last_entry"]) for s in body.get("streams", [])}

    def wait_caught_up(self, client, stream=PREFIX + "out", timeout=CATCH_UP_TIMEOUT_S):
        """Awaits the ledger committing the stream's last entry."""
        last = client.xrevrange(stream, count=1)
        assert last, f"{stream} is empty"
        want = sid_key(last[0][0])

        def caught_up():
            assert self.alive(), f"{self.name} exited:\n{self.log_text()}"
            return self.committed().get(stream, (0, 0)) >= want
        wait_until(caught_up, timeout, f"{self.name} to commit {stream} up to {want}",
                   interval=0.05)

    def history(self, member, limit=50):
        """Every event of `member`, newest first, read page by page."""
        events, before = [], None
        for _ in range(100_000):
            path = f"/v1/members/{member}/history?limit={limit}"
            if before:
                path += f"&before={before}"
            status, body = self.get(path)
            assert status == 200, (path, status, body)
            assert len(body["events"]) <= limit
            events.extend(body["events"])
            before = body["next_before"]
            if before is None:
                return events
        raise AssertionError("history never ended")


class PosLoad:
    """loyalty-posload pushing simulated POS traffic, in the background or to
    the end; its event time starts at `start_ts` and advances `step_ms` an
    entry, so a run covers months and the expiry rules act."""

    def __init__(self, redis_port, count, members=200, seed=7, start_ts=1_780_000_000_000,
                 step_ms=600_000, rate=0):
        self.argv = [POSLOAD_BIN, "--redis", f"127.0.0.1:{redis_port}", "--count", str(count),
                     "--members", str(members), "--seed", str(seed), "--start-ts",
                     str(start_ts), "--ts-step-ms", str(step_ms), "--rate", str(rate), "--quiet"]
        self.proc = None

    def run(self, timeout=120):
        r = subprocess.run(self.argv, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stdout + r.stderr

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=120):
        out = self.proc.communicate(timeout=timeout)[1]
        assert self.proc.returncode == 0, out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_pid(self.proc)


def month_index(ts_ms):
    d = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc)
    return d.year * 12 + d.month - 1


def month_name(index):
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start_ms(index):
    return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


def engine_clock(client):
    """The daemon's clock: the largest ts of the input entries that move it
    (every kind but scans), read from the input stream."""
    clock = 0
    for _, fields in client.xrange(PREFIX + "in"):
        m = msgpack.unpackb(fields[b"m"], raw=False)
        if m.get("kind") != "scan":
            clock = max(clock, m["ts"])
    return clock


def wait_daemon_done(env):
    """Awaits the daemon applying the whole input stream."""
    last = env.r.xrevrange(PREFIX + "in", count=1)
    env.wait_applied(last[0][0].decode(), timeout=CATCH_UP_TIMEOUT_S)


# -- what the ledger must agree with ----------------------------------------

def check_rows_match_stream(env, db):
    """The events table holds every out-stream entry exactly once, nothing
    else (the key makes doubles impossible; this finds losses and extras)."""
    want = [sid_key(sid) for sid, _ in env.r.xrange(PREFIX + "out")]
    got = [(int(ms), int(seq)) for ms, seq in
           db.rows("SELECT entry_ms, entry_seq FROM events ORDER BY entry_ms, entry_seq")]
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert not missing and not extra, \
        f"ledger rows: {len(missing)} missing (first {missing[:5]}), " \
        f"{len(extra)} extra (first {extra[:5]})"
    assert got == want
    return len(got)


def members_of(events):
    return sorted({e["member"] for e in events if e.get("member")})


def check_history(ledger, events, members, limit=37):
    """Each member's history (read in pages of `limit`) is exactly the events
    published for them, newest first, each with its fields."""
    by_member = {}
    for e in events:
        by_member.setdefault(e.get("member"), []).append(e)
    for member in members:
        got = list(reversed(ledger.history(member, limit)))
        want = by_member.get(member, [])
        assert [g["entry"] for g in got] == [w["_sid"] for w in want], member
        for g, w in zip(got, want):
            body = {k: v for k, v in w.items() if k != "_sid"}
            assert g["event"] == body, (member, g, w)
            for key in ("kind", "id", "src", "ts", "cause", "delta", "balance"):
                assert g[key] == w.get(key), (member, key, g, w)
            assert g["month"] == month_name(month_index(g["ts"])) or g["kind"] != "points.changed"


def check_cohorts(env, ledger, members, expiry_months):
    """The ledger's lots of every member are the daemon's: they add up to the
    balance, and the points in lots due within 30, 60 and 90 days of the
    engine clock are the daemon's `expiring` figures. The report's cohorts
    are the members' lots summed, its totals the live balances. Returns the
    report."""
    clock = engine_clock(env.r)
    held, debt, by_cohort = 0, 0, {}
    for member in members:
        view = env.member(member)
        balance = view["balance"]
        status, body = ledger.get(f"/v1/members/{member}/lots")
        if status == 404:
            assert balance == 0, (member, view)
            continue
        assert status == 200, (member, status, body)
        assert body["balance"] == balance, (member, body, view)
        lots = {lot["cohort"]: lot["points"] for lot in body["lots"]}
        assert sum(lots.values()) == max(balance, 0), (member, lots, balance)
        for days in (30, 60, 90):
            until = clock + days * DAY_MS
            due = sum(p for c, p in lots.items()
                      if month_start_ms(month_of_name(c) + expiry_months + 1) < until)
            assert view["expiring"][str(days)] == due, (member, days, lots, view["expiring"])
        for c, p in lots.items():
            by_cohort[c] = by_cohort.get(c, 0) + p
        held += max(balance, 0)
        debt += max(-balance, 0)
    status, report = ledger.get("/v1/ledger/report")
    assert status == 200, report
    assert report["totals"]["outstanding"] == held
    assert report["debt"] == debt
    cohorts = {c["cohort"]: c for c in report["cohorts"]}
    for name, c in cohorts.items():
        assert c["outstanding"] == by_cohort.get(name, 0), (name, c)
        assert c["issued"] + c["opening"] == c["debt_repaid"] + c["redeemed"] + c["expired"] + \
            c["other_debits"] + c["outstanding"], c
    assert set(by_cohort) <= set(cohorts)
    return report


def month_of_name(name):
    year, month = name.split("-")
    return int(year) * 12 + int(month) - 1


def check_all(env, ledger, db, expiry_months, history_members=None):
    """Rows, history and cohorts; and the ledger never had to reconcile a
    wallet (its FIFO mirrored the daemon's all along). Returns the report."""
    wait_daemon_done(env)
    ledger.wait_caught_up(env.r)
    check_rows_match_stream(env, db)
    events = env.read_out()
    members = members_of(events)
    check_history(ledger, events, history_members if history_members is not None else members)
    report = check_cohorts(env, ledger, members, expiry_months)
    metrics = ledger.metrics()
    assert metrics["ledger_reconciled_wallets_total"] == 0
    assert metrics["ledger_problem_events_total"] == 0
    return report


# -- fixtures (imported by the ledger's test files) ---------------------------

EXPIRY_MONTHS = 2  # short, so that a few simulated months of load expire points
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def pg_cluster():
    """One PostgreSQL cluster for a test file; each test gets its own database."""
    pg = PostgresServer().start()
    yield pg
    pg.close()


class World:
    """One test's Redis, daemon (expiry after EXPIRY_MONTHS), database and
    ledger, and the loads it started."""

    def __init__(self, env, backend, url, db, pg):
        self.env = env
        self.backend = backend
        self.url = url
        self.db = db
        self.pg = pg
        self.ledgers = []
        self.loads = []

    def ledger(self, name="ledger", **kw):
        led = Ledger(self.env.tmp / name, self.env.redis.port, self.url, name=name, **kw)
        self.ledgers.append(led)
        return led

    def posload(self, **kw):
        load = PosLoad(self.env.redis.port, **kw)
        self.loads.append(load)
        return load


@pytest.fixture
def make_world(request, make_env):
    """make_world(backend, start=True, **daemon_conf) -> World; with start the
    daemon is running."""
    made = []
    counter = [0]

    def make(backend, start=True, **conf):
        env = make_env(start=start, months=EXPIRY_MONTHS, **conf)
        pg = None
        if backend == "sqlite":
            url = f"sqlite://{env.tmp}/ledger.db"
            db = LedgerDB(url)
        else:
            pg = request.getfixturevalue("pg_cluster")
            counter[0] += 1
            name = f"ledger_{os.getpid()}_{int(time.monotonic() * 1000)}_{counter[0]}"
            url = pg.create_db(name)
            db = LedgerDB(url, pg, name)
        world = World(env, backend, url, db, pg)
        made.append(world)
        return world

    yield make
    passed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.passed
    for world in made:
        for load in world.loads:
            load.stop()
        codes = [(led.name, led.stop()) for led in world.ledgers if led.alive()]
        if not passed:
            for led in world.ledgers:
                print(led.log_text()[-6000:])
        assert not passed or all(rc == 0 for _, rc in codes), \
            f"ledgers exited non-zero on SIGTERM: {codes}"
