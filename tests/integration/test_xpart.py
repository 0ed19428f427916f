"""Across partitions (issue 17, README "Scaling out"): campaign budgets
shared out between partitions exactly, transfers between members of
different partitions (a debit, a credit relayed exactly once, a return for
an unknown receiver), rules pushed to every partition, and a rules entry
applied at its place while several batches are in flight.

One daemon serves P = 4 partitions of one standalone Redis: the partition
logic (keys <prefix>{p}:, crc32 mod P) is the same as on a cluster, where
test_cluster.py covers routing. Expected numbers come from the documented
rules, never from the daemon's own output."""
import msgpack

from harness import sid_key, wait_until
from lifekit import utc_ms
from test_partitions import P, key, members_in, push, wait_marker


def outputs(r, p):
    return [msgpack.unpackb(f[b"m"]) for _, f in r.xrange(key(p, "out"))]


# -- campaign budgets -----------------------------------------------------------

def share(budget, p, partitions=P):
    return budget // partitions + (1 if p < budget % partitions else 0)


def test_a_budget_is_shared_out_between_partitions_exactly(make_env):
    """holiday_2028: +200 a sale of 20.00 or more in December 2028, at most
    twice per member; a budget of 1001 over 4 partitions is 251, 250, 250,
    250. Each partition gives exactly its share, announces it exhausted
    once, and the program gives exactly 1001."""
    budget = 1001
    env = make_env(start=False, plain=True, partitions=P, serve='"all"',
                   budget_points=budget)
    env.daemon.start()
    t0 = utc_ms(2028, 12, 3, 10)
    last = {}
    for p in range(P):
        ms = members_in(p, 4)
        for m in ms:
            push(env.r, p, kind="enroll", txn=f"e-{m}", member=m, ts=t0)
        for i, m in enumerate(ms * 2):  # 8 qualifying sales: 1600 wanted
            last[p] = push(env.r, p, kind="purchase", txn=f"h-{m}-{i}", member=m,
                           store="s1", amount=2500, ts=t0 + 60000 * (i + 1))
    for p in range(P):
        wait_marker(env.r, p, last[p])
    total = 0
    for p in range(P):
        out = outputs(env.r, p)
        bonus = sum(o["delta"] for o in out
                    if o["kind"] == "points.changed" and o["cause"] == "bonus")
        assert bonus == share(budget, p), (p, bonus)
        exhausted = [o for o in out if o["kind"] == "campaign.exhausted"]
        assert len(exhausted) == 1 and exhausted[0]["campaign"] == "holiday_2028"
        total += bonus
    assert total == budget
    status, body = env.daemon.get("/v1/campaigns")
    assert status == 200
    holiday = [c for c in body["campaigns"] if c["name"] == "holiday_2028"][0]
    assert (holiday["given_points"], holiday["budget_points"],
            holiday["remaining_points"]) == (budget, budget, 0)


# -- transfers across partitions ----------------------------------------------------

def relayed(r, p, kind):
    """(txn, member) of partition p's input entries of `kind` (the relay's)."""
    found = []
    for _, f in r.xrange(key(p, "in")):
        m = msgpack.unpackb(f[b"m"])
        if m.get("kind") == kind:
            found.append((m["txn"], m["member"]))
    return found


def causes(r, p, member, cause):
    return [o["delta"] for o in outputs(r, p)
            if o["kind"] == "points.changed" and o.get("member") == member
            and o["cause"] == cause]


def test_transfers_cross_partitions_once_and_come_back_from_an_unknown_receiver(make_env):
    """S (partition 0) earns 1000 and gives R (partition 1) 300 and U
    (partition 2, never enrolled) 200: S is answered ok at once for both, R
    gets 300 once, the 200 come back to S once. Then the relay's markers are
    set back (as if it crashed before noting its progress) and the daemon
    restarted: the credit and the return are carried again, and recognised,
    so nothing moves twice."""
    env = make_env(start=False, plain=True, partitions=P, serve='"all"')
    env.daemon.start()
    (s,), (r,), (u,) = members_in(0, 1, stem="S"), members_in(1, 1, stem="R"), \
        members_in(2, 1, stem="U")
    t0 = utc_ms(2027, 3, 1, 10)
    push(env.r, 0, kind="enroll", txn="e-s", member=s, ts=t0)
    push(env.r, 0, kind="purchase", txn="p-s", member=s, store="s1", amount=100000, ts=t0)
    push(env.r, 1, kind="enroll", txn="e-r", member=r, ts=t0)
    push(env.r, 0, kind="transfer", txn="T1", member=s, to=r, points=300, ts=t0 + 1000)
    last = push(env.r, 0, kind="transfer", txn="T2", member=s, to=u, points=200, ts=t0 + 2000)
    wait_marker(env.r, 0, last)
    answers = {o["txn"]: o for o in outputs(env.r, 0) if o["kind"] == "transfer.result"}
    assert answers["T1"]["ok"] and answers["T2"]["ok"]
    assert answers["T2"]["balance"] == 500  # both debited at once
    wait_until(lambda: env.member(r)["balance"] == 300, what="R credited")
    wait_until(lambda: env.member(s)["balance"] == 700, what="S's 200 back")
    assert causes(env.r, 1, r, "transfer_in") == [300]
    assert causes(env.r, 0, s, "transfer_return") == [200]
    assert causes(env.r, 0, s, "transfer_out") == [-300, -200]
    assert relayed(env.r, 1, "transfer_credit") == [("T1", r)]
    assert relayed(env.r, 2, "transfer_credit") == [("T2", u)]
    assert relayed(env.r, 0, "transfer_return") == [("T2", s)]
    assert not env.r.xrange(key(2, "dlq")) and not env.r.xrange(key(1, "dlq"))
    # The relay noted its progress and trimmed what it carried.
    for p in (0, 2):
        marker = env.r.get(key(p, "xfer") + ":relayed")
        assert marker is not None
        assert all(sid_key(i) >= sid_key(marker) for i, _ in env.r.xrange(key(p, "xfer")))

    # A relay that lost its progress carries its entries again.
    assert env.daemon.stop() == 0
    env.r.set(key(0, "xfer") + ":relayed", "0-1")
    env.r.set(key(2, "xfer") + ":relayed", "0-1")
    env.daemon.start()
    wait_until(lambda: len(relayed(env.r, 2, "transfer_credit")) == 2 and
               len(relayed(env.r, 0, "transfer_return")) >= 2, what="the relay's repeats")
    for p in range(P):
        ids = env.r.xrange(key(p, "in"))
        wait_marker(env.r, p, ids[-1][0].decode())
    wait_until(lambda: env.r.get(key(2, "xfer") + ":relayed") != b"0-1",
               what="partition 2's relay noted its progress again")
    for p in range(P):  # a return carried again by partition 2's relay is applied too
        ids = env.r.xrange(key(p, "in"))
        wait_marker(env.r, p, ids[-1][0].decode())
    assert env.member(s)["balance"] == 700 and env.member(r)["balance"] == 300
    assert causes(env.r, 1, r, "transfer_in") == [300]
    assert causes(env.r, 0, s, "transfer_return") == [200]
