"""GET /v1/members/ID/history at the daemon's address: the daemon relays it
to loyalty-ledger (daemon.ledger) without blocking its loop, so integrators
have one URL for lookups and history (README, Ledger)."""
import json
import re
import time
import urllib.error
import urllib.request

from harness import http_request
from ledgerkit import EXPIRY_MONTHS, make_world, pg_cluster, wait_daemon_done  # noqa: F401

LEDGER_TOKEN = "ledger-secret-token-0123456789"


def with_ledger(env, port, token=LEDGER_TOKEN, extra=""):
    """Points the daemon's configuration at a ledger on `port`."""
    text = env.conf_path.read_text()
    text, n = re.subn(r"^daemon\s*=\s*\{",
                      f'daemon = {{\n  ledger = "127.0.0.1:{port}";\n'
                      f'  ledger_token = "{token}";\n{extra}', text, count=1, flags=re.M)
    assert n == 1
    env.conf_path.write_text(text)


def get(port, path, token=None, timeout=10):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_history_at_the_daemon_equals_the_ledgers_and_pages_through(make_world):
    world = make_world("sqlite", start=False)
    ledger = world.ledger(token=LEDGER_TOKEN).start()
    with_ledger(world.env, ledger.http_port)
    world.env.daemon.start()
    world.posload(count=3000, members=40, seed=5).run()
    wait_daemon_done(world.env)
    ledger.wait_caught_up(world.env.redis.client())
    port = world.env.daemon.http_port
    compared = 0
    for member in ("M000001", "M000007", "M000023"):
        before, pages = None, 0
        while True:
            path = f"/v1/members/{member}/history?limit=7" + (f"&before={before}" if before else "")
            status, via_daemon = http_request(port, path)
            assert status == 200, via_daemon
            assert via_daemon == ledger.get(path)[1]  # the ledger's answer, relayed as is
            compared += len(via_daemon["events"])
            pages += 1
            before = via_daemon["next_before"]
            if before is None:
                break
        assert pages >= 2, f"{member}: too few events to page through"
    assert compared > 20
    # The ledger's own errors are relayed too (its status and JSON body).
    status, body = http_request(port, "/v1/members/M000001/history?limit=0")
    assert status == ledger.get("/v1/members/M000001/history?limit=0")[0] == 400, body


def test_without_a_ledger_history_is_a_clear_404_and_lookups_still_work(make_world):
    world = make_world("sqlite")
    world.posload(count=200, members=10, seed=3).run()
    wait_daemon_done(world.env)
    port = world.env.daemon.http_port
    status, body = http_request(port, "/v1/members/M000001/history")
    assert status == 404 and body["error"] == "no_ledger", body
    assert "daemon.ledger" in body["detail"]
    status, body = http_request(port, "/v1/members/M000001")
    assert status == 200 and body["member"] == "M000001"


def test_a_ledger_that_is_down_costs_the_history_request_a_502_and_nothing_else(make_world):
    world = make_world("sqlite", start=False)
    ledger = world.ledger(token=LEDGER_TOKEN).start()
    with_ledger(world.env, ledger.http_port)
    world.env.daemon.start()
    world.posload(count=300, members=10, seed=9).run()
    wait_daemon_done(world.env)
    ledger.wait_caught_up(world.env.redis.client())
    port = world.env.daemon.http_port
    assert http_request(port, "/v1/members/M000002/history")[0] == 200
    assert ledger.stop() == 0
    started = time.monotonic()
    status, body = http_request(port, "/v1/members/M000002/history")
    assert status == 502 and body["error"] == "ledger_unavailable", body
    assert time.monotonic() - started < 10  # bounded: never waits on the ledger for long
    # Lookups and ingestion carry on meanwhile.
    assert http_request(port, "/v1/members/M000002")[0] == 200
    world.posload(count=100, members=10, seed=10, start_ts=1_790_000_000_000).run()
    wait_daemon_done(world.env)
    assert world.env.daemon.alive()
    # Back on the same address: the daemon's next history request reaches it.
    old = ledger.http_port
    ledger.start(wait=False, args=["--http", f"127.0.0.1:{old}"])
    ledger.http_port = old
    ledger.wait_healthy()
    ledger.wait_caught_up(world.env.redis.client())
    assert http_request(port, "/v1/members/M000002/history")[0] == 200


