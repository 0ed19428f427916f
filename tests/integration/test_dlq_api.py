"""GET /v1/dlq: the last rejections the daemon committed, newest first,
exactly as they are in <prefix>dlq (src, reason, detail, the head of the
original bytes), bounded, with the limit checked."""
import msgpack
import pytest

from harness import PREFIX

RING = 256  # DLQRING_ENTRIES_MAX
HEAD = 48   # DLQRING_HEAD_BYTES


def dlq_newest_first(env, count):
    rows = env.r.xrevrange(PREFIX + "dlq", count=count)
    return [dict(src=f[b"src"].decode(), reason=f[b"reason"].decode(),
                 detail=f[b"detail"].decode(), m_bytes=len(f.get(b"m", b"")),
                 m_head_hex=f.get(b"m", b"")[:HEAD].hex()) for _, f in rows]


def bad_entries(env, n, start=0):
    """`n` entries the daemon must reject, of several kinds, the last one
    id returned."""
    sid = None
    for i in range(start, start + n):
        if i % 3 == 0:
            sid = env.push(kind="purchase", txn=f"t{i}", member=f"nobody-{i}", store="s1",
                           amount=100)
        elif i % 3 == 1:
            sid = env.push_raw(b"\xc1garbage-%d" % i)
        else:
            sid = env.push_raw(msgpack.packb({"v": 9, "kind": "purchase", "ts": 1, "i": i}))
    return sid


def test_dlq_lists_the_committed_rejections_newest_first(env):
    env.push(kind="enroll", txn="e1", member="m1")
    bad_entries(env, 5)
    sid = env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=100)
    env.wait_applied(sid)
    status, body = env.http_get("/v1/dlq")
    assert status == 200, body
    assert body["entries"] == dlq_newest_first(env, 50)
    assert len(body["entries"]) == 5 and body["held"] == 5 and body["committed"] == 5
    assert {e["reason"] for e in body["entries"]} == {"unknown_member", "bad_msgpack",
                                                      "bad_version"}
    status, body = env.http_get("/v1/dlq?limit=2")
    assert status == 200 and body["entries"] == dlq_newest_first(env, 2)


def test_the_ring_keeps_the_newest_and_counts_all(env):
    env.wait_applied(bad_entries(env, RING + 44))
    status, body = env.http_get(f"/v1/dlq?limit={RING}")
    assert status == 200
    assert body["held"] == RING and body["capacity"] == RING
    assert body["committed"] == RING + 44
    assert body["entries"] == dlq_newest_first(env, RING)


@pytest.mark.parametrize("limit", ["0", "257", "-1", "abc", "", "5x", "99999999999999999999"])
def test_a_bad_limit_is_a_400(env, limit):
    status, body = env.http_get(f"/v1/dlq?limit={limit}")
    assert status == 400 and body["error"] == "bad_limit", (limit, status, body)


def test_after_a_restart_the_ring_starts_empty_and_redis_keeps_the_history(env):
    env.wait_applied(bad_entries(env, 3))
    env.daemon.stop()
    env.daemon.start()
    status, body = env.http_get("/v1/dlq")
    assert status == 200 and body["entries"] == [] and body["held"] == 0
    assert env.r.xlen(PREFIX + "dlq") == 3
    env.wait_applied(bad_entries(env, 1, start=3))
    status, body = env.http_get("/v1/dlq")
    assert body["entries"] == dlq_newest_first(env, 1)
