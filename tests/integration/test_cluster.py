"""Scaling out on a real Redis Cluster (3 masters on loopback, created with
redis-cli --cluster create, started and stopped by pid; clusterkit.py).

- Two daemons share 16 partitions; one is killed (SIGKILL) under load and the
  other takes its partitions (--take-partitions, from a copy of its
  snapshots): what is published, and every balance, equal an uninterrupted
  run of one daemon over the same entries; the old owner restarted is fenced.
- A partition's slot migrated to another master under load: nothing lost or
  doubled, and the daemon's log names the slot and the nodes (MOVED).
- A master killed and its replica promoted (AOF appendfsync always, the
  daemon WAITs for one replica after each commit): every sale is applied and
  published exactly once, and the daemon carries on with the new master.
"""
import json
import shutil
import threading
import time

import msgpack
import pytest

from clusterkit import (ClusterClient, PartitionLoad, RedisClusterNodes, key, published,
                        read_stream, slot_of, wait_markers)
from ctlkit import ctl
from harness import TEST_OVERRIDES, Daemon, conf_text, wait_until

P = 16
PREFIX = "loyalty:"
REF = "ref:"


class World:
    """The cluster, the daemons on it, and their teardown (conftest.py
    attaches their logs to a failure report through `daemon`/`extra`)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.nodes = None
        self.daemon = None
        self.extra = []

    def cluster(self, **kw):
        self.nodes = RedisClusterNodes(self.tmp / "cluster", **kw).start()
        self.extra.append(self.nodes)
        return self.nodes

    def make_daemon(self, name, serve, prefix=PREFIX, **overrides):
        conf = self.tmp / f"{name}.conf"
        settings = dict(TEST_OVERRIDES, partitions=P, cluster="true", consumer=f'"{name}"',
                        prefix=f'"{prefix}"', snapshot_every_entries=25, **overrides)
        conf.write_text(conf_text(settings))
        d = Daemon(self.tmp / name, self.nodes.masters_ports()[0], conf, name=name)
        d.extra_args = ["--serve", serve]
        if self.daemon is None:
            self.daemon = d
        else:
            self.extra.append(d)
        return d

    def close(self, passed):
        codes = []
        try:
            for d in [self.daemon] + [x for x in self.extra if isinstance(x, Daemon)]:
                if d is not None and d.alive():
                    codes.append((d.name, d.stop()))
        finally:
            if self.nodes is not None:
                self.nodes.stop()
        if passed:
            assert all(rc == 0 for _, rc in codes), f"daemons exited non-zero: {codes}"


@pytest.fixture
def world(request, tmp_path):
    w = World(tmp_path)
    request.node.loyalty_env = w
    yield w
    rep = getattr(request.node, "rep_call", None)
    w.close(rep is not None and rep.passed)


def reference(world, client, load):
    """One daemon over every partition, under prefix REF: what it publishes
    and each member's balance."""
    ref = world.make_daemon("ref", "all", prefix=REF)
    ref.start()
    wait_markers(client, REF, load.push(client, REF))
    balances = {m: ref.member(m)["balance"] for ms in load.members.values() for m in ms}
    assert ref.stop() == 0
    want, ids = published(client, REF, P)
    assert len(ids) == len(set(ids))
    return want, balances


def health(d):
    status, body = d.health()
    return status, body


