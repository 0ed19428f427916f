"""The ledger's contract at its edges: output kinds, causes and fields it
does not know yet are stored whole, the rulebook version in force is
stamped on every event and survives a restart, entries that are not output
events are stored with their problem, a schema newer than the binary is
refused, and the HTTP API wants its token and checks its input.
"""
import urllib.error
import urllib.request

import msgpack
import pytest

from harness import PREFIX, free_port, wait_until
from ledgerkit import (BACKENDS, CATCH_UP_TIMEOUT_S, make_world, month_index,  # noqa: F401
                       month_name, pg_cluster)

TS = 1_780_000_000_000  # 2026-05-28
OUT = PREFIX + "out"


def publish(env, kind, member=None, n=[0], **fields):  # noqa: B006 - a counter on purpose
    """XADDs an output event as the daemon would write it (or `m` bytes as
    given with raw=...). Returns the entry id."""
    n[0] += 1
    event = {"v": 1, "kind": kind, "id": f"1-{n[0]}:0", "src": f"1-{n[0]}", "ts": TS + n[0]}
    if member:
        event["member"] = member
    event.update(fields)
    return env.r.xadd(OUT, {"m": msgpack.packb(event)}).decode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_kinds_causes_and_rulebook_versions_are_stored(make_world, backend):
    """One entry a batch, so that each kind is a transaction of its own (a
    column of NULLs only, as a rules.changed has no member, must store)."""
    world = make_world(backend, start=False)  # this test is the daemon
    env = world.env
    publish(env, "points.changed", "M1", delta=100, balance=100, cause="purchase")
    publish(env, "rules.changed", **{"from": "", "to": "aa11", "label": "spring"})
    publish(env, "points.changed", "M1", delta=-30, balance=70, cause="redeem")
    publish(env, "tier.at_risk", "M1", tier="gold", review_ts=TS + 99, needed=120)
    env.r.xadd(OUT, {"m": b"\xc1 not msgpack"})
    env.r.xadd(OUT, {"x": b"no m field"})
    publish(env, "points.changed", "M1", delta=5, balance=75, cause="transfer_in")
    publish(env, "rules.changed", **{"from": "aa11", "to": "bb22"})
    publish(env, "points.changed", "M1", delta=-75, balance=0, cause="transfer_out")
    ledger = world.ledger(batch=1).start()
    ledger.wait_caught_up(env.r)
    history = list(reversed(ledger.history("M1", limit=2)))
    assert [e["kind"] for e in history] == ["points.changed", "points.changed", "tier.at_risk",
                                           "points.changed", "points.changed"]
    assert [e["rules"] for e in history] == [None, "aa11", "aa11", "aa11", "bb22"]
    assert [e["cause"] for e in history] == ["purchase", "redeem", None, "transfer_in",
                                            "transfer_out"]
    assert history[2]["event"]["needed"] == 120 and history[2]["event"]["tier"] == "gold"
    # The two entries that are no output event are stored with their problem.
    problems = world.db.rows("SELECT kind, problem FROM events WHERE problem IS NOT NULL "
                             "ORDER BY entry_ms, entry_seq")
    assert [k for k, _ in problems] == ["undecodable", "undecodable"]
    assert problems[0][1].startswith("bad_msgpack") and problems[1][1].startswith(
        "missing_m_field")
    assert ledger.metrics()["ledger_problem_events_total"] == 2
    # Points of every cause moved through the member's month.
    status, lots = ledger.get("/v1/members/M1/lots")
    assert status == 200 and lots == {"member": "M1", "balance": 0, "debt": 0, "lots": []}
    status, report = ledger.get("/v1/ledger/report")
    cohort = {c["cohort"]: c for c in report["cohorts"]}[month_name(month_index(TS))]
    assert (cohort["issued"], cohort["redeemed"], cohort["other_debits"],
            cohort["outstanding"]) == (105, 30, 75, 0)
    # The version in force is the database's: a restart keeps it.
    assert ledger.health()[1]["streams"][0]["rules"] == "bb22"
    assert ledger.stop() == 0
    publish(env, "points.changed", "M1", delta=7, balance=7, cause="purchase")
    ledger.start()
    ledger.wait_caught_up(env.r)
    status, body = ledger.get("/v1/members/M1/history?limit=1")
    assert body["events"][0]["rules"] == "bb22" and body["events"][0]["delta"] == 7
    assert ledger.metrics()["ledger_reconciled_wallets_total"] == 0


