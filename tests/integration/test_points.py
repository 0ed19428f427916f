"""Points, tiers, perks, redemptions, retries and refunds, driven through the
input stream of a real daemon and checked on loyalty:out, loyalty:dlq and
the HTTP API. Expected numbers come from conf/loyaltyd.conf (harness.Rulebook),
run without the bonuses and caps that would add to the base formula."""
import msgpack
import pytest

from harness import by_src, points_events


@pytest.fixture
def env(make_env):
    """This module's daemon earns by the base formula: no bonuses, no caps."""
    return make_env(plain=True)


# Fields of the member view that only the member's own entries change (others,
# like points expiring within N days, move with the engine clock).
OWNED = ("balance", "lifetime_points", "tier", "perks", "qualifying", "purchases",
         "last_purchase_ts", "enrolled_ts")


def owned(view):
    return {k: view[k] for k in OWNED}


def enroll(env, *members):
    sid = None
    for m in members:
        sid = env.push(kind="enroll", txn=f"enroll-{m}", member=m)
    return sid


def purchase_events(events, sid):
    return [e for e in by_src(events, sid) if e["kind"] == "points.changed" and
            e["cause"] == "purchase"]


def test_balance_in_points_changed_events_is_the_running_sum_and_matches_http(env):
    rb = env.rules
    members = ["alice", "bob", "carol"]
    enroll(env, *members)
    # A script per member; redeems and adjusts are sized to stay covered.
    script = [
        ("alice", dict(kind="purchase", store="s1", amount=12345)),
        ("bob", dict(kind="purchase", store="s2", amount=999)),
        ("alice", dict(kind="redeem", points=100)),
        ("carol", dict(kind="purchase", store="s1", amount=70000)),
        ("bob", dict(kind="adjust", points=25, reason="goodwill")),
        ("alice", dict(kind="purchase", store="s3", amount=45678)),
        ("carol", dict(kind="redeem", points=650)),
        ("bob", dict(kind="adjust", points=-10, reason="correction")),
        ("alice", dict(kind="redeem", points=1)),
        ("carol", dict(kind="purchase", store="s2", amount=5999)),
    ]
    expected = {m: 0 for m in members}
    qualifying = {m: 0 for m in members}
    sid = None
    for i, (member, fields) in enumerate(script):
        sid = env.push(txn=f"t{i}", member=member, **fields)
        if fields["kind"] == "purchase":
            earned = rb.earn(fields["amount"], rb.tier_for(qualifying[member]))
            expected[member] += earned
            qualifying[member] += earned
        elif fields["kind"] == "redeem":
            expected[member] -= fields["points"]
        else:
            expected[member] += fields["points"]
    env.wait_applied(sid)
    events = env.read_out()
    for member in members:
        changes = points_events(events, member)
        assert changes, f"no points.changed for {member}"
        running = 0
        for ev in changes:
            running += ev["delta"]
            assert ev["balance"] == running, (member, ev)
        assert running == expected[member], (member, running, expected[member])
        assert env.member(member)["balance"] == expected[member]
    assert env.read_dlq() == []


def test_output_ids_derive_from_the_source_entry_and_its_position(env):
    enroll(env, "dora")
    env.push(kind="adjust", txn="boost", member="dora", points=3000, reason="test")
    sid = env.push(kind="purchase", txn="big", member="dora", store="s1",
                   amount=env.rules.amount_for(env.rules.tiers[1]["threshold"], 0))
    env.wait_applied(sid)
    events = by_src(env.read_out(), sid)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "points.changed" and "tier.changed" in kinds, kinds
    assert [e["id"] for e in events] == [f"{sid}:{n}" for n in range(len(events))]
    for e in events:
        assert e["v"] == 1 and e["member"] == "dora" and isinstance(e["ts"], int)


