"""Restarting the daemon on the same Redis: after a clean stop (SIGTERM) or a
crash (SIGKILL) at any moment of a load, it comes back to the state a fresh
replay of the stream computes, publishes nothing twice and loses nothing."""
from harness import (PREFIX, LoadThread, Outcome, assert_matches, encode, enroll_members,
                     fresh_replay, mixed_entries, sid_key, wait_until)


def last_input_id(env):
    last = env.r.xrevrange(PREFIX + "in", count=1)
    return last[0][0].decode()


def outcome(env, members):
    return Outcome(env, env.daemon, env.r, members)


def test_restart_after_sigterm_replays_without_republishing_and_goes_on(env):
    members = enroll_members(env, 12)
    for m in mixed_entries(env, members, 600, seed=1):
        env.push_raw(encode(m))
    env.wait_applied(last_input_id(env))
    before = outcome(env, members)
    assert env.daemon.stop() == 0

    env.daemon.start()
    env.wait_applied(last_input_id(env))
    after = outcome(env, members)
    assert after.out == before.out, "a restart republished or lost outputs"
    assert after.dlq == before.dlq
    assert after.members == before.members
    assert after.counters == before.counters
    assert env.pending_count() == 0

    # It goes on with new entries.
    more = mixed_entries(env, members, 300, seed=2)
    load = LoadThread(env, more)
    load.start()
    pushed = load.finish()
    env.wait_applied(pushed[-1][0])
    final = outcome(env, members)
    assert len(final.out) > len(after.out)
    assert {e["src"] for e in final.out[len(after.out):]} <= {sid for sid, _ in pushed}
    assert env.pending_count() == 0
    assert_matches(final, fresh_replay(env, members))


def crash_mid_load(env, stop, stop_after=0, backlog=6000, ready=None):
    """Gives the daemon a backlog, stops it with `stop` in the middle of it
    (once entry `stop_after` of the backlog is committed, and `ready()` is
    true when given), pushes more while it is down, restarts it and checks
    it against a fresh replay. Returns the exit code of the stop, how many
    entries were committed before it (up to the marker) and how many
    entries were pushed in all."""
    members = enroll_members(env, 16)
    load = LoadThread(env, mixed_entries(env, members, backlog, seed=3))
    load.start()
    pushed = load.finish()
    env.daemon.start(wait=False)
    mark = sid_key(pushed[stop_after][0])
    wait_until(lambda: (env.progress() or (0, 0)) >= mark, what="the daemon to reach the mark",
               interval=0.005)
    if ready is not None:
        wait_until(ready, what="the daemon to be ready to stop", interval=0.005)
    rc = stop()
    stopped_at = env.progress()
    committed = sum(1 for sid, _ in env.pushed + pushed if sid_key(sid) <= stopped_at)
    more = LoadThread(env, mixed_entries(env, members, 600, seed=4))
    more.start()
    pushed += more.finish()
    env.daemon.start()
    env.wait_applied(pushed[-1][0])
    assert env.pending_count() == 0
    everything = env.pushed + pushed
    assert_matches(outcome(env, members), fresh_replay(env, members, entries=everything))
    return rc, committed, len(everything)


def test_sigterm_mid_load_exits_zero_and_a_restart_matches_a_fresh_replay(make_env):
    env = make_env(start=False)
    rc, _, _ = crash_mid_load(env, env.daemon.stop)
    assert rc == 0


def test_sigkill_mid_load_then_restart_matches_a_fresh_replay(make_env):
    env = make_env(start=False)
    rc, _, _ = crash_mid_load(env, env.daemon.kill)
    assert rc == -9


def test_sigkill_with_periodic_snapshots_restarts_from_a_snapshot(make_env):
    env = make_env(start=False, snapshot_every_entries=500, trim_input="false")
    # Killed once a snapshot is written (a fast daemon may be past the
    # backlog by then: the snapshot is what this test is about).
    rc, committed, _ = crash_mid_load(
        env, env.daemon.kill, stop_after=3000,
        ready=lambda: list(env.daemon.data.glob("snap-*.lysnap")))
    assert rc == -9
    assert any(p.name.lower() != "lock" for p in env.daemon.data.iterdir()), "no snapshot"
    replayed = env.daemon.metrics()["loyalty_entries_replayed_total"]
    assert replayed < committed, \
        f"the restart reapplied {replayed} of {committed} entries: it ignored its snapshots"


def test_trimming_the_input_keeps_what_recovery_needs(make_env):
    env = make_env(start=False, snapshot_every_entries=500, trim_input="true")
    rc, _, total = crash_mid_load(env, env.daemon.kill, stop_after=3000)
    assert rc == -9
    # The trim follows a snapshot asynchronously (archived first: archiver.h).
    wait_until(lambda: env.r.xlen(PREFIX + "in") < total, what="the input stream to be trimmed")
