"""test_bench_bare.py - the bare consumer baseline of bench/run.sh
(bench/bench_bare.c) on a real redis-server.

bench_bare is the daemon's shell with decoding and the rules replaced by one
fixed output per entry: the baseline the end-to-end throughput is measured
against. A baseline that lost, duplicated or rejected entries would flatter
or wrong the daemon, so: exactly one output per input, in input order, each
naming its input, everything acknowledged, the marker at the last entry,
nothing in the DLQ, also across a stop and a restart (which replays the
stream with outputs suppressed, as the daemon's recovery does).
"""
import msgpack

from harness import PREFIX, SETUP_ENTRIES, BareConsumer, sid_key

# More than one batch of conf/loyaltyd.conf's batch_entries_max (1024) on
# each side of the restart, so batching and pipelined reads are exercised.
BEFORE_START = 1500
WHILE_LIVE = 1500
AFTER_RESTART = 1200


def push_many(env, n, tag):
    """XADDs n entries in one pipeline, every fifth one not msgpack at all
    and every seventh without an `m` field (bench_bare decodes nothing, so
    neither is rejected). Returns their ids in order."""
    pipe = env.r.pipeline(transaction=False)
    for i in range(n):
        if i % 7 == 3:
            fields = {"x": f"{tag}-{i}"}
        elif i % 5 == 1:
            fields = {"m": f"not msgpack {tag} {i}".encode()}
        else:
            fields = {"m": msgpack.packb(env.entry(kind="scan", member=f"M{i}", store="S1"))}
        pipe.xadd(PREFIX + "in", fields)
    return [sid.decode() for sid in pipe.execute()]


def outputs(env):
    """(src, member, kind) of every output event, oldest first."""
    return [(ev["src"], ev["member"], ev["kind"]) for ev in env.read_out()]


def test_bare_consumer_publishes_exactly_one_output_per_input(make_env):
    env = make_env(start=False)
    bare = BareConsumer(env.tmp / "bare", env.redis.port, env.conf_path)
    env.extra.append(bare)

    ids = push_many(env, BEFORE_START, "a")
    bare.start()
    ids += push_many(env, WHILE_LIVE, "b")
    env.wait_applied(ids[-1])
    assert outputs(env) == [(sid, "bare", "points.changed") for sid in ids]
    assert env.pending_count() == 0
    metrics = bare.metrics()
    assert metrics["loyalty_entries_applied_total"] == SETUP_ENTRIES + len(ids)
    assert metrics["loyalty_batches_total"] >= len(ids) / 1024

    assert bare.stop() == 0
    ids += push_many(env, AFTER_RESTART, "c")
    bare.start()
    env.wait_applied(ids[-1])
    assert outputs(env) == [(sid, "bare", "points.changed") for sid in ids]
    assert env.pending_count() == 0
    assert env.read_dlq() == []
    assert env.progress() == sid_key(ids[-1])
    # After the restart the older entries were replayed, not published again.
    metrics = bare.metrics()
    assert metrics["loyalty_entries_replayed_total"] == SETUP_ENTRIES + BEFORE_START + WHILE_LIVE
