"""Rulebook versions (DESIGN.md and README, "Changing the program") against
the real daemon: a version takes effect only through a rules entry, at its
place in the stream, whichever way it came (SIGHUP, a restart with an edited
file, --push-rules, loyaltyctl rules push), and every run that replays the
log (a fresh daemon, a restart) computes the same; a bad rules entry goes to
the DLQ and changes nothing; a changed expiry keeps old points' dates; a
snapshot another build wrote is skipped and kept.

Each test's rulebook is a small one written here (RULES below), so the
points an entry earns follow from it by hand: one tier, no bonuses, one
point per currency unit, x3 under the "triple" campaign."""
import calendar
import re
import signal
import subprocess

import msgpack
import pytest

from ctlkit import ctl
from harness import (LOYALTYD_BIN, PREFIX, RULES_ENTRY_ID, LoadThread, Outcome,
                     assert_matches, fresh_replay, points_events, rulebook_of, rules_fields,
                     sid_key, store_rulebook, wait_until)

DAY_MS = 86_400_000

# One tier, base rate only (100 cents = 1 point), expiry of `months`.
RULES = """
earning = {{ points_per_unit = 1; minor_per_unit = 100;{campaign} }};
tiers = {{ levels = ( {{ name = "member"; threshold = 0; multiplier_bp = 10000; }} ); }};
expiry = {{ months = {months}; }};
idempotency = {{ max_txns = 100000; }};
"""
TRIPLE = """
  campaigns = ( { name = "triple"; start = "2020-01-01"; end = "2035-01-01";
                  multiplier_bp = 30000; } );"""


def with_rules(env, campaign=False, months=6):
    """The Env's configuration (its daemon section) with the test rulebook."""
    daemon = re.search(r"^daemon = \{.*?^\};", env.conf_path.read_text(), re.S | re.M).group(0)
    return daemon + RULES.format(campaign=TRIPLE if campaign else "", months=months)


def rules_env(make_env, **overrides):
    """A daemon on the test rulebook (not started)."""
    env = make_env(start=False, **overrides)
    env.rewrite_conf(with_rules(env), shipped_tiers=False)
    return env


def reload(env, text):
    """Writes the daemon's configuration and sends SIGHUP; returns the new
    rulebook's hash once the daemon appended the rules entry naming it."""
    env.conf_path.write_text(text)
    digest, _ = rulebook_of(env.conf_path)
    env.daemon.proc.send_signal(signal.SIGHUP)
    return digest, wait_rules_entry(env, digest)


def wait_rules_entry(env, digest, after=RULES_ENTRY_ID):
    """The id of the first rules entry after `after` naming `digest`, once it
    is in the stream."""
    def find():
        for sid, fields in env.r.xrange(PREFIX + "in", min="(" + after):
            m = msgpack.unpackb(fields[b"m"], raw=False) if b"m" in fields else None
            if isinstance(m, dict) and m.get("kind") == "rules" and m.get("hash") == digest:
                return sid.decode()
        return None
    return wait_until(find, what=f"a rules entry naming {digest}")


def utc_ms(y, m, d):
    return calendar.timegm((y, m, d, 0, 0, 0)) * 1000


def enroll(env, members):
    for m in members:
        env.push(kind="enroll", txn=f"e-{m}", member=m)


def rulebook(env):
    status, body = env.http_get("/v1/rulebook")
    assert status == 200, body
    return body


# -- a campaign added with SIGHUP while sales come in --------------------------

