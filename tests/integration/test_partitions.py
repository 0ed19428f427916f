"""Partitions on one daemon: keys carry <prefix>{p}:, a member's partition is
crc32(member id) mod P (zlib's, as tests/vectors/partition.json), an entry of
another partition's member goes to the DLQ as `wrong_partition`, each
partition keeps its state and snapshots (DATA/p<N>/) and recovers on its own,
and HTTP answers for every served partition (421, naming the partition, for
a member served elsewhere)."""
import sys
import zlib

import msgpack

from harness import BASE_TS_MS, REPO, SETUP_ENTRIES, sid_key, wait_until

sys.path.insert(0, str(REPO / "clients" / "python"))
import loyalty  # noqa: E402  (the producers' helper under test)

P = 4



def member_outputs(r, p):
    """Partition p's outputs about members (not its rules.changed)."""
    outs = [msgpack.unpackb(f[b"m"]) for _, f in r.xrange(key(p, "out"))]
    return [o for o in outs if o["kind"] != "rules.changed"]

def part_of(member, partitions=P):
    return zlib.crc32(member.encode()) % partitions


def members_in(p, n, partitions=P, stem="M"):
    """`n` member ids of partition `p`."""
    out, i = [], 0
    while len(out) < n:
        m = f"{stem}{i:05d}"
        if part_of(m, partitions) == p:
            out.append(m)
        i += 1
    return out


def key(p, name):
    return f"loyalty:{{{p}}}:{name}"


def push(r, p, **fields):
    m = {"v": 1, "ts": BASE_TS_MS}
    m.update(fields)
    return r.xadd(key(p, "in"), {"m": msgpack.packb(m)}).decode()


def wait_marker(r, p, sid):
    wait_until(lambda: (r.get(key(p, "progress")) or b"0-0") and
               sid_key(r.get(key(p, "progress")) or b"0-0") >= sid_key(sid),
               what=f"{key(p, 'progress')} >= {sid}")


def test_a_daemon_of_one_partition_rejects_other_partitions_members(make_env):
    env = make_env(start=False, partitions=P, serve='"2"')
    env.daemon.start()
    ours, = members_in(2, 1)
    theirs, = members_in(1, 1)
    push(env.r, 2, kind="enroll", txn="e1", member=ours)
    push(env.r, 2, kind="purchase", txn="p1", member=ours, store="s1", amount=10000)
    push(env.r, 2, kind="tick")
    last = push(env.r, 2, kind="enroll", txn="e2", member=theirs)
    wait_marker(env.r, 2, last)

    assert env.member(ours)["balance"] > 0
    dlq = env.r.xrange(key(2, "dlq"))
    assert len(dlq) == 1
    fields = dlq[0][1]
    assert fields[b"reason"] == b"wrong_partition" and fields[b"src"].decode() == last
    assert f"partition 1 of {P}, not 2".encode() in fields[b"detail"]
    assert msgpack.unpackb(fields[b"m"])["member"] == theirs
    status, body = env.daemon.get(f"/v1/members/{theirs}")
    assert status == 421 and body["error"] == "wrong_partition" and body["partition"] == 1
    assert "partition 1 of 4" in body["detail"]
    outs = member_outputs(env.r, 2)
    assert outs and all(o["member"] == ours for o in outs)
    # Nothing under the plain prefix: a partitioned program has none.
    assert not env.r.exists("loyalty:in", "loyalty:out", "loyalty:dlq", "loyalty:progress")

    assert env.daemon.stop() == 0
    snaps = sorted((env.daemon.data / "p2").glob("snap-*.lysnap"))
    assert snaps, list(env.daemon.data.rglob("*"))
    assert not list(env.daemon.data.glob("snap-*.lysnap"))


def test_serve_outside_the_partitions_is_a_config_error(make_env):
    env = make_env(start=False, partitions=P, serve='"4"')
    env.daemon.start(wait=False)
    rc = env.daemon.proc.wait(timeout=10)
    env.daemon.proc = None
    assert rc == 1
    log = env.daemon.logs[-1].read_text()
    assert "serve: '4' is not a set of partitions 0..3" in log, log


