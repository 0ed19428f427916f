"""clusterkit.py - a real Redis Cluster on loopback, and what the cluster tests
drive it with.

RedisClusterNodes starts redis-server --cluster-enabled yes on free loopback
ports (each node also needs its port + 10000 for the cluster bus), creates the
cluster with `redis-cli --cluster create`, waits (bounded) for cluster_state:ok
on every node, and stops the nodes by pid. ClusterClient routes commands by
the slot map (CLUSTER SLOTS) and follows MOVED, ASK and TRYAGAIN itself, so a
producer's retries are explicit and quiet. PartitionLoad is a deterministic
POS load for P partitions (members of each partition, by crc32 as the daemon
computes it) and the comparison of what daemons published.
"""
import socket
import subprocess
import time
import zlib
from pathlib import Path

import msgpack
import redis

from harness import BASE_TS_MS, POLL_INTERVAL_S, REDIS_BIN, START_TIMEOUT_S, sid_key, \
    stop_pid, wait_until

REDIS_CLI = "redis-cli"
SLOTS = 16384
# A node declared failed after this long without answering; a replica then
# takes over. Short, so that the failover test stays within CI time.
NODE_TIMEOUT_MS = 1500
# Bounds of the cluster's own waits (creation, agreement, failover).
CLUSTER_TIMEOUT_S = 40


