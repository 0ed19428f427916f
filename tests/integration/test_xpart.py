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
