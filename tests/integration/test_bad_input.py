"""Bad input never stops the daemon and is never silently dropped: every
entry that cannot be decoded or breaks a rule lands in loyalty:dlq with its
source id, a stable reason code and its original bytes, is acknowledged, and
the good entries around it are applied."""
import random

import msgpack

from harness import PREFIX, SETUP_ENTRIES, by_src, points_events

# Reason codes of the contract (proto.h and rules.h).
REASONS = {"missing_m_field", "too_large", "bad_msgpack", "too_deep", "not_a_map",
           "bad_version", "unknown_kind", "missing_field", "wrong_type", "out_of_range",
           "field_too_long", "bad_value", "duplicate_key", "unknown_member", "member_exists",
           "members_full", "txn_conflict", "unknown_sale", "refund_exceeds_sale",
           "points_overflow", "unknown_referrer", "lines_mismatch"}


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def crafted_bad_entries(env):
    """(name, `m` bytes or a field dict without `m`, accepted reason codes)."""
    good = env.entry(kind="purchase", txn="bad-0", member="m1", store="s1", amount=100)

    def with_(**fields):
        m = dict(good)
        m.update(fields)
        return msgpack.packb(m)

    def without(key):
        return msgpack.packb({k: v for k, v in good.items() if k != key})

    packed = msgpack.packb(good)
    # {"v": 1, "v": 1, ...}: msgpack maps cannot hold a key twice in Python.
    dup = b"\x83" + msgpack.packb("v") + msgpack.packb(1) + msgpack.packb("v") + \
        msgpack.packb(1) + msgpack.packb("kind") + msgpack.packb("tick")
    return [
        ("empty m", b"", {"bad_msgpack"}),
        ("not msgpack at all", b"\xc1\xc1\xc1", {"bad_msgpack"}),
        ("truncated msgpack", packed[:-3], {"bad_msgpack"}),
        ("trailing bytes", packed + b"\x00", {"bad_msgpack"}),
        ("map claiming 2^32-1 pairs", b"\xdf\xff\xff\xff\xff", {"bad_msgpack"}),
        ("string claiming 4 GiB", b"\xdb\xff\xff\xff\xff" + b"x" * 8, {"bad_msgpack"}),
        ("a bare integer", msgpack.packb(7), {"not_a_map"}),
        ("an array", msgpack.packb([1, 2, 3]), {"not_a_map"}),
        ("nil", msgpack.packb(None), {"not_a_map"}),
        ("integer keys", msgpack.packb({1: 2, 3: 4}), {"not_a_map", "wrong_type"}),
        ("duplicate key", dup, {"duplicate_key"}),
        ("100-deep array", msgpack.packb(nested(100)), {"too_deep"}),
        ("100-deep value in a good entry", with_(meta=nested(100)), {"too_deep"}),
        ("10 KB entry", with_(note="x" * 10240), {"too_large"}),
        ("v=2", with_(v=2), {"bad_version"}),
        ("v as a string", with_(v="1"), {"bad_version"}),
        ("no v", without("v"), {"missing_field", "bad_version"}),
        ("unknown kind", with_(kind="teleport"), {"unknown_kind"}),
        ("kind as an integer", with_(kind=3), {"wrong_type", "unknown_kind"}),
        ("no kind", without("kind"), {"missing_field"}),
        ("no ts", without("ts"), {"missing_field"}),
        ("ts as a string", with_(ts="yesterday"), {"wrong_type"}),
        ("amount as a string", with_(amount="100"), {"wrong_type"}),
        ("amount as a float", with_(amount=1.5), {"wrong_type"}),
        ("negative amount", with_(amount=-500), {"wrong_type", "out_of_range"}),
        ("zero amount", with_(amount=0), {"out_of_range", "bad_value"}),
        ("absurd amount", with_(amount=10 ** 15), {"out_of_range"}),
        ("amount over u63", with_(amount=2 ** 64 - 1), {"out_of_range"}),
        ("member as an integer", with_(member=42), {"wrong_type"}),
        ("member with a space", with_(member="a b"), {"bad_value"}),
        ("member of 33 bytes", with_(member="m" * 33), {"field_too_long"}),
        ("txn of 65 bytes", with_(txn="t" * 65), {"field_too_long"}),
        ("empty txn", with_(txn=""), {"bad_value"}),
        ("no amount", without("amount"), {"missing_field"}),
        ("lines not an array", with_(lines={"a": 1}), {"wrong_type"}),
        ("redeem with points and reward", msgpack.packb(env.entry(
            kind="redeem", txn="bad-r", member="m1", points=5, reward="voucher_5")),
         {"bad_value"}),
        ("unknown member", with_(member="nobody"), {"unknown_member"}),
        ("entry without m", {"x": b"1", "y": b"2"}, {"missing_m_field"}),
        ("m next to other fields but misnamed", {"M": packed}, {"missing_m_field"}),
    ]


