"""Returns and retries that cannot be gamed, pending points and notices
(issue 13), driven through a real daemon's input stream and checked on
loyalty:out, loyalty:dlq and GET /v1/members/ID.

Pending points and notices are on here with the shipped values of
conf/loyaltyd.conf (HOLDS_ON), where a scenario needs them; other tests of
the suite turn them off (harness.HOLDS_OFF). Numbers follow the shipped
rulebook run without bonuses and caps (plain) unless a test is about the
bonuses: blue x1.0, silver 500 x1.25, gold 2000 x1.5.
"""
import random
import re
from collections import Counter

import msgpack

from crashkit import Crasher, PacedPusher, entry_id
from ctlkit import ctl
from harness import BASE_TS_MS, CONF_PATH, Outcome, assert_matches, by_src, fresh_replay
from lifekit import DAY_MS, utc_ms


def shipped(name):
    """An integer setting of conf/loyaltyd.conf (it occurs once)."""
    code = re.sub(r"#[^\n]*", "", CONF_PATH.read_text())
    found = re.findall(rf"\b{name}\s*=\s*(\d+);", code)
    assert len(found) == 1, name
    return int(found[0])


HOLDS_ON = dict(pending_days=shipped("pending_days"), tier_days=shipped("tier_days"),
                expiry_days=shipped("expiry_days"))


