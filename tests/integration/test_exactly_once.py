"""Exactly-once effects (DESIGN.md and README, "Guarantees"): whatever happens
to the daemon (SIGKILL at any instant, also while a snapshot is written), to
its snapshots (truncated, a flipped byte, all of them bad) or to Redis (it
loses writes, or everything), each input entry changes state once, each
output is published once, and POS retries change nothing again.

Every run is compared with a reference: the same entries, pushed under the
same explicit stream ids into a fresh Redis and consumed by a fresh daemon
in one go (harness.fresh_replay), so outputs can be compared id by id.

Bugs these tests found (the trim check blind to XTRIM, stale snapshots after
a rebuild, trimming unread input) are fixed; the tests stay as regressions.
"""
import bisect
import re
import time

import pytest

from harness import (BASE_TS_MS, PREFIX, SETUP_ENTRIES, Daemon, Outcome, assert_matches,
                     fresh_replay, sid_key, wait_until)
from crashkit import (CORRUPT_SUFFIX, DAY_MS, Crasher, PacedPusher, Workload, feed,
                      kill_in_held_snapshots, log_lines, push_entries, redis_goes_back,
                      snapshot_files, snapshot_id, use_rdb_redis)

# Snapshots every 300 entries (many per run, so that crashes land on and
# around them), no time trigger (they follow the load, not the clock), and
# small batches (many commits: many instants between one and the next).
CRASH_CONF = dict(snapshot_every_entries=300, snapshot_every_ms=0, batch_entries_max=64)
APPLY_TIMEOUT_S = 60
KILLS_MIN = 24
SNAPSHOT_KILLS_MIN = 5
# The crash test's first snapshot writers hold their temporary file this
# long (snapshot_write_delay_ms; crashkit.kill_in_held_snapshots) so that its
# kills during a snapshot await one in progress: a write of a few hundred
# members takes about a millisecond, which a poll on a loaded machine missed
# (5 needed, fewer caught).
SNAPSHOT_HOLD_MS = 250
SNAPSHOT_WAIT_S = 20  # a snapshot comes every 300 entries: well under a second
# How long a daemon that must not consume is watched not consuming. A daemon
# that consumes takes a new entry within block_ms (200) plus one batch; this
# is an observation window, not a synchronisation.
NOT_CONSUMING_WINDOW_S = 1.5

LOADED = re.compile(r"loaded snapshot (\S+): \d+ members, last entry (\d+-\d+)")


def outcome(env, members):
    return Outcome(env, env.daemon, env.r, members)


def metric(env, name):
    return env.daemon.metrics()[name]


def loaded_snapshots(daemon):
    """(path, last id) of every snapshot the daemon's runs loaded, in order."""
    return [(m.group(1), sid_key(m.group(2)))
            for m in map(LOADED.search, log_lines(daemon, "loaded snapshot")) if m]


def count_between(entries, after, upto):
    """How many of `entries` have an id in (after, upto]."""
    keys = [sid_key(sid) for sid, _ in entries]
    return bisect.bisect_right(keys, upto) - bisect.bisect_right(keys, after)


def assert_not_consuming(env, reason):
    """/healthz says `reason` (503) and, for NOT_CONSUMING_WINDOW_S, the daemon
    stays up and takes no entry: an entry pushed now is never delivered."""
    sid = env.r.xadd(PREFIX + "in", {"m": b"\x80"}).decode()  # an empty map
    deadline = time.monotonic() + NOT_CONSUMING_WINDOW_S
    while time.monotonic() < deadline:
        assert env.daemon.alive(), "the daemon exited instead of waiting for the operator"
        status, body = env.daemon.health()
        assert status == 503 and body["consumer"] == reason, (status, body)
        assert (env.progress() or (0, 0)) < sid_key(sid), "the daemon consumed"
        time.sleep(0.05)
    assert env.pending_count() == 1, "the daemon consumed"
    assert metric(env, "loyalty_redis_behind") == 1


def enroll_at_base_ts(env, member):
    """A tick and an enrolment, both at harness.BASE_TS_MS."""
    env.push(kind="tick", ts=BASE_TS_MS)
    env.push(kind="enroll", txn=f"enroll-{member}", member=member, ts=BASE_TS_MS)


