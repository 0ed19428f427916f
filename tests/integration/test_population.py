"""A population through the real daemon: a few hundred members with varied
purchase histories (steady buyers, members who stop, members who come back
after lapsing, one-off buyers, members who never buy, big spenders, late
joiners), aged with one `tick` a day over 18 months of event time.

Checked: every published event against lifekit's model of the documented
rules; the lifecycle boundaries of conf/loyaltyd.conf's segments section on
the daemon's own events (at risk after active_days, lapsed after lapsed_days,
each within one tick of its boundary; reactivated on the purchase that ends a
lapse, for reactivated_days); GET /v1/segments against a recount of every
member's lookup and against /metrics; value classes against the documented
share-of-spend rule.

Each entry is preceded by a tick at its own ts (lifekit.Script's tick_first),
so that the daemon never finds a member due between two entries: it would
then append a tick of its own, stamped with its wall clock, although
tick_interval_ms is 0. That bug is pinned down by the last test here.
"""
import random
import time
from collections import Counter

import pytest

from lifekit import (DAY_MS, STAGES, Book, Script, World, assert_view, month_of, month_start,
                     utc_ms)

MEMBERS = 300
START = utc_ms(2026, 6, 1)
MIDDLE = utc_ms(2027, 3, 1)
END = utc_ms(2027, 12, 1)  # 18 months of ticks
TICK_MS = DAY_MS  # one tick a day, at 00:00 UTC; sales happen 08:00..20:00
PROFILES = dict(steady=30, stopper=25, returner=20, once=8, never=7, big=5, late=5)


def day_time(rnd, day_ts):
    return day_ts + rnd.randrange(8 * 3600, 20 * 3600) * 1000


def sale_fields(rnd, member, n, big):
    amount = rnd.randint(50000, 300000) if big else rnd.randint(500, 30000)
    fields = dict(txn=f"{member}-p{n}", member=member, store=f"store_{rnd.randint(1, 40):03d}",
                  amount=amount)
    if big or rnd.random() < 0.3:
        wine = rnd.randint(0, amount)
        cat = rnd.choice(["fresh", "tobacco", "home"])
        fields["lines"] = [dict(sku="W", cat="wine", qty=1, amount=wine),
                           dict(sku="X", cat=cat, qty=2, amount=amount - wine)]
    return fields


class Population:
    """A deterministic population: entries (ts, kind, fields) and, per member,
    its profile and the ts of its purchases."""

    def __init__(self, seed):
        rnd = random.Random(seed)
        self.entries = []
        self.profile = {}
        self.purchases = {}
        names = list(PROFILES)
        kinds = rnd.choices(names, weights=[PROFILES[n] for n in names], k=MEMBERS)
        joins = sorted((day_time(rnd, utc_ms(2027, 1, 4) + rnd.randrange(100) * DAY_MS)
                        if kind == "late" else
                        day_time(rnd, START + rnd.randrange(90) * DAY_MS), i)
                       for i, kind in enumerate(kinds))
        enrolled = []
        for ts, i in joins:
            member = f"m{i:03d}"
            self.profile[member] = kinds[i]
            fields = dict(txn=f"{member}-e", member=member)
            if rnd.random() < 0.4:
                fields["birthday"] = f"{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            if enrolled and rnd.random() < 0.2:
                fields["referrer"] = rnd.choice(enrolled)
            enrolled.append(member)
            self.entries.append((ts, "enroll", fields))
            self.purchases[member] = self._history(rnd, member, kinds[i], ts)

    def _history(self, rnd, member, kind, joined):
        day0 = joined - joined % DAY_MS
        days = []
        if kind in ("steady", "late", "big", "stopper"):
            stop = {"big": 130, "stopper": rnd.randrange(20, 150)}.get(kind, 10_000)
            d = rnd.randrange(0, 10)
            while d < stop and day0 + d * DAY_MS < END - DAY_MS:
                days.append(d)
                d += rnd.randrange(7, 40)
        elif kind == "returner":
            d = rnd.randrange(0, 10)
            while d < 60:
                days.append(d)
                d += rnd.randrange(10, 30)
            d = days[-1] + rnd.randrange(185, 260)  # lapses, then comes back
            while day0 + d * DAY_MS < END - DAY_MS:
                days.append(d)
                d += rnd.randrange(7, 30)
        elif kind == "once":
            days.append(rnd.randrange(0, 60))
        times = [day_time(rnd, day0 + d * DAY_MS) for d in days]
        times = [t for t in times if t > joined]
        for n, ts in enumerate(times):
            sale = sale_fields(rnd, member, n, kind == "big")
            self.entries.append((ts, "purchase", sale))
            roll = rnd.random()
            if roll < 0.06:  # part of it comes back within the POS window
                self.entries.append((ts + rnd.randrange(1, 20) * DAY_MS, "refund", dict(
                    txn=f"{member}-f{n}", orig_txn=sale["txn"], member=member,
                    amount=rnd.randint(1, sale["amount"]))))
            elif roll < 0.12:
                reward = rnd.choice(["voucher_5", "cinema_ticket", "wine_tasting"])
                self.entries.append((ts + 3600_000, "redeem", dict(
                    txn=f"{member}-r{n}", member=member, reward=reward)))
            elif roll < 0.16:
                self.entries.append((ts + 60_000, "scan", dict(member=member, store="door")))
        return times

    def timeline(self):
        """Every entry and a tick at each midnight, in event-time order."""
        ticks = [(t, "tick", {}) for t in range(START + DAY_MS, END + 1, TICK_MS)]
        return sorted(self.entries + ticks, key=lambda e: e[0])