def test_two_daemons_share_16_partitions_and_one_takes_over_from_the_other(world):
    nodes = world.cluster(masters=3)
    client = ClusterClient(nodes)
    load = PartitionLoad(P, per=4, sales=40)
    want, balances = reference(world, client, load)

    a = world.make_daemon("A", "0-7")
    b = world.make_daemon("B", "8-15")
    a.start()
    b.start()
    half = max(len(v) for v in load.entries.values()) // 2
    load.push(client, PREFIX, upto=half)
    load.push(client, PREFIX, start=half, upto=half + 8)
    a.kill()  # under load: commits in flight, maybe a snapshot being written

    # The hand-over: B serves all 16, taking 0-7 from a copy of A's snapshots.
    for p in range(8):
        src = a.data / f"p{p}"
        for snap in src.glob("snap-*.lysnap") if src.exists() else []:
            (b.data / f"p{p}").mkdir(parents=True, exist_ok=True)
            shutil.copy(snap, b.data / f"p{p}" / snap.name)
    assert b.stop() == 0
    b.extra_args = ["--serve", "0-15", "--take-partitions", "0-7"]
    b.start()
    last = load.push(client, PREFIX, start=half + 8)
    wait_markers(client, PREFIX, last)

    got, ids = published(client, PREFIX, P)
    assert len(ids) == len(set(ids)), "an output was published twice"
    assert got == want, "what was published differs from the uninterrupted run"
    assert {m: b.member(m)["balance"] for m in balances} == balances
    for p in range(P):
        owner = client.call(key(PREFIX, p, "owner"), "HGETALL", key(PREFIX, p, "owner"))
        assert owner == {b"epoch": b"2" if p < 8 else b"1", b"instance": b"B"}, (p, owner)
    log = b.logs[-1].read_text()
    assert log.count("taken at epoch 2 by 'B' from A") == 8, log
    # What an operator sees of it (any node will do: MOVED is followed).
    res = ctl("partitions", "--partitions", P, "--redis", f"127.0.0.1:{nodes.masters_ports()[-1]}",
              "--json")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["partition"] for r in rows] == list(range(P))
    for r in rows:
        assert (r["owner"], r["epoch"]) == ("B", 2 if r["partition"] < 8 else 1), r
        assert r["after_marker"] == 0 and r["marker"] == last[r["partition"]], r
        slot = slot_of(key(PREFIX, r["partition"], "in"))
        assert r["node"] == f"127.0.0.1:{nodes.master_of(slot)}", r

    # The old owner, restarted with its partitions, is fenced and writes nothing.
    a.start(wait=False)
    wait_until(lambda: health(a)[1] is not None and health(a)[1]["consumer"] == "fenced",
               what="the old owner to report fenced")
    status, body = health(a)
    assert status == 503 and {v["consumer"] for v in body["partitions"].values()} == {"fenced"}
    late = dict(v=1, kind="purchase", ts=load.entries[0][-1]["ts"] + 1000, txn="late",
                member=load.members[0][0], store="S0", amount=9900)
    k = key(PREFIX, 0, "in")
    sid = client.call(k, "XADD", k, "*", "m", msgpack.packb(late)).decode()
    wait_markers(client, PREFIX, {0: sid})
    outs = [msgpack.unpackb(f[b"m"]) for _, f in read_stream(client, key(PREFIX, 0, "out"))]
    assert len([o for o in outs if o["src"] == sid and o["kind"] == "points.changed"]) == 1
    assert b.member(load.members[0][0])["balance"] > balances[load.members[0][0]]


class Pusher(threading.Thread):
    """Pushes `load` under PREFIX at a steady pace from its own client."""

    def __init__(self, nodes, load, pause_s=0.004):
        super().__init__(daemon=True)
        self.client = ClusterClient(nodes)
        self.load, self.pause_s = load, pause_s
        self.last, self.failure, self.rounds = {}, None, 0

    def run(self):
        try:
            longest = max(len(v) for v in self.load.entries.values())
            for n in range(longest):
                self.last.update(self.load.push(self.client, PREFIX, start=n, upto=n + 1))
                self.rounds = n + 1
                time.sleep(self.pause_s)
        except Exception as e:  # reported by the test
            self.failure = e


