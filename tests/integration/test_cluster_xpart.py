"""Across partitions on a real Redis Cluster (3 masters on loopback;
clusterkit.py, the fixture of test_cluster.py): two daemons share 16
partitions, members of one daemon's partitions transfer points to members of
the other's (the credits cross daemons and nodes through the relay, an
unknown receiver's points come back), and `loyaltyctl rules push` appends a
new rulebook to all 16 partitions, following MOVED to every master; each
daemon shows every partition it serves switching (GET /v1/rulebook,
loyalty_rulebook_info)."""
import re
import threading

import msgpack

from clusterkit import ClusterClient, key, partition_of, slot_of
from ctlkit import ctl
from harness import TEST_OVERRIDES, conf_text, wait_until
from test_cluster import P, PREFIX, world  # noqa: F401  (the fixture)


def member_in(p, stem):
    i = 0
    while partition_of(f"{stem}{i}", P) != p:
        i += 1
    return f"{stem}{i}"


def balance(d, member):
    status, body = d.get(f"/v1/members/{member}")
    return body["balance"] if status == 200 else None


def push(client, p, **m):
    m.setdefault("v", 1)
    m.setdefault("ts", 1800000000000)
    k = key(PREFIX, p, "in")
    return client.call(k, "XADD", k, "*", "m", msgpack.packb(m)).decode()


def test_transfers_and_rules_reach_every_partition_across_daemons_and_nodes(world):
    nodes = world.cluster()
    client = ClusterClient(nodes)
    a = world.make_daemon("a", "0-7")
    b = world.make_daemon("b", "8-15")
    a.start()
    b.start()
    # Senders in A's partitions, receivers in B's, on other masters than
    # their senders where the slot map allows.
    pairs = []
    for p in range(8):
        q = next(q for q in range(8, 16)
                 if client.port_of(key(PREFIX, q, "in")) != client.port_of(key(PREFIX, p, "in")))
        pairs.append((p, member_in(p, "S"), q, member_in(q, f"R{p}-")))
    assert {client.port_of(key(PREFIX, q, "in")) for _, _, q, _ in pairs} | \
        {client.port_of(key(PREFIX, p, "in")) for p, _, _, _ in pairs} == set(nodes.masters_ports())
    for p, s, q, r in pairs:
        push(client, p, kind="enroll", txn=f"e-{s}", member=s)
        push(client, p, kind="purchase", txn=f"b-{s}", member=s, store="s1", amount=50000)
        push(client, q, kind="enroll", txn=f"e-{r}", member=r)
        push(client, p, kind="transfer", txn=f"t-{s}", member=s, to=r, points=100 + p)
    lost = member_in(12, "U")  # never enrolled: its points come back
    s0 = pairs[0][1]
    push(client, 0, kind="transfer", txn="t-lost", member=s0, to=lost, points=40)

    for p, s, q, r in pairs:
        wait_until(lambda: balance(b, r) == 100 + p, what=f"{r} credited")
    wait_until(lambda: any(
        msgpack.unpackb(f[b"m"]).get("cause") == "transfer_return"
        for _, f in client.call(key(PREFIX, 0, "out"), "XRANGE", key(PREFIX, 0, "out"),
                                "-", "+")), what="the unknown receiver's points back")
    outs = [msgpack.unpackb(f[b"m"]) for _, f in
            client.call(key(PREFIX, 0, "out"), "XRANGE", key(PREFIX, 0, "out"), "-", "+")]
    assert [o["delta"] for o in outs if o.get("member") == s0 and
            o.get("cause") in ("transfer_out", "transfer_return")] == [-100, -40, 40]

    # A new rulebook for every partition, from any node.
    rules_conf = world.tmp / "rules.conf"
    rules_conf.write_text(conf_text(dict(TEST_OVERRIDES, partitions=P, birthday_bonus=321)))
    seed = f"127.0.0.1:{nodes.masters_ports()[1]}"
    pushed = ctl("rules", "push", str(rules_conf), "--label", "everywhere", "--partitions", P,
                 "--redis", seed, "--prefix", PREFIX)
    assert pushed.returncode == 0, pushed
    digest = re.search(r"^rulebook ([0-9a-f]{32})$", pushed.stdout, re.M).group(1)
    lines = re.findall(r"^partition (\d+): appended rules entry \S+ to (\S+) \(node (\S+)\)$",
                       pushed.stdout, re.M)
    assert [int(p) for p, _, _ in lines] == list(range(P)), pushed.stdout
    for p, k, node in lines:
        assert k == key(PREFIX, int(p), "in")
        assert int(node.split(":")[1]) == client.port_of(k)  # where the slot lives
    assert len({node for _, _, node in lines}) == 3

    def switched(d, served):
        status, body = d.get("/v1/rulebook")
        return status == 200 and sorted(body["partitions"], key=int) == \
            [str(p) for p in served] and \
            all(v["hash"] == digest and v["label"] == "everywhere"
                for v in body["partitions"].values())
    wait_until(lambda: switched(a, range(8)) and switched(b, range(8, 16)),
               what="every partition on the new rulebook")
    metrics = b.metrics()
    for p in range(8, 16):
        assert metrics[f'loyalty_rulebook_info{{hash="{digest[:12]}",label="everywhere",'
                       f'partition="{p}"}}'] == 1
    assert slot_of(key(PREFIX, 0, "in")) != slot_of(key(PREFIX, 8, "in"))

    # A push while partition 5's slot is being migrated (MIGRATING on its
    # master, IMPORTING elsewhere): its rulebook key is not on the source, so
    # the transaction is answered ASK and refused whole; the push waits it
    # out and appends once the slot is stable again.
    assert a.stop() == 0 and b.stop() == 0  # only the push talks to the nodes now
    slot = slot_of(key(PREFIX, 5, "in"))
    src = client.port_of(key(PREFIX, 5, "in"))
    dst = next(p for p in nodes.masters_ports() if p != src)
    nodes.node(dst).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", nodes.node_id(src))
    nodes.node(src).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", nodes.node_id(dst))
    def asks():  # ASK replies the source has given (INFO errorstats)
        v = nodes.node(src).info("errorstats").get("errorstat_ASK", "count=0")
        return int(v["count"]) if isinstance(v, dict) else int(str(v).split("=")[1])
    before = asks()
    rules_conf.write_text(conf_text(dict(TEST_OVERRIDES, partitions=P, birthday_bonus=322)))
    result = {}
    pusher = threading.Thread(target=lambda: result.update(res=ctl(
        "rules", "push", str(rules_conf), "--partitions", P, "--redis", seed,
        "--prefix", PREFIX)))
    pusher.start()
    wait_until(lambda: asks() > before, what="the push answered ASK")
    for port in (src, dst):
        nodes.node(port).execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
    pusher.join(timeout=30)
    assert not pusher.is_alive() and result["res"].returncode == 0, result
    assert len(re.findall(r"^partition \d+: appended", result["res"].stdout, re.M)) == P
