"""Security: the daemon runs under the least-privilege Redis ACL README gives
(and a POS user that can only append), keeps its secrets out of the log,
keeps retrying when AUTH is refused; the HTTP API wants its bearer token
everywhere but /healthz, refuses to listen beyond loopback without one, and
never reflects a member id from a URL."""
import json
import re
import subprocess
import urllib.parse

import msgpack
import pytest
import redis

from harness import (LOYALTYD_BIN, PREFIX, REPO, TEST_OVERRIDES, conf_text, free_port,
                     wait_until)
from faultkit import AclRedis, http_call, raw_http

README = REPO / "README.md"
# What the daemon sends to Redis (consumer.c, cursor.c, pipeline.c, and
# rulesync.c's MULTI/EXEC appending the file's rulebook) and what its
# functions call (fenced.c): the daemon's ACL is exactly this.
DAEMON_ACL = {"-@all", "+xread", "+xadd", "+xinfo|stream", "+xrange", "+xtrim", "+get", "+set",
              "+hget", "+hmget", "+hset", "+type", "+ping", "+fcall", "+function|load",
              "+multi", "+exec"}
POS_ACL = {"-@all", "+xadd"}
# README's placeholders and the secrets this test uses instead.
SECRETS = {"CHANGE-ME-daemon-secret": "d43mon-Secret-7f1c2b", "CHANGE-ME-pos-secret":
           "p0s-Secret-19ab77"}
DAEMON_SECRET, POS_SECRET = SECRETS.values()
WRONG_SECRET = "wr0ng-Secret-5e5e5e"
ADMIN = ("harness", "h4rness-Secret-0c2e41")  # the test's own inspecting user
PASSWORD_ENV = "LOYALTYD_TEST_REDIS_PASSWORD"
TOKEN_ENV = "LOYALTYD_TEST_HTTP_TOKEN"
TOKEN = "t0ken-Zq9-4411-abcdef"
RUN_TIMEOUT_S = 15


def readme_acl():
    """{user: [tokens]} of the ACL in README's Security section."""
    section = README.read_text().split("### Security", 1)
    assert len(section) == 2, "README.md has no Security section"
    block = re.search(r"```\n(.*?)```", section[1], re.S)
    assert block, "README's Security section has no ACL block"
    users = [line.split() for line in block.group(1).splitlines() if line.startswith("user ")]
    return {tokens[1]: tokens for tokens in users}


def acl_file_text():
    """README's ACL with test secrets, plus the test's admin user."""
    lines = [" ".join(tokens) for tokens in readme_acl().values()]
    text = "\n".join(lines)
    for placeholder, secret in SECRETS.items():
        assert placeholder in text, placeholder
        text = text.replace(placeholder, secret)
    return text + f"\nuser {ADMIN[0]} on >{ADMIN[1]} ~* &* +@all\n"


def test_readme_acl_gives_the_daemon_exactly_the_commands_it_uses():
    acl = readme_acl()
    assert acl["default"][2] == "off"
    daemon, pos = acl["loyaltyd"], acl["pos"]
    assert {t for t in daemon if t[0] in "+-"} == DAEMON_ACL
    assert {t for t in daemon if t[0] == "~"} == {f"~{PREFIX}*"}
    assert {t for t in pos if t[0] in "+-"} == POS_ACL
    assert {t for t in pos if t[0] == "~"} == {f"~{PREFIX}in"}
    assert "resetchannels" in daemon and "resetchannels" in pos


@pytest.fixture
def acl_env(make_env, monkeypatch):
    """acl_env(password, start=True, **conf) -> Env whose Redis runs README's
    ACL; the daemon logs in as `loyaltyd` with `password` from PASSWORD_ENV;
    env.r is the admin user."""
    def make(password, start=True, **overrides):
        monkeypatch.setenv(PASSWORD_ENV, password)
        env = make_env(start=False, plain=True, redis_user='"loyaltyd"',
                       redis_password_env=f'"{PASSWORD_ENV}"', **overrides)
        assert env.stop_redis() == 0  # the plain Redis make_env started
        env.redis = AclRedis(env.tmp / "acl-redis", acl_file_text(), ADMIN).start()
        env.r = env.redis.client()
        env.daemon.redis_port = env.redis.port
        if start:
            env.daemon.start()
        return env
    return make


