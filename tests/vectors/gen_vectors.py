#!/usr/bin/env python3
"""Writes partition.json and entries.json, the test vectors the Python and
Node clients (and the daemon) check. Partition values come from zlib's
crc32, an implementation independent of ours. Run it only to add vectors:
the JSON files are what the tests read."""
import json
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
TS = 1780000000000


def partition_vectors():
    ids = ["M000001", "M000042", "card-0001", "123456789", "a", "Z",
           "~!#$%&'()*+,-./:;<=>?@[\\]^_`{|}", "x" * 32, "member-with-a-long-id-00000031",
           "0", "M1", "M2", "S001", "\x21\x7e"]
    parts = [1, 2, 7, 16, 64, 100, 1024, 65536, 4294967295]
    vec = []
    for i, m in enumerate(ids):
        for p in (parts if i < 3 else parts[i % len(parts):][:3]):
            crc = zlib.crc32(m.encode())
            vec.append({"member": m, "partitions": p, "crc32": crc, "partition": crc % p})
    assert zlib.crc32(b"123456789") == 3421780262
    return {"about": "partition_of(member, P) = crc32(member id bytes) mod P; crc32 is IEEE "
                     "802.3 as zlib computes it (reflected, polynomial 0xEDB88320, init and "
                     "final xor 0xFFFFFFFF). Shared by the Python and Node clients and the "
                     "daemon.",
            "check": {"member": "123456789", "crc32": 3421780262},
            "vectors": vec}


def e(kind, **f):
    d = {"v": 1, "kind": kind, "ts": TS}
    d.update(f)
    return d


P = dict(txn="t1", member="M1", store="S1", amount=1000)
HASH = "0123456789abcdef0123456789abcdef"
LINE = {"sku": "A", "cat": "c", "qty": 1, "amount": 1000}

VALID = [
    ("purchase", e("purchase", **P)),
    ("purchase with lines", e("purchase", **P, lines=[
        {"sku": "A", "cat": "wine", "qty": 2, "amount": 600},
        {"sku": "B", "cat": "food", "qty": 1, "amount": 400}])),
    ("purchase line of amount 0", e("purchase", **P, lines=[dict(LINE, amount=0), LINE])),
    ("refund", e("refund", txn="r1", orig_txn="t1", member="M1", amount=500)),
    ("redeem points", e("redeem", txn="d1", member="M1", points=100)),
    ("redeem reward", e("redeem", txn="d2", member="M1", reward="voucher_5")),
    ("adjust down", e("adjust", txn="a1", member="M1", points=-25, reason="goodwill")),
    ("adjust utf-8 reason", e("adjust", txn="a2", member="M1", points=5, reason="café crème")),
    ("adjust qualifying", e("adjust", txn="a4", member="M1", points=600, reason="migration",
                            qualifying=True)),
    ("enroll", e("enroll", txn="e1", member="M1")),
    ("enroll with birthday and referrer",
     e("enroll", txn="e2", member="M2", birthday="02-29", referrer="M1")),
    ("scan", e("scan", member="M1", store="S1")),
    ("scan with txn", e("scan", member="M1", store="S1", txn="s1")),
    ("tick", e("tick")),
    ("unknown keys are ignored", e("scan", member="M1", store="S1",
                                   pos={"lane": 3, "tags": ["a"]})),
    ("nesting of exactly 4 levels", e("scan", member="M1", store="S1",
                                      meta={"a": {"b": {"c": 1}}})),
    ("ids of the longest length", e("purchase", txn="t" * 64, member="m" * 32, store="s" * 32,
                                    amount=10_000_000_000)),
    ("ts at its largest", e("tick", ts=253402300799999)),
    ("adjust at the points limits", e("adjust", txn="a3", member="M1",
                                      points=-1_000_000_000_000, reason="r" * 128)),
    ("rules", e("rules", hash=HASH)),
    ("rules with label and effective_ts", e("rules", hash=HASH, label="spring 2027",
                                            effective_ts=TS + 86_400_000)),
    ("transfer", e("transfer", txn="x1", member="M1", to="M2", points=150)),
    ("transfer at the points limit", e("transfer", txn="x2", member="M1", to="M2",
                                       points=1_000_000_000_000)),
    ("set_tier", e("set_tier", txn="s1", member="M1", tier="gold", reason="status match")),
    ("set_tier until", e("set_tier", txn="s2", member="M1", tier="gold", reason="gesture",
                         until_ts=TS + 1)),
]