def test_a_campaign_added_with_sighup_mid_load_applies_exactly_from_its_rules_entry(make_env):
    env = rules_env(make_env)
    env.daemon.start()
    members = [f"m{i}" for i in range(20)]
    enroll(env, members)
    sales = [env.entry(kind="purchase", txn=f"p{i}", member=members[i % 20], store="s1",
                       amount=100 * (1 + i % 7)) for i in range(3000)]
    load = LoadThread(env, sales, pause_after=1000, chunk=50)
    load.start()
    assert load.paused.wait(timeout=30)
    # SIGHUP with sales still coming in (these land before or after the rules
    # entry, as the daemon's catching up goes), then the rest of the load.
    during = [env.entry(kind="purchase", txn=f"q{i}", member=members[i % 20], store="s1",
                        amount=100 * (1 + i % 5)) for i in range(40)]
    env.conf_path.write_text(with_rules(env, campaign=True))
    digest, _ = rulebook_of(env.conf_path)
    env.daemon.proc.send_signal(signal.SIGHUP)
    pushed = [(env.push(**m), m) for m in during]
    rules_sid = wait_rules_entry(env, digest)
    load.resume.set()
    load.finish()
    env.wait_applied(load.pushed[-1][0])
    assert rulebook(env)["hash"] == digest

    # Every sale before the rules entry earned the base rate, every one after
    # it three times that: the switch is exactly at the entry.
    amount_of = {sid: msgpack.unpackb(f["m"])["amount"] for sid, f in load.pushed}
    amount_of.update((sid, m["amount"]) for sid, m in pushed)
    before = after = 0
    for e in env.read_out():
        if e["kind"] != "points.changed" or e["src"] not in amount_of:
            continue
        base = amount_of[e["src"]] // 100
        if sid_key(e["src"]) < sid_key(rules_sid):
            assert e["delta"] == base, e
            before += 1
        else:
            assert e["delta"] == 3 * base, e
            after += 1
    assert before >= 1000 and after > 0, (before, after)
    print("sales before and after the switch:", before, after)
    changed = [e for e in env.read_out() if e["kind"] == "rules.changed"]
    assert [(e["src"], e["to"], e["from"]) for e in changed] == \
        [(rules_sid, digest, env.rulebook_hash)]
    assert "SIGHUP reload" == changed[0]["label"]
    # A daemon replaying the same log from scratch publishes the same.
    assert_matches(Outcome(env, env.daemon, env.r, members), fresh_replay(env, members))


# -- a restart with an edited file ----------------------------------------------

@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill-no-snapshot"])
def test_a_restart_with_an_edited_file_never_makes_lookups_and_events_disagree(make_env,
                                                                               crash):
    # No snapshot at all in the crash case: the restart replays the whole log.
    env = rules_env(make_env, snapshot_every_entries=0, snapshot_every_ms=0)
    env.daemon.start()
    members = [f"m{i}" for i in range(10)]
    enroll(env, members)
    for i in range(200):
        env.push(kind="purchase", txn=f"a{i}", member=members[i % 10], store="s1", amount=1000)
    env.wait_applied(env.push(kind="scan", member="m0", store="s1"))
    balances = {m: env.member(m)["balance"] for m in members}
    assert balances["m0"] == 20 * 10
    if crash:
        env.daemon.kill()
        assert not list(env.daemon.data.glob("*.lysnap"))
    else:
        assert env.daemon.stop() == 0
    env.conf_path.write_text(with_rules(env, campaign=True))
    digest, _ = rulebook_of(env.conf_path)
    env.daemon.start()
    # What was applied under the old version stays as it was: not re-rated.
    assert {m: env.member(m)["balance"] for m in members} == balances
    rules_sid = wait_rules_entry(env, digest)
    log = env.daemon.log_text()
    assert f"the file's {digest} differs from the version in force {env.rulebook_hash}" in log
    last = env.push(kind="purchase", txn="b0", member="m0", store="s1", amount=1000)
    env.wait_applied(last)
    assert sid_key(last) > sid_key(rules_sid)
    assert env.member("m0")["balance"] == balances["m0"] + 30
    # The published balance of every member is the lookup's.
    events = env.read_out()
    for m in members:
        published = points_events(events, m)
        assert published[-1]["balance"] == env.member(m)["balance"], m
    assert_matches(Outcome(env, env.daemon, env.r, members), fresh_replay(env, members))


# -- bad rules entries ----------------------------------------------------------

