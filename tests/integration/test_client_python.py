"""The Python client (clients/python, package `loyalty`) against the real
daemon: its validation gives the decoder's reason codes (and the daemon
agrees on every vector of tests/vectors/entries.json), partition_of matches
the shared vectors, every input kind is built, appended and applied, a
consumer group decodes real outputs, and the till example prints the
member's perks."""
import json
import subprocess
import sys

import msgpack
import pytest

from harness import PREFIX, REPO, strip_sid

sys.path.insert(0, str(REPO / "clients" / "python"))
import loyalty  # noqa: E402

VECTORS = REPO / "tests" / "vectors"
ENTRY_VECTORS = json.loads((VECTORS / "entries.json").read_text())["vectors"]
PARTITION_VECTORS = json.loads((VECTORS / "partition.json").read_text())
DECODER_CODES = {"too_large", "too_deep", "bad_msgpack", "not_a_map", "bad_version",
                 "unknown_kind", "missing_field", "wrong_type", "out_of_range",
                 "field_too_long", "bad_value", "duplicate_key"}


def test_partition_of_matches_the_shared_vectors():
    check = PARTITION_VECTORS["check"]
    assert loyalty.partition_of(check["member"], 2 ** 32) == check["crc32"]
    for v in PARTITION_VECTORS["vectors"]:
        assert loyalty.partition_of(v["member"], v["partitions"]) == v["partition"], v
        assert loyalty.partition_of(v["member"].encode(), v["partitions"]) == v["partition"]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError):
            loyalty.partition_of("M1", bad)
    for v in PARTITION_VECTORS["vectors"]:
        want = "loyalty:" if v["partitions"] == 1 else f"loyalty:{{{v['partition']}}}:"
        assert loyalty.partition_prefix("loyalty:", v["member"], v["partitions"]) == want


@pytest.mark.parametrize("vec", ENTRY_VECTORS, ids=lambda v: v["name"])
def test_validation_gives_the_decoders_reason_code(vec):
    if vec["reason"] is None:
        loyalty.validate(vec["entry"])
        assert msgpack.unpackb(loyalty.encode(vec["entry"]), raw=False) == vec["entry"]
    else:
        with pytest.raises(loyalty.ValidationError) as info:
            loyalty.encode(vec["entry"])
        assert info.value.code == vec["reason"], info.value


def test_the_daemon_agrees_with_every_vector(env):
    """Each vector's bytes, sent without the client's validation: the daemon
    rejects exactly the invalid ones, with the same reason code."""
    sids = [env.push_raw(msgpack.packb(v["entry"], use_bin_type=True)) for v in ENTRY_VECTORS]
    env.wait_applied(sids[-1])
    reasons = {d["src"]: d["reason"] for d in env.read_dlq()}
    for sid, vec in zip(sids, ENTRY_VECTORS):
        got = reasons.get(sid)
        if vec["reason"] is None:
            assert got not in DECODER_CODES, (vec["name"], got)
        else:
            assert got == vec["reason"], (vec["name"], got)


def test_builders_refuse_bad_input_before_sending(env):
    till = loyalty.Client(env.r)
    before = env.r.xlen(PREFIX + "in")
    cases = [(loyalty.purchase("t1", "M1", "S1", 0), "out_of_range"),
             (loyalty.purchase("t1", "M 1", "S1", 100), "bad_value"),
             (loyalty.purchase("t1", "M1", "S1", 100, lines=[loyalty.line("A", "c", 1.0, 100)]),
              "wrong_type"),
             (loyalty.redeem("t2", "M1"), "bad_value"),
             (loyalty.adjust("t3", "M1", 0, "oops"), "bad_value"),
             (loyalty.enroll("t4", "M1", birthday="31-12"), "bad_value"),
             (loyalty.scan("M1", "S" * 33), "field_too_long"),
             (loyalty.rules("ABCDEF0123456789abcdef0123456789"), "bad_value"),
             (loyalty.transfer("t5", "M1", "M1", 10), "bad_value"),
             (loyalty.set_tier("t6", "M1", "gold", "r", until_ts=5, ts=10), "bad_value")]
    for entry, code in cases:
        with pytest.raises(loyalty.ValidationError) as info:
            till.add(entry)
        assert info.value.code == code, (entry, info.value)
    assert env.r.xlen(PREFIX + "in") == before, "nothing invalid reaches the stream"


