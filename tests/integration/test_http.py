"""The read-only HTTP API: member lookups, errors as JSON, /healthz and
/metrics consistent with what went through the stream."""
import pytest

from harness import PREFIX, SETUP_ENTRIES, http_request, wait_until


def test_unknown_member_is_a_404_with_a_json_error(env):
    status, body = env.http_get("/v1/members/nobody")
    assert status == 404
    assert isinstance(body, dict) and body["error"] == "unknown_member", body


def test_a_known_member_is_a_200_with_the_documented_fields(plain_env):
    env = plain_env
    env.push(kind="enroll", txn="e1", member="card-0001")
    sid = env.push(kind="purchase", txn="p1", member="card-0001", store="s1", amount=12345)
    env.wait_applied(sid)
    body = env.member("card-0001")
    for key in ("member", "tier", "balance", "lifetime_points", "perks"):
        assert key in body, key
    assert body["member"] == "card-0001"
    assert body["tier"] == env.rules.tiers[0]["name"]
    assert body["balance"] == body["lifetime_points"] == 123


@pytest.mark.parametrize("raw_id", [
    "x" * 40,          # longer than a member id can be (32)
    "x" * 33,
    "%00",             # NUL
    "ab%00cd",
    "a%20b",           # space
    "%7F",             # DEL
    "%C3%A9",          # non-ASCII
    "",                # empty
])
def test_malformed_member_id_is_a_400_with_a_json_error(env, raw_id):
    status, body = env.http_get(f"/v1/members/{raw_id}")
    assert status == 400, (raw_id, status, body)
    assert isinstance(body, dict) and body["error"], body


def test_a_32_byte_member_id_is_well_formed(env):
    status, body = env.http_get("/v1/members/" + "x" * 32)
    assert status == 404 and body["error"] == "unknown_member"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_write_methods_are_a_405_with_a_json_error(env, method):
    for path in ("/v1/members/someone", "/healthz", "/metrics"):
        status, body = env.http_get(path, method=method)
        assert status == 405, (method, path, status, body)
        assert isinstance(body, dict) and body["error"], body


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS"])
def test_other_methods_are_a_405_with_a_json_error_too(env, method):
    status, body = env.http_get("/v1/members/someone", method=method)
    assert status == 405, (method, status, body)
    assert isinstance(body, dict) and body["error"], body


def test_unknown_path_is_a_404_with_a_json_error(env):
    status, body = env.http_get("/v2/nothing")
    assert status == 404 and isinstance(body, dict) and body["error"], body


def test_healthz_reports_ok_and_the_last_applied_id(env):
    env.push(kind="enroll", txn="e1", member="m1")
    sid = env.push(kind="enroll", txn="e2", member="m2")
    env.wait_applied(sid)
    status, body = env.http_get("/healthz")
    assert status == 200
    assert body["status"] == "ok" and body["last_id"] == sid and body["members"] == 2


def test_metrics_are_consistent_with_what_was_pushed(plain_env):
    env = plain_env
    env.push(kind="enroll", txn="e1", member="a")
    env.push(kind="enroll", txn="e2", member="b")
    env.push(kind="purchase", txn="p1", member="a", store="s1", amount=1000)
    env.push(kind="purchase", txn="p2", member="b", store="s1", amount=2000)
    env.push(kind="purchase", txn="p1", member="a", store="s1", amount=1000)  # retry
    env.push(kind="redeem", txn="r1", member="a", points=5)
    env.push(kind="scan", member="a", store="s1")
    env.push(kind="purchase", txn="p3", member="ghost", store="s1", amount=1000)  # DLQ
    sid = env.push_raw(b"\xc1")  # DLQ
    env.wait_applied(sid)
    events = env.read_out()
    by_kind = {}
    for e in events:
        by_kind[e["kind"]] = by_kind.get(e["kind"], 0) + 1
    want = {
        "loyalty_entries_applied_total": SETUP_ENTRIES + 6,
        "loyalty_entries_rejected_total": 2,
        "loyalty_entries_duplicate_total": 1,
        "loyalty_members": 2,
        'loyalty_outputs_total{kind="points.changed"}': by_kind.get("points.changed", 0),
        'loyalty_outputs_total{kind="redeem.result"}': 1,
        'loyalty_outputs_total{kind="rules.changed"}': SETUP_ENTRIES,
        'loyalty_outputs_total{kind="tier.changed"}': by_kind.get("tier.changed", 0),
    }
    assert by_kind["points.changed"] == 3  # two purchases and the redeem

    def consistent():
        # Output counters move when Redis confirms the commit, a moment
        # after the progress marker is visible.
        m = env.daemon.metrics()
        return m if all(m.get(k) == v for k, v in want.items()) else None

    metrics = wait_until(consistent, what="/metrics to match what was pushed")
    assert metrics["loyalty_batches_total"] >= 1
    assert metrics["loyalty_redis_up"] == 1
    assert metrics["loyalty_redis_behind"] == 0
    assert metrics["loyalty_engine_clock_timestamp_seconds"] > 0
    assert env.r.xlen(PREFIX + "dlq") == 2


def test_head_of_a_member_is_answered_without_a_body(env):
    status, body = http_request(env.daemon.http_port, "/v1/members/nobody", method="HEAD")
    assert (status, body) == (404, "")
