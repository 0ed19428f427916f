"""Across partitions (issue 17, README "Scaling out"): campaign budgets
shared out between partitions exactly, transfers between members of
different partitions (a debit, a credit relayed exactly once, a return for
an unknown receiver), rules pushed to every partition, and a rules entry
applied at its place while several batches are in flight.

One daemon serves P = 4 partitions of one standalone Redis: the partition
logic (keys <prefix>{p}:, crc32 mod P) is the same as on a cluster, where
test_cluster.py covers routing. Expected numbers come from the documented
rules, never from the daemon's own output."""
import json
import random

import msgpack

from ctlkit import ctl

from harness import (PLAIN_EARNING, PREFIX, TEST_OVERRIDES, Daemon, conf_text, rulebook_of,
                     rules_fields, sid_key, store_rulebook, wait_until)
from lifekit import utc_ms
from test_partitions import P, key, members_in, part_of, push, wait_marker


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
    so nothing moves twice. The daemon WAITs for a replica (there is none:
    each wait times out), after its commits and after the relay's appends."""
    env = make_env(start=False, plain=True, partitions=P, serve='"all"', wait_replicas=1,
                   wait_timeout_ms=10)
    env.daemon.start()
    (s,), (r,), (u,) = members_in(0, 1, stem="S"), members_in(1, 1, stem="R"), \
        members_in(2, 1, stem="U")
    t0 = utc_ms(2027, 3, 1, 10)
    push(env.r, 0, kind="enroll", txn="e-s", member=s, ts=t0)
    push(env.r, 0, kind="purchase", txn="p-s", member=s, store="s1", amount=100000, ts=t0)
    enrolled = push(env.r, 1, kind="enroll", txn="e-r", member=r, ts=t0)
    push(env.r, 0, kind="transfer", txn="T1", member=s, to=r, points=300, ts=t0 + 1000)
    last = push(env.r, 0, kind="transfer", txn="T2", member=s, to=u, points=200, ts=t0 + 2000)
    wait_marker(env.r, 0, last)
    wait_marker(env.r, 1, enrolled)  # R exists before its balance is read
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
    metrics = env.daemon.metrics()
    assert metrics["loyalty_transfers_relayed_total"] == 3  # two credits, one return
    assert metrics["loyalty_transfer_relay_failures_total"] == 0
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

    # A credit committed but not carried before the daemon stopped (as if it
    # was killed between its commit and the relay's round): loyaltyctl shows
    # it in flight, and the next start carries it from the marker.
    assert env.daemon.stop() == 0
    credit = {"v": 1, "kind": "transfer_credit", "ts": t0 + 3000, "txn": "T3", "member": r,
              "from": s, "pieces": [[0, 5]]}
    env.r.xadd(key(0, "xfer"), {"m": msgpack.packb(credit), "p": "1"})
    redis = f"127.0.0.1:{env.redis.port}"
    rows = [json.loads(ln) for ln in
            ctl("partitions", "--partitions", P, "--redis", redis, "--json").stdout.splitlines()]
    assert [row["unrelayed"] for row in rows] == [1, 0, 0, 0]
    env.daemon.start()
    wait_until(lambda: env.member(r)["balance"] == 305, what="the carried credit")
    wait_until(lambda: all(json.loads(ln)["unrelayed"] == 0 for ln in ctl(
        "partitions", "--partitions", P, "--redis", redis, "--json").stdout.splitlines()),
        what="nothing left in flight")
    assert causes(env.r, 1, r, "transfer_in") == [300, 5]