def release_ts(ts, pending_days):
    """README "Pending points": 00:00 UTC of the day after the sale's day +
    pending_days, rounded up to a multiple of ceil(pending_days / 4) days."""
    step = -(-pending_days // 4)
    day = ts // DAY_MS + pending_days + 1
    return -(-day // step) * step * DAY_MS


def apply(env, **fields):
    """Pushes one entry, awaits it and returns its events."""
    sid = env.push(**fields)
    env.wait_applied(sid)
    return by_src(env.read_out(), sid)


def of_kind(events, kind):
    return [e for e in events if e["kind"] == kind]


def only(events, kind):
    found = of_kind(events, kind)
    assert len(found) == 1, (kind, events)
    return found[0]


# -- a refund takes back the tier --------------------------------------------

def test_buy_to_gold_then_full_refund_drops_at_once_and_the_perks_go(make_env):
    env = make_env(plain=True, **HOLDS_ON)
    apply(env, kind="enroll", txn="e1", member="M1")
    sale = apply(env, kind="purchase", txn="p1", member="M1", store="store_001", amount=200000)
    held = only(sale, "points.pending")
    assert (held["points"], held["pending"]) == (2000, 2000)
    assert held["release_ts"] == release_ts(held["ts"], HOLDS_ON["pending_days"])
    assert only(sale, "tier.changed")["to"] == "gold"
    assert len(of_kind(apply(env, kind="scan", member="M1", store="door"), "perk.triggered")) == 2

    back = apply(env, kind="refund", txn="r1", orig_txn="p1", member="M1", amount=200000)
    cancelled = only(back, "points.pending")
    assert (cancelled["points"], cancelled["pending"]) == (-2000, 0)
    drop = only(back, "tier.changed")
    assert (drop["from"], drop["to"], drop["reason"]) == ("gold", "blue", "refund")
    assert of_kind(apply(env, kind="scan", member="M1", store="door"), "perk.triggered") == []
    # x1.0 again: 100.00 earns 100, not gold's 150.
    assert only(apply(env, kind="purchase", txn="p2", member="M1", store="store_001",
                      amount=10000), "points.pending")["points"] == 100
    view = env.member("M1")
    assert (view["tier"], view["perks"], view["balance"]) == ("blue", [], 0)
    assert view["pending"]["points"] == 100 and len(view["pending"]["releases"]) == 1
    assert env.read_dlq() == []


def test_a_full_refund_of_the_first_purchase_reverses_its_bonus_and_the_referral(make_env):
    env = make_env()
    first, referral = shipped("first_purchase_bonus"), shipped("referral_bonus")
    apply(env, kind="enroll", txn="e-ref", member="REF")
    apply(env, kind="enroll", txn="e-new", member="NEW", referrer="REF")
    sale = apply(env, kind="purchase", txn="p1", member="NEW", store="store_001", amount=5000)
    assert [(e["member"], e["cause"], e["delta"]) for e in of_kind(sale, "points.changed")] == [
        ("NEW", "purchase", 50), ("NEW", "bonus", first), ("REF", "bonus", referral)]
    back = apply(env, kind="refund", txn="r1", orig_txn="p1", member="NEW", amount=5000)
    assert [(e["member"], e["cause"], e["delta"], e["balance"])
            for e in of_kind(back, "points.changed")] == [
        ("NEW", "refund", -(50 + first), 0), ("REF", "refund", -referral, 0)]
    # Taken back for good: the next purchase earns neither again.
    again = apply(env, kind="purchase", txn="p2", member="NEW", store="store_001", amount=5000)
    assert [(e["member"], e["cause"]) for e in of_kind(again, "points.changed")] == [
        ("NEW", "purchase")]
    assert env.member("REF")["balance"] == 0 and env.member("NEW")["balance"] == 50


# -- retries by content ------------------------------------------------------

def test_same_txn_with_another_amount_is_txn_conflict_and_nothing_is_lost(make_env):
    env = make_env(plain=True)
    apply(env, kind="enroll", txn="e1", member="M1")
    sale = env.entry(kind="purchase", txn="T-100", member="M1", store="store_001", amount=10000)
    sid = env.push_raw(msgpack.packb(sale))
    env.wait_applied(sid)
    other = dict(sale, amount=20000, ts=env.next_ts())
    other_bytes = msgpack.packb(other)
    sid2 = env.push_raw(other_bytes)
    env.wait_applied(sid2)
    [dlq] = env.read_dlq()
    assert (dlq["src"], dlq["reason"]) == (sid2, "txn_conflict")
    assert dlq["detail"] == ("txn 'T-100' was a purchase with amount 10000; this one has "
                             "amount 20000")
    assert dlq["m"] == other_bytes  # kept whole: it can be re-driven under a new txn
    assert by_src(env.read_out(), sid2) == []
    assert env.member("M1")["balance"] == 100
    # The same bytes again are a POS retry: nothing published, nothing changed.
    before = env.daemon.metrics()["loyalty_entries_duplicate_total"]
    sid3 = env.push_raw(msgpack.packb(sale))
    env.wait_applied(sid3)
    assert by_src(env.read_out(), sid3) == [] and len(env.read_dlq()) == 1
    assert env.daemon.metrics()["loyalty_entries_duplicate_total"] == before + 1
    # A redeem retry gets its original answer, even after the balance moved.
    first = only(apply(env, kind="redeem", txn="d1", member="M1", points=40), "redeem.result")
    apply(env, kind="adjust", txn="a1", member="M1", points=500, reason="goodwill")
    again = only(apply(env, kind="redeem", txn="d1", member="M1", points=40), "redeem.result")
    assert {k: again[k] for k in ("ok", "balance", "txn")} == \
        {k: first[k] for k in ("ok", "balance", "txn")} == dict(ok=True, balance=60, txn="d1")


# -- adjust is not earning -----------------------------------------------------

def test_a_big_adjust_mints_no_rewards_and_spills_none_onto_later_entries(make_env):
    env = make_env(plain=True)
    apply(env, kind="enroll", txn="e1", member="M1")
    credit = apply(env, kind="adjust", txn="a1", member="M1", points=120000, reason="migration")
    assert [(e["kind"], e.get("cause")) for e in credit] == [("points.changed", "adjust")]
    sale = apply(env, kind="purchase", txn="p1", member="M1", store="store_001", amount=100)
    assert of_kind(sale, "reward.issued") == []
    view = env.member("M1")
    assert (view["balance"], view["lifetime_points"]) == (120001, 1)
    # `qualifying: true` carries a status over: 2000 qualifying points, gold.
    moved = apply(env, kind="adjust", txn="a2", member="M1", points=2000, reason="migration",
                  qualifying=True)
    assert only(moved, "tier.changed")["to"] == "gold"
    assert of_kind(moved, "reward.issued") == []


def test_every_reward_a_sale_earns_comes_in_one_event_with_its_count(make_env):
    env = make_env(plain=True)
    every = shipped("every_points")
    apply(env, kind="enroll", txn="e1", member="M1")
    # 4500.00 at blue: 4500 points, gold.
    sale = apply(env, kind="purchase", txn="p1", member="M1", store="store_001", amount=450000)
    reward = only(sale, "reward.issued")
    assert (reward["reward"], reward["cost"], reward["count"]) == ("voucher_5", 0, 4500 // every)
    later = apply(env, kind="purchase", txn="p2", member="M1", store="store_001", amount=100)
    assert of_kind(later, "reward.issued") == []


# -- pending points --------------------------------------------------------------

def test_buy_redeem_return_inside_the_window_gets_nothing(make_env):
    env = make_env(plain=True, **HOLDS_ON)
    apply(env, kind="enroll", txn="e1", member="M1")
    apply(env, kind="adjust", txn="a1", member="M1", points=500, reason="goodwill")
    sale = apply(env, kind="purchase", txn="p1", member="M1", store="store_001", amount=100000)
    assert only(sale, "points.pending")["points"] == 1000
    view = env.member("M1")
    assert view["balance"] == 500
    assert view["pending"] == {"points": 1000, "releases": [
        {"release_ts": release_ts(sale[0]["ts"], HOLDS_ON["pending_days"]), "points": 1000}]}
    answer = only(apply(env, kind="redeem", txn="d1", member="M1", reward="voucher_10"),
                  "redeem.result")
    assert (answer["ok"], answer["error"], answer["balance"]) == (
        False, "insufficient_points", 500)
    back = apply(env, kind="refund", txn="r1", orig_txn="p1", member="M1", amount=100000)
    assert only(back, "points.pending")["points"] == -1000
    assert of_kind(back, "points.changed") == []  # the balance was never touched
    view = env.member("M1")
    assert (view["balance"], view["pending"]["points"], view["tier"]) == (500, 0, "blue")


def test_loyaltyctl_shows_pending_points_and_reward_counts(make_env):
    env = make_env(plain=True, **HOLDS_ON)
    apply(env, kind="enroll", txn="e1", member="M1")
    sale = apply(env, kind="purchase", txn="p1", member="M1", store="store_001", amount=250000)
    release = only(sale, "points.pending")["release_ts"]
    apply(env, kind="tick", ts=release)
    res = ctl("tail", "--redis", f"127.0.0.1:{env.redis.port}", "--once", "--kind",
              "points.pending,reward.issued")
    assert res.returncode == 0, res.stderr
    lines = [" ".join(line.split()) for line in res.stdout.splitlines()]
    assert lines == [f"points.pending M1 +2500 -> pending 2500 (release_ts {release})",
                     "reward.issued M1 voucher_5 x2 (cost 0)"]


def test_a_members_year_of_releases_and_notices(make_env):
    """Enrolled 2026-06-01 (reviewed on 2027-06-01, grace 1 month), gold from
    2000.00 bought on 2026-06-10, which leaves the window before the review:
    daily ticks at 00:00 tell the member in time, and the lookup says so."""
    env = make_env(plain=True, **HOLDS_ON)
    pending, tier_days, expiry_days = (HOLDS_ON[k] for k in ("pending_days", "tier_days",
                                                             "expiry_days"))
    step = shipped("need_step")
    sids = {}

    def push(name, **fields):
        sids[name] = env.push(**fields)

    def ticks(first, last):
        for day in range(first // DAY_MS, last // DAY_MS + 1):
            push(f"tick{day}", kind="tick", ts=day * DAY_MS)

    push("enroll", kind="enroll", txn="e1", member="Y", ts=utc_ms(2026, 6, 1))
    ticks(utc_ms(2026, 6, 2), utc_ms(2026, 6, 10))
    sale_ts = utc_ms(2026, 6, 10, 12)
    push("p1", kind="purchase", txn="p1", member="Y", store="store_001", amount=200000,
         ts=sale_ts)
    ticks(utc_ms(2026, 6, 11), utc_ms(2027, 5, 10))
    env.wait_applied(sids["tick" + str(utc_ms(2027, 5, 10) // DAY_MS)], timeout=60)
    review = utc_ms(2027, 6, 1)
    view = env.member("Y")
    assert view["at_risk"] == {"tier": "gold", "review_ts": review, "needed": 2000}
    assert view["pending"] == {"points": 0, "releases": []}

    push("p2", kind="purchase", txn="p2", member="Y", store="store_001", amount=50000,
         ts=utc_ms(2027, 5, 10, 12))
    ticks(utc_ms(2027, 5, 11), utc_ms(2027, 8, 1))
    env.wait_applied(sids["tick" + str(utc_ms(2027, 8, 1) // DAY_MS)], timeout=60)
    events = [e for e in env.read_out() if e["member"] == "Y"]

    def at(kind):
        return [(e["ts"], e) for e in events if e["kind"] == kind]

    # Released on its day, with cause release: spendable from then on.
    released = [e for e in events if e.get("cause") == "release"]
    assert [(e["ts"], e["delta"]) for e in released] == [
        (release_ts(sale_ts, pending), 2000),
        (release_ts(utc_ms(2027, 5, 10, 12), pending), 750)]
    # tier.at_risk: 30 days before the review, again when a purchase moved
    # the need by at least need_step (750 at gold x1.5), and before the end
    # of the grace the review started.
    grace_end = utc_ms(2027, 7, 1)
    assert 750 >= step
    assert [(ts, e["tier"], e["review_ts"], e["needed"]) for ts, e in at("tier.at_risk")] == [
        (review - tier_days * DAY_MS, "gold", review, 2000),
        (utc_ms(2027, 5, 10, 12), "gold", review, 1250),
        (review, "gold", grace_end, 1250)]
    assert [(ts, e["from"], e["to"], e["reason"]) for ts, e in at("tier.changed")] == [
        (sale_ts, "blue", "gold", "upgrade"), (grace_end, "gold", "silver", "review")]
    # points.expiring: once for the lot of July 2026 (the release month),
    # expiry_days before it ends on 2027-08-01, then points.expired.
    lot_end = utc_ms(2027, 8, 1)
    assert [(ts, e["points"], e["expire_ts"], e["balance"]) for ts, e in at("points.expiring")] \
        == [(lot_end - expiry_days * DAY_MS, 2000, lot_end, 2750)]
    assert [(ts, e["points"]) for ts, e in at("points.expired")] == [(lot_end, 2000)]
    # Silver now, and short for the review of 2028-06-01 as things stand.
    view = env.member("Y")
    assert (view["tier"], view["balance"]) == ("silver", 750)
    assert view["at_risk"] == {"tier": "silver", "review_ts": utc_ms(2028, 6, 1), "needed": 500}
    assert env.read_dlq() == []


# -- kill -9 during releases --------------------------------------------------------

# As test_exactly_once.py: snapshots every 300 entries, small batches.
CRASH_CONF = dict(snapshot_every_entries=300, snapshot_every_ms=0, batch_entries_max=64)
RELEASE_KILLS_MIN = 10


def release_workload(seed, members=300, sale_days=40, tick_days=90):
    """Members who buy over `sale_days` with pending points on, daily ticks at
    00:00 for `tick_days` (most of them releasing someone's points), refunds
    inside and after the window, redemptions of released points and POS
    retries (the same bytes again). Returns (entries with explicit ids in
    event-time order, member ids)."""
    rnd = random.Random(seed)
    day0 = BASE_TS_MS // DAY_MS + 1
    ids = [f"rel{seed}-{n:03d}" for n in range(members)]
    timed = [(BASE_TS_MS + n, dict(kind="enroll", txn=f"e-{m}", member=m))
             for n, m in enumerate(ids)]
    timed += [((day0 + d) * DAY_MS, dict(kind="tick")) for d in range(tick_days)]
    for n, m in enumerate(ids):
        for k in range(rnd.randint(1, 3)):
            ts = (day0 + rnd.randrange(sale_days)) * DAY_MS + rnd.randrange(8, 20) * 3600_000
            amount = rnd.randint(1000, 100000)
            timed.append((ts, dict(kind="purchase", txn=f"p-{m}-{k}", member=m,
                                   store="store_001", amount=amount)))
            if rnd.random() < 0.3:  # a return, inside the window or after it
                timed.append((ts + rnd.randint(1, 30) * DAY_MS // 2,
                              dict(kind="refund", txn=f"r-{m}-{k}", orig_txn=f"p-{m}-{k}",
                                   member=m, amount=rnd.randint(1, amount))))
        timed.append(((day0 + rnd.randrange(35, tick_days)) * DAY_MS + 3600_000,
                      dict(kind="redeem", txn=f"d-{m}", member=m, points=rnd.randint(10, 300))))
    timed.sort(key=lambda e: e[0])
    payloads = [msgpack.packb(dict(m, v=1, ts=ts)) for ts, m in timed]
    for pos in sorted(rnd.sample(range(len(payloads)), len(payloads) // 10), reverse=True):
        if msgpack.unpackb(payloads[pos])["kind"] != "tick":
            payloads.insert(pos + rnd.randint(1, 20), payloads[pos])  # a POS retry
    return [(entry_id(i), {"m": data}) for i, data in enumerate(payloads)], ids


def test_sigkill_while_releasing_pending_points_releases_each_exactly_once(make_env):
    # A 7-day window (release days 2 days apart): releases on many ticks.
    env = make_env(start=False, **CRASH_CONF, **dict(HOLDS_ON, pending_days=7))
    entries, members = release_workload(seed=13)
    reference = fresh_replay(env, members, entries=entries)
    released = [(e["member"], e["src"]) for e in reference.out if e.get("cause") == "release"]
    assert len(released) > 300, "the load releases too little to be a test"
    assert len({src for _, src in released}) > 15, "releases should span many ticks"
    assert any(e["kind"] == "points.pending" and e["points"] < 0 for e in reference.out)

    # Kills at any instant, and right before and right after the commit of a
    # tick that releases points (so that the release is applied again by the
    # recovery, or its batch re-read and re-sent).
    position = {sid: i for i, (sid, _) in enumerate(entries)}
    release_ticks = sorted({position[src] for _, src in released})
    crasher = Crasher(env, seed=7)
    pusher = PacedPusher(env.redis.port, entries, rate=300)
    env.daemon.start()
    pusher.start()
    cycle = at_release = 0
    while crasher.kills < RELEASE_KILLS_MIN or pusher.is_alive():
        ahead = [i for i in release_ticks if i > pusher.committed(env.r) + 1]
        if cycle % 3 and ahead:
            crasher.kill_at_marker(env.r, entries[ahead[0] - (cycle % 3 == 1)][0])
            at_release += 1
        else:
            crasher.kill_after(0.4)  # any instant: a read, an apply, a commit in flight
        crasher.start()
        cycle += 1
        assert cycle < 10 * RELEASE_KILLS_MIN, "the load did not finish"
    pusher.finish()
    env.daemon.wait_healthy()
    env.wait_applied(entries[-1][0], timeout=60)
    assert at_release >= 4, f"{at_release} kills next to a release"

    actual = Outcome(env, env.daemon, env.r, members)
    assert_matches(actual, reference)
    got = Counter((e["member"], e["src"]) for e in actual.out if e.get("cause") == "release")
    assert sorted(got) == sorted(released) and set(got.values()) == {1}
    for m in members:
        assert actual.members[m]["pending"] == reference.members[m]["pending"], m