def pos_push(env, pos, **fields):
    return pos.xadd(PREFIX + "in", {"m": msgpack.packb(env.entry(**fields))}).decode()


def test_daemon_as_a_least_privilege_acl_user_applies_what_the_pos_user_pushes(acl_env):
    # A snapshot every 3 entries: XTRIM runs; a crash after one more entry
    # makes the restart replay it (XINFO STREAM, XRANGE): every command the
    # daemon has runs under the ACL.
    env = acl_env(DAEMON_SECRET, snapshot_every_entries=3, snapshot_every_ms=0)
    pos = env.redis.client("pos", POS_SECRET)
    pos_push(env, pos, kind="enroll", txn="e1", member="m1")
    pos_push(env, pos, kind="purchase", txn="p1", member="m1", store="s1", amount=12345)
    sid = pos_push(env, pos, kind="purchase", txn="p2", member="m1", store="s1", amount=655)
    env.wait_applied(sid)
    wait_until(lambda: env.daemon.metrics()["loyalty_input_trims_total"] >= 1,
               what="a snapshot and the XTRIM after it")
    late = pos_push(env, pos, kind="purchase", txn="p3", member="m1", store="s1", amount=1000)
    env.wait_applied(late)
    env.daemon.kill()
    env.daemon.start()
    assert env.daemon.metrics()["loyalty_entries_replayed_total"] >= 1

    want = sum(env.rules.earn(a, 0) for a in (12345, 655, 1000))
    assert env.member("m1")["balance"] == want
    events = [e for e in env.read_out() if e["kind"] == "points.changed"]
    assert [e["src"] for e in events] == [e["src"] for e in events if e["member"] == "m1"]
    assert events and events[-1]["src"] == late and events[-1]["balance"] == want
    assert env.pending_count() == 0
    log = env.daemon.log_text()
    assert DAEMON_SECRET not in log
    assert "NOPERM" not in log and "refused" not in log and "failed" not in log, log[-2000:]

    # The users are really confined.
    with pytest.raises(redis.exceptions.NoPermissionError):
        pos.xrange(PREFIX + "out")
    with pytest.raises(redis.exceptions.NoPermissionError):
        pos.xadd("elsewhere", {"m": b"x"})
    daemon_user = env.redis.client("loyaltyd", DAEMON_SECRET)
    with pytest.raises(redis.exceptions.NoPermissionError):
        daemon_user.get("elsewhere")
    with pytest.raises(redis.exceptions.NoPermissionError):
        daemon_user.flushall()
    anonymous = redis.Redis(host="127.0.0.1", port=env.redis.port, socket_timeout=5)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.xlen(PREFIX + "in")
    for c in (pos, daemon_user, anonymous):
        c.close()


def test_a_wrong_redis_password_is_logged_as_refused_without_the_secret_and_retried(acl_env):
    env = acl_env(WRONG_SECRET, start=False)
    env.daemon.start(wait=False)
    refused = "AUTH as 'loyaltyd' refused"
    wait_until(lambda: env.daemon.log_text().count(refused) >= 3,
               what="three refused AUTH attempts in the log")
    assert env.daemon.alive()
    status, body = env.daemon.health()
    assert status == 503 and body["consumer"] != "consuming", body
    log = env.daemon.log_text()
    assert WRONG_SECRET not in log and DAEMON_SECRET not in log
    assert env.daemon.metrics()["loyalty_redis_connects_total"] >= 3


# -- HTTP ---------------------------------------------------------------------------


