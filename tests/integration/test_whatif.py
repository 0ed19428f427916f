"""loyalty-whatif: the whole history (archive + stream) replayed under the
logged versions and under a candidate rulebook from a date on. The same
rulebook as candidate changes nothing; a doubled base rate doubles exactly
the purchase points of the months after the date; the tool writes nothing
to Redis or the data directory."""
import calendar
import json
import re
import time

from ctlkit import CLIENTS_DIR, ctl, run
from harness import PREFIX, SETUP_ENTRIES, encode, wait_until
from test_archive import ARCHIVING, push_history, rulebook_hash, wait_archived_and_trimmed

LOYALTY_WHATIF = str(CLIENTS_DIR / "loyalty-whatif")
DAY_MS = 86400 * 1000


def whatif(env, candidate, from_date, out, *extra):
    return run(LOYALTY_WHATIF, "-c", env.conf_path, "--redis", f"127.0.0.1:{env.redis.port}",
               "--data", env.daemon.data, "--candidate", candidate, "--from", from_date,
               "--out", out, *extra)


def month_label(ts_ms):
    return time.strftime("%Y-%m", time.gmtime(ts_ms / 1000))


def first_of_month_after(ts_ms):
    """YYYY-MM-01 of the month after the one holding ts_ms (UTC), and its ms."""
    t = time.gmtime(ts_ms / 1000)
    y, m = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return f"{y:04d}-{m:02d}-01", calendar.timegm((y, m, 1, 0, 0, 0)) * 1000


def redis_snapshot(r):
    """What the tool must leave alone in Redis: keys, stream lengths and ids."""
    keys = sorted(r.keys("*"))
    value = {b"stream": r.xlen, b"hash": r.hgetall}  # hash: a partition's owner (fenced.h)
    return keys, {k: (r.type(k), value.get(r.type(k), r.get)(k),
                      r.xinfo_stream(k)["last-generated-id"] if r.type(k) == b"stream" else None)
                  for k in keys}