def wait_behind(env):
    """Awaits /healthz saying redis_behind; fails at once if the daemon goes
    on consuming instead (call it once the daemon has seen Redis change)."""
    def behind():
        assert env.daemon.alive(), env.daemon.log_text()
        status, body = env.daemon.health()
        assert body is None or body["consumer"] != "consuming", \
            f"the daemon is consuming instead of reporting redis_behind: {body}"
        return status == 503 and body["consumer"] == "redis_behind"
    wait_until(behind, what="/healthz to say redis_behind")


# -- 1. crashes ---------------------------------------------------------------

def crash_once(crasher, pusher, client, cycle):
    """One SIGKILL, at an instant chosen by `cycle`."""
    mode = cycle % 4
    if mode in (1, 3) and crasher.kill_in_snapshot(timeout=3):
        return  # while a snapshot was being written
    if mode == 2 and pusher.pushed:  # right after a commit (when snapshots start)
        target = min(pusher.pushed, pusher.committed(client) + crasher.rnd.randint(1, 300))
        crasher.kill_at_marker(client, pusher.entries[target - 1][0])
        return
    # Any instant: during recovery, a read, a commit in flight, a fork.
    crasher.kill_after(0.3)


def test_sigkill_at_random_instants_and_mid_snapshot_applies_and_publishes_all_once(make_env):
    env = make_env(start=False, snapshot_write_delay_ms=SNAPSHOT_HOLD_MS, **CRASH_CONF)
    load = Workload(seed=20261123, count=8000)
    reference = fresh_replay(env, load.members, entries=load.entries)
    assert reference.counters["loyalty_entries_duplicate_total"] > 500, "load without retries"
    assert {"points.expired", "tier.changed", "reward.issued", "segment.changed",
            "perk.triggered", "redeem.result"} <= {e["kind"] for e in reference.out}
    assert any(e.get("reason") == "review" for e in reference.out), "no tier review"

    crasher = Crasher(env, seed=5)
    pusher = PacedPusher(env.redis.port, load.entries)
    env.daemon.start()
    pusher.start()
    # While a snapshot is written: awaited, early in the load (each snapshot
    # comes 300 entries after a restart; the load has 8000).
    kill_in_held_snapshots(crasher, SNAPSHOT_KILLS_MIN, SNAPSHOT_WAIT_S)
    cycle = 0
    while (crasher.kills < KILLS_MIN or pusher.is_alive()) and cycle < 10 * KILLS_MIN:
        crash_once(crasher, pusher, env.r, cycle)
        crasher.start()
        cycle += 1
    pusher.finish()
    env.daemon.wait_healthy()
    env.wait_applied(load.entries[-1][0], timeout=APPLY_TIMEOUT_S)

    assert_matches(outcome(env, load.members), reference)
    assert env.pending_count() == 0
    assert metric(env, "loyalty_ticks_appended_total") == 0
    summary = (f"{crasher.kills} kills, {crasher.during_snapshot} while a snapshot was "
               f"written ({crasher.writers_killed} with its writer), restarts refused by "
               f"the lock of an orphaned writer: {len(crasher.lock_refusals)}")
    assert crasher.kills >= KILLS_MIN, summary
    assert crasher.during_snapshot >= SNAPSHOT_KILLS_MIN, summary
    assert not snapshot_files(env.daemon.data, CORRUPT_SUFFIX), \
        "a crash left a snapshot that does not load"
    restarts_from_snapshot = loaded_snapshots(env.daemon)
    assert len(restarts_from_snapshot) >= crasher.kills // 2, restarts_from_snapshot


# -- 2. corrupt snapshots -------------------------------------------------------

def run_then_stop(env, load, upto):
    """Consumes load.entries[:upto], stops the daemon cleanly and returns
    what it had computed and the snapshots (oldest first) it left."""
    env.daemon.start()
    feed(env, load.entries[:upto])
    before = outcome(env, load.members_of(load.entries[:upto]))
    assert env.daemon.stop() == 0
    snaps = snapshot_files(env.daemon.data)
    assert len(snaps) == 3  # snapshot_keep
    return before, snaps


def push_rest_and_compare(env, load, start):
    """Pushes load.entries[start:] and checks that the daemon ends where a
    fresh replay of the whole load ends: nothing lost, nothing doubled."""
    push_entries(env.r, load.entries[start:])
    env.wait_applied(load.entries[-1][0], timeout=APPLY_TIMEOUT_S)
    assert env.pending_count() == 0
    assert_matches(outcome(env, load.members),
                   fresh_replay(env, load.members, entries=load.entries))