def test_each_kind_of_bad_entry_goes_to_the_dlq_with_its_reason_and_original_bytes(env):
    env.push(kind="enroll", txn="e1", member="m1")
    bad = crafted_bad_entries(env)
    pushed = [(name, env.push_raw(data), data, reasons) for name, data, reasons in bad]
    last = env.push(kind="purchase", txn="after", member="m1", store="s1", amount=4200)
    env.wait_applied(last)
    dlq = {d["src"]: d for d in env.read_dlq()}
    for name, sid, data, reasons in pushed:
        assert sid in dlq, f"{name}: not in the DLQ"
        d = dlq[sid]
        assert d["reason"] in reasons, (name, d)
        want = data if isinstance(data, bytes) else b""
        assert d["m"] == want, f"{name}: DLQ lost the original bytes"
        assert d["detail"], name
    assert len(dlq) == len(pushed)
    # The good entry after them is applied.
    assert env.member("m1")["purchases"] == 1
    earned = [e for e in by_src(env.read_out(), last) if e["kind"] == "points.changed" and
              e["cause"] == "purchase"]
    assert [e["delta"] for e in earned] == [env.rules.earn(4200, 0)]
    assert env.pending_count() == 0


def test_garbage_flood_interleaved_with_good_entries_is_dead_lettered_and_acknowledged(env):
    rnd = random.Random(20261123)
    env.push(kind="enroll", txn="e-good", member="good")
    bad_entries = crafted_bad_entries(env)
    inputs = []  # (is_bad, sid, data)
    for i in range(600):
        if i % 3 == 0:
            amount = rnd.randint(100, 9999)
            sid = env.push(kind="purchase", txn=f"g{i}", member="good", store="s1",
                           amount=amount)
            inputs.append((False, sid, amount))
            continue
        pick = rnd.random()
        if pick < 0.4:
            data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 64)))
        elif pick < 0.6:
            m = env.entry(kind="purchase", txn=f"b{i}", member="good", store="s1", amount=100)
            data = msgpack.packb(m)[:rnd.randint(1, 20)]  # truncated
        elif pick < 0.65:
            data = b"\x91" * 100 + b"\x01"  # 100 nested arrays
        elif pick < 0.7:
            data = bytes(rnd.getrandbits(8) for _ in range(10240))
        else:
            _, data, _ = rnd.choice(bad_entries)
        inputs.append((True, env.push_raw(data), data))
    last = inputs[-1][1]
    env.wait_applied(last)

    # Alive and well.
    assert env.daemon.alive()
    status, health = env.http_get("/healthz")
    assert status == 200 and health["status"] == "ok"

    # Every bad entry is in the DLQ with its source id, a reason code and
    # its original bytes; no good entry is.
    dlq = env.read_dlq()
    by_id = {d["src"]: d for d in dlq}
    assert len(by_id) == len(dlq), "an entry was dead-lettered twice"
    bad = [(sid, data) for is_bad, sid, data in inputs if is_bad]
    assert len(dlq) == len(bad)
    for sid, data in bad:
        d = by_id[sid]
        assert d["reason"] in REASONS, d
        assert d["m"] == (data if isinstance(data, bytes) else b"")

    # The good entries were all applied, and only they changed points.
    good_ids = [sid for is_bad, sid, _ in inputs if not is_bad]
    view = env.member("good")
    assert view["purchases"] == len(good_ids)
    events = points_events(env.read_out(), "good")
    assert events, "no points.changed for the good entries"
    assert {e["src"] for e in events} <= set(good_ids)
    assert events[-1]["balance"] == view["balance"]

    # Every input entry is acknowledged, and the counters agree.
    assert env.pending_count() == 0
    assert env.r.xlen(PREFIX + "in") == SETUP_ENTRIES + len(inputs) + 1
    metrics = env.daemon.metrics()
    assert metrics["loyalty_entries_rejected_total"] == len(bad)
    assert metrics["loyalty_entries_applied_total"] == SETUP_ENTRIES + len(good_ids) + 1