def data_listing(data):
    return sorted((p.relative_to(data), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in data.rglob("*"))


def test_the_same_rulebook_as_candidate_gives_an_empty_diff(make_env, tmp_path):
    env = make_env(**ARCHIVING)
    total = push_history(env)
    env.wait_applied(env.input_ids()[-1])
    wait_archived_and_trimmed(env, total)
    # The rule sections alone, without the daemon section: the same version.
    candidate = tmp_path / "same.conf"
    candidate.write_text(re.sub(r"(?ms)^daemon = \{.*?^\};", "", env.conf_path.read_text()))
    assert rulebook_hash(candidate) == rulebook_hash(env.conf_path)
    # The daemon stopped first (a clean stop exits 0): whatever it still did
    # in the background (its archiver's trims, out-stream trims, snapshots)
    # cannot then be mistaken for the tool's writes, and the check is exact.
    assert env.daemon.stop() == 0
    before_redis, before_data = redis_snapshot(env.r), data_listing(env.daemon.data)

    out = tmp_path / "same"
    res = whatif(env, candidate, "2026-09-15", out)
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["history"]["entries"] == SETUP_ENTRIES + total  # the leading rules entry
    assert report["history"]["archived"] > 0 and report["history"]["from_stream"] > 0
    assert report["diff"] == {"empty": True, "state_identical": True, "members_changed": 0}
    assert report["candidate"]["switched"] is False
    assert report["totals"]["logged"] == report["totals"]["candidate"]
    assert report["totals"]["logged"]["purchase"] > 0
    assert all(m["logged"] == m["candidate"] for m in report["months"])
    assert report["members"] == []
    # loyaltyctl whatif is the same program.
    via_ctl = ctl("whatif", "-c", env.conf_path, "--redis", f"127.0.0.1:{env.redis.port}",
                  "--data", env.daemon.data, "--candidate", candidate, "--from", "2026-09-15",
                  "--out", tmp_path / "same-ctl")
    assert via_ctl.returncode == 0, via_ctl.stderr
    assert json.loads((tmp_path / "same-ctl" / "report.json").read_text())["diff"] == report["diff"]
    assert (redis_snapshot(env.r), data_listing(env.daemon.data)) == (before_redis, before_data)


def test_a_changed_rulebook_shows_its_difference(make_env, tmp_path):
    env = make_env(**ARCHIVING)
    push_history(env)
    env.wait_applied(env.input_ids()[-1])
    candidate = tmp_path / "richer.conf"
    candidate.write_text(env.conf_path.read_text().replace("points_per_unit = 1;",
                                                           "points_per_unit = 3;"))
    out = tmp_path / "richer"
    res = whatif(env, candidate, "2026-09-15", out, "--top", "5", "--label", "x3 base rate")
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["candidate"]["switched"] is True
    assert report["diff"]["empty"] is False and report["diff"]["state_identical"] is False
    assert report["totals"]["candidate"]["purchase"] > report["totals"]["logged"]["purchase"]
    assert 0 < len(report["members"]) <= 5
    assert report["members"][0]["lifetime_diff"] > 0
    diffs = [abs(m["lifetime_diff"]) for m in report["members"]]
    assert diffs == sorted(diffs, reverse=True), "members are listed by difference"
    assert any(c["points_logged"] > 0 for c in report["campaigns"]), report["campaigns"]
    md = (out / "report.md").read_text()
    assert "x3 base rate" in md and "Tier migration" in md
    for png in report["plots"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert {"points.png", "liability.png", "tiers.png", "members.png"} <= set(report["plots"])

    inside = whatif(env, candidate, "2026-09-15", env.daemon.data / "report")
    assert inside.returncode == 1 and "data directory" in inside.stderr


PLAIN_CONF = """
daemon = { tick_interval_ms = 0; reconnect_max_ms = 500; block_ms = 200;
  snapshot_every_entries = 300; snapshot_keep = 1; trim_input = true; };
earning = { points_per_unit = %d; minor_per_unit = 100; };
tiers = { basis = "points"; window_months = 12; levels = (
  { name = "blue"; threshold = 0; multiplier_bp = 10000; perks = [ ]; },
  { name = "silver"; threshold = 2000; multiplier_bp = 10000; perks = [ "free_delivery" ]; } ); };
rewards = { auto = ( { reward = "voucher"; every_points = 1000; } ); };
expiry = { months = 3; };
idempotency = { window_days = 35; max_txns = 100000; };
"""


def test_a_doubled_base_rate_doubles_exactly_the_purchase_points_after_the_date(make_env,
                                                                                tmp_path):
    env = make_env(start=False)
    env.conf_path.write_text(PLAIN_CONF % 1)
    env.daemon.start()
    members = [f"p{i:02d}" for i in range(30)]
    for m in members:
        env.push(kind="enroll", txn=f"e-{m}", member=m)
    months = []
    for month in range(10):
        months.append(month_label(env._ts + 1000))
        for i in range(120):
            m = members[(i * 7 + month) % len(members)]
            if i % 10 == 9:
                env.push(kind="redeem", txn=f"r{month}-{i}", member=m, points=30)
            else:
                env.push(kind="purchase", txn=f"s{month}-{i}", member=m, store="s1",
                         amount=100 * (1 + (i * 13 + month) % 90))
        env._ts += 31 * DAY_MS
        env.push(kind="tick")
    env.wait_applied(env.input_ids()[-1])
    wait_archived_and_trimmed(env, len(env.pushed))
    candidate = tmp_path / "double.conf"
    candidate.write_text(re.sub(r"(?ms)^daemon = \{.*?\};", "", PLAIN_CONF % 2))
    pivot = months[5]
    from_date, from_ms = first_of_month_after(
        calendar.timegm(time.strptime(months[4] + "-15", "%Y-%m-%d")) * 1000)
    assert month_label(from_ms) == pivot

    out = tmp_path / "double"
    res = whatif(env, candidate, from_date, out)
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    by_month = {m["month"]: m for m in report["months"]}
    for label in months:
        logged = by_month[label]["logged"]["points_by_cause"]["purchase"]
        candidate_pts = by_month[label]["candidate"]["points_by_cause"]["purchase"]
        assert logged > 0, label
        if label < pivot:
            assert candidate_pts == logged, label
        else:
            assert candidate_pts == 2 * logged, (label, logged, candidate_pts)
