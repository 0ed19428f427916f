"""Partitions on one daemon: keys carry <prefix>{p}:, a member's partition is
crc32(member id) mod P (zlib's, as tests/vectors/partition.json), an entry of
another partition's member goes to the DLQ as `wrong_partition`, and each
partition keeps its snapshots under DATA/p<N>/."""
import zlib

import msgpack

from harness import BASE_TS_MS, sid_key, wait_until

P = 4


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
    status, _ = env.daemon.get(f"/v1/members/{theirs}")
    assert status == 404
    outs = [msgpack.unpackb(f[b"m"]) for _, f in env.r.xrange(key(2, "out"))]
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