@pytest.fixture
def token_env(make_env, monkeypatch):
    """A running daemon whose HTTP token comes from TOKEN_ENV, with member m1."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    env = make_env(plain=True, http_token_env=f'"{TOKEN_ENV}"')
    env.push(kind="enroll", txn="e1", member="m1")
    env.wait_applied(env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=5000))
    return env


BAD_AUTH = [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Bearer {TOKEN.upper()}"},
    {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer "},
]


def test_with_a_token_every_path_but_healthz_needs_the_bearer_token(token_env):
    port = token_env.daemon.http_port
    good = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/v1/members/m1", "/metrics", "/v1/segments", "/v1/members/nobody",
                 "/v1/dlq"):
        for headers in BAD_AUTH:
            status, h, body = http_call(port, path, headers)
            assert status == 401, (path, headers, status)
            assert h.get("www-authenticate", "").startswith("Bearer"), h
            assert h.get("content-type", "").startswith("application/json"), h
            assert json.loads(body)["error"] == "unauthorized"
            assert TOKEN.encode() not in body
        status, _, body = http_call(port, path, good)
        assert status == (404 if path.endswith("nobody") else 200), (path, status, body)
    _, _, body = http_call(port, "/v1/members/m1", good)
    assert json.loads(body)["balance"] == token_env.rules.earn(5000, 0)
    status, _, body = http_call(port, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"


def run_daemon(conf, *args):
    return subprocess.run([LOYALTYD_BIN, "-c", str(conf), *args], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


def test_http_beyond_loopback_needs_a_token(tmp_path, monkeypatch):
    plain = tmp_path / "plain.conf"
    plain.write_text(conf_text(TEST_OVERRIDES))
    everywhere = f"0.0.0.0:{free_port()}"
    # A real start (not only --check-config): it must stop before binding.
    res = run_daemon(plain, "--http", everywhere, "--redis", f"127.0.0.1:{free_port()}",
                     "--data", str(tmp_path / "data"))
    assert res.returncode == 1, res
    assert "0.0.0.0" in res.stderr and "http_token" in res.stderr, res.stderr
    res = run_daemon(plain, "--http", everywhere, "--check-config")
    assert res.returncode == 1 and "http_token" in res.stderr, res

    tokened = tmp_path / "token.conf"
    tokened.write_text(conf_text(dict(TEST_OVERRIDES, http_token_env=f'"{TOKEN_ENV}"')))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    res = run_daemon(tokened, "--http", everywhere, "--check-config")
    assert res.returncode == 1 and TOKEN_ENV in res.stderr, res  # the variable is unset
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    res = run_daemon(tokened, "--http", everywhere, "--check-config")
    assert res.returncode == 0, res
    assert TOKEN not in res.stdout + res.stderr


# Ids with markup, quotes and a NUL: the NUL (or a space) makes them invalid
# (400); without one they are well-formed ids of nobody (404). Either way the
# reply must not carry them back.
HOSTILE = ['<script>alert(1)</script>', '"><img/src=x/onerror=alert(1)>',
           "a'b\"c<d>e"]
MARKERS = [b"<script", b"onerror", b"alert(", b"<img", b"<d>"]


def assert_not_reflected(body, hostile):
    assert hostile.encode() not in body
    assert urllib.parse.quote(hostile, safe="").encode() not in body
    for marker in MARKERS:
        assert marker not in body, (marker, body)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_member_ids_from_urls_are_validated_and_never_reflected(token_env, hostile):
    port = token_env.daemon.http_port
    good = {"Authorization": f"Bearer {TOKEN}"}
    encoded = urllib.parse.quote(hostile, safe="")
    cases = [(encoded + "%00", 400, "bad_member_id"),
             ("%00" + encoded, 400, "bad_member_id"),
             (encoded + "%20x", 400, "bad_member_id"),
             (encoded, 404, "unknown_member")]
    for path, want, error in cases:
        status, h, body = http_call(port, "/v1/members/" + path, good)
        assert status == want, (path, status, body)
        assert h["content-type"].startswith("application/json")
        assert json.loads(body)["error"] == error
        assert_not_reflected(body, hostile)
        status, _, body = http_call(port, "/v1/members/" + path)  # no token
        assert status == 401
        assert_not_reflected(body, hostile)
    # The same bytes unencoded in the request line, as a hostile client sends them.
    raw = b"GET /v1/members/" + hostile.encode() + b"%00 HTTP/1.1\r\nHost: t\r\n" \
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n"
    response = raw_http(port, raw)
    status = int(response.split(b" ", 2)[1])
    assert status == 400, response[:200]
    assert_not_reflected(response.partition(b"\r\n\r\n")[2], hostile)
