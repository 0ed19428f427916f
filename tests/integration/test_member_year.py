"""A year (and a bit) of one member's life, through the real daemon.

The member enrols on 2026-06-02 with a birthday and a referrer, buys through
the summer (first-purchase bonus, the referrer's bonus, a sale over the
per-sale cap, silver then gold), gets a birthday bonus in September, buys
wine on Black Friday, reaches the 10th-purchase milestone, redeems from the
catalog, returns part of a sale, goes quiet after December (at risk, lapsed),
is reviewed on the anniversary (grace, then down one level), loses the points
of June 2026 on 2027-07-01 and comes back in July 2027 (reactivated). Time
passes only through the `tick` entries the test appends (tick_interval_ms 0).

Every published event is compared with lifekit's model of the documented
rules (kind, fields, order, ids `<src>:<n>`); the numbers the conf comments and
README work out are also asserted by hand, on the daemon's own events.
"""
import pytest

from harness import by_src
from lifekit import DAY_MS, Book, Script, World, assert_view, utc_ms

LIFE, REF = "life-0001", "ref-0001"
STORE = "store_001"  # not one of spring_bonus's stores

# The catalog's limited item, with a stock of one so that a member can see it
# run out (the shipped conf has 40).
STOCK = ("cost_points = 2500; stock = 40;", "cost_points = 2500; stock = 1;")


@pytest.fixture
def life(make_env):
    env = make_env(start=False)
    text = env.conf_path.read_text()
    assert text.count(STOCK[0]) == 1, "conf/loyaltyd.conf's wine_tasting changed"
    env.rewrite_conf(text.replace(*STOCK))
    env.daemon.start()
    return Script(env, World(Book(env.conf_path.read_text())), tick_first=True)


class Clock:
    """Weekly ticks (Wednesdays 06:00 UTC) up to each entry the test pushes."""

    def __init__(self, script, first):
        self.script = script
        self.next = first
        self.ticks = []

    def until(self, ts):
        while self.next < ts:
            self.tick(self.next)
            self.next += 7 * DAY_MS

    def tick(self, ts):
        self.until(ts)
        sid, events = self.script.push("tick", ts)
        self.ticks.append((ts, sid))
        return sid, events

    def push(self, kind, ts, **fields):
        self.until(ts)
        return self.script.push(kind, ts, **fields)


def lookup(script, member):
    """GET /v1/members/ID once the daemon has applied everything pushed, and
    checked against the model."""
    script.settle()
    view = script.env.member(member)
    assert_view(view, script.world.view(member))
    return view


