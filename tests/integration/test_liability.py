"""The points liability (issue 18, README "Liability"): GET /v1/liability,
its gauges in /metrics, through a real daemon on a real Redis.

A seeded load of purchases (pending points on), redemptions, refunds
(some of points already spent: negative balances), adjustments, transfers
and ticks over seven months with expiry 2 months after the month of
earning, then:
- the report's outstanding total is the sum of the members' positive
  balances read one by one from GET /v1/members/ID, its debt the negative
  ones, its pending the members' pending points;
- every month's movements add up: issued + adjusted in + transferred in -
  redeemed - expired - refunded - adjusted out - transferred out = the sum
  of the balances; by cohort and by expiry month the same total;
- /metrics shows the same figures;
- after kill -9 and recovery (from a snapshot and the log) the report is
  identical.
"""
import json
import random

import msgpack

from clusterkit import partition_of
from ctlkit import ctl
from harness import BASE_TS_MS, partition_prefixes, wait_until

DAY_MS = 86_400_000
MEMBERS = 24
ENTRIES = 900


def liability(env):
    status, body = env.http_get("/v1/liability")
    assert status == 200, body
    return body


def load(env, seed=18):
    """Pushes the workload with explicit event times over ~8 months and
    returns the member ids and the last stream id."""
    rng = random.Random(seed)
    ids = [f"L{i:03d}" for i in range(MEMBERS)]
    ts = BASE_TS_MS
    last_buy = {}
    sid = None
    for m in ids:
        sid = env.push(kind="enroll", txn=f"e-{m}", member=m, ts=ts)
    for i in range(ENTRIES):
        ts += rng.randrange(DAY_MS // 2)  # ~7 months of event time
        m, other = rng.sample(ids, 2)
        roll = rng.random()
        if roll < 0.45:
            amount = rng.randrange(500, 60000)
            sid = env.push(kind="purchase", txn=f"p{i}", member=m, store="store_001",
                           amount=amount, ts=ts)
            last_buy[m] = (f"p{i}", amount)
        elif roll < 0.62:
            sid = env.push(kind="redeem", txn=f"r{i}", member=m, points=rng.randrange(1, 300),
                           ts=ts)
        elif roll < 0.74 and m in last_buy:
            txn, amount = last_buy.pop(m)
            sid = env.push(kind="refund", txn=f"f{i}", orig_txn=txn, member=m,
                           store="store_001", amount=rng.randrange(1, amount + 1), ts=ts)
        elif roll < 0.82:
            sid = env.push(kind="adjust", txn=f"a{i}", member=m, reason="goodwill",
                           points=rng.choice([-1, 1]) * rng.randrange(1, 200), ts=ts)
        elif roll < 0.92:
            sid = env.push(kind="transfer", txn=f"t{i}", member=m, to=other,
                           points=rng.randrange(1, 100), ts=ts)
        else:
            sid = env.push(kind="tick", ts=ts)
    sid = env.push(kind="tick", ts=ts + DAY_MS)  # releases and expiries of the last day
    return ids, sid, ts + DAY_MS


def spend_then_refund(env, ts):
    """A member who spends what a sale earned, then returns the sale: a
    negative balance (shortfall "negative"). Returns the member and the
    last stream id."""
    env.push(kind="enroll", txn="e-debt", member="DEBT", ts=ts)
    env.push(kind="purchase", txn="p-debt", member="DEBT", store="store_001", amount=20000,
             ts=ts + 1)
    env.wait_applied(env.push(kind="tick", ts=ts + 10 * DAY_MS))  # released
    balance = env.member("DEBT")["balance"]
    assert balance > 0
    env.push(kind="redeem", txn="r-debt", member="DEBT", points=balance, ts=ts + 10 * DAY_MS + 1)
    sid = env.push(kind="refund", txn="f-debt", orig_txn="p-debt", member="DEBT",
                   store="store_001", amount=20000, ts=ts + 10 * DAY_MS + 2)
    env.wait_applied(sid)
    assert env.member("DEBT")["balance"] < 0
    return "DEBT", sid


def month_total(row):
    return (row["issued"] + row["adjusted_in"] + row["transferred_in"] - row["redeemed"] -
            row["expired"] - row["refunded"] - row["adjusted_out"] - row["transferred_out"] -
            row.get("other_out", 0))


def check_against_members(env, ids, rep):
    t = rep["totals"]
    members = [env.member(m) for m in ids]
    balances = [mb["balance"] for mb in members]
    assert t["outstanding_points"] == sum(b for b in balances if b > 0)
    assert t["debt_points"] == sum(-b for b in balances if b < 0)
    assert t["pending_points"] == sum(mb["pending"]["points"] for mb in members)
    assert t["opening_points"] == 0  # kept from the first entry on, not derived
    assert sum(month_total(r) for r in t["by_month"]) == sum(balances)
    assert sum(c["outstanding"] for c in t["by_cohort"]) == t["outstanding_points"]
    assert sum(e["points"] for e in t["by_expiry"]) == t["outstanding_points"]
    for c in t["by_cohort"]:
        assert c["in"] - c["redeemed"] - c["expired"] - c["other"] == c["outstanding"], c
    # Expiry 2 months after the month of earning: nothing outstanding expires
    # later than 3 months after the clock's month.
    assert max(e["month"] for e in t["by_expiry"]) <= month_after(rep["as_of"], 3)
    return balances


def month_after(month, n):
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def test_the_report_adds_up_to_the_balances_and_survives_kill_9(make_env):
    env = make_env(months=2, pending_days=4, snapshot_every_entries=200, trim_input="false",
                   liability_value_minor=1, liability_value_points=2,
                   liability_currency='"EUR"')
    ids, sid, ts = load(env)
    env.wait_applied(sid)
    debtor, sid = spend_then_refund(env, ts)
    ids.append(debtor)
    rep = liability(env)
    t = rep["totals"]
    balances = check_against_members(env, ids, rep)
    # The load did what it was meant to: every kind of movement happened.
    months = t["by_month"]
    for key in ("issued", "redeemed", "expired", "refunded", "adjusted_in", "adjusted_out",
                "transferred_in", "pending_held", "pending_released", "pending_cancelled"):
        assert sum(r[key] for r in months) > 0, key
    assert len(months) >= 7  # seven or eight calendar months of movements
    assert min(balances) < 0 and t["debt_points"] > 0  # refunds of spent points
    assert sum(c["expired"] for c in t["by_cohort"]) > 0
    assert t["breakage_bp"] is not None and 0 <= t["breakage_bp"] <= 10000
    assert t["outstanding_value_minor"] == t["outstanding_points"] // 2
    assert (rep["currency"], rep["value_minor"], rep["value_points"]) == ("EUR", 1, 2)
    # /metrics shows the same figures.
    metrics = env.daemon.metrics()
    assert metrics["loyalty_liability_outstanding_points"] == t["outstanding_points"]
    assert metrics["loyalty_liability_debt_points"] == t["debt_points"]
    assert metrics["loyalty_liability_pending_points"] == t["pending_points"]
    assert metrics["loyalty_liability_value_minor_units"] == t["outstanding_value_minor"]
    for c in t["by_cohort"]:
        if c["outstanding"]:
            assert metrics[f'loyalty_liability_points{{cohort="{c["month"]}"}}'] == \
                c["outstanding"]
    check_loyaltyctl(env, rep)
    # kill -9, recovery from the newest snapshot and the log: the same report.
    assert list(env.daemon.data.glob("snap-*.lysnap")), "no snapshot was written"
    env.daemon.kill()
    env.daemon.start()
    env.wait_applied(sid)
    wait_until(lambda: liability(env) == rep, what="the same report after recovery")
    assert env.daemon.metrics()["loyalty_entries_replayed_total"] < ENTRIES


def test_each_partition_reports_apart_and_the_totals_add_them(make_env):
    env = make_env(partitions=2, months=2)
    prefixes = partition_prefixes(2)
    ts = BASE_TS_MS
    last = {}
    for i in range(40):
        m = f"P{i:02d}"
        ts += DAY_MS // 2
        for kind, extra in (("enroll", {}),
                            ("purchase", dict(store="store_001", amount=1000 * (i + 1)))):
            data = msgpack.packb(env.entry(kind=kind, txn=f"{kind}-{m}", member=m, ts=ts,
                                           **extra))
            # The partition's stream of the member (clients route the same way).
            prefix = prefixes[partition_of(m, 2)]
            last[prefix] = env.r.xadd(prefix + "in", {"m": data}).decode()
    for prefix, sid in last.items():
        wait_until(lambda p=prefix, s=sid: applied(env, p, s), what=f"{prefix} applied")
    rep = liability(env)
    parts = rep["partitions"]
    assert sorted(parts) == ["0", "1"]
    assert all(p["outstanding_points"] > 0 for p in parts.values())
    assert sum(p["outstanding_points"] for p in parts.values()) == \
        rep["totals"]["outstanding_points"]
    balances = sum(env.member(f"P{i:02d}")["balance"] for i in range(40))
    assert rep["totals"]["outstanding_points"] == balances


def applied(env, prefix, sid):
    v = env.r.get(prefix + "progress")
    if v is None:
        return False
    a = tuple(map(int, v.decode().split("-")))
    return a >= tuple(map(int, sid.split("-")))


def check_loyaltyctl(env, rep):
    """`loyaltyctl liability` prints the API's figures (--json: the same
    document)."""
    http = f"127.0.0.1:{env.daemon.http_port}"
    res = ctl("liability", "--http", http, "--json")
    assert res.returncode == 0, res
    assert json.loads(res.stdout) == rep
    text = ctl("liability", "--http", http)
    assert text.returncode == 0, text
    t = rep["totals"]
    lines = text.stdout.splitlines()
    assert lines[0] == f"as of {rep['as_of']} (engine clock)"
    assert lines[1].startswith(f"outstanding {t['outstanding_points']} points "
                               f"({t['outstanding_value_minor']} EUR minor units)")
    assert f"debt {t['debt_points']}" in lines[1]
    cohorts = {ln.split()[0]: int(ln.split()[1]) for ln in lines
               if ln[:4].isdigit() and len(ln.split()) == 6}
    assert cohorts == {c["month"]: c["outstanding"] for c in t["by_cohort"]
                       if c["month"][:4].isdigit()}