def test_tier_upgrade_at_the_configured_threshold_publishes_tier_changed(env):
    rb = env.rules
    enroll(env, "erin")
    tier, qualifying, n = 0, 0, 0
    for target in range(1, len(rb.tiers)):
        threshold = rb.tiers[target]["threshold"]
        below = threshold - 1 - qualifying
        if below > 0:  # up to one point short: no upgrade yet
            amount = rb.amount_for(below, tier)
            assert rb.earn(amount, tier) == below, "pick amounts that earn exactly"
            n += 1
            sid = env.push(kind="purchase", txn=f"p{n}", member="erin", store="s1",
                           amount=amount)
            env.wait_applied(sid)
            events = by_src(env.read_out(), sid)
            assert [e["kind"] for e in events if e["kind"] == "tier.changed"] == []
            assert purchase_events(events, sid)[0]["delta"] == below
            qualifying += below
            assert env.member("erin")["tier"] == rb.tiers[tier]["name"]
        # The sale that reaches the threshold earns at the old multiplier and
        # moves the member up at once.
        amount = rb.amount_for(1, tier)
        n += 1
        sid = env.push(kind="purchase", txn=f"p{n}", member="erin", store="s1", amount=amount)
        env.wait_applied(sid)
        events = by_src(env.read_out(), sid)
        assert purchase_events(events, sid)[0]["delta"] == rb.earn(amount, tier) == 1
        qualifying += 1
        changes = [e for e in events if e["kind"] == "tier.changed"]
        assert len(changes) == 1, events
        assert changes[0]["from"] == rb.tiers[tier]["name"]
        assert changes[0]["to"] == rb.tiers[target]["name"]
        assert changes[0]["reason"] == "upgrade"
        tier = target
        view = env.member("erin")
        assert view["tier"] == rb.tiers[tier]["name"]
        assert view["perks"] == rb.tiers[tier]["perks"]
        # The next sale earns at the new multiplier.
        amount = 5999
        assert rb.earn(amount, tier) != rb.earn(amount, tier - 1)
        n += 1
        sid = env.push(kind="purchase", txn=f"p{n}", member="erin", store="s1", amount=amount)
        env.wait_applied(sid)
        events = by_src(env.read_out(), sid)
        assert purchase_events(events, sid)[0]["delta"] == rb.earn(amount, tier)
        qualifying += rb.earn(amount, tier)
        if target + 1 < len(rb.tiers):
            assert qualifying < rb.tiers[target + 1]["threshold"], "test amounts too large"
    assert env.member("erin")["qualifying"] == qualifying


def test_worked_example_of_the_conf_file_gold_member_earns_89_points_on_5999(env):
    rb = env.rules
    gold = [t["name"] for t in rb.tiers].index("gold")
    enroll(env, "gus")
    sid = env.push(kind="purchase", txn="g1", member="gus", store="s1",
                   amount=rb.amount_for(rb.tiers[gold]["threshold"], 0))
    env.wait_applied(sid)
    assert env.member("gus")["tier"] == "gold"
    sid = env.push(kind="purchase", txn="g2", member="gus", store="s1", amount=5999)
    env.wait_applied(sid)
    assert purchase_events(env.read_out(), sid)[0]["delta"] == 89


def test_scan_publishes_one_perk_triggered_per_perk_of_the_members_tier(env):
    rb = env.rules
    members = [f"scan{i}" for i in range(len(rb.tiers))]
    enroll(env, *members)
    for i, member in enumerate(members):
        if i > 0:
            env.push(kind="purchase", txn=f"up{i}", member=member, store="s0",
                     amount=rb.amount_for(rb.tiers[i]["threshold"], 0))
    scans = {m: env.push(kind="scan", member=m, store=f"door{i}")
             for i, m in enumerate(members)}
    env.wait_applied(scans[members[-1]])
    events = env.read_out()
    for i, member in enumerate(members):
        assert env.member(member)["tier"] == rb.tiers[i]["name"]
        perks = by_src(events, scans[member])
        assert [e["kind"] for e in perks] == ["perk.triggered"] * len(rb.tiers[i]["perks"])
        assert [e["perk"] for e in perks] == rb.tiers[i]["perks"]
        for e in perks:
            assert (e["tier"], e["store"], e["member"]) == (rb.tiers[i]["name"], f"door{i}",
                                                             member)
    assert any(rb.tiers[i]["perks"] for i in range(len(rb.tiers))), "conf has no perks"


