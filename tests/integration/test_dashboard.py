"""The dashboard at /ui/, in a real headless Chromium against the real daemon
under a POS load (loyalty-posload): every page (the liability's too) loads
with no console error,
shows the same numbers as the API, charts the rates, and is photographed
(PNG files in the test's directory, under screenshots/). With a token
configured the page asks for it and works with it."""
import http.client
import json
import os
import re
import shutil
import subprocess

import pytest

from cdp import Browser
from harness import BASE_TS_MS, HTTP_TIMEOUT_S, PREFIX, REPO, wait_until

POSLOAD_BIN = os.environ.get("LOYALTY_POSLOAD_BIN",
                             str(REPO / "build" / "clients" / "loyalty-posload"))
LOAD_ENTRIES = 6000
LOAD_RATE = 1000       # entries/s: the load lasts ~6 s, three samples of the page
LOAD_TIMEOUT_S = 120
MEMBER = "M000001"     # posload's first member
TOKEN = "dashboard-test-token-0123456789"
# Set to a directory to keep a copy of the screenshots there (the README's
# docs/dashboard.png is the overview from such a run).
SCREENSHOT_COPY = os.environ.get("LOYALTY_UI_SCREENSHOTS")

CARDS_JS = "Object.fromEntries([...document.querySelectorAll('#page [data-k]')]" \
           ".map(e => [e.dataset.k, e.textContent]))"
ROWS_JS = "Object.fromEntries([...document.querySelectorAll('tr[data-dim]')]" \
          ".map(r => [r.dataset.dim + '/' + r.dataset.key, " \
          "r.querySelector('[data-count]').textContent]))"


def number(text):
    """A figure as the page shows it ("12,345") as an int."""
    assert re.fullmatch(r"-?[\d,]+", text), text
    return int(text.replace(",", ""))


def get(port, path, token=None):
    """(status, headers, body) of one GET, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path)
    yield b
    b.stop()


class Shots:
    def __init__(self, tmp_path):
        self.dir = tmp_path / "screenshots"
        self.dir.mkdir()

    def take(self, page, name):
        path = page.screenshot(self.dir / f"{name}.png")
        assert path.stat().st_size > 10_000, f"{path} looks empty"
        if SCREENSHOT_COPY:
            os.makedirs(SCREENSHOT_COPY, exist_ok=True)
            shutil.copy(path, SCREENSHOT_COPY)
        return path


def start_load(env):
    return subprocess.Popen(
        [POSLOAD_BIN, "--redis", f"127.0.0.1:{env.redis.port}", "--rate", str(LOAD_RATE),
         "--count", str(LOAD_ENTRIES), "--members", "300", "--stores", "12", "--seed", "7",
         "--start-ts", str(BASE_TS_MS), "--ts-step-ms", "60000", "--quiet",
         "--mix", "purchase=86,scan=2,redeem=4,refund=6,enroll=2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def push_rejects(env, n):
    for i in range(n):
        env.push_raw(b"\xc1 not msgpack %d" % i)
        env.push(kind="purchase", txn=f"ghost-{i}", member=f"ghost-{i}", store="s1", amount=100)


def wait_all_applied(env):
    last = env.r.xinfo_stream(PREFIX + "in")["last-generated-id"]
    env.wait_applied(last.decode() if isinstance(last, bytes) else last)
    n = env.r.xlen(PREFIX + "in")

    def counted():
        m = env.daemon.metrics()
        return sum(m[k] for k in ("loyalty_entries_applied_total",
                                  "loyalty_entries_rejected_total",
                                  "loyalty_entries_duplicate_total")) == n
    wait_until(counted, what="every entry counted in /metrics")


def show(page, route):
    """Goes to #/route and waits until that page has refreshed once."""
    page.evaluate(f"location.hash = '#/{route}'")
    page.wait_for(f"window.loyaltyUi.page() === '{route.split('/')[0]}'")
    page.evaluate("window.loyaltyUi.refresh()")


def check_overview(env, page):
    page.evaluate("window.loyaltyUi.refresh()")
    cards = page.evaluate(CARDS_JS)
    rows = page.evaluate(ROWS_JS)
    _, seg = env.http_get("/v1/segments")
    m = env.daemon.metrics()
    assert number(cards["members"]) == seg["members"] > 0
    for key, metric in [("entries_applied", "loyalty_entries_applied_total"),
                        ("entries_rejected", "loyalty_entries_rejected_total"),
                        ("entries_duplicate", "loyalty_entries_duplicate_total"),
                        ("batches", "loyalty_batches_total")]:
        assert number(cards[key]) == m[metric], key
    events = sum(v for k, v in m.items() if k.startswith("loyalty_outputs_total{"))
    assert number(cards["events_published"]) == events > 0
    want = {f"{dim}/{name}": count for dim in ("tier", "segment", "stage", "value_class")
            for name, count in seg[dim].items()}
    assert {k: number(v) for k, v in rows.items()} == want
    assert page.evaluate("document.querySelectorAll('.uplot canvas').length") == 3