def stage_moves(events, member):
    return [(e["ts"], e["from"], e["to"], e["src"]) for e in events
            if e["kind"] == "segment.changed" and e["dimension"] == "stage" and
            e["member"] == member]


def recount(env, script):
    """Every member's lookup (checked against the model) and their counts per
    dimension, next to GET /v1/segments and the /metrics gauges."""
    views = {}
    for member in script.world.members:
        views[member] = env.member(member)
        assert_view(views[member], script.world.view(member))
    status, seg = env.http_get("/v1/segments")
    assert status == 200, seg
    metrics = env.daemon.metrics()
    book = script.world.book
    names = dict(tier=book.tier_names(), segment=[s[0] for s in book.segments],
                 stage=list(STAGES),
                 value_class=book.value_classes)
    assert seg["members"] == len(views) > 0
    for dim, keys in names.items():
        counted = Counter(v[dim] for v in views.values())
        assert sorted(seg[dim]) == sorted(keys), dim
        assert sum(seg[dim].values()) == len(views), (dim, seg[dim])
        assert {k: n for k, n in seg[dim].items() if n} == dict(counted), (dim, seg[dim])
        gauges = {k: metrics[f'loyalty_members_by_{dim}{{{dim}="{k}"}}'] for k in keys}
        assert gauges == {k: float(n) for k, n in seg[dim].items()}, dim
    return views, seg


def assert_value_classes(book, views):
    """Members sorted by window spend: the top ones making the first 50% of
    all spend are "key", and so on (a histogram in quarter-power-of-two steps
    decides, so the spend above a member is counted between the spend of those
    at least 1.25 times theirs and the spend of those above them at all)."""
    shares = [5000, 8000, 9500]  # value_classes' share_bp in conf/loyaltyd.conf
    assert [c["share_bp"] for c in book.seg["value_classes"][:3]] == shares
    spends = sorted((v["window_spend"] for v in views.values()), reverse=True)
    total = sum(spends)
    assert total > 0

    def cls(above):
        c = 0
        while c < len(shares) and above * 10000 >= total * shares[c]:
            c += 1
        return c

    order = book.value_classes
    for v in views.values():
        s, got = v["window_spend"], order.index(v["value_class"])
        if s == 0:
            assert v["value_class"] == order[-1], v
            continue
        surely_above = sum(x for x in spends if x >= s * 1.25)
        maybe_above = sum(x for x in spends if x > s)
        assert cls(surely_above) <= got <= cls(maybe_above), (v["member"], s, got)
    top = max(views.values(), key=lambda v: v["window_spend"])
    assert top["value_class"] == order[0]