def test_a_bad_rules_entry_goes_to_the_dlq_and_changes_nothing(make_env):
    env = rules_env(make_env)
    env.daemon.start()
    enroll(env, ["m1"])
    good, good_text = env.rulebook_hash, env.rulebook_text
    missing = "a" * 32
    wrong = "b" * 32  # a valid text stored under a name it does not hash to
    store_rulebook(env.r, wrong, good_text)
    invalid = "c" * 32
    store_rulebook(env.r, invalid, b"earning = { bogus = 1; };\n")
    longer = env.tmp / "longer.conf"  # expiry over the daemon's expiry_months_max (24)
    longer.write_text(with_rules(env, months=30).replace("expiry_months_max = 24;",
                                                          "expiry_months_max = 36;"))
    too_long, too_long_text = rulebook_of(longer)
    store_rulebook(env.r, too_long, too_long_text)
    bad = [env.push_raw(rules_fields(h, "bad")) for h in (missing, wrong, invalid, too_long)]
    last = env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=1000)
    env.wait_applied(last)
    dlq = env.read_dlq()
    assert [(d["src"], d["reason"]) for d in dlq] == [(sid, "bad_rulebook") for sid in bad]
    details = [d["detail"] for d in dlq]
    assert "not found at loyalty:rules:" + missing in details[0]
    assert f"hashes to {good}" in details[1]
    assert "unknown setting 'earning.bogus'" in details[2]
    assert "expiry_months_max" in details[3]
    assert rulebook(env)["hash"] == good and len(rulebook(env)["versions"]) == 2
    assert env.member("m1")["balance"] == 10  # the base rate still
    assert not [e for e in env.read_out() if e["kind"] == "rules.changed"]
    metrics = env.daemon.metrics()
    assert metrics[f'loyalty_rulebook_info{{hash="{good[:12]}",label="harness"}}'] == 1

    # A file that does not load: SIGHUP logs FILE:LINE and changes nothing;
    # --push-rules refuses it the same way, appending nothing.
    broken = with_rules(env).replace("points_per_unit = 1;", "points_per_unit = -1;")
    env.conf_path.write_text(broken)
    env.daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: " + str(env.conf_path) + ":" in env.daemon.log_text(),
               what="the SIGHUP error naming the file and line")
    line = [ln for ln in env.daemon.log_text().splitlines()
            if "SIGHUP: " + str(env.conf_path) in ln]
    assert re.search(r":\d+: .*points_per_unit.*carrying on with the rulebook in force", line[0])
    length = env.r.xlen(PREFIX + "in")
    push = subprocess.run([LOYALTYD_BIN, "--push-rules", str(env.conf_path), "--redis",
                           f"127.0.0.1:{env.redis.port}"], capture_output=True, text=True,
                          timeout=30)
    assert push.returncode == 1 and f"{env.conf_path}:" in push.stderr, push
    env.wait_applied(env.push(kind="scan", member="m1", store="s1"))
    assert env.r.xlen(PREFIX + "in") == length + 1  # the scan only
    assert env.daemon.alive() and rulebook(env)["hash"] == good


# -- expiry.months changed by SIGHUP ------------------------------------------

def test_a_changed_expiry_keeps_old_points_dates_and_renames_nothing(make_env):
    env = rules_env(make_env)  # six months
    env.daemon.start()
    enroll(env, ["m1"])
    may = env.entry(kind="purchase", txn="p1", member="m1", store="s1", amount=5000)
    env.wait_applied(env.push(**may))  # 2026-05-28: expires 2026-12-01
    before = env.member("m1")["expiring"]
    assert before["next_ts"] == utc_ms(2026, 12, 1), before
    digest, _ = reload(env, with_rules(env, months=12))
    july = env.push(kind="purchase", txn="p2", member="m1", store="s1", amount=7000,
                    ts=may["ts"] + 40 * DAY_MS)  # July 2026 under 12 months: 2027-08-01
    env.wait_applied(july)
    assert rulebook(env)["hash"] == digest
    view = env.member("m1")
    assert view["balance"] == 120 and view["expiring"]["next_ts"] == before["next_ts"]
    # A restart goes through a snapshot of the new format: nothing set aside.
    assert env.daemon.stop() == 0
    env.daemon.start()
    assert "loaded snapshot" in env.daemon.log_text()
    assert not [p for p in env.daemon.data.iterdir() if p.suffix in (".corrupt", ".discarded")]
    assert env.member("m1") == view
    # December 1st: exactly the May points expire; July's keep 2027-08-01.
    tick = env.push(kind="tick", ts=utc_ms(2026, 12, 1))
    env.wait_applied(tick)
    expired = [e for e in env.read_out() if e["kind"] == "points.expired"]
    assert [(e["src"], e["points"]) for e in expired] == [(tick, 50)]
    view = env.member("m1")
    assert view["balance"] == 70 and view["expiring"]["next_ts"] == utc_ms(2027, 8, 1)


# -- pushing, scheduling and looking ------------------------------------------