def corrupt(path, how):
    data = bytearray(path.read_bytes())
    assert len(data) > 256, path
    if how == "truncate":
        del data[len(data) // 2:]
    else:  # one byte of the body (the header is 112 bytes)
        data[112 + (len(data) - 112) // 2] ^= 0x20
    path.write_bytes(bytes(data))


def assert_set_aside(daemon, path):
    assert any(str(path) in ln and "damaged" in ln for ln in log_lines(daemon, "snapshot")), \
        f"no log line names {path.name} as damaged"
    assert not path.exists() and path.with_name(path.name + ".corrupt").exists()


def assert_unchanged(env, members, before):
    """After a restart: the same state, and nothing published again."""
    after = outcome(env, members)
    assert after.out == before.out, "the restart published outputs again"
    assert after.dlq == before.dlq
    assert after.members == before.members
    assert after.counters == before.counters


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_a_corrupt_newest_snapshot_is_set_aside_and_the_previous_one_used(make_env, how):
    env = make_env(start=False, **CRASH_CONF)
    load = Workload(seed=31, count=2000)
    before, snaps = run_then_stop(env, load, 1400)
    newest, previous = snaps[-1], snaps[-2]
    assert snapshot_id(newest) == sid_key(load.entries[1399][0]), "no snapshot at the stop"
    corrupt(newest, how)

    env.daemon.start()
    assert_set_aside(env.daemon, newest)
    assert loaded_snapshots(env.daemon)[-1] == (str(previous), snapshot_id(previous))
    assert metric(env, "loyalty_entries_replayed_total") == count_between(
        load.entries, snapshot_id(previous), snapshot_id(newest))
    assert_unchanged(env, list(before.members), before)

    push_rest_and_compare(env, load, 1400)


def test_with_every_snapshot_corrupt_the_state_is_rebuilt_from_the_whole_stream(make_env):
    env = make_env(start=False, trim_input="false", **CRASH_CONF)
    load = Workload(seed=37, count=2000)
    before, snaps = run_then_stop(env, load, 1400)
    for path in snaps:
        corrupt(path, "flip")

    env.daemon.start()
    for path in snaps:
        assert_set_aside(env.daemon, path)
    assert log_lines(env.daemon, "no snapshot in", last_run=True)
    assert metric(env, "loyalty_entries_replayed_total") == SETUP_ENTRIES + 1400
    assert_unchanged(env, list(before.members), before)

    push_rest_and_compare(env, load, 1400)




def test_with_every_snapshot_corrupt_and_the_stream_trimmed_the_daemon_stops_consuming(
        make_env):
    env = make_env(start=False, trim_input="true", **CRASH_CONF)
    load = Workload(seed=41, count=1400)
    _, snaps = run_then_stop(env, load, 1400)
    assert env.r.xlen(PREFIX + "in") < 1400, "the input stream was never trimmed"
    for path in snaps:
        corrupt(path, "truncate")

    env.daemon.start(wait=False)
    wait_behind(env)
    assert log_lines(env.daemon, "were trimmed or deleted from the input stream")
    assert_not_consuming(env, "redis_behind")


def test_a_snapshot_remembering_an_out_of_stock_redeem_loads(env):
    enroll_at_base_ts(env, "m1")
    env.push(kind="adjust", txn="a1", member="m1", points=200000, reason="test", ts=BASE_TS_MS)
    for n in range(41):  # wine_tasting has stock 40 in conf/loyaltyd.conf
        last = env.push(kind="redeem", txn=f"w{n}", member="m1", reward="wine_tasting",
                        ts=BASE_TS_MS)
    env.wait_applied(last)
    results = [e for e in env.read_out() if e["kind"] == "redeem.result"]
    assert [r["ok"] for r in results] == [True] * 40 + [False]
    assert results[-1]["error"] == "out_of_stock"
    before = outcome(env, ["m1"])
    assert env.daemon.stop() == 0  # writes a snapshot

    env.daemon.start()
    assert not log_lines(env.daemon, "damaged"), log_lines(env.daemon, "damaged")
    assert not snapshot_files(env.daemon.data, CORRUPT_SUFFIX)
    assert loaded_snapshots(env.daemon), "the restart loaded no snapshot"
    assert_unchanged(env, ["m1"], before)


# -- 3. POS retries -------------------------------------------------------------

def test_a_retry_storm_changes_state_once_and_retried_redeems_get_the_original_answer(env):
    load = Workload(seed=43, count=3000, retry_share=0.4, retry_gap=30)
    push_entries(env.r, load.entries)
    env.wait_applied(load.entries[-1][0], timeout=APPLY_TIMEOUT_S)
    actual = outcome(env, load.members)
    once = fresh_replay(env, load.members, entries=load.without_retries())
    assert len(load.retries) > 800

    # State: as if every POS had sent each transaction once.
    assert actual.members == once.members
    retry_ids = {load.entries[pos][0] for pos in load.retries}
    assert [e for e in actual.out if e["src"] not in retry_ids] == once.out
    assert [d for d in actual.dlq if d["src"] not in retry_ids] == once.dlq

    # Retries: a redeem gets its original redeem.result again (same ok, error,
    # balance), anything else gets nothing; one rejected is rejected again.
    by_src = {}
    for e in actual.out:
        by_src.setdefault(e["src"], []).append(e)
    rejected = {d["src"]: d["reason"] for d in actual.dlq}
    redeems_retried = 0
    for pos, orig in load.retries.items():
        sid, orig_sid = load.entries[pos][0], load.entries[orig][0]
        if orig_sid in rejected:
            assert rejected.get(sid) == rejected[orig_sid], (sid, orig_sid)
            continue
        assert sid not in rejected, (sid, rejected.get(sid))
        got = [strip_ids(e) for e in by_src.get(sid, [])]
        if load.decoded(orig).get("kind") == "redeem":
            first = [strip_ids(e) for e in by_src[orig_sid] if e["kind"] == "redeem.result"]
            assert got == first, (sid, orig_sid)
            redeems_retried += 1
        else:
            assert got == [], (sid, got)
    assert redeems_retried > 50
    accepted_retries = sum(1 for pos, orig in load.retries.items()
                           if load.entries[orig][0] not in rejected)
    assert actual.counters["loyalty_entries_duplicate_total"] == accepted_retries


def strip_ids(event):
    return {k: v for k, v in event.items() if k not in ("id", "src")}


# -- 4. the data dir's lock -----------------------------------------------------

def test_a_second_daemon_on_the_same_data_dir_exits_naming_the_lock_and_its_owner(env):
    first_pid = env.daemon.proc.pid
    second = Daemon(env.tmp, env.redis.port, env.conf_path, name="second")
    env.extra.append(second)
    assert second.data == env.daemon.data
    started = time.monotonic()
    second.start(wait=False)
    wait_until(lambda: not second.alive(), 5, "the second daemon to exit")
    assert time.monotonic() - started < 5
    assert second.proc.returncode not in (0, None)
    text = second.log_text()
    assert "LOCK" in text and f"pid {first_pid}" in text, text
    # The first one is untouched and goes on.
    env.push(kind="enroll", txn="e1", member="m1")
    env.wait_applied(env.push(kind="purchase", txn="p1", member="m1", store="s", amount=500))
    assert env.member("m1")["purchases"] == 1


# -- 5. Redis loses writes --------------------------------------------------------
# Redis goes back in time as it does after a power loss without AOF or a
# failover to a lagging replica: a dump SAVEd earlier is loaded again, so
# the stream, the group's acks, the outputs and the marker all go back
# together. (Setting the marker alone back would leave the entries after it
# acknowledged, never delivered again: a state no real loss produces.)

def test_redis_losing_writes_under_a_running_daemon_rebuilds_from_an_older_snapshot(
        make_env):
    env = make_env(start=False, **CRASH_CONF)
    use_rdb_redis(env)
    load = Workload(seed=47, count=2600)
    saved, lost = 1000, 1400
    env.daemon.start()
    feed(env, load.entries[:saved])
    at_save = outcome(env, load.members_of(load.entries[:saved]))
    env.redis.save_as("before.rdb")
    marker = sid_key(load.entries[saved - 1][0])
    feed(env, load.entries[saved:lost])
    assert any(snapshot_id(p) > marker for p in snapshot_files(env.daemon.data))
    assert any(snapshot_id(p) <= marker for p in snapshot_files(env.daemon.data))

    redis_goes_back(env, "before.rdb")  # the daemon's state is now ahead of Redis
    wait_until(lambda: log_lines(env.daemon, "redis lost writes"), what="the rebuild")
    env.daemon.wait_healthy()
    path, loaded = loaded_snapshots(env.daemon)[-1]
    assert loaded <= marker, f"rebuilt from {path}, after the marker {marker}"
    assert_unchanged(env, list(at_save.members), at_save)  # as it was at the SAVE

    # The POS sends the sales Redis lost again; everything ends as if once.
    push_rest_and_compare(env, load, saved)




def test_a_crash_after_a_rebuild_does_not_bring_back_what_redis_lost(make_env):
    # Snapshots every 5 minutes (the shipped snapshot_every_ms) and at a clean
    # stop, none by count: the data dir holds the stop's snapshot, newer than
    # what Redis keeps, and the rebuilt daemon writes none for minutes. (With
    # a count trigger, the first commit after a rebuild starts a snapshot at
    # once, because snapper.c's entry count goes back and due() underflows:
    # the same window, only tens of milliseconds wide.)
    env = make_env(start=False, snapshot_every_entries=0)
    use_rdb_redis(env)
    load = Workload(seed=53, count=1500)
    saved, lost = 500, 1000
    env.daemon.start()
    push_entries(env.r, load.entries[:saved])
    env.wait_applied(load.entries[saved - 1][0], timeout=APPLY_TIMEOUT_S)
    env.redis.save_as("before.rdb")
    push_entries(env.r, load.entries[saved:lost])
    env.wait_applied(load.entries[lost - 1][0], timeout=APPLY_TIMEOUT_S)
    assert env.daemon.stop() == 0
    stale = snapshot_files(env.daemon.data)[-1]
    assert snapshot_id(stale) == sid_key(load.entries[lost - 1][0])

    redis_goes_back(env, "before.rdb")  # entries [saved, lost) are gone for good
    env.daemon.start()
    assert log_lines(env.daemon, "redis lost writes")
    after = load.entries[lost:]  # new sales; the lost ones are never sent again
    push_entries(env.r, after)
    env.wait_applied(after[-1][0], timeout=APPLY_TIMEOUT_S)
    kept = load.entries[:saved] + after
    # Enrolments in `after` that name a referrer enrolled only in the lost
    # entries are refused (unknown_referrer) by this daemon and the reference
    # alike: compare the members that exist, and that the reference agrees.
    members = [m for m in load.members_of(kept)
               if env.http_get(f"/v1/members/{m}")[0] == 200]
    assert len(members) > len(load.members_of(load.entries[:saved]))
    reference = fresh_replay(env, members, entries=kept)
    assert_matches(outcome(env, members), reference)  # right while it runs

    loads_before = len(loaded_snapshots(env.daemon))  # the log spans every run
    env.daemon.kill()
    env.daemon.start()
    env.wait_applied(after[-1][0])
    loaded = [path for path, _ in loaded_snapshots(env.daemon)[loads_before:]]
    assert str(stale) not in loaded, f"the restart loaded {stale.name}, which holds lost entries"
    assert not stale.exists() and stale.with_name(stale.name + ".discarded").exists()
    assert_matches(outcome(env, members), reference)




def test_after_a_rebuild_the_daemon_never_trims_input_it_has_not_applied(make_env):
    env = make_env(start=False, **CRASH_CONF)  # trim_input = true, as shipped
    use_rdb_redis(env)
    load = Workload(seed=71, count=10000)
    saved, lost = 100, 9500
    env.daemon.start()
    feed(env, load.entries[:saved])
    env.redis.save_as("before.rdb")
    feed(env, load.entries[saved:lost])  # snapshots up to entry 9500, input trimmed
    assert env.daemon.stop() == 0
    redis_goes_back(env, "before.rdb")
    # The POS sends again everything Redis lost, and more, before the daemon
    # is back: a backlog far larger than what it reads while one snapshot is
    # written (the first one after the rebuild is due at once).
    push_entries(env.r, load.entries[saved:])
    env.daemon.start()
    env.wait_applied(load.entries[-1][0], timeout=APPLY_TIMEOUT_S)
    assert log_lines(env.daemon, "redis lost writes")
    counters = env.daemon.metrics()
    seen = sum(counters[k] for k in ("loyalty_entries_applied_total",
                                      "loyalty_entries_rejected_total",
                                      "loyalty_entries_duplicate_total"))
    assert seen == SETUP_ENTRIES + len(load.entries), \
        f"{len(load.entries) - seen:.0f} entries were trimmed before the daemon read them"
    assert_matches(outcome(env, load.members),
                   fresh_replay(env, load.members, entries=load.entries))


def test_redis_losing_writes_older_than_every_snapshot_means_a_full_replay(make_env):
    # Without trims (..._after_a_trim_stops_consuming: what a trim does here).
    env = make_env(start=False, trim_input="false", **CRASH_CONF)
    use_rdb_redis(env)
    load = Workload(seed=59, count=1800)
    saved, lost = 120, 1400
    env.daemon.start()
    feed(env, load.entries[:saved])
    assert not snapshot_files(env.daemon.data)
    at_save = outcome(env, load.members_of(load.entries[:saved]))
    env.redis.save_as("before.rdb")
    feed(env, load.entries[saved:lost])
    marker = sid_key(load.entries[saved - 1][0])
    assert all(snapshot_id(p) > marker for p in snapshot_files(env.daemon.data))

    redis_goes_back(env, "before.rdb")
    wait_until(lambda: log_lines(env.daemon, "redis lost writes"), what="the rebuild")
    env.daemon.wait_healthy()
    assert metric(env, "loyalty_entries_replayed_total") == SETUP_ENTRIES + saved  # all of it
    assert_unchanged(env, list(at_save.members), at_save)

    push_rest_and_compare(env, load, saved)


def test_redis_losing_writes_older_than_every_snapshot_after_a_trim_stops_consuming(
        make_env):
    env = make_env(start=False, trim_input="true", **CRASH_CONF)
    use_rdb_redis(env)
    load = Workload(seed=61, count=2800)
    saved = 1300
    env.daemon.start()
    feed(env, load.entries[:saved])
    wait_until(lambda: env.r.xlen(PREFIX + "in") < saved, what="a trim of the input stream")
    env.redis.save_as("before.rdb")
    feed(env, load.entries[saved:])
    marker = sid_key(load.entries[saved - 1][0])
    assert all(snapshot_id(p) > marker for p in snapshot_files(env.daemon.data))

    redis_goes_back(env, "before.rdb")
    wait_until(lambda: log_lines(env.daemon, "redis lost writes"), what="the rebuild")
    wait_behind(env)
    assert log_lines(env.daemon, "were trimmed or deleted from the input stream")
    assert_not_consuming(env, "redis_behind")


@pytest.mark.parametrize("daemon_restarts", [False, True])
def test_redis_that_lost_everything_is_reported_and_not_consumed(make_env, daemon_restarts):
    env = make_env(**CRASH_CONF)
    load = Workload(seed=67, count=700)
    push_entries(env.r, load.entries)
    env.wait_applied(load.entries[-1][0], timeout=APPLY_TIMEOUT_S)
    view = env.member(load.members[0])
    if daemon_restarts:
        assert env.daemon.stop() == 0
    env.r.flushall()
    if daemon_restarts:
        env.daemon.start(wait=False)
    wait_until(lambda: log_lines(env.daemon, "Redis has no progress marker but the daemon "
                                             "has state"), what="the daemon to notice")
    wait_behind(env)
    assert env.member(load.members[0]) == view  # it keeps what it knows
    assert_not_consuming(env, "redis_behind")


# -- time ---------------------------------------------------------------------------

def test_with_tick_interval_zero_the_daemon_appends_no_tick_of_its_own(env):
    enroll_at_base_ts(env, "m1")
    # 40 days later: the member is no longer "new" (new_days = 30), so due.
    env.wait_applied(env.push(kind="purchase", txn="p1", member="m1", store="s", amount=900,
                              ts=BASE_TS_MS + 40 * DAY_MS))
    # A tick the daemon appends after that commit is sent before the next
    # batch's commit (same connection, in order): once this entry is
    # applied, in a later batch, the tick is in the stream.
    last = env.push(kind="scan", member="m1", store="s", ts=BASE_TS_MS + 40 * DAY_MS)
    env.wait_applied(last)
    ours = {sid for sid, _ in env.pushed}
    theirs = [sid.decode() for sid, _ in env.r.xrange(PREFIX + "in")
              if sid.decode() not in ours]
    assert theirs == [], f"the daemon appended {len(theirs)} entries of its own: {theirs}"
    assert metric(env, "loyalty_ticks_appended_total") == 0