def test_every_input_kind_is_built_appended_and_applied(plain_env):
    env = plain_env
    till = loyalty.Client(env.r)
    ts = iter(range(1_780_000_000_000, 1_790_000_000_000, 1000))
    assert till.submit(loyalty.enroll("e1", "P1", birthday="02-29", ts=next(ts))).ok
    assert till.submit(loyalty.enroll("e2", "P2", referrer="P1", ts=next(ts))).ok
    sale = till.submit(loyalty.purchase("s1", "P1", "S1", 20000, ts=next(ts), lines=[
        loyalty.line("A1", "food", 2, 15000), loyalty.line("B2", "home", 1, 5000)]))
    earned = env.rules.earn(20000, 0)
    assert sale.ok and [e["delta"] for e in sale.of_kind("points.changed")] == [earned]
    ref = till.submit(loyalty.refund("f1", "s1", "P1", 10000, ts=next(ts)))
    assert [e["delta"] for e in ref.of_kind("points.changed")] == [-(earned // 2)]
    red = till.submit(loyalty.redeem("d1", "P1", points=10, ts=next(ts)))
    assert red.of_kind("redeem.result")[0]["ok"] is True
    adj = till.submit(loyalty.adjust("a1", "P1", -5, "goodwill", ts=next(ts)))
    assert adj.of_kind("points.changed")[0]["cause"] == "adjust"
    scan = till.scan("P1", "S1")
    assert scan.ok and scan.perks == env.rules.tiers[0]["perks"]
    assert till.submit(loyalty.tick(ts=next(ts))).ok
    sent = till.submit(loyalty.transfer("x1", "P1", "P2", 7, ts=next(ts)))
    assert sent.of_kind("transfer.result")[0]["ok"] is True
    top = env.rules.tiers[-1]["name"]
    status = till.submit(loyalty.set_tier("m1", "P2", top, "status match", ts=next(ts)))
    assert status.ok and env.member("P2")["tier"] == top
    again = till.submit(loyalty.rules(env.rulebook_hash, label="again", ts=next(ts)))
    assert again.ok and not again.rejected
    balance = earned - earned // 2 - 10 - 5 - 7
    assert env.member("P1")["balance"] == balance
    lost = till.submit(loyalty.purchase("s2", "nobody", "S1", 100, ts=next(ts)))
    assert lost.rejected[0] == "unknown_member" and not lost.events


def test_a_consumer_group_decodes_real_outputs_at_least_once(env):
    feed = loyalty.Consumer(env.r, group="crm", name="crm-1", start="0")
    till = loyalty.Client(env.r)
    till.add(loyalty.enroll("e1", "C1"))
    last = till.add(loyalty.purchase("s1", "C1", "S1", 300000))
    till.wait_committed(last)
    want = strip_sid(env.read_out(setup=True))  # the harness's rules.changed too
    got = []
    while len(got) < len(want):
        batch = feed.read(count=3, block_ms=2000)
        assert batch, f"no more events after {len(got)} of {len(want)}"
        got.extend(batch)
    assert [e.data for e in got] == want
    assert {e["kind"] for e in got} >= {"points.changed", "tier.changed"}
    feed.ack(*got[:2])
    assert feed.pending() == len(want) - 2
    again = loyalty.Consumer(env.r, group="crm", name="crm-1")  # a restart
    redelivered = again.read(count=100, block_ms=0)
    assert [e.entry_id for e in redelivered] == [e.entry_id for e in got[2:]]
    again.ack(*redelivered)
    assert again.pending() == 0 and again.read(count=10, block_ms=0) == []


def test_a_dlq_consumer_sees_the_rejected_bytes(env):
    dlq = loyalty.Consumer(env.r, group="ops", name="ops-1", stream="dlq", start="0")
    env.wait_applied(env.push_raw(b"\xc1"))
    sid = loyalty.Client(env.r).add(loyalty.scan("ghost", "S1"))
    loyalty.Client(env.r).wait_committed(sid)
    events = dlq.read(count=10, block_ms=2000)
    assert [e["reason"] for e in events] == ["bad_msgpack", "unknown_member"]
    assert events[0]["input"] is None and events[0]["m"] == b"\xc1"
    assert events[1]["input"]["member"] == "ghost" and events[1]["src"] == sid


def test_the_till_example_prints_the_perks(env):
    res = subprocess.run([sys.executable, str(REPO / "clients/python/examples/till.py"),
                          "--redis", f"127.0.0.1:{env.redis.port}", "--member", "TILL-1",
                          "--amount", "250000", "--redeem", "100"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    member = env.member("TILL-1")
    tier = next(t for t in env.rules.tiers if t["name"] == member["tier"])
    assert lines[0] == "enrolled TILL-1"
    assert f"scan at S001: tier {tier['name']}" in lines
    assert [ln[5:] for ln in lines if ln.startswith("perk ")] == tier["perks"] != []
    assert lines[-1] == f"redeem 100 points: ok, balance {member['balance']}"
