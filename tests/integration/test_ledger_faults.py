"""The ledger under faults, on SQLite and PostgreSQL: SIGKILLed mid-load, its
database stopped (PostgreSQL) or locked (SQLite) mid-load, and every entry
delivered again. Each time, afterwards, every published event is stored
exactly once and the cohorts are the daemon's live figures: nothing lost,
nothing counted twice.
"""
import signal
import sqlite3

import pytest

from harness import PREFIX, wait_until
from ledgerkit import (BACKENDS, CATCH_UP_TIMEOUT_S, EXPIRY_MONTHS, check_all,  # noqa: F401
                       make_world, pg_cluster)

STREAM = PREFIX + "out"


def progress(ledger):
    return ledger.committed().get(STREAM, (0, 0))


def await_progress(ledger, after, what):
    """Awaits the ledger committing entries beyond `after`."""
    return wait_until(lambda: progress(ledger) > after and progress(ledger),
                      CATCH_UP_TIMEOUT_S, what, interval=0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_mid_load_loses_and_doubles_nothing(make_world, backend):
    world = make_world(backend)
    ledger = world.ledger(batch=100).start()
    load = world.posload(count=20000, members=200, seed=3, rate=4000).start()
    seen = (0, 0)
    kills_mid_load = 0
    for i in range(5):
        seen = await_progress(ledger, seen, f"the ledger committing (round {i})")
        kills_mid_load += load.running()
        ledger.kill()
        ledger.start()
    assert kills_mid_load >= 3, "the load ended before the ledger was killed"
    load.wait()
    check_all(world.env, ledger, world.db, EXPIRY_MONTHS)


def test_postgresql_restarted_mid_load_loses_nothing(make_world):
    world = make_world("postgresql")
    ledger = world.ledger(batch=200).start()
    load = world.posload(count=15000, members=200, seed=5, rate=3000).start()
    await_progress(ledger, (0, 0), "the ledger committing before the outage")
    world.pg.stop(sig=signal.SIGQUIT)  # an immediate shutdown: crash recovery follows
    try:
        wait_until(lambda: ledger.health()[0] == 503 and
                   ledger.metrics()["ledger_db_errors_total"] >= 2,
                   CATCH_UP_TIMEOUT_S, "the ledger noticing the database is down")
        stuck = progress(ledger)
        out_len = world.env.r.xlen(STREAM)
        wait_until(lambda: world.env.r.xlen(STREAM) > out_len + 1000, CATCH_UP_TIMEOUT_S,
                   "the daemon publishing on while the database is down")
        assert progress(ledger) == stuck
        assert load.running()
    finally:
        world.pg.start()
    ledger.wait_healthy(timeout=CATCH_UP_TIMEOUT_S)
    load.wait()
    check_all(world.env, ledger, world.db, EXPIRY_MONTHS)


def test_sqlite_locked_mid_load_loses_nothing(make_world):
    world = make_world("sqlite")
    ledger = world.ledger(batch=200).start()
    load = world.posload(count=15000, members=200, seed=6, rate=3000).start()
    await_progress(ledger, (0, 0), "the ledger committing before the lock")
    con = sqlite3.connect(world.url[len("sqlite://"):], timeout=30, isolation_level=None)
    try:
        con.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
        wait_until(lambda: ledger.metrics()["ledger_db_errors_total"] >= 2,
                   CATCH_UP_TIMEOUT_S, "the ledger failing to take the write lock")
        stuck = progress(ledger)
        assert load.running()
        assert progress(ledger) == stuck
        con.execute("ROLLBACK")
    finally:
        con.close()
    load.wait()
    check_all(world.env, ledger, world.db, EXPIRY_MONTHS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_entries_delivered_again_are_ignored_by_key(make_world, backend):
    """The watermark is wound back by hand: every entry comes again from
    Redis, every insert finds its key taken, and no wallet or flow moves."""
    world = make_world(backend)
    world.posload(count=5000, members=100, seed=9).run()
    ledger = world.ledger().start()
    report = check_all(world.env, ledger, world.db, EXPIRY_MONTHS, history_members=[])
    assert ledger.stop() == 0
    rows = world.db.scalar("SELECT count(*) FROM events")
    world.db.execute("UPDATE streams SET last_ms = 0, last_seq = 0")
    ledger.start()
    wait_until(lambda: ledger.metrics()["ledger_duplicates_total"] >= rows, CATCH_UP_TIMEOUT_S,
               "every entry delivered again")
    assert ledger.metrics()["ledger_events_written_total"] == 0
    assert check_all(world.env, ledger, world.db, EXPIRY_MONTHS, history_members=[]) == report
    assert world.db.scalar("SELECT count(*) FROM events") == rows