def test_push_rules_schedules_a_version_and_the_tools_show_it(make_env, tmp_path):
    env = rules_env(make_env)
    env.daemon.start()
    enroll(env, ["m1"])
    redis = f"127.0.0.1:{env.redis.port}"
    weekend = tmp_path / "weekend.conf"
    weekend.write_text(with_rules(env, campaign=True))
    start = env.push(kind="tick", ts=env.next_ts())
    env.wait_applied(start)
    check = subprocess.run([LOYALTYD_BIN, "--check-config", "-c", str(weekend), "--redis",
                            redis], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "differs from the version in force" in check.stdout, check
    assert f"in force: {env.rulebook_hash} (harness" in check.stdout, check
    # Scheduled: a day after the engine clock.
    at = env.next_ts() + DAY_MS
    pushed = subprocess.run([LOYALTYD_BIN, "--push-rules", str(weekend), "--label", "weekend",
                             "--effective-ts", str(at), "-c", str(env.conf_path), "--redis",
                             redis], capture_output=True, text=True, timeout=30)
    assert pushed.returncode == 0, pushed
    digest = re.search(r"^rulebook ([0-9a-f]{32})$", pushed.stdout, re.M).group(1)
    entry = wait_rules_entry(env, digest)
    env.wait_applied(entry)
    rb = rulebook(env)
    assert rb["hash"] == env.rulebook_hash
    assert rb["scheduled"] == dict(hash=digest, label="weekend", entry_id=entry, effective_ts=at)
    show = ctl("rules", "show", "--http", f"127.0.0.1:{env.daemon.http_port}")
    assert show.returncode == 0 and f"scheduled  {digest}" in show.stdout, show
    check = subprocess.run([LOYALTYD_BIN, "--check-config", "-c", str(weekend), "--redis",
                            redis], capture_output=True, text=True, timeout=30)
    assert "it is the scheduled version" in check.stdout, check
    # Event time reaches it: the switch comes first, then the sale earns x3.
    sale = env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=1000, ts=at)
    env.wait_applied(sale)
    assert [(e["kind"], e.get("delta")) for e in env.read_out() if e["src"] == sale] == \
        [("rules.changed", None), ("points.changed", 30)]
    rb = rulebook(env)
    assert rb["hash"] == digest and rb["scheduled"] is None
    assert rb["since"] == dict(id=sale, ts=at)
    assert [v["hash"] for v in rb["versions"]] == [digest, env.rulebook_hash, ""]
    # loyaltyctl: diff against the version in force; push another.
    http = f"127.0.0.1:{env.daemon.http_port}"
    same = ctl("rules", "diff", str(weekend), "--http", http)
    assert same.returncode == 0 and "is the version in force" in same.stdout, same
    diff = ctl("rules", "diff", str(env.conf_path), "--http", http)
    assert diff.returncode == 1, diff
    assert "-    {" in diff.stdout and '-      name = "triple";' in diff.stdout, diff.stdout
    again = ctl("rules", "push", str(env.conf_path), "--label", "back", "--redis", redis)
    assert again.returncode == 0, again
    back = wait_rules_entry(env, env.rulebook_hash, after=entry)  # the first version again
    env.wait_applied(env.push(kind="scan", member="m1", store="s1"))
    assert rulebook(env)["hash"] == env.rulebook_hash and rulebook(env)["label"] == "back"
    assert sid_key(back) > sid_key(RULES_ENTRY_ID)


# -- snapshots another build wrote ------------------------------------------------

def test_a_snapshot_of_another_build_is_skipped_and_kept(make_env):
    env = rules_env(make_env)
    env.daemon.start()
    enroll(env, ["m1", "m2"])
    env.wait_applied(env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=900))
    assert env.daemon.stop() == 0
    snaps = sorted(env.daemon.data.glob("*.lysnap"))
    assert snaps
    # What a newer build might leave: the next id, format version 9.
    ms, seq = snaps[-1].name[len("snap-"):-len(".lysnap")].split("-")
    foreign = snaps[-1].with_name(f"snap-{ms}-{int(seq) + 1:020d}.lysnap")
    foreign.write_bytes(b"LYSNAP\x00\x01" + (9).to_bytes(4, "little") + bytes(200))
    env.daemon.start()
    log = env.daemon.log_text()
    assert f"snapshot {foreign} was written by another build" in log, log
    assert f"loaded snapshot {snaps[-1]}" in log
    assert foreign.exists() and not list(env.daemon.data.glob("*.corrupt"))
    assert env.member("m1")["balance"] == 9