def cluster_port():
    """A loopback port that is free, with its cluster bus port (+10000) free."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as b:
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise AssertionError("no free port pair for a cluster node")


class RedisClusterNodes:
    """`masters` masters and `replicas` replicas of each, AOF with
    `appendfsync`, created into one cluster."""

    def __init__(self, directory, masters=3, replicas=0, appendfsync="everysec"):
        self.dir = Path(directory)
        self.masters, self.replicas, self.appendfsync = masters, replicas, appendfsync
        self.procs = {}  # port -> Popen

    def start(self):
        count = self.masters * (1 + self.replicas)
        for _ in range(count):
            self.start_node(cluster_port())
        cmd = [REDIS_CLI, "--cluster", "create"] + [f"127.0.0.1:{p}" for p in self.procs] + \
            ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=CLUSTER_TIMEOUT_S)
        assert res.returncode == 0, f"redis-cli --cluster create failed:\n{res.stdout}{res.stderr}"
        self.wait_ok(replicated=self.replicas > 0)
        return self

    def start_node(self, port):
        d = self.dir / str(port)
        d.mkdir(parents=True, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout",
             str(NODE_TIMEOUT_MS), "--save", "", "--appendonly", "yes", "--appendfsync",
             self.appendfsync, "--dir", str(d), "--logfile", str(d / "redis.1.log"),
             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(lambda: self._pings(port), START_TIMEOUT_S, f"cluster node {port} to answer")

    def _pings(self, port):
        assert self.procs[port].poll() is None, f"cluster node {port} exited; see {self.dir}"
        try:
            return self.node(port).ping()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False

    def node(self, port):
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

    def alive_ports(self):
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def wait_ok(self, timeout=CLUSTER_TIMEOUT_S, replicated=False):
        """cluster_state:ok on every live node, all agreeing on the masters;
        with `replicated`, every master's replicas online (synced)."""
        def ok():
            views = set()
            for port in self.alive_ports():
                info = self.node(port).execute_command("CLUSTER", "INFO").decode()
                if "cluster_state:ok" not in info:
                    return False
                views.add(tuple(sorted((s, e, n) for s, e, n in self.slot_ranges(port))))
            return len(views) == 1 and (not replicated or self._replicas_online())
        wait_until(ok, timeout, "cluster_state:ok and one slot map on every node", 0.1)

    def _replicas_online(self):
        for port in self.masters_ports():
            info = self.node(port).info("replication")
            online = [v for k, v in info.items()
                      if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"]
            if len(online) < self.replicas:
                return False
        return True

    def slot_ranges(self, port=None):
        """[(start, end, master port)] from CLUSTER SLOTS."""
        port = port or self.alive_ports()[0]
        out = []
        for entry in self.node(port).execute_command("CLUSTER", "SLOTS"):
            out.append((entry[0], entry[1], int(entry[2][1])))
        return out

    def master_of(self, slot):
        return next(p for s, e, p in self.slot_ranges() if s <= slot <= e)

    def node_id(self, port):
        return self.node(port).execute_command("CLUSTER", "MYID").decode()

    def masters_ports(self):
        return sorted({p for _, _, p in self.slot_ranges()})

    def replica_of(self, master_port):
        mid = self.node_id(master_port)
        for port in self.alive_ports():
            if port == master_port:
                continue
            for line in self.node(port).execute_command("CLUSTER", "NODES").decode().splitlines():
                f = line.split()
                if "myself" in f[2] and "slave" in f[2] and f[3] == mid:
                    return port
        return None

    def migrate_slot(self, slot, dst_port):
        """Moves `slot` to the master on `dst_port` as redis-cli --cluster
        reshard does: IMPORTING/MIGRATING, MIGRATE of its keys (in batches),
        then SETSLOT NODE on every master."""
        src_port = self.master_of(slot)
        src, dst = self.node(src_port), self.node(dst_port)
        src_id, dst_id = self.node_id(src_port), self.node_id(dst_port)
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while True:
            keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not keys:
                break
            src.execute_command("MIGRATE", "127.0.0.1", dst_port, "", 0, 10000, "KEYS", *keys)
        for port in self.masters_ports() + [dst_port]:
            self.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        return src_port

    def kill(self, port):
        stop_pid(self.procs[port], sig=9)

    def stop(self):
        for proc in self.procs.values():
            stop_pid(proc, timeout=10)


class ClusterClient:
    """Commands routed by slot, with MOVED/ASK/TRYAGAIN and lost nodes handled
    here: a producer's retries, bounded by `deadline_s` per command."""

    def __init__(self, nodes, deadline_s=30):
        self.nodes = nodes
        self.deadline_s = deadline_s
        self.conns = {}
        self.map = []
        self.redirects = {"MOVED": 0, "ASK": 0, "TRYAGAIN": 0, "down": 0}
        self.refresh()

    def conn(self, port):
        if port not in self.conns:
            self.conns[port] = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        return self.conns[port]

    def refresh(self):
        for port in self.nodes.alive_ports():
            try:
                self.map = [(s, e, int(n[1])) for s, e, n, *_ in
                            self.conn(port).execute_command("CLUSTER", "SLOTS")]
                return
            except redis.RedisError:
                continue

    def port_of(self, key):
        slot = slot_of(key)
        return next((p for s, e, p in self.map if s <= slot <= e), None)

    def call(self, key, *args):
        """Runs `args` (a command on `key`) where the key lives."""
        deadline = time.monotonic() + self.deadline_s
        port, asking = self.port_of(key), False
        while True:
            try:
                c = self.conn(port)
                if not asking:
                    return c.execute_command(*args)
                p = c.pipeline(transaction=False)
                p.execute_command("ASKING")
                p.execute_command(*args)
                return p.execute()[1]
            except redis.ResponseError as e:
                kind, _, rest = str(e).partition(" ")
                if kind not in ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"):
                    raise
                self.redirects[kind if kind in self.redirects else "down"] += 1
                asking = kind == "ASK"
                if kind in ("MOVED", "ASK"):
                    port = int(rest.split(":")[-1])
                    if kind == "MOVED":
                        self.refresh()
                else:
                    time.sleep(0.05)
            except (redis.ConnectionError, redis.TimeoutError):
                self.redirects["down"] += 1
                self.conns.pop(port, None)
                time.sleep(0.1)
                self.refresh()
                port, asking = self.port_of(key), False
            if time.monotonic() > deadline:
                raise AssertionError(f"{args[0]} {key}: no node took it in {self.deadline_s}s")


def slot_of(key):
    """The Cluster slot of `key` (CRC16/XMODEM of the hash tag)."""
    k = key.encode() if isinstance(key, str) else key
    start = k.find(b"{")
    if start >= 0:
        end = k.find(b"}", start + 1)
        if end > start + 1:
            k = k[start + 1:end]
    crc = 0
    for byte in k:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % SLOTS


def partition_of(member, partitions):
    return zlib.crc32(member.encode()) % partitions


def key(prefix, p, name):
    return f"{prefix}{{{p}}}:{name}"


class PartitionLoad:
    """A deterministic POS load over `partitions`: `per` members in each,
    enrolled, then sales (with a refund now and then) in event-time order.
    entries[p] is partition p's list of `m` maps, in the order to push."""

    def __init__(self, partitions, per=4, sales=30):
        self.partitions = partitions
        self.members = {p: [] for p in range(partitions)}
        i = 0
        while min(len(v) for v in self.members.values()) < per:
            m = f"C{i:05d}"
            p = partition_of(m, partitions)
            if len(self.members[p]) < per:
                self.members[p].append(m)
            i += 1
        self.entries = {p: [] for p in range(partitions)}
        for p, ms in self.members.items():
            ts = BASE_TS_MS
            for m in ms:
                ts += 1000
                self.entries[p].append(dict(v=1, kind="enroll", ts=ts, txn=f"e-{m}", member=m))
            for n in range(sales):
                ts += 60_000
                m = ms[n % len(ms)]
                amount = 2500 + 1300 * ((n * 7 + p) % 11)
                self.entries[p].append(dict(v=1, kind="purchase", ts=ts, txn=f"s-{m}-{n}",
                                            member=m, store=f"S{n % 3}", amount=amount))
                if n % 9 == 8:
                    self.entries[p].append(dict(v=1, kind="refund", ts=ts + 1,
                                                txn=f"r-{m}-{n}", orig_txn=f"s-{m}-{n}",
                                                member=m, amount=amount // 2))

    def total(self):
        return sum(len(v) for v in self.entries.values())

    def push(self, client, prefix, upto=None, start=None):
        """XADDs entries [start, upto) of every partition (round robin over the
        partitions, so all move together). Returns the last id per partition."""
        last = {}
        longest = max(len(v) for v in self.entries.values())
        lo = 0 if start is None else start
        hi = longest if upto is None else min(upto, longest)
        for n in range(lo, hi):
            for p in range(self.partitions):
                if n < len(self.entries[p]):
                    k = key(prefix, p, "in")
                    sid = client.call(k, "XADD", k, "*", "m", msgpack.packb(self.entries[p][n]))
                    last[p] = sid.decode()
        return last


def read_stream(client, k):
    """[(id, fields)] of stream `k`, all of it."""
    out, start = [], "-"
    while True:
        chunk = client.call(k, "XRANGE", k, start, "+", "COUNT", 1000)
        out.extend(chunk)
        if len(chunk) < 1000:
            return out
        start = "(" + chunk[-1][0].decode()


def published(client, prefix, partitions):
    """{member: [output without id/src]} in publication order, and every
    output id, over all partitions."""
    per_member, ids = {}, []
    for p in range(partitions):
        for _, f in read_stream(client, key(prefix, p, "out")):
            ev = msgpack.unpackb(f[b"m"], raw=False)
            ids.append((p, ev["id"]))
            bare = {k: v for k, v in ev.items() if k not in ("id", "src")}
            per_member.setdefault(ev.get("member", ""), []).append(bare)
    return per_member, ids


def wait_markers(client, prefix, last, timeout=60):
    """Awaits every partition's progress marker reaching last[p]."""
    def done():
        for p, sid in last.items():
            k = key(prefix, p, "progress")
            got = client.call(k, "GET", k)
            if got is None or sid_key(got) < sid_key(sid):
                return False
        return True
    wait_until(done, timeout, f"{prefix} markers to reach the last entries", POLL_INTERVAL_S * 5)
