"""Programme features through the real daemon and a real Redis (issue 14):
points transfers under a storm of POS retries, a campaign that runs out of
budget mid-load, every expiry mode over two simulated years, lifetime tiers,
a status match that ends, and the lifetime-value worked example with a
retention programme. Time passes only through the entries' own `ts` and the
ticks the tests push (tick_interval_ms 0).

Expected numbers come from small models of the documented rules (README,
conf/loyaltyd.conf) written here, never from the daemon's own output.
"""
import datetime as dt
import random
from collections import Counter, defaultdict

import msgpack
import pytest

from harness import LoadThread
from lifekit import DAY_MS, utc_ms

PLAIN = dict(first_purchase_bonus=0, birthday_bonus=0, referral_bonus=0,
             txn_cap_points=0, day_cap_points=0)


def push_all(env, entries):
    """Pushes `entries` (m maps) from a background thread in pipelined chunks,
    waits until the daemon applied the last one, and returns (id, m) pairs in
    stream order."""
    load = LoadThread(env, entries, chunk=50)
    load.start()
    pushed = load.finish()
    env.wait_applied(pushed[-1][0], timeout=60)
    return [(sid, msgpack.unpackb(fields["m"], raw=False)) for sid, fields in pushed]


def tick(env, ts):
    return env.push(kind="tick", ts=ts)


# -- transfers ----------------------------------------------------------------

def model_transfers(balances, stream, day_max):
    """Applies transfer entries in stream order as documented: a txn seen
    before is a retry (same answer, nothing moves); an unknown receiver is
    rejected; refusals in the order insufficient_points, daily_limit (a
    sender's points of the UTC day of the entry's ts; one dated before the
    last day counted is judged against a fresh day). Returns the answer of
    every txn and the balances after."""
    balances = dict(balances)
    answers, sent = {}, {}
    for m in stream:
        if m["txn"] in answers or m["to"] not in balances:
            continue
        frm, to, pts, day = m["member"], m["to"], m["points"], m["ts"] // DAY_MS
        last_day, last_sent = sent.get(frm, (0, 0))
        used = last_sent if day == last_day else 0
        if balances[frm] < pts:
            answers[m["txn"]] = (False, "insufficient_points", balances[frm])
        elif used + pts > day_max:
            answers[m["txn"]] = (False, "daily_limit", balances[frm])
        else:
            balances[frm] -= pts
            balances[to] += pts
            if day >= last_day:
                sent[frm] = (day, used + pts)
            answers[m["txn"]] = (True, None, balances[frm])
    return answers, balances