def test_one_daemon_serves_every_partition_each_on_its_own(make_env):
    env = make_env(start=False, partitions=P, serve='"all"', snapshot_every_entries=10)
    env.daemon.start()
    members = {p: members_in(p, 3) for p in range(P)}
    last = {}
    for p, ms in members.items():
        for m in ms:
            push(env.r, p, kind="enroll", txn=f"e-{m}", member=m)
        for i in range(20):
            m = ms[i % len(ms)]
            last[p] = push(env.r, p, kind="purchase", txn=f"p-{m}-{i}", member=m, store="s1",
                           amount=1000 + 100 * p)
    for p in range(P):
        wait_marker(env.r, p, last[p])

    status, health = env.daemon.health()
    assert status == 200 and health["consumer"] == "consuming"
    assert sorted(health["partitions"]) == [str(p) for p in range(P)]
    assert all(v["consumer"] == "consuming" and v["members"] == 3
               for v in health["partitions"].values())
    assert health["members"] == 3 * P
    metrics = env.daemon.metrics()
    assert metrics["loyalty_members"] == 3 * P
    # Each partition's log starts with its own rules entry (the harness's).
    assert metrics["loyalty_entries_applied_total"] == (23 + SETUP_ENTRIES) * P
    balances = {}
    for p, ms in members.items():
        outs = member_outputs(env.r, p)
        assert {o["member"] for o in outs} == set(ms)
        for m in ms:
            balances[m] = env.member(m)["balance"]
            mine = [o for o in outs if o["member"] == m and o["kind"] == "points.changed"]
            assert sum(o["delta"] for o in mine) == balances[m] > 0
        assert env.r.xlen(key(p, "dlq")) == 0
        assert env.r.hget(key(p, "owner"), "instance") == b"loyaltyd-1"

    # Every partition comes back from its own snapshots, and goes on.
    wait_until(lambda: all(list((env.daemon.data / f"p{p}").glob("snap-*.lysnap"))
                           for p in range(P)), what="a snapshot of every partition")
    env.daemon.kill()
    env.daemon.start()
    loaded = env.daemon.logs[-1].read_text().count("loaded snapshot")
    assert loaded == P, env.daemon.logs[-1].read_text()
    assert {m: env.member(m)["balance"] for m in balances} == balances
    more = push(env.r, 3, kind="purchase", txn="late", member=members[3][0], store="s1",
                amount=5000)
    wait_marker(env.r, 3, more)
    assert env.member(members[3][0])["balance"] > balances[members[3][0]]
    outs = [msgpack.unpackb(f[b"m"]) for _, f in env.r.xrange(key(3, "out"))]
    assert len([o for o in outs if o["src"] == more]) >= 1
    # Output ids are unique within a partition's stream (two partitions'
    # inputs may well hold the same entry id).
    for p in range(P):
        ids = [msgpack.unpackb(f[b"m"])["id"] for _, f in env.r.xrange(key(p, "out"))]
        assert len(ids) == len(set(ids)), p


def test_a_producer_sends_each_member_to_its_partition_with_the_client_helper(make_env):
    env = make_env(start=False, partitions=P, serve='"all"')
    env.daemon.start()
    for m in ("M-HELPER-1", "M-HELPER-2", "M-HELPER-3", "M-HELPER-4", "M-HELPER-5"):
        till = loyalty.Client(env.r, prefix=loyalty.partition_prefix("loyalty:", m, P))
        assert till.prefix == f"loyalty:{{{part_of(m)}}}:"
        assert till.submit(loyalty.enroll(f"e-{m}", m)).ok
        sale = till.submit(loyalty.purchase(f"p-{m}", m, "S001", 5000))
        assert sale.ok and sale.of_kind("points.changed")
        assert env.member(m)["balance"] == sale.of_kind("points.changed")[-1]["balance"]
    # The helper with one partition is the plain prefix, as the daemon's keys.
    assert loyalty.partition_prefix("loyalty:", "M-HELPER-1", 1) == "loyalty:"


def test_each_partition_archives_its_input_before_the_fenced_trim(make_env):
    env = make_env(start=False, partitions=P, serve='"all"', snapshot_every_entries=10,
                   snapshot_keep=1, trim_input="true")
    env.daemon.start()
    last, pushed = {}, 0
    for p in range(P):
        for m in members_in(p, 2):
            push(env.r, p, kind="enroll", txn=f"e-{m}", member=m)
            pushed += 1
            for i in range(120):  # a trim MINID ~ drops whole nodes of 100 entries
                last[p] = push(env.r, p, kind="purchase", txn=f"p-{m}-{i}", member=m,
                               store="s1", amount=1000)
                pushed += 1
    for p in range(P):
        wait_marker(env.r, p, last[p])
    per_partition = pushed // P
    wait_until(lambda: all(env.r.xlen(key(p, "in")) < per_partition for p in range(P)),
               what="every partition's <prefix>{p}:in to be trimmed")
    trimmed = sum(per_partition - env.r.xlen(key(p, "in")) for p in range(P))
    metrics = env.daemon.metrics()
    # Archived first: nothing left the streams that is not in an archive.
    assert metrics["loyalty_archive_entries_total"] >= trimmed > 0
    assert metrics["loyalty_archive_failures_total"] == 0
    for p in range(P):
        assert list((env.daemon.data / f"p{p}" / "archive").iterdir()), p
    assert not (env.daemon.data / "archive").exists(), "one archive per partition directory"