def test_a_slot_migrated_under_load_loses_nothing(world):
    nodes = world.cluster(masters=3)
    client = ClusterClient(nodes)
    load = PartitionLoad(P, per=4, sales=60)
    want, balances = reference(world, client, load)
    d = world.make_daemon("solo", "all")
    d.start()

    pusher = Pusher(nodes, load)
    pusher.start()
    wait_until(lambda: pusher.rounds >= 20 or pusher.failure, what="the load to be under way")
    moved = []
    for p in (3, 11):
        slot = slot_of(key(PREFIX, p, "in"))
        src = nodes.master_of(slot)
        dst = next(port for port in nodes.masters_ports() if port != src)
        nodes.migrate_slot(slot, dst)
        moved.append((p, slot, src, dst))
    rounds_at_move = pusher.rounds
    pusher.join(timeout=120)
    assert not pusher.is_alive() and pusher.failure is None, pusher.failure
    assert rounds_at_move < pusher.rounds, "the migration did not happen under load"
    wait_markers(client, PREFIX, pusher.last)

    got, ids = published(client, PREFIX, P)
    assert len(ids) == len(set(ids)), "an output was published twice"
    assert got == want
    assert {m: d.member(m)["balance"] for m in balances} == balances
    # Each move was seen (ASK or TRYAGAIN while the keys moved, MOVED after)
    # and logged with the slot and the node; the partition is served from its
    # new master, which the log names with the old one.
    log = d.log_text()
    _, body = health(d)
    for p, slot, src, dst in moved:
        assert f"slot {slot} is served by 127.0.0.1:{dst} now, not 127.0.0.1:{src}" in log, log
        assert body["partitions"][str(p)]["node"] == f"127.0.0.1:{dst}"


def test_a_master_killed_and_its_replica_promoted(world):
    nodes = world.cluster(masters=3, replicas=1, appendfsync="always")
    client = ClusterClient(nodes, deadline_s=60)
    load = PartitionLoad(P, per=3, sales=24)
    d = world.make_daemon("solo", "all", wait_replicas=1, wait_timeout_ms=300)
    d.start()
    half = max(len(v) for v in load.entries.values()) // 2
    wait_markers(client, PREFIX, load.push(client, PREFIX, upto=half))
    assert d.metrics()["loyalty_commits_unreplicated_total"] == 0  # every commit on a replica

    victim_slot = slot_of(key(PREFIX, 5, "in"))
    victim = nodes.master_of(victim_slot)
    replica = nodes.replica_of(victim)
    assert replica is not None
    nodes.kill(victim)
    wait_until(lambda: master_is(nodes, victim_slot, replica), 30, "the replica promoted", 0.1)
    client.refresh()
    last = load.push(client, PREFIX, start=half)
    repushed = repush_lost(client, load)
    last.update({p: sid for p, sid in repushed.items()})
    wait_markers(client, PREFIX, latest(client), timeout=90)

    # Every entry of the load was applied once and published once.
    got, ids = published(client, PREFIX, P)
    assert len(ids) == len(set(ids)), "an output was published twice"
    for p, ms in load.members.items():
        for m in ms:
            sales = [e for e in load.entries[p] if e["kind"] == "purchase" and e["member"] == m]
            events = [e for e in got[m] if e["kind"] == "points.changed"]
            assert len([e for e in events if e["cause"] == "purchase"]) == len(sales), m
            member = d.member(m)
            assert sum(e["delta"] for e in events) == member["balance"] == events[-1]["balance"]
            assert member["purchases"] == len(sales)
    _, body = health(d)
    assert body["partitions"]["5"]["node"] == f"127.0.0.1:{replica}"
    # The promoted replica has no replica of its own: WAIT finds none, the
    # commits go on, counted and logged.
    assert d.metrics()["loyalty_commits_unreplicated_total"] > 0
    assert "a failover now may lose it" in d.log_text()


def master_is(nodes, slot, port):
    try:
        nodes.wait_ok(timeout=0.5)
    except AssertionError:
        return False
    return nodes.master_of(slot) == port


def repush_lost(client, load):
    """Pushes again (same bytes, same txn) the entries a failover lost from
    the inputs: the producer's retry. Returns the last id per partition."""
    last = {}
    for p, entries in load.entries.items():
        k = key(PREFIX, p, "in")
        seen = {msgpack.unpackb(f[b"m"]).get("txn") for _, f in read_stream(client, k)}
        for e in entries:
            if e["txn"] not in seen:
                last[p] = client.call(k, "XADD", k, "*", "m", msgpack.packb(e)).decode()
    return last


def latest(client):
    """The newest input id of every partition."""
    out = {}
    for p in range(P):
        k = key(PREFIX, p, "in")
        tip = client.call(k, "XREVRANGE", k, "+", "-", "COUNT", 1)
        if tip:
            out[p] = tip[0][0].decode()
    return out