INVALID = [
    ("not a map", [1, 2, 3], "not_a_map"),
    ("v missing", {"kind": "tick", "ts": TS}, "missing_field"),
    ("v is 2", e("tick", v=2), "bad_version"),
    ("v is a string", e("tick", v="1"), "bad_version"),
    ("v is true", e("tick", v=True), "bad_version"),
    ("kind missing", {"v": 1, "ts": TS}, "missing_field"),
    ("kind is a number", {"v": 1, "kind": 5, "ts": TS}, "wrong_type"),
    ("kind unknown", e("sale"), "unknown_kind"),
    ("kind is an output kind", e("points.changed"), "unknown_kind"),
    ("ts missing", {"v": 1, "kind": "tick"}, "missing_field"),
    ("ts zero", e("tick", ts=0), "out_of_range"),
    ("ts negative", e("tick", ts=-5), "wrong_type"),
    ("ts a float", e("tick", ts=1780000000000.5), "wrong_type"),
    ("ts a string", e("tick", ts="1780000000000"), "wrong_type"),
    ("ts past 9999", e("tick", ts=253402300800000), "out_of_range"),
    ("ts checked before the kind's fields", e("purchase", ts=0), "out_of_range"),
    ("txn missing", e("purchase", member="M1", store="S1", amount=1), "missing_field"),
    ("txn empty", e("purchase", **dict(P, txn="")), "bad_value"),
    ("txn too long", e("purchase", **dict(P, txn="t" * 65)), "field_too_long"),
    ("txn with a space", e("purchase", **dict(P, txn="t 1")), "bad_value"),
    ("txn not ASCII", e("purchase", **dict(P, txn="tà")), "bad_value"),
    ("txn a number", e("purchase", **dict(P, txn=12)), "wrong_type"),
    ("txn null", e("purchase", **dict(P, txn=None)), "wrong_type"),
    ("member too long", e("purchase", **dict(P, member="m" * 33)), "field_too_long"),
    ("store with a control byte", e("purchase", **dict(P, store="S\u0001")), "bad_value"),
    ("amount zero", e("purchase", **dict(P, amount=0)), "out_of_range"),
    ("amount over the limit", e("purchase", **dict(P, amount=10_000_000_001)), "out_of_range"),
    ("amount negative", e("purchase", **dict(P, amount=-1)), "wrong_type"),
    ("amount a float", e("purchase", **dict(P, amount=10.5)), "wrong_type"),
    ("amount a boolean", e("purchase", **dict(P, amount=True)), "wrong_type"),
    ("amount the largest uint64", e("purchase", **dict(P, amount=18446744073709551615)),
     "out_of_range"),
    ("txn checked before amount", e("purchase", **dict(P, txn="", amount=0)), "bad_value"),
    ("lines not an array", e("purchase", **P, lines="A"), "wrong_type"),
    ("lines too many", e("purchase", **P, lines=[dict(LINE, amount=0)] * 65), "field_too_long"),
    ("line not a map", e("purchase", **P, lines=[5]), "wrong_type"),
    ("line sku missing", e("purchase", **P, lines=[{"cat": "c", "qty": 1, "amount": 1000}]),
     "missing_field"),
    ("line qty zero", e("purchase", **P, lines=[dict(LINE, qty=0)]), "out_of_range"),
    ("line qty over the limit", e("purchase", **P, lines=[dict(LINE, qty=1000001)]),
     "out_of_range"),
    ("line amount negative", e("purchase", **P, lines=[dict(LINE, amount=-1)]), "wrong_type"),
    ("refund orig_txn missing", e("refund", txn="r1", member="M1", amount=5), "missing_field"),
    ("redeem both", e("redeem", txn="d1", member="M1", points=5, reward="voucher_5"),
     "bad_value"),
    ("redeem neither", e("redeem", txn="d1", member="M1"), "bad_value"),
    ("redeem points zero", e("redeem", txn="d1", member="M1", points=0), "out_of_range"),
    ("redeem points over the limit",
     e("redeem", txn="d1", member="M1", points=1_000_000_000_001), "out_of_range"),
    ("redeem reward with a space", e("redeem", txn="d1", member="M1", reward="a b"),
     "bad_value"),
    ("adjust zero", e("adjust", txn="a1", member="M1", points=0, reason="x"), "bad_value"),
    ("adjust under the limit",
     e("adjust", txn="a1", member="M1", points=-1_000_000_000_001, reason="x"), "out_of_range"),
    ("adjust reason missing", e("adjust", txn="a1", member="M1", points=5), "missing_field"),
    ("adjust qualifying not a boolean",
     e("adjust", txn="a1", member="M1", points=5, reason="x", qualifying=1), "wrong_type"),
    ("adjust reason empty", e("adjust", txn="a1", member="M1", points=5, reason=""),
     "bad_value"),
    ("adjust reason too long", e("adjust", txn="a1", member="M1", points=5, reason="r" * 129),
     "field_too_long"),
    ("adjust reason with NUL", e("adjust", txn="a1", member="M1", points=5, reason="a\u0000b"),
     "bad_value"),
    ("birthday 02-30", e("enroll", txn="e1", member="M1", birthday="02-30"), "bad_value"),
    ("birthday 13-01", e("enroll", txn="e1", member="M1", birthday="13-01"), "bad_value"),
    ("birthday 2-28", e("enroll", txn="e1", member="M1", birthday="2-28"), "bad_value"),
    ("birthday a number", e("enroll", txn="e1", member="M1", birthday=228), "wrong_type"),
    ("referrer is the member", e("enroll", txn="e1", member="M1", referrer="M1"), "bad_value"),
    ("scan store missing", e("scan", member="M1"), "missing_field"),
    ("rules hash missing", e("rules", label="x"), "missing_field"),
    ("rules hash of 31 digits", e("rules", hash=HASH[:31]), "bad_value"),
    ("rules hash of 33 digits", e("rules", hash=HASH + "0"), "field_too_long"),
    ("rules hash in upper case", e("rules", hash=HASH.upper()), "bad_value"),
    ("rules hash not hex", e("rules", hash="g" * 32), "bad_value"),
    ("rules label empty", e("rules", hash=HASH, label=""), "bad_value"),
    ("rules label too long", e("rules", hash=HASH, label="l" * 65), "field_too_long"),
    ("rules effective_ts zero", e("rules", hash=HASH, effective_ts=0), "out_of_range"),
    ("transfer to missing", e("transfer", txn="x1", member="M1", points=5), "missing_field"),
    ("transfer to itself", e("transfer", txn="x1", member="M1", to="M1", points=5),
     "bad_value"),
    ("transfer points zero", e("transfer", txn="x1", member="M1", to="M2", points=0),
     "out_of_range"),
    ("transfer points over the limit",
     e("transfer", txn="x1", member="M1", to="M2", points=1_000_000_000_001), "out_of_range"),
    ("transfer to with a space", e("transfer", txn="x1", member="M1", to="M 2", points=5),
     "bad_value"),
    ("set_tier reason missing", e("set_tier", txn="s1", member="M1", tier="gold"),
     "missing_field"),
    ("set_tier tier missing", e("set_tier", txn="s1", member="M1", reason="r"),
     "missing_field"),
    ("set_tier until_ts at ts", e("set_tier", txn="s1", member="M1", tier="gold", reason="r",
                                  until_ts=TS), "bad_value"),
    ("set_tier until_ts a string", e("set_tier", txn="s1", member="M1", tier="gold",
                                     reason="r", until_ts="soon"), "wrong_type"),
    ("set_tier until_ts checked before reason", e("set_tier", txn="s1", member="M1",
                                                  tier="gold", until_ts=0), "out_of_range"),
    ("nesting of 5 levels", e("scan", member="M1", store="S1",
                                meta={"a": {"b": {"c": {"d": 1}}}}), "too_deep"),
    ("nesting checked before fields", e("scan", meta=[[[[]]]]), "too_deep"),
    ("a map of 33 keys", e("scan", member="M1", store="S1",
                           meta={f"k{i}": i for i in range(33)}), "too_large"),
    ("an entry of 33 keys", dict(e("scan", member="M1", store="S1"),
                                 **{f"x{i}": i for i in range(28)}), "too_large"),
    ("over 8 KiB", e("scan", member="M1", store="S1", note="n" * 8200), "too_large"),
]


def entry_vectors():
    vec = [{"name": n, "entry": m, "reason": None} for n, m in VALID]
    vec += [{"name": n, "entry": m, "reason": r} for n, m, r in INVALID]
    names = [v["name"] for v in vec]
    assert len(names) == len(set(names)), "vector names are unique"
    return {"about": "Input entries (msgpack shown as JSON) and the reason code the daemon's "
                     "decoder (proto/proto_decode.c) gives them; reason null: it decodes "
                     "(rules may still reject it). The Python and Node clients validate to "
                     "the same codes; tests/integration/test_client_python.py checks that "
                     "the daemon agrees.",
            "vectors": vec}


def main():
    for name, doc in (("partition.json", partition_vectors()), ("entries.json", entry_vectors())):
        (HERE / name).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