def test_a_credit_waits_for_an_unreachable_partition_and_then_for_its_daemon(make_env, tmp_path):
    """A daemon serving partitions 0-1 only. Partition 2's input is broken
    (not a stream): the relay's append fails, is retried, and the credit
    stays in partition 0's xfer stream (loyaltyctl: unrelayed 1) until the
    key is repaired; then it waits in partition 2's input, which no daemon
    serves, until a second daemon takes partitions 2-3: there the receiver is
    unknown, and the points come back to the sender."""
    env = make_env(start=False, plain=True, partitions=P, serve='"0-1"')
    redis = f"127.0.0.1:{env.redis.port}"
    env.r.delete(key(2, "in"))
    env.r.set(key(2, "in"), "not a stream")
    env.daemon.start()
    (s,), (u,) = members_in(0, 1, stem="S"), members_in(2, 1, stem="U")
    t0 = utc_ms(2027, 3, 1, 10)
    push(env.r, 0, kind="enroll", txn="e-s", member=s, ts=t0)
    push(env.r, 0, kind="purchase", txn="p-s", member=s, store="s1", amount=50000, ts=t0)
    wait_marker(env.r, 0, push(env.r, 0, kind="transfer", txn="T1", member=s, to=u,
                               points=100, ts=t0 + 1000))
    assert env.member(s)["balance"] == 400
    wait_until(lambda: "transfer relay of partition 0: partition 2 answered WRONGTYPE"
               in env.daemon.log_text(), what="the failed append logged")

    def unrelayed():
        res = ctl("partitions", "--partitions", P, "--redis", redis, "--json")
        return [json.loads(ln)["unrelayed"] for ln in res.stdout.splitlines()]
    assert unrelayed()[:2] == [1, 0]  # partition 2's row: its input is not a stream
    env.r.delete(key(2, "in"))  # repaired: the next round carries it
    wait_until(lambda: relayed(env.r, 2, "transfer_credit") == [("T1", u)],
               what="the credit in partition 2's input")
    wait_until(lambda: unrelayed() == [0, 0, 0, 0], what="the relay's marker moved")
    metrics = env.daemon.metrics()
    assert metrics["loyalty_transfer_relay_failures_total"] >= 1
    assert metrics["loyalty_transfers_relayed_total"] == 1
    assert env.member(s)["balance"] == 400  # in flight: in neither balance

    other = tmp_path / "other.conf"
    other.write_text(env.conf_path.read_text().replace('"loyaltyd-1"', '"other"'))
    second = Daemon(tmp_path / "other", env.redis.port, other, name="other")
    second.extra_args = ["--serve", "2-3"]
    env.extra.append(second)
    second.start()
    wait_until(lambda: env.member(s)["balance"] == 500, what="the points back")
    assert causes(env.r, 0, s, "transfer_return") == [100]
    assert relayed(env.r, 0, "transfer_return") == [("T1", s)]



def test_transfers_across_partitions_survive_a_kill_exactly_once(make_env):
    """40 members over 4 partitions each earn 1000; 600 transfers of 1..50
    between random pairs (mostly across partitions, some to 5 members never
    enrolled) are pushed while the daemon is SIGKILLed twice and restarted.
    Afterwards the points add up: what members hold is what they earned
    less nothing (every transfer's points arrived once or came back once),
    and each ok transfer has exactly one transfer_in or one
    transfer_return."""
    env = make_env(start=False, plain=True, partitions=P, serve='"all"',
                   snapshot_every_entries=50, max_points_per_day=0)
    env.daemon.start()
    rnd = random.Random(17)
    people = [m for p in range(P) for m in members_in(p, 10, stem="K")]
    ghosts = [m for p in range(P) for m in members_in(p, 2, stem="G")][:5]
    t0 = utc_ms(2027, 5, 1, 9)
    for m in people:
        push(env.r, part_of(m), kind="enroll", txn=f"e-{m}", member=m, ts=t0)
        push(env.r, part_of(m), kind="adjust", txn=f"a-{m}", member=m, points=1000,
             reason="start", ts=t0)
    last = {}
    for i in range(600):
        s = rnd.choice(people)
        r = rnd.choice(people + ghosts) if i % 10 else rnd.choice(ghosts)
        if r == s:
            continue
        last[part_of(s)] = push(env.r, part_of(s), kind="transfer", txn=f"k{i}", member=s,
                                to=r, points=rnd.randint(1, 50), ts=t0 + 1000 + i)
        if i in (200, 400):
            env.daemon.kill()
            env.daemon.start()
    for p, sid in last.items():
        wait_marker(env.r, p, sid)

    def settled():
        ok = {o["txn"] for p in range(P) for o in outputs(env.r, p)
              if o["kind"] == "transfer.result" and o["ok"]}
        arrived = [o for p in range(P) for o in outputs(env.r, p)
                   if o["kind"] == "points.changed" and o["cause"] in ("transfer_in",
                                                                   "transfer_return")]
        return ok, arrived
    wait_until(lambda: len(settled()[1]) >= len(settled()[0]), what="every transfer settled",
               timeout=60)
    ok, arrived = settled()
    assert len(arrived) == len(ok)  # exactly one arrival per transfer that went out
    total = sum(env.member(m)["balance"] for m in people)
    assert total == 1000 * len(people)