def check_health(env, page):
    show(page, "health")
    cards = page.evaluate(CARDS_JS)
    status, h = env.http_get("/healthz")
    m = env.daemon.metrics()
    assert (status, cards["status"], cards["consumer"]) == (200, "ok", "consuming")
    assert number(cards["members"]) == h["members"]
    assert cards["last_id"] == h["last_id"]
    assert cards["redis_up"] == "yes" and cards["redis_behind"] == "no"
    for key, metric in [("redis_connects", "loyalty_redis_connects_total"),
                        ("snapshots", "loyalty_snapshots_total"),
                        ("commit_failures", "loyalty_commit_failures_total"),
                        ("txns", "loyalty_txns_remembered")]:
        assert number(cards[key]) == m[metric], key
    clock_ms = round(m["loyalty_engine_clock_timestamp_seconds"] * 1000)
    assert cards["engine_clock"] == page.evaluate(
        f"new Date({clock_ms}).toISOString().replace('T', ' ').replace(/\\.\\d+Z$/, ' UTC')")


def check_dlq(env, page):
    show(page, "dlq")
    _, dlq = env.http_get("/v1/dlq?limit=100")
    shown = page.evaluate("[...document.querySelectorAll('tr[data-src]')].map(r => "
                          "[r.dataset.src, r.querySelector('[data-reason]').textContent])")
    assert shown == [[e["src"], e["reason"]] for e in dlq["entries"]]
    assert len(shown) >= 6
    cards = page.evaluate(CARDS_JS)
    assert number(cards["entries_rejected"]) == env.daemon.metrics()[
        "loyalty_entries_rejected_total"]


def check_member(env, page):
    show(page, f"member/{MEMBER}")
    page.wait_for("!!document.querySelector('[data-k=member]')", what="the member's details")
    cards = page.evaluate(CARDS_JS)
    api = env.member(MEMBER)
    assert cards["member"] == api["member"] == MEMBER
    assert cards["tier"] == api["tier"]
    assert number(cards["balance"]) == api["balance"]
    assert number(cards["lifetime_points"]) == api["lifetime_points"]
    assert number(cards["exp30"]) == api["expiring"]["30"]
    assert number(cards["exp90"]) == api["expiring"]["90"]
    assert number(cards["purchases"]) == api["purchases"]
    assert cards["segment"] == api["segment"] and cards["stage"] == api["stage"]
    assert cards["value_class"] == (api["value_class"] or "-")
    assert cards["perks"] == ("".join(api["perks"]) if api["perks"] else "none at this tier")
    nxt = api["next_tier"]
    assert cards["next_tier_name"] == (nxt["name"] if nxt else "-")
    assert number(cards["pending_points"]) == number(cards["pending"]) == \
        api["pending"]["points"]
    risk = api["at_risk"]
    assert cards["at_risk_tier"] == (risk["tier"] if risk else "no")
    assert cards["at_risk_needed"] == (f"{risk['needed']:,}" if risk else "-")
    assert cards["churn_risk"] == f"{api['churn_risk']}%"
    # No ledger configured: the history panel says so (and asks nothing).
    assert page.evaluate("!!document.querySelector('[data-k=history_off]')")


def table_js(key, column):
    """{row month: the figure of `column`} of the page's table `key`."""
    return (f"Object.fromEntries([...document.querySelectorAll('[data-k={key}] tr[data-month]')]"
            f".map(r => [r.dataset.month, r.querySelector('[data-k={column}]').textContent]))")


def check_liability(env, page):
    show(page, "liability")
    page.wait_for("!!document.querySelector('[data-k=by_cohort]')", what="the liability tables")
    cards = page.evaluate(CARDS_JS)
    _, rep = env.http_get("/v1/liability")
    t = rep["totals"]
    assert number(cards["outstanding_points"]) == t["outstanding_points"] > 0
    assert number(cards["pending_points"]) == t["pending_points"]
    assert number(cards["debt_points"]) == t["debt_points"]
    assert cards["outstanding_value"] == f"{t['outstanding_value_minor']:,} EUR minor units"
    shown = {k: number(v) for k, v in page.evaluate(table_js("by_cohort", "outstanding")).items()}
    assert shown == {c["month"]: c["outstanding"] for c in t["by_cohort"]}
    shown = {k: number(v) for k, v in page.evaluate(table_js("by_month", "issued")).items()}
    assert shown == {r["month"]: r["issued"] for r in t["by_month"]} and sum(shown.values()) > 0
    shown = {k: number(v) for k, v in page.evaluate(table_js("by_month", "redeemed")).items()}
    assert shown == {r["month"]: r["redeemed"] for r in t["by_month"]}
    shown = {k: number(v) for k, v in page.evaluate(table_js("by_expiry", "points")).items()}
    assert shown == {e["month"]: e["points"] for e in t["by_expiry"]}
    assert page.evaluate("document.querySelectorAll('.uplot canvas').length") == 2