def test_a_wallet_without_its_history_is_reconciled(make_world):
    """The out stream was trimmed before the ledger started: the first event
    it sees of a member says a balance it never saw earned. The points go to
    the "opening" cohort, spent first, and the totals still hold."""
    world = make_world("sqlite", start=False)
    publish(world.env, "points.changed", "M2", delta=10, balance=510, cause="purchase")
    publish(world.env, "points.changed", "M2", delta=-200, balance=310, cause="redeem")
    ledger = world.ledger().start()
    ledger.wait_caught_up(world.env.r)
    assert ledger.metrics()["ledger_reconciled_wallets_total"] == 1
    status, lots = ledger.get("/v1/members/M2/lots")
    assert lots["lots"] == [{"cohort": "opening", "points": 300},
                            {"cohort": month_name(month_index(TS)), "points": 10}]
    status, report = ledger.get("/v1/ledger/report")
    opening = report["cohorts"][0]
    assert opening["cohort"] == "opening" and opening["opening"] == 500
    assert opening["redeemed"] == 200 and report["totals"]["outstanding"] == 310


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_schema_newer_than_the_binary_is_refused(make_world, backend):
    world = make_world(backend, start=False)
    ledger = world.ledger().start()
    assert ledger.stop() == 0
    world.db.execute("UPDATE schema_version SET version = 99")
    rc, out = ledger.run_to_exit(["--http", f"127.0.0.1:{free_port()}"])
    assert rc != 0
    assert "schema is version 99, newer than this loyalty-ledger understands (1)" in out, out
    rc, out = ledger.run_to_exit(["--report"])
    assert rc != 0 and "newer than this loyalty-ledger understands" in out, out
    assert world.db.scalar("SELECT version FROM schema_version") == 99


def test_http_wants_the_token_and_checks_its_input(make_world):
    world = make_world("sqlite", start=False)
    for i in range(60):
        publish(world.env, "points.changed", "M3", delta=1, balance=i + 1, cause="bonus")
    ledger = world.ledger(token="t0k3n-ledger").start()
    ledger.wait_caught_up(world.env.r)
    assert ledger.get("/healthz", token="")[0] == 200
    history = "/v1/members/M3/history"
    assert ledger.get(history, token="")[0] == 401
    assert ledger.get(history, token="t0k3n-ledgeR")[0] == 401
    assert ledger.get(history, token="t0k3n-ledger-and-more")[0] == 401
    assert ledger.get("/metrics", token="")[0] == 401
    status, body = ledger.get(history)
    assert status == 200 and len(body["events"]) == 50 and body["next_before"] is not None
    status, rest = ledger.get(f"{history}?before={body['next_before']}&limit=500")
    assert status == 200 and len(rest["events"]) == 10 and rest["next_before"] is None
    assert [e["balance"] for e in body["events"] + rest["events"]] == list(range(60, 0, -1))
    for path, code, error in [(f"{history}?limit=0", 400, "bad_limit"),
                              (f"{history}?limit=501", 400, "bad_limit"),
                              (f"{history}?limit=12x", 400, "bad_limit"),
                              (f"{history}?before=12", 400, "bad_before"),
                              ("/v1/members/" + "x" * 33 + "/history", 400, "bad_member_id"),
                              ("/v1/members/a%20b/history", 400, "bad_member_id"),
                              ("/v1/members/NOBODY/history", 404, "unknown_member"),
                              ("/v1/members/NOBODY/lots", 404, "unknown_member"),
                              ("/v1/members/M3/everything", 404, "not_found"),
                              ("/v1/ledger/report?format=xml", 400, "bad_query"),
                              ("/v2/anything", 404, "not_found")]:
        status, body = ledger.get(path)
        assert (status, body["error"]) == (code, error), (path, status, body)
    status, body = ledger.get(f"{history}?before=1-0")
    assert status == 200 and body["events"] == []
    req = urllib.request.Request(f"http://127.0.0.1:{ledger.http_port}{history}", method="POST",
                                 headers={"Authorization": "Bearer t0k3n-ledger"}, data=b"")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("POST was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 405


def test_the_ledger_waits_for_redis(make_world):
    """Redis away at start and in the middle: the ledger says so on /healthz,
    retries, and stores everything once Redis is back."""
    world = make_world("sqlite", start=False)
    publish(world.env, "points.changed", "M4", delta=3, balance=3, cause="purchase")
    ledger = world.ledger().start()
    ledger.wait_caught_up(world.env.r)
    world.env.stop_redis()
    wait_until(lambda: ledger.health()[0] == 503 and not ledger.health()[1]["redis_up"],
               CATCH_UP_TIMEOUT_S, "the ledger noticing Redis is away")
    world.env.start_redis()
    publish(world.env, "points.changed", "M4", delta=4, balance=7, cause="purchase")
    ledger.wait_caught_up(world.env.r)
    ledger.wait_healthy()
    status, lots = ledger.get("/v1/members/M4/lots")
    assert lots["balance"] == 7 and sum(lot["points"] for lot in lots["lots"]) == 7
    assert ledger.metrics()["ledger_redis_errors_total"] >= 1