def test_history_needs_the_daemons_token_and_the_daemon_sends_the_ledgers(make_world):
    world = make_world("sqlite", start=False)
    ledger = world.ledger(token=LEDGER_TOKEN).start()
    with_ledger(world.env, ledger.http_port,
                extra='  http_token = "daemon-secret-token-0123456789";\n')
    text = world.env.conf_path.read_text()
    # The shipped file sets http_token = ""; the one added above must win.
    text = re.sub(r'^(\s*)http_token = "";\n', "", text, flags=re.M)
    world.env.conf_path.write_text(text)
    world.env.daemon.start()
    world.posload(count=200, members=10, seed=4).run()
    wait_daemon_done(world.env)
    ledger.wait_caught_up(world.env.redis.client())
    port = world.env.daemon.http_port
    status, body = get(port, "/v1/members/M000001/history")
    assert status == 401, body
    status, body = get(port, "/v1/members/M000001/history", LEDGER_TOKEN)
    assert status == 401, body  # the ledger's token is not the daemon's
    status, body = get(port, "/v1/members/M000001/history", "daemon-secret-token-0123456789")
    assert status == 200 and body["events"], body


def test_a_stalled_ledger_gives_504_and_a_client_that_hangs_up_is_forgotten(make_world):
    """The ledger stopped (SIGSTOP: it accepts connections but answers
    nothing): a client that gives up first is forgotten when the answer
    never comes (nothing is sent to a freed request: ASan would see it), a
    client that waits gets 504 after LEDGERPROXY_TIMEOUT_S; once the ledger
    runs again history is served as before."""
    import os
    import signal
    import socket
    world = make_world("sqlite", start=False)
    ledger = world.ledger(token=LEDGER_TOKEN).start()
    with_ledger(world.env, ledger.http_port)
    world.env.daemon.start()
    world.posload(count=200, members=10, seed=12).run()
    wait_daemon_done(world.env)
    ledger.wait_caught_up(world.env.redis.client())
    port = world.env.daemon.http_port
    os.kill(ledger.proc.pid, signal.SIGSTOP)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /v1/members/M000001/history HTTP/1.1\r\nHost: x\r\n\r\n")
        # Hung up before any answer.
        # Queued behind the orphan on the one connection to the ledger: at most
        # two timeouts of LEDGERPROXY_TIMEOUT_S (5 s).
        started = time.monotonic()
        status, body = get(port, "/v1/members/M000003/history", timeout=30)
        waited = time.monotonic() - started
        assert status == 504 and body["error"] == "ledger_unavailable", body
        assert waited < 20
        assert http_request(port, "/v1/members/M000003")[0] == 200
    finally:
        os.kill(ledger.proc.pid, signal.SIGCONT)
    status, body = http_request(port, "/v1/members/M000003/history")
    assert status == 200 and body["events"], body
    assert world.env.daemon.alive()


def test_the_dashboards_member_page_shows_the_history_the_api_serves(make_world, tmp_path):
    """The member page in real Chromium, the daemon relaying to a real
    ledger: the rows shown are the newest events of GET .../history."""
    from test_dashboard import Shots, show
    from cdp import Browser
    world = make_world("sqlite", start=False)
    ledger = world.ledger(token=LEDGER_TOKEN).start()
    with_ledger(world.env, ledger.http_port)
    world.env.daemon.start()
    world.posload(count=1500, members=20, seed=6).run()
    wait_daemon_done(world.env)
    ledger.wait_caught_up(world.env.redis.client())
    port = world.env.daemon.http_port
    status, api = http_request(port, "/v1/members/M000001/history?limit=20")
    assert status == 200 and len(api["events"]) == 20
    browser = Browser(tmp_path / "chromium")
    try:
        page = browser.new_page()
        page.navigate(f"http://127.0.0.1:{port}/ui/")
        page.wait_for("window.loyaltyUi.page() === 'overview'", what="the overview page")
        show(page, "member/M000001")
        page.wait_for("!!document.querySelector('[data-k=history]')", what="the history table")
        shown = page.evaluate(
            "[...document.querySelectorAll('[data-k=history] tr')].slice(1).map(r => ["
            "r.querySelector('[data-k=kind]').textContent,"
            "r.querySelector('[data-k=delta]').textContent.replace(/,/g, ''),"
            "r.querySelector('[data-k=balance]').textContent.replace(/,/g, '')])")
        want = [[e["kind"], "-" if e["delta"] is None else str(e["delta"]),
                 "-" if e["balance"] is None else str(e["balance"])] for e in api["events"]]
        assert shown == want
        Shots(tmp_path).take(page, "member-history")
        assert page.errors == [], page.errors
    finally:
        browser.stop()
