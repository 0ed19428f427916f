"""The ledger on real databases (a SQLite file; a PostgreSQL cluster started
by the test): driven by the real daemon under a simulated POS load spanning
months, every published event is stored once, each member's history is the
events published for them, and the liability by earning month is what the
daemon holds live (balances and its `expiring` views).
"""
import json

import pytest

from ledgerkit import BACKENDS, EXPIRY_MONTHS, check_all, make_world, pg_cluster  # noqa: F401



@pytest.mark.parametrize("backend", BACKENDS)
def test_history_and_cohorts_match_the_daemon(make_world, backend):
    world = make_world(backend)
    ledger = world.ledger(batch=500).start()
    world.posload(count=15000, members=200).run()
    report = check_all(world.env, ledger, world.db, EXPIRY_MONTHS)
    # The load covers more than the expiry period: the report shows every
    # kind of flow, and the ledger followed the daemon through all of them.
    totals = report["totals"]
    assert totals["issued"] > 0 and totals["redeemed"] > 0 and totals["expired"] > 0
    assert any(c["outstanding"] == 0 and c["expired"] > 0 for c in report["cohorts"]), \
        "no cohort closed by expiry: the load is too short to test breakage"
    assert report["breakage"]["closed_cohorts"] >= 1
    assert report["breakage"]["rate_bp"] is not None
    curves = [p for p in report["curves"] if p["cohort"] == report["cohorts"][0]["cohort"]]
    assert [p["age"] for p in curves] == list(range(len(curves)))
    assert curves[-1]["cumulative"] == report["cohorts"][0]["redeemed"]
    # The same report from the command line, as JSON and as CSV.
    rc, out = ledger.run_to_exit(["--database", world.url, "--report"])
    assert rc == 0, out
    assert json.loads(out) == report
    rc, csv = ledger.run_to_exit(["--database", world.url, "--report", "--format", "csv"])
    assert rc == 0, csv
    status, http_csv = ledger.get("/v1/ledger/report?format=csv")
    assert status == 200 and http_csv == csv
    lines = csv.splitlines()
    assert lines[0].startswith("cohort,issued,opening,debt_repaid,redeemed,expired")
    assert lines[-1].split(",")[7] == str(totals["outstanding"])
    status, curves_csv = ledger.get("/v1/ledger/report?format=csv&table=curves")
    assert status == 200
    assert len(curves_csv.splitlines()) == 1 + len(report["curves"])
    assert ledger.stop() == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ledger_started_late_reads_the_whole_stream(make_world, backend):
    """Started after the daemon published everything (its group is created at
    the start of the stream), then stopped and started again with nothing
    new: the same rows, the same cohorts."""
    world = make_world(backend)
    world.posload(count=6000, members=100, seed=11).run()
    ledger = world.ledger().start()
    check_all(world.env, ledger, world.db, EXPIRY_MONTHS, history_members=[])
    assert ledger.stop() == 0
    ledger.start()
    check_all(world.env, ledger, world.db, EXPIRY_MONTHS, history_members=["M000001"])
    assert ledger.metrics()["ledger_events_written_total"] == 0