def only(events, kind, **match):
    found = [e for e in events if e["kind"] == kind and
             all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (kind, match, events)
    return found[0]


def test_a_member_year_publishes_every_event_the_rules_document(life):
    book = life.world.book
    gold, silver = book.tier_index("gold"), book.tier_index("silver")
    clock = Clock(life, utc_ms(2026, 6, 3, 6))
    sids = {}

    def buy(name, ts, amount, lines=None):
        sids[name], _ = clock.push("purchase", ts, txn=name, member=LIFE, store=STORE,
                                   amount=amount, lines=lines)

    # -- June 2026: enrolment, first purchase, silver, the cap, gold ----------
    clock.push("enroll", utc_ms(2026, 6, 1, 9), txn="enrol-ref", member=REF)
    clock.push("enroll", utc_ms(2026, 6, 2, 10), txn="enrol-life", member=LIFE,
               birthday="09-14", referrer=REF)
    buy("p01", utc_ms(2026, 6, 5, 12), 12000)
    buy("p02", utc_ms(2026, 6, 12, 12), 45000,
        [dict(sku="F1", cat="fresh", qty=2, amount=20000),
         dict(sku="H1", cat="home", qty=1, amount=25000)])
    # 2500.00 of wine at silver: 250000 * 2 * 1.25 / 100 = 6250 points, capped.
    buy("p03", utc_ms(2026, 6, 20, 12), 250000,
        [dict(sku="W1", cat="wine", qty=24, amount=250000)])
    view = lookup(life, LIFE)
    assert (view["tier"], view["balance"], view["qualifying"]) == ("gold", 5770, 5670)
    assert view["next_tier"] == dict(name="platinum", threshold=10000, remaining=4330)
    assert view["next_review_ts"] == utc_ms(2027, 6, 2)  # the first anniversary
    assert view["expiring"] == {"30": 0, "60": 0, "90": 0, "next_ts": utc_ms(2027, 7, 1)}
    assert (view["segment"], view["stage"], view["value_class"]) == ("potential", "new", "key")
    assert view["rfm"] == [5, 2, 4] and view["clv"] == 307000 - 2000
    ref = lookup(life, REF)
    assert (ref["balance"], ref["value_class"], ref["segment"]) == (250, "low", "hibernating")
    sids["scan"], _ = clock.push("scan", utc_ms(2026, 6, 21, 9), member=LIFE, store="door_7")

    # -- July to October: small sales, the birthday month, a redemption ------
    buy("p04", utc_ms(2026, 7, 15, 12), 2000)
    buy("p05", utc_ms(2026, 8, 10, 12), 1500)
    buy("p06", utc_ms(2026, 9, 3, 12), 3000)   # in the birthday month: +200
    buy("p07", utc_ms(2026, 9, 20, 12), 1000)  # same month: no second bonus
    buy("p08", utc_ms(2026, 10, 15, 12), 2500)
    sids["cinema"], _ = clock.push("redeem", utc_ms(2026, 10, 20, 12), txn="r-cinema",
                                   member=LIFE, reward="cinema_ticket")

    # -- Black Friday (the conf comment's basket), the 10th purchase, refunds -
    buy("p09", utc_ms(2026, 11, 28, 12), 5983,
        [dict(sku="W2", cat="wine", qty=1, amount=3999),
         dict(sku="F2", cat="fresh", qty=1, amount=1235),
         dict(sku="B1", cat="bakery", qty=1, amount=749)])
    buy("p10", utc_ms(2026, 12, 5, 12), 4000)
    sids["refund1"], _ = clock.push("refund", utc_ms(2026, 12, 10, 12), txn="f1",
                                    orig_txn="p09", member=LIFE, amount=2000)
    sids["refund2"], _ = clock.push("refund", utc_ms(2026, 12, 20, 12), txn="f2",
                                    orig_txn="p09", member=LIFE, amount=1000)

    # -- 2027: the catalog, going quiet ----------------------------------------
    sids["tasting1"], _ = clock.push("redeem", utc_ms(2027, 1, 10, 12), txn="r-tasting-1",
                                     member=LIFE, reward="wine_tasting")
    sids["tasting2"], _ = clock.push("redeem", utc_ms(2027, 2, 10, 12), txn="r-tasting-2",
                                     member=LIFE, reward="wine_tasting")
    sids["ref_voucher"], _ = clock.push("redeem", utc_ms(2027, 2, 11, 12), txn="r-ref-1",
                                        member=REF, reward="voucher_5")
    clock.tick(utc_ms(2027, 5, 15, 6))
    view = lookup(life, LIFE)
    # June 2026's points (5770 less 1200 + 105 + 53 + 2500 spent, oldest
    # first) expire on 2027-07-01, within 60 days; July's 30 within 90.
    assert view["expiring"] == {"30": 0, "60": 1912, "90": 1912 + 30,
                                "next_ts": utc_ms(2027, 7, 1)}
    assert view["stage"] == "at_risk"

    # -- The anniversary review, expiry, the end of grace ----------------------
    sids["review"], _ = clock.tick(utc_ms(2027, 6, 2, 0, 0, 30))
    view = lookup(life, LIFE)
    assert view["tier"] == "gold" and view["qualifying"] < book.tiers[silver]["threshold"]
    assert view["grace_until_ts"] == utc_ms(2027, 7, 2)
    assert view["next_review_ts"] == utc_ms(2028, 6, 2)
    sids["before_expiry"], _ = clock.tick(utc_ms(2027, 6, 30, 23, 59, 59))
    sids["expiry"], _ = clock.tick(utc_ms(2027, 7, 1, 0, 0, 30))
    sids["grace"], _ = clock.tick(utc_ms(2027, 7, 2, 0, 0, 30))
    view = lookup(life, LIFE)
    assert view["tier"] == "silver" and view["grace_until_ts"] is None

    # -- Coming back ------------------------------------------------------------
    buy("p11", utc_ms(2027, 7, 20, 12), 5000)
    clock.until(utc_ms(2027, 9, 1))
    view = lookup(life, LIFE)
    assert (view["stage"], view["tier"], view["purchases"]) == ("reactivated", "silver", 11)
    for key in ("rfm", "segment", "stage", "value_class", "clv", "expiring", "next_tier"):
        assert key in view, key
    ref = lookup(life, REF)
    assert (ref["balance"], ref["stage"], ref["segment"]) == (0, "lapsed", "hibernating")

    # Every event the daemon published, against the model, entry by entry.
    events = life.check()
    assert {e["kind"] for e in events} == {
        "points.changed", "tier.changed", "reward.issued", "redeem.result", "perk.triggered",
        "points.expired", "segment.changed"}

    # -- The same story's numbers, worked out by hand on the daemon's events --
    def of(name):
        return by_src(events, sids[name])

    first = of("p01")
    assert [(e["member"], e["cause"], e["delta"], e["balance"]) for e in first
            if e["kind"] == "points.changed"] == [
        (LIFE, "purchase", 120, 120), (LIFE, "bonus", 100, 220), (REF, "bonus", 250, 250)]
    assert only(of("p02"), "tier.changed")["to"] == "silver"
    capped = only(of("p03"), "points.changed")
    assert 250000 * 2 * 12500 // (100 * 10000) == 6250 > book.txn_cap == capped["delta"]
    assert only(of("p03"), "tier.changed")["to"] == "gold"
    assert [(e["reward"], e["count"]) for e in of("p03") if e["kind"] == "reward.issued"] == [
        ("voucher_5", 5)]  # five at once, in one event
    assert [(e["perk"], e["tier"], e["store"]) for e in of("scan")] == [
        ("free_delivery", "gold", "door_7"), ("priority_service", "gold", "door_7")]
    assert only(of("p06"), "points.changed", cause="bonus")["delta"] == book.birthday_bonus
    assert only(of("p06"), "reward.issued")["reward"] == "voucher_5"  # 6067 points earned
    assert [e["cause"] for e in of("p07") if e["kind"] == "points.changed"] == ["purchase"]
    cinema = of("cinema")
    assert [e["kind"] for e in cinema] == ["points.changed", "reward.issued", "redeem.result"]
    assert cinema[0]["delta"] == -1200 and cinema[1]["cost"] == 1200
    assert cinema[2]["ok"] is True and "error" not in cinema[2]
    # conf: a gold member's wine 39.99, fresh 12.35, bakery 7.49 on Black
    # Friday earns floor(239.94 + 55.575 + 22.47) = 317.
    assert only(of("p09"), "points.changed")["delta"] == 317
    assert only(of("p10"), "reward.issued")["reward"] == "free_coffee"
    # 317 points over 59.83, refunded 20.00 then 10.00, cumulatively floored.
    assert only(of("refund1"), "points.changed")["delta"] == -(317 * 2000 // 5983) == -105
    assert only(of("refund2"), "points.changed")["delta"] == -(317 * 3000 // 5983 - 105) == -53
    assert [e["kind"] for e in of("tasting1")] == [
        "points.changed", "reward.issued", "redeem.result"]
    tasting2 = only(of("tasting2"), "redeem.result")
    assert (tasting2["ok"], tasting2["error"]) == (False, "out_of_stock")
    voucher = only(of("ref_voucher"), "redeem.result")
    assert (voucher["ok"], voucher["error"], voucher["balance"]) == (
        False, "insufficient_points", 250)
    assert not [e for e in of("before_expiry") if e["kind"] == "points.expired"]
    expired = {e["member"]: e for e in of("expiry") if e["kind"] == "points.expired"}
    assert expired[LIFE]["points"] == 5770 - 1200 - 105 - 53 - 2500 == 1912
    assert expired[REF]["points"] == 250 and expired[REF]["balance"] == 0
    assert [(e["cause"], e["delta"]) for e in of("expiry") if e["kind"] == "points.changed"
            and e["member"] == LIFE] == [("expiry", -1912)]
    assert not [e for e in of("review") if e["kind"] == "tier.changed"]  # grace first
    down = only(of("grace"), "tier.changed")
    assert (down["from"], down["to"], down["reason"]) == ("gold", "silver", "review")
    assert gold - silver == 1
    stages = [(e["from"], e["to"]) for e in events if e["kind"] == "segment.changed"
              and e["member"] == LIFE and e["dimension"] == "stage"]
    assert stages == [("new", "active"), ("active", "at_risk"), ("at_risk", "lapsed"),
                      ("lapsed", "reactivated")]
    back = only(of("p11"), "segment.changed", dimension="stage")
    assert back["to"] == "reactivated"


def test_a_refund_takes_back_only_the_qualifying_points_its_sale_added(make_env):
    env = make_env()
    script = Script(env, World(Book(env.conf_path.read_text())), tick_first=True)
    script.push("enroll", utc_ms(2027, 3, 1, 9), txn="e", member=LIFE)
    script.push("purchase", utc_ms(2027, 3, 10, 12), txn="p0", member=LIFE, store=STORE,
                amount=30000)
    # conf: "A 62.10 sale at store_027 on 2027-03-15 by a blue member earns
    # floor(6210 / 100) = 62 points plus the 100 bonus points".
    _, sale = script.push("purchase", utc_ms(2027, 3, 15, 12), txn="p1", member=LIFE,
                          store="store_027", amount=6210)
    assert [(e["cause"], e["delta"]) for e in sale if e["kind"] == "points.changed"] == [
        ("purchase", 62), ("bonus", 100)]
    assert lookup(script, LIFE)["qualifying"] == 300 + 62
    # The refund takes back the sale's purchase and campaign points (README,
    # conf refunds), and the 62 qualifying points the sale added.
    _, refund = script.push("refund", utc_ms(2027, 3, 16, 12), txn="f1", orig_txn="p1",
                            member=LIFE, amount=6210)
    assert [(e["cause"], e["delta"]) for e in refund] == [("refund", -162)]
    script.check()
    assert lookup(script, LIFE)["qualifying"] == 300