def test_redeem_with_a_short_balance_is_refused_and_changes_nothing(env):
    enroll(env, "hal")
    env.push(kind="purchase", txn="p1", member="hal", store="s1", amount=10000)
    before = env.push(kind="scan", member="hal", store="s1")
    env.wait_applied(before)
    view_before = owned(env.member("hal"))
    assert view_before["balance"] == 100
    sid = env.push(kind="redeem", txn="r1", member="hal", points=101)
    env.wait_applied(sid)
    events = by_src(env.read_out(), sid)
    assert len(events) == 1, events
    result = events[0]
    assert result["kind"] == "redeem.result"
    assert (result["ok"], result["error"], result["balance"], result["txn"]) == \
        (False, "insufficient_points", 100, "r1")
    assert owned(env.member("hal")) == view_before
    # The whole balance can be spent.
    sid = env.push(kind="redeem", txn="r2", member="hal", points=100)
    env.wait_applied(sid)
    events = by_src(env.read_out(), sid)
    assert [(e["kind"], e.get("delta"), e["balance"]) for e in events] == \
        [("points.changed", -100, 0), ("redeem.result", None, 0)]
    assert events[1]["ok"] is True and "error" not in events[1]
    assert env.member("hal")["balance"] == 0


def test_pos_retry_of_the_same_purchase_changes_the_balance_once(env):
    enroll(env, "ivy")
    first = env.push(kind="purchase", txn="till7-0001", member="ivy", store="s1", amount=2500)
    retry = env.push(kind="purchase", txn="till7-0001", member="ivy", store="s1", amount=2500)
    env.wait_applied(retry)
    events = env.read_out()
    assert len(purchase_events(events, first)) == 1
    assert by_src(events, retry) == []
    assert env.member("ivy")["balance"] == 25
    assert env.member("ivy")["purchases"] == 1
    assert env.daemon.metrics()["loyalty_entries_duplicate_total"] == 1
    assert env.read_dlq() == []


def test_retried_redeem_gets_the_same_redeem_result_again(env):
    enroll(env, "jay")
    env.push(kind="purchase", txn="p1", member="jay", store="s1", amount=30000)
    ok1 = env.push(kind="redeem", txn="r-ok", member="jay", points=120)
    short1 = env.push(kind="redeem", txn="r-short", member="jay", points=5000)
    # More points arrive; the retried short redeem still gets its original answer.
    env.push(kind="adjust", txn="a1", member="jay", points=10000, reason="promo")
    ok2 = env.push(kind="redeem", txn="r-ok", member="jay", points=120)
    short2 = env.push(kind="redeem", txn="r-short", member="jay", points=5000)
    env.wait_applied(short2)
    events = env.read_out()

    def result(sid):
        found = [e for e in by_src(events, sid) if e["kind"] == "redeem.result"]
        assert len(found) == 1, by_src(events, sid)
        return {k: v for k, v in found[0].items() if k not in ("id", "src", "ts", "_sid")}

    assert result(ok2) == result(ok1)
    assert result(ok1)["ok"] is True and result(ok1)["balance"] == 300 - 120
    assert result(short2) == result(short1)
    assert result(short1)["error"] == "insufficient_points"
    assert [e["kind"] for e in by_src(events, ok2)] == ["redeem.result"]
    assert env.member("jay")["balance"] == 300 - 120 + 10000