def test_population_segments_over_eighteen_months(env):
    script = Script(env, World(Book(env.conf_path.read_text())), tick_first=True)
    pop = Population(seed=20260601)
    timeline = pop.timeline()
    split = next(i for i, e in enumerate(timeline) if e[0] >= MIDDLE)
    counts = []
    for part in (timeline[:split], timeline[split:]):
        for at in range(0, len(part), 500):
            script.push_many(part[at:at + 500])
        script.settle(timeout=60)
        views, seg = recount(env, script)
        assert_value_classes(script.world.book, views)
        counts.append(seg)
    middle = counts[0]
    assert seg["members"] == MEMBERS
    assert all(middle["stage"][s] or seg["stage"][s] for s in middle["stage"]), (middle, seg)
    events = script.check()
    kinds = {sid: kind for sid, kind, _, _ in script.expected}

    book = script.world.book
    active_ms = book.seg["active_days"] * DAY_MS
    lapsed_ms = book.seg["lapsed_days"] * DAY_MS
    react_ms = book.seg["reactivated_days"] * DAY_MS
    checked = Counter()
    for member, kind in pop.profile.items():
        moves = stage_moves(events, member)
        buys = pop.purchases[member]
        if kind == "stopper" and buys:
            last = buys[-1]
            after = [m for m in moves if m[0] > last and m[2] != "active"]
            assert [(ts, f, t) for ts, f, t, _ in after] == [
                (script.first_tick_after(last + active_ms), "active", "at_risk"),
                (script.first_tick_after(last + lapsed_ms), "at_risk", "lapsed")], (member, moves)
            checked["stopped"] += 1
        if kind == "returner":
            back = next(b for a, b in zip(buys, buys[1:]) if b - a > lapsed_ms)
            gone = max(b for b in buys if b < back)
            quiet = [(ts, f, t) for ts, f, t, _ in moves if gone < ts < back]
            assert quiet[-2:] == [
                (script.first_tick_after(gone + active_ms), "active", "at_risk"),
                (script.first_tick_after(gone + lapsed_ms), "at_risk", "lapsed")], (member, moves)
            # The purchase that ends the lapse moves the member, on its own entry.
            comeback = [(f, t, kinds[s]) for ts, f, t, s in moves if ts == back]
            assert comeback == [("lapsed", "reactivated", "purchase")], (member, moves)
            later = [(ts, f) for ts, f, t, _ in moves if ts > back]
            until = back + react_ms
            if until < END:
                # Reactivated for reactivated_days: it ends at the first tick or
                # purchase of the member at or after that (the stage is
                # reactivated while until > now).
                ends = min([script.first_tick_after(until - 1)] + [b for b in buys if b >= until])
                assert later[0] == (ends, "reactivated"), (member, moves)
            checked["returned"] += 1
    assert checked["stopped"] >= 30 and checked["returned"] >= 30, checked


def test_the_daemon_appends_no_tick_when_tick_interval_ms_is_0(env):
    # Event time 15 months before the daemon's wall clock, as when a test or a
    # backfill drives time: the engine's clock must follow the entries alone.
    t0 = month_start(month_of(int(time.time() * 1000)) - 15) + 12 * 3600_000
    env.push(kind="enroll", ts=t0, txn="e-a", member="a")
    env.push(kind="enroll", ts=t0, txn="e-b", member="b")
    # 40 days on, b's "new" stage (new_days = 30) is over: b is due, and no
    # tick was pushed. Each later purchase is pushed once the one before is
    # applied, so that anything the daemon appends meanwhile comes before it.
    sids = []
    for n, day in enumerate((40, 41, 42)):
        sids.append(env.push(kind="purchase", ts=t0 + day * DAY_MS, txn=f"p{n}", member="a",
                             store="s1", amount=10000))
        env.wait_applied(sids[-1])
    assert env.input_ids() == [sid for sid, _ in env.pushed], "the daemon appended entries"
    events = env.read_out()
    assert [e for e in events if e["kind"] == "points.expired"] == []
    assert env.member("a")["balance"] == 3 * 100 + 100  # three sales and the first one's bonus