def test_a_transfer_storm_with_retries_moves_each_transfer_once(make_env):
    env = make_env(plain=True)
    rnd = random.Random(1401)
    members = [f"tm{i:02d}" for i in range(20)]
    t0 = utc_ms(2027, 2, 1, 9)
    setup = [env.entry(kind="enroll", txn=f"e-{m}", member=m, ts=t0) for m in members]
    setup += [env.entry(kind="purchase", txn=f"p-{m}", member=m, store="s1",
                        amount=rnd.randint(1000, 300000), ts=t0 + 1000) for m in members]
    push_all(env, setup)
    before = {m: env.member(m)["balance"] for m in members}
    assert sum(before.values()) > 20000

    transfers = []
    for i in range(800):
        a, b = rnd.sample(members, 2)
        transfers.append(env.entry(kind="transfer", txn=f"x{i}", member=a, to=b,
                                   points=rnd.randint(1, 1500),
                                   ts=t0 + DAY_MS * (i // 200) + 1000 * i))
    stream = []
    for i, m in enumerate(transfers):
        stream.append(m)
        if rnd.random() < 0.4:  # a POS retry: right away or a little later
            stream.insert(len(stream) - rnd.randint(0, min(5, len(stream) - 1)), dict(m))
        if i % 100 == 0:  # a receiver that was never enrolled
            stream.append(env.entry(kind="transfer", txn=f"bad{i}", member=m["member"],
                                    to="nobody", points=1, ts=m["ts"]))
    order = push_all(env, stream)

    after = {m: env.member(m)["balance"] for m in members}
    assert sum(after.values()) == sum(before.values())
    answers, balances = model_transfers(before, stream, 5000)
    assert after == balances
    assert sum(ok for ok, _, _ in answers.values()) > 300
    assert Counter(e for _, e, _ in answers.values())["daily_limit"] > 0

    # Each transfer applied once: one transfer_out and one transfer_in per
    # applied txn, over all its copies; every copy answered alike.
    txn_of = {sid: m.get("txn") for sid, m in order}
    out = env.read_out()
    moves = Counter((txn_of[e["src"]], e["cause"]) for e in out
                    if e["kind"] == "points.changed" and e["cause"].startswith("transfer_"))
    results = defaultdict(set)
    for e in out:
        if e["kind"] == "transfer.result":
            results[e["txn"]].add((e["ok"], e.get("error"), e["balance"]))
    copies = Counter(m["txn"] for m in stream if m["to"] != "nobody")
    for txn, (ok, error, balance) in answers.items():
        assert moves[(txn, "transfer_out")] == moves[(txn, "transfer_in")] == int(ok), txn
        assert results[txn] == {(ok, error, balance)}, txn
    assert sum(Counter(e["txn"] for e in out if e["kind"] == "transfer.result").values()) == \
        sum(copies.values())
    dlq = [d for d in env.read_dlq() if d["reason"] == "unknown_member"]
    assert len(dlq) == 8 and all("'nobody' is not enrolled" in d["detail"] for d in dlq)
    m = env.daemon.metrics()
    assert m["loyalty_entries_duplicate_total"] == sum(copies.values()) - len(copies)


# -- campaign budgets -----------------------------------------------------------

def test_a_campaign_runs_out_of_budget_mid_load_exactly_and_says_so_once(make_env):
    """holiday_2028 (conf/loyaltyd.conf): +200 for 20.00 or more in December
    2028, at most twice per member; the budget set to 10050 here, so the
    51st qualifying sale gets the 50 left and later ones nothing."""
    env = make_env(plain=True, budget_points=10050)
    members = [f"hm{i:02d}" for i in range(40)]
    t0 = utc_ms(2028, 12, 3, 10)
    entries = [env.entry(kind="enroll", txn=f"e-{m}", member=m, ts=t0) for m in members]
    rnd = random.Random(2028)
    for i in range(150):
        entries.append(env.entry(kind="purchase", txn=f"h{i}", member=rnd.choice(members),
                                 store="s1", amount=rnd.choice([1999, 2000, 4500]),
                                 ts=t0 + 60000 * (i + 1)))
    order = push_all(env, entries)
    out = env.read_out()
    sale = {sid: m for sid, m in order if m["kind"] == "purchase"}
    bonus = [(e["src"], e["delta"]) for e in out
             if e["kind"] == "points.changed" and e["cause"] == "bonus"]
    assert sum(d for _, d in bonus) == 10050
    assert sorted(Counter(d for _, d in bonus).items()) == [(50, 1), (200, 50)]
    exhausted = [e for e in out if e["kind"] == "campaign.exhausted"]
    assert len(exhausted) == 1 and exhausted[0]["campaign"] == "holiday_2028"
    assert "member" not in exhausted[0]
    last = [src for src, d in bonus if d == 50][0]
    assert exhausted[0]["src"] == last
    # Stream order: every sale before the last one that qualified (20.00 or
    # more, the member's first two) got 200, every one after it nothing.
    got = dict(bonus)
    seen = Counter()
    after_last = False
    for sid, _ in order:
        m = sale.get(sid)
        if m is None:
            continue
        eligible = m["amount"] >= 2000 and seen[m["member"]] < 2
        if after_last:
            assert sid not in got, m
        elif eligible:
            assert got.get(sid) == (50 if sid == last else 200), m
            seen[m["member"]] += 1
        after_last = after_last or sid == last
    status, body = env.http_get("/v1/campaigns")
    assert status == 200
    holiday = [c for c in body["campaigns"] if c["name"] == "holiday_2028"][0]
    assert holiday == dict(name="holiday_2028", start_ts=utc_ms(2028, 12, 1),
                           end_ts=utc_ms(2029, 1, 1), kind="bonus", given_points=10050,
                           budget_points=10050, remaining_points=0, exhausted=True,
                           member_limit_points=None, member_limit_times=2)
    metrics = env.daemon.metrics()
    assert metrics['loyalty_campaign_given_points{campaign="holiday_2028"}'] == 10050
    assert metrics['loyalty_campaign_budget_remaining_points{campaign="holiday_2028"}'] == 0
    assert metrics['loyalty_outputs_total{kind="campaign.exhausted"}'] == 1


# -- expiry modes -----------------------------------------------------------------

def day(ms):
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).date()


def first_of(year, month):
    return utc_ms(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def due_ms(mode, n, earned_ms):
    """When points earned at `earned_ms` expire, by the documented rule of
    each mode (README, Expiry modes)."""
    d = day(earned_ms)
    if mode == "months":
        return first_of(d.year, d.month + n + 1)
    if mode == "days":
        return utc_ms(d.year, d.month, d.day) + (n + 1) * DAY_MS
    if mode == "end_of_year":
        return utc_ms(d.year + n + 1, 1, 1)
    return None


EXPIRY_MODES = [("months", 12), ("days", 90), ("end_of_year", 0), ("never", 0)]


@pytest.mark.parametrize("mode,n", EXPIRY_MODES, ids=[m for m, _ in EXPIRY_MODES])
def test_each_expiry_mode_over_two_simulated_years(make_env, mode, n):
    counts = dict(months=0, days=0, years=0)
    counts[dict(months="months", days="days", end_of_year="years").get(mode, "months")] = n
    env = make_env(plain=True, mode=f'"{mode}"', **counts)
    sales = [(utc_ms(2027, 1, 10, 12), 10000), (utc_ms(2027, 6, 15, 12), 5000),
             (utc_ms(2028, 2, 20, 12), 3000)]
    redeem_ts = utc_ms(2027, 6, 15, 12, 0, 1)  # 30 points, oldest first
    lots = [[due_ms(mode, n, ts), amount // 100] for ts, amount in sales]
    alive = [lot for (ts, _), lot in zip(sales, lots) if ts < redeem_ts and
             (lot[0] is None or lot[0] > redeem_ts)]
    alive[0][1] -= 30
    merged = defaultdict(int)
    for d, p in lots:
        if d is not None and d <= utc_ms(2029, 1, 1):
            merged[d] += p
    want = sorted(merged.items())  # (due, points): the tick of that day expires them
    looks = {d - 20 * DAY_MS: d for d, _ in want}

    # A tick at 00:00 UTC of every day for two years, the sales and the
    # redemption at their own times in between; the lookup 20 days before
    # each due date shows what goes within 30 days.
    timeline = [(utc_ms(2027, 1, 1), dict(kind="enroll", txn="e1", member="x1"))]
    timeline += [(ts, dict(kind="purchase", txn=f"s{i}", member="x1", store="s1",
                           amount=amount)) for i, (ts, amount) in enumerate(sales)]
    timeline.append((redeem_ts, dict(kind="redeem", txn="r1", member="x1", points=30)))
    t = utc_ms(2027, 1, 2)
    while t <= utc_ms(2029, 1, 1):
        timeline.append((t, dict(kind="tick")))
        t += DAY_MS
    for ts, fields in sorted(timeline, key=lambda x: x[0]):
        sid = env.push(ts=ts, **fields)
        if fields["kind"] == "tick" and ts in looks:
            env.wait_applied(sid)
            view = env.member("x1")
            assert view["expiring"]["next_ts"] == looks[ts]
            assert view["expiring"]["30"] == merged[looks[ts]]
    env.wait_applied(sid)
    got = [(e["ts"], e["points"]) for e in env.read_out() if e["kind"] == "points.expired"]
    assert got == want
    view = env.member("x1")
    assert view["balance"] == sum(p for _, p in lots) - sum(p for _, p in want)
    if mode == "never":
        assert got == [] and view["expiring"] == {"30": 0, "60": 0, "90": 0, "next_ts": None}


# -- tiers: lifetime, manual status -----------------------------------------------

def tier_events(env, member):
    return [(e["from"], e["to"], e["reason"]) for e in env.read_out()
            if e["kind"] == "tier.changed" and e["member"] == member]


def test_lifetime_tiers_are_kept_through_every_review(make_env):
    env = make_env(plain=True, downgrade='"never"', grace_months=0)
    env.push(kind="enroll", txn="e1", member="life", ts=utc_ms(2027, 1, 5, 9))
    # 2000 points at blue (x1) then silver (x1.25): gold on 2027-01-20.
    env.push(kind="purchase", txn="p1", member="life", store="s1", amount=50000,
             ts=utc_ms(2027, 1, 10, 12))
    env.push(kind="purchase", txn="p2", member="life", store="s1", amount=150000,
             ts=utc_ms(2027, 1, 20, 12))
    for year in (2028, 2029, 2030):
        last = tick(env, utc_ms(year, 1, 5, 6))
    env.wait_applied(last)
    assert tier_events(env, "life") == [("blue", "silver", "upgrade"),
                                        ("silver", "gold", "upgrade")]
    view = env.member("life")
    assert view["tier"] == "gold" and view["qualifying"] == 0
    assert view["next_review_ts"] == utc_ms(2031, 1, 5)


def test_a_status_match_holds_the_tier_and_then_ends(make_env):
    env = make_env(plain=True)
    env.push(kind="enroll", txn="e1", member="sm", ts=utc_ms(2027, 1, 5, 9))
    env.push(kind="purchase", txn="p1", member="sm", store="s1", amount=60000,
             ts=utc_ms(2027, 1, 10, 12))  # 600 points: silver
    until = utc_ms(2027, 7, 1)
    sid = env.push(kind="set_tier", txn="match-1", member="sm", tier="gold", until_ts=until,
                   reason="status match: gold elsewhere", ts=utc_ms(2027, 2, 1, 12))
    env.push(kind="set_tier", txn="match-1", member="sm", tier="gold", until_ts=until,
             reason="status match: gold elsewhere", ts=utc_ms(2027, 2, 1, 12))  # retry
    env.push(kind="set_tier", txn="match-2", member="sm", tier="diamond",
             reason="typo", ts=utc_ms(2027, 2, 2, 12))
    env.wait_applied(tick(env, utc_ms(2027, 6, 30)))
    view = env.member("sm")
    assert view["tier"] == "gold" and view["status"] == {"tier": "gold", "until_ts": until}
    assert view["perks"] == ["free_delivery", "priority_service"]
    env.wait_applied(tick(env, until))
    assert tier_events(env, "sm") == [("blue", "silver", "upgrade"),
                                      ("silver", "gold", "manual"),
                                      ("gold", "silver", "manual_end")]
    manual = [e for e in env.read_out() if e.get("reason") == "manual"]
    assert len(manual) == 1 and manual[0]["src"] == sid
    view = env.member("sm")
    assert view["tier"] == "silver" and view["status"] is None
    assert [d["reason"] for d in env.read_dlq()] == ["unknown_tier"]


# -- lifetime value: the worked example ----------------------------------------------

CLV = dict(margin_bp=1000, acquisition_cost=7500, default_churn_bp=1000, min_sample=1000000,
           max_years=20)


@pytest.mark.parametrize("retention,clv", [(dict(), 92500),
                                           (dict(retention_cost=2000, retention_churn_bp=5000),
                                            152500)],
                         ids=["without_retention", "with_retention"])
def test_lifetime_value_worked_example(make_env, retention, clv):
    """A margin of 100.00 a year (1000.00 spent at 10%), 10% churn, acquired
    for 75.00: 925.00; a retention programme of 20.00 a year that halves
    churn: 1525.00."""
    env = make_env(plain=True, **CLV, **retention)
    env.push(kind="enroll", txn="e1", member="cv", ts=utc_ms(2027, 3, 1))
    env.wait_applied(env.push(kind="purchase", txn="p1", member="cv", store="s1",
                              amount=100000, ts=utc_ms(2027, 3, 2)))
    view = env.member("cv")
    assert view["window_spend"] == 100000 and view["clv"] == clv
    assert view["churn_risk"] == 0
    status, seg = env.http_get("/v1/segments")
    assert status == 200 and seg["churn_bp"][view["segment"]] == 1000
    metrics = env.daemon.metrics()
    assert metrics[f'loyalty_segment_churn_ratio{{segment="{view["segment"]}"}}'] == 0.1