def check_rulebook(env, page):
    show(page, "rulebook")
    _, rb = env.http_get("/v1/rulebook?text=1")
    cards = page.evaluate(CARDS_JS)
    assert cards["hash"] == rb["short"] and rb["hash"] == env.rulebook_hash
    assert cards["label"] == rb["label"] == "harness"
    assert cards["file"].endswith("(in the log)"), cards["file"]
    rows = page.evaluate("[...document.querySelectorAll('tr[data-hash]')].map(r => r.dataset.hash)")
    assert rows == [v["hash"] for v in rb["versions"]] and rows[0] == rb["hash"]
    page.evaluate("document.querySelector('[data-k=show_text]').click()")
    page.evaluate("window.loyaltyUi.refresh()")
    page.wait_for("document.querySelector('pre.rules-text').textContent.length > 0",
                  what="the rulebook's text")
    assert page.evaluate("document.querySelector('pre.rules-text').textContent") == \
        rb["text"] == env.rulebook_text.decode()


def test_every_page_shows_the_apis_numbers_under_load(make_env, browser, tmp_path):
    # No trimming: the stream length is then the count of entries sent.
    env = make_env(snapshot_every_entries=2000, trim_input="false", liability_value_minor=1,
                   liability_value_points=2, liability_currency='"EUR"')
    shots = Shots(tmp_path)
    page = browser.new_page()
    page.navigate(f"http://127.0.0.1:{env.daemon.http_port}/ui/")
    page.wait_for("window.loyaltyUi.page() === 'overview'", what="the overview page")
    # The load starts once the page samples, so the page sees it however
    # slowly the browser started.
    load = start_load(env)
    try:
        push_rejects(env, 4)
        # The chart's rate is computed by the page from two /metrics samples.
        page.wait_for("(() => { const v = document.querySelector('[data-k=entries_per_second]');"
                      " return v && parseFloat(v.textContent.replace(/,/g, '')) > 0; })()",
                      timeout=LOAD_TIMEOUT_S, what="a rate of entries above zero")
        shots.take(page, "overview-under-load")
        assert load.wait(timeout=LOAD_TIMEOUT_S) == 0
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    push_rejects(env, 2)
    wait_all_applied(env)

    check_overview(env, page)
    shots.take(page, "overview")
    check_health(env, page)
    shots.take(page, "health")
    check_dlq(env, page)
    shots.take(page, "dlq")
    check_member(env, page)
    shots.take(page, "member")
    check_liability(env, page)
    shots.take(page, "liability")
    check_rulebook(env, page)
    shots.take(page, "rulebook")
    assert page.errors == [], page.errors


def test_with_a_token_the_page_asks_for_it_and_then_works(make_env, browser):
    env = make_env(http_token=f'"{TOKEN}"')
    env.wait_applied(env.push(kind="enroll", txn="e1", member="m1"))
    port = env.daemon.http_port
    page = browser.new_page()
    page.navigate(f"http://127.0.0.1:{port}/ui/")
    page.wait_for("!document.getElementById('token-panel').hidden", what="the token form")
    assert page.evaluate("document.getElementById('status').textContent") == "token needed"
    assert page.errors == []  # no protected call was made without the token

    page.evaluate(f"document.getElementById('token-input').value = '{TOKEN}';"
                  "document.getElementById('token-form').requestSubmit()")
    page.wait_for("document.querySelector('[data-k=members]')?.textContent === '1'",
                  what="the overview with the token")
    assert page.evaluate("sessionStorage.getItem('loyaltyd.token')") == TOKEN
    assert page.evaluate("document.getElementById('token-panel').hidden") is True
    assert page.errors == []

    page.evaluate("sessionStorage.setItem('loyaltyd.token', 'wrong');"
                  "window.loyaltyUi.refresh().catch(() => null)")
    page.wait_for("document.getElementById('status').textContent === 'token refused'")
    assert page.errors and all("401" in str(e) for e in page.errors), page.errors


def test_the_files_are_served_with_a_strict_policy_and_no_token(make_env):
    env = make_env(http_token=f'"{TOKEN}"')
    port = env.daemon.http_port
    status, headers, body = get(port, "/ui/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="app.js">' in body
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    status, headers, body = get(port, "/ui/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert body == (REPO / "engine" / "shell" / "ui" / "app.js").read_bytes()
    for path in ("/", "/ui"):
        status, headers, _ = get(port, path)
        assert (status, headers.get("Location")) == (302, "/ui/"), path
    assert get(port, "/ui/no-such-file.js")[0] == 404
    assert get(port, "/ui/../metrics")[0] in (400, 404)
    # The data still wants the token.
    assert get(port, "/v1/dlq")[0] == 401
    assert get(port, "/v1/dlq", TOKEN)[0] == 200
    assert get(port, "/v1/rulebook")[0] == 401
    assert get(port, "/v1/rulebook", TOKEN)[0] == 200
    _, _, body = get(port, "/healthz")
    assert json.loads(body)["auth_required"] is True