def test_refund_reverses_points_in_proportion_and_never_more_than_the_sale_earned(env):
    rb = env.rules
    enroll(env, "kim")
    amount = 1999
    sale = env.push(kind="purchase", txn="sale", member="kim", store="s1", amount=amount)
    env.wait_applied(sale)
    earned = purchase_events(env.read_out(), sale)[0]["delta"]
    assert earned == rb.earn(amount, 0) == 19
    parts = [150, 1, 333, 500, 14, 700, 301]
    assert sum(parts) == amount
    refunded, reversed_so_far, sids = 0, 0, []
    for i, part in enumerate(parts):
        refunded += part
        sids.append(env.push(kind="refund", txn=f"ref{i}", orig_txn="sale", member="kim",
                             amount=part))
    over = env.push(kind="refund", txn="ref-over", orig_txn="sale", member="kim", amount=1)
    env.wait_applied(over)
    events = env.read_out()
    refunded = 0
    for sid, part in zip(sids, parts):
        refunded += part
        want = earned * refunded // amount - reversed_so_far
        got = [e for e in by_src(events, sid) if e["kind"] == "points.changed"]
        assert sum(-e["delta"] for e in got) == want, (sid, part, got)
        assert all(e["cause"] == "refund" for e in got)
        reversed_so_far += want
        assert reversed_so_far <= earned
    assert reversed_so_far == earned
    assert env.member("kim")["balance"] == 0
    dlq = env.read_dlq()
    assert [(d["src"], d["reason"]) for d in dlq] == [(over, "refund_exceeds_sale")]


def test_refund_of_an_unknown_sale_goes_to_the_dlq(env):
    enroll(env, "lee", "max")
    env.push(kind="purchase", txn="lee-sale", member="lee", store="s1", amount=5000)
    wrong_member = env.push(kind="refund", txn="rf1", orig_txn="lee-sale", member="max",
                            amount=100)
    no_sale = env.push(kind="refund", txn="rf2", orig_txn="never", member="lee", amount=100)
    env.wait_applied(no_sale)
    assert [(d["src"], d["reason"]) for d in env.read_dlq()] == \
        [(wrong_member, "unknown_sale"), (no_sale, "unknown_sale")]
    assert env.member("lee")["balance"] == 50
    assert by_src(env.read_out(), wrong_member) == []


def test_entries_for_an_unknown_member_go_to_the_dlq_as_unknown_member(env):
    enroll(env, "known")
    bad = [
        dict(kind="purchase", txn="x1", member="ghost", store="s1", amount=1000),
        dict(kind="redeem", txn="x2", member="ghost", points=10),
        dict(kind="adjust", txn="x3", member="ghost", points=10, reason="r"),
        dict(kind="scan", member="ghost", store="s1"),
        dict(kind="refund", txn="x4", orig_txn="x1", member="ghost", amount=10),
    ]
    pushed = []
    for fields in bad:
        raw = msgpack.packb(env.entry(**fields))
        pushed.append((env.push_raw(raw), raw))
    last = env.push(kind="purchase", txn="k1", member="known", store="s1", amount=1000)
    env.wait_applied(last)
    dlq = env.read_dlq()
    assert [(d["src"], d["reason"], d["m"]) for d in dlq] == \
        [(sid, "unknown_member", raw) for sid, raw in pushed]
    assert all("ghost" in d["detail"] for d in dlq)
    events = env.read_out()
    assert all(e["member"] != "ghost" for e in events)
    status, body = env.http_get("/v1/members/ghost")
    assert status == 404 and body["error"]
    assert env.member("known")["balance"] == 10


def test_enrolling_a_member_twice_goes_to_the_dlq_and_keeps_the_first(env):
    enroll(env, "nia")
    env.push(kind="purchase", txn="n1", member="nia", store="s1", amount=700)
    again = env.push(kind="enroll", txn="enroll-again", member="nia")
    env.wait_applied(again)
    assert [(d["src"], d["reason"]) for d in env.read_dlq()] == [(again, "member_exists")]
    assert env.member("nia")["balance"] == 7