# -- a rules entry while several batches are in flight -----------------------------

def test_a_rules_entry_amid_batches_in_flight_switches_exactly_there(make_env, tmp_path):
    """400 sales with a rules entry after the 200th, pushed in one go to a
    daemon reading batches of 8 with 4 in flight: the switch (a new rulebook
    capping each sale at 7 points) applies exactly at the entry, and what is
    published equals a second daemon's over a copy of the same stream (same
    ids) with one batch in flight."""
    env = make_env(start=False, plain=True, batch_entries_max=8, batches_in_flight=4)
    capped = tmp_path / "capped.conf"
    capped.write_text(conf_text(dict(TEST_OVERRIDES, **dict(PLAIN_EARNING, txn_cap_points=7))))
    digest, text = rulebook_of(capped)
    for prefix in (PREFIX, "ref:"):
        store_rulebook(env.r, digest, text, prefix)
    env.daemon.start()
    members = [f"b{i}" for i in range(10)]
    pipe = env.r.pipeline(transaction=False)
    for m in members:
        pipe.xadd(PREFIX + "in", {"m": msgpack.packb(env.entry(kind="enroll", txn=f"e-{m}",
                                                                member=m))})
    for i in range(400):
        if i == 200:
            pipe.xadd(PREFIX + "in", rules_fields(digest, "capped", ts=env.next_ts()))
        pipe.xadd(PREFIX + "in", {"m": msgpack.packb(env.entry(
            kind="purchase", txn=f"s{i}", member=members[i % 10], store="s1",
            amount=1000 + i))})
    ids = [sid.decode() for sid in pipe.execute()]
    rules_id = ids[len(members) + 200]
    env.wait_applied(ids[-1])
    out = [e for e in env.read_out() if sid_key(e["src"]) <= sid_key(ids[-1])]
    changed = [e for e in out if e["kind"] == "rules.changed"]
    assert [(e["src"], e["to"]) for e in changed] == [(rules_id, digest)]
    sales = [e for e in out if e["kind"] == "points.changed" and e["cause"] == "purchase"]
    assert len(sales) == 400
    assert all((e["delta"] == 7) == (sid_key(e["src"]) > sid_key(rules_id)) for e in sales)

    # The same stream, ids and all, under another prefix: one batch in flight.
    for sid, fields in env.r.xrange(PREFIX + "in", max=ids[-1]):
        env.r.xadd("ref:in", fields, id=sid)
    store_rulebook(env.r, env.rulebook_hash, env.rulebook_text, "ref:")
    ref_conf = tmp_path / "ref.conf"
    ref_conf.write_text(env.conf_path.read_text().replace('"loyalty:"', '"ref:"')
                        .replace("batches_in_flight = 4", "batches_in_flight = 1"))
    assert '"ref:"' in ref_conf.read_text()
    ref = Daemon(tmp_path / "ref", env.redis.port, ref_conf, name="ref")
    env.extra.append(ref)
    ref.start()
    wait_until(lambda: (env.r.get("ref:progress") or b"0-0") and
               sid_key(env.r.get("ref:progress") or b"0-0") >= sid_key(ids[-1]),
               what="ref:progress at the last entry")
    # Once caught up, each daemon may append its file's rulebook again (it is
    # not the version in force): what comes after the copied stream differs.
    def published(prefix):
        outs = [msgpack.unpackb(f[b"m"]) for _, f in env.r.xrange(prefix + "out")]
        return [o for o in outs if sid_key(o["src"]) <= sid_key(ids[-1])]
    want = published("ref:")
    assert len(want) > 400 and published(PREFIX) == want
