"""POST /v1/preview on the real daemon: what the till is told equals what the
same sale then does; previews change nothing (10,000 of them leave the
snapshot byte for byte, the streams and the marker as they were); bad
bodies get the decoder's reason codes; the bearer token is needed as
everywhere."""
import calendar
import http.client
import json

import msgpack

from harness import PREFIX, wait_until

DAY_MS = 86400 * 1000


def at(y, mo, d, h=12):
    return calendar.timegm((y, mo, d, h, 0, 0)) * 1000


class Till:
    """A keep-alive connection to the daemon's API, as a POS would hold one."""

    def __init__(self, env, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", env.daemon.http_port, timeout=10)
        self.token = token

    def post(self, body, msgpack_body=False, path="/v1/preview", method="POST"):
        headers = {"Content-Type": "application/msgpack" if msgpack_body else "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = body if isinstance(body, (bytes, bytearray)) else \
            (msgpack.packb(body) if msgpack_body else json.dumps(body).encode())
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        is_json = resp.getheader("Content-Type", "").startswith("application/json")
        return resp.status, json.loads(raw) if is_json else raw

    def close(self):
        self.conn.close()


def sale(txn, member, amount, ts=None, store="store_001", lines=None):
    m = {"v": 1, "kind": "purchase", "txn": txn, "member": member, "store": store,
         "amount": amount}
    if ts is not None:
        m["ts"] = ts
    if lines:
        m["lines"] = lines
    return m


def published(env, sid):
    return [{k: v for k, v in e.items() if k not in ("id", "src", "v", "_sid")}
            for e in env.read_out() if e["src"] == sid]


def preview_then_send(env, till, m, use_msgpack=False):
    """Previews sale m, sends it, and checks the outcome is the preview's."""
    status, answer = till.post(m, use_msgpack)
    assert status == 200, answer
    sent = dict(m, ts=answer["ts"])  # the time the preview judged it at
    sid = env.push_raw(msgpack.packb(sent))
    env.wait_applied(sid)
    assert published(env, sid) == answer["outputs"], (answer, published(env, sid))
    member = env.member(m["member"])
    assert (member["balance"], member["tier"], member["lifetime_points"]) == \
        (answer["balance"], answer["tier"], answer["lifetime_points"])
    return answer


def test_the_preview_equals_the_sale_sent_next(env):
    env.push(kind="enroll", txn="e-ref", member="ref", ts=at(2026, 11, 1))
    env.push(kind="enroll", txn="e-kid", member="kid", referrer="ref", birthday="11-20",
             ts=at(2026, 11, 2))
    env.wait_applied(env.input_ids()[-1])
    till = Till(env)
    # First purchase on Black Friday (x2) with wine (x2) lines, in the birthday
    # month, referred: every bonus, and an upgrade to silver.
    first = preview_then_send(env, till, sale("s1", "kid", 20000, at(2026, 11, 28), lines=[
        {"sku": "W1", "cat": "wine", "qty": 1, "amount": 12000},
        {"sku": "F1", "cat": "fresh", "qty": 1, "amount": 8000}]))
    kinds = [(o["kind"], o["member"], o.get("cause")) for o in first["outputs"]]
    assert ("points.changed", "ref", "bonus") in kinds, kinds
    assert ("points.changed", "kid", "bonus") in kinds
    assert first["tier_changed"] and first["tier_before"] == "blue"
    # Caps: per sale, then per day; previews in msgpack.
    for k, hour in enumerate((10, 11, 12)):
        capped = preview_then_send(env, till, sale(f"s2{k}", "kid", 900000, at(2026, 11, 29, hour)),
                                   use_msgpack=True)
    assert capped["points_by_cause"].get("purchase", 0) < 900000 * 2 // 100
    # A fixed-bonus campaign at its stores (spring_bonus), ts left out: the
    # engine clock is used, so a tick moves the clock into the campaign first.
    env.push(kind="tick", ts=at(2027, 3, 10))
    env.wait_applied(env.input_ids()[-1])
    spring = preview_then_send(env, till, sale("s3", "ref", 6000, store="store_012"))
    assert spring["ts"] == at(2027, 3, 10)
    assert spring["points_by_cause"]["bonus"] >= 100
    # A retry: nothing new.
    status, dup = till.post(sale("s3", "ref", 6000, store="store_012"))
    assert status == 200 and dup["verdict"] == "duplicate" and dup["outputs"] == []
    till.close()


def test_ten_thousand_previews_change_nothing(make_env):
    env = make_env()
    for i in range(30):
        env.push(kind="enroll", txn=f"e{i}", member=f"m{i:02d}")
        env.push(kind="purchase", txn=f"p{i}", member=f"m{i:02d}", store="store_012",
                 amount=1000 + 137 * i)
    env.wait_applied(env.input_ids()[-1])
    assert env.daemon.stop() == 0
    snaps = sorted(env.daemon.data.glob("snap-*.lysnap"))
    before = snaps[-1].read_bytes()
    env.daemon.start()
    r = env.r
    streams = {k: r.xlen(PREFIX + k) for k in ("in", "out", "dlq")}
    marker = r.get(PREFIX + "progress")
    till = Till(env)
    statuses = {}
    for i in range(10000):
        member = f"m{i % 40:02d}"  # ten of them unknown
        m = sale(f"p{i % 50}" if i % 7 == 0 else f"x{i}", member, 1 + (i * 7919) % 500000)
        status, _ = till.post(m, msgpack_body=i % 2 == 1)
        statuses[status] = statuses.get(status, 0) + 1
    till.close()
    assert statuses.get(200, 0) > 6000 and statuses.get(404, 0) > 0 and \
        statuses.get(422, 0) > 0, statuses  # unknown members, txns of other members
    assert {k: r.xlen(PREFIX + k) for k in ("in", "out", "dlq")} == streams
    assert r.get(PREFIX + "progress") == marker
    assert env.daemon.stop() == 0
    after = sorted(env.daemon.data.glob("snap-*.lysnap"))[-1]
    assert after.name == snaps[-1].name and after.read_bytes() == before


def test_bad_bodies_get_the_decoders_reason_codes(env):
    env.push(kind="enroll", txn="e1", member="M1")
    env.wait_applied(env.input_ids()[-1])
    till = Till(env)
    cases = [
        (b"{not json", False, 400, "bad_json"),
        (b'{"v":1,"kind":"purchase","kind":"purchase"}', False, 400, "duplicate_key"),
        (sale("t1", "M1", 1.5), False, 400, "wrong_type"),
        ({"v": 1, "kind": "purchase", "txn": "t1", "store": "s", "amount": 5}, False, 400,
         "missing_field"),
        (b"\xc1\xc1", True, 400, "bad_msgpack"),
        ({"v": 1, "kind": "scan", "member": "M1", "store": "s"}, True, 400, "not_a_purchase"),
        ({"v": 2, "kind": "purchase"}, False, 400, "bad_version"),
        (sale("t1", "nobody", 500), False, 404, "unknown_member"),
        (sale("t1", "M1", 500, lines=[{"sku": "a", "cat": "b", "qty": 1, "amount": 1}]), True,
         422, "lines_mismatch"),
        (sale("e1", "M1", 500), False, 422, "txn_conflict"),
    ]
    for body, use_msgpack, want_status, want_code in cases:
        status, answer = till.post(body, use_msgpack)
        assert (status, answer["error"]) == (want_status, want_code), (body, answer)
    status, answer = till.post(sale("t1", "M1", 500), method="GET")
    assert status == 405
    status, _ = till.post(b"x" * 40000)  # evhttp refuses it before reading it all
    assert status == 413
    till.close()
    assert env.r.xlen(PREFIX + "dlq") == 0, "previews never reach the DLQ"


def test_previews_need_the_token_when_one_is_set(make_env):
    env = make_env(http_token='"preview-secret"')
    wait_until(lambda: env.daemon.health()[0] == 200, what="healthy")
    status, answer = Till(env).post(sale("t1", "M1", 500, ts=at(2027, 1, 1)))
    assert status == 401 and answer["error"] == "unauthorized"
    till = Till(env, token="preview-secret")
    status, answer = till.post(sale("t1", "M1", 500))  # no entry yet: no engine clock
    assert status == 400 and answer["error"] == "missing_field" and "ts" in answer["detail"]
    status, answer = till.post(sale("t1", "M1", 500, ts=at(2027, 1, 1)))
    assert status == 404 and answer["error"] == "unknown_member"
