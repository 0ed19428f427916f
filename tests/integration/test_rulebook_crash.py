"""kill -9 around rulebook changes (README, "Changing the program"): a POS
workload whose log switches versions several times (at once, held until an
event time, a rules entry whose text is missing, back to an earlier
version), consumed by a daemon that is SIGKILLed right before and right
after each switch is committed, at random instants and while snapshots are
written, ends with exactly the outputs, DLQ and state of one uninterrupted
run, id by id (harness.fresh_replay). Snapshots taken between switches carry
the versions (and their texts): a restart never falls back to the file's
rulebook or re-rates what was applied. (The daemon runs with
append_file_rulebook = false: versions come from the log only, as pushed,
so that a restart does not append the file's version after each switch.)
The first snapshot writers hold their temporary file SNAPSHOT_HOLD_MS before
writing (snapshot_write_delay_ms, crashkit.kill_in_held_snapshots), so that
the kills during a snapshot await one in progress instead of hoping to land
inside a write of 120 members that takes a millisecond (a poll that a loaded
machine missed made this test flaky); the daemon then runs without the hold."""
from crashkit import (CORRUPT_SUFFIX, Crasher, PacedPusher, Workload, kill_in_held_snapshots,
                      snapshot_files)
from harness import (PREFIX, RULES_ENTRY_ID, TEST_OVERRIDES, Outcome, assert_matches, conf_text,
                     fresh_replay, rulebook_of, rules_fields, sid_key, store_rulebook)

SNAPSHOT_HOLD_MS = 250  # far longer than the test's poll (0.5 ms) can be held up
CRASH_CONF = dict(snapshot_every_entries=300, snapshot_every_ms=0, batch_entries_max=64,
                  append_file_rulebook="false", snapshot_write_delay_ms=SNAPSHOT_HOLD_MS)
APPLY_TIMEOUT_S = 60
KILLS_MIN = 20
SNAPSHOT_KILLS_MIN = 3
SNAPSHOT_WAIT_S = 20  # a snapshot comes every 300 entries: well under a second

def variant(env, name, **overrides):
    """(hash, text) of the test configuration with rule settings changed."""
    path = env.tmp / f"{name}.conf"
    path.write_text(conf_text(dict(TEST_OVERRIDES, **CRASH_CONF, **overrides)))
    return rulebook_of(path)


def install(load, changes):
    """Puts a rules entry in place of the first scan at or after each
    (index, hash, label, effective_ts) of `changes` (a scan changes nothing
    and is never retried, so the rest of the load stays meaningful), under
    the scan's id. Returns the ids."""
    ids = []
    for index, digest, label, effective in changes:
        pos = next(p for p in range(index, load.count)
                   if load.decoded(p).get("kind") == "scan" and p not in load.retries)
        sid = load.entries[pos][0]
        load.entries[pos] = (sid, rules_fields(digest, label, effective, ts=load.decoded(pos)["ts"]))
        ids.append(sid)
    return ids


def test_sigkill_around_rule_changes_ends_as_an_uninterrupted_run(make_env):
    env = make_env(start=False, **CRASH_CONF)
    load = Workload(seed=20261207, count=6000)
    double, longer, triple = (variant(env, "double", points_per_unit=2),
                              variant(env, "longer", months=18),
                              variant(env, "triple", points_per_unit=3))
    for digest, text in (double, longer, triple):
        store_rulebook(env.r, digest, text)
    # Held until event time passes what the first 3600 entries reach.
    effective = 1 + max(load.decoded(p).get("ts", 0) for p in range(3600))
    ids = install(load, [(1500, double[0], "double", None),
                         (2400, longer[0], "longer expiry", effective),
                         (3000, "f" * 32, "text missing", None),
                         (4200, env.rulebook_hash, "back", None),
                         (5000, triple[0], "triple", None)])
    reference = fresh_replay(env, load.members, entries=load.entries)
    switched = [(e["src"], e["to"]) for e in reference.out if e["kind"] == "rules.changed"]
    assert [to for _, to in switched] == [double[0], longer[0], env.rulebook_hash, triple[0]]
    assert switched[0][0] == ids[0] and switched[2][0] == ids[3] and switched[3][0] == ids[4]
    assert sid_key(ids[1]) < sid_key(switched[1][0]) < sid_key(ids[3]), \
        "the held version switched when event time reached it"
    assert [(d["src"], d["reason"]) for d in reference.dlq if d["src"] == ids[2]] == \
        [(ids[2], "bad_rulebook")]

    crasher = Crasher(env, seed=11)
    pusher = PacedPusher(env.redis.port, load.entries)
    env.daemon.start()
    pusher.start()
    # While a snapshot is written: awaited, before the first rules entry
    # (at entry ~1500; each snapshot comes 300 entries after a restart).
    kill_in_held_snapshots(crasher, SNAPSHOT_KILLS_MIN, SNAPSHOT_WAIT_S)
    # Right before and right after each rules entry (and the entry that
    # triggered the held switch) is committed.
    position = {sid: p for p, (sid, _) in enumerate(load.entries)}
    for sid in sorted(ids + [switched[1][0]], key=sid_key):
        for at in (load.entries[position[sid] - 3][0], sid):
            crasher.kill_at_marker(env.r, at, timeout=APPLY_TIMEOUT_S)
            crasher.start()
    cycle = 0
    while (crasher.kills < KILLS_MIN or crasher.during_snapshot < SNAPSHOT_KILLS_MIN or
           pusher.is_alive()) and cycle < 10 * KILLS_MIN:
        if cycle % 2 == 0 and crasher.kill_in_snapshot(timeout=3):
            pass  # while a snapshot was being written
        else:
            crasher.kill_after(0.3)  # any instant
        crasher.start()
        cycle += 1
    pusher.finish()
    env.daemon.wait_healthy()
    env.wait_applied(load.entries[-1][0], timeout=APPLY_TIMEOUT_S)

    assert_matches(Outcome(env, env.daemon, env.r, load.members), reference)
    summary = f"{crasher.kills} kills, {crasher.during_snapshot} while a snapshot was written"
    assert crasher.kills >= KILLS_MIN and crasher.during_snapshot >= SNAPSHOT_KILLS_MIN, summary
    assert not snapshot_files(env.daemon.data, CORRUPT_SUFFIX)
    log = env.daemon.log_text()
    assert "loaded snapshot" in log and "appending a rules entry" not in log
    # Only the load is in the log: the daemon appended nothing of its own.
    ours = {sid for sid, _ in load.entries} | {RULES_ENTRY_ID}
    assert {sid.decode() for sid, _ in env.r.xrange(PREFIX + "in")} <= ours
    print(summary)
