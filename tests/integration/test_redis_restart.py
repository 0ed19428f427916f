"""Redis going away and coming back (appendonly yes, appendfsync always, so it
loses nothing it acknowledged): the daemon stays up, says so on /healthz,
reconnects by itself and ends where a fresh replay of the stream ends."""
import time

import pytest

from harness import (PREFIX, LoadThread, Outcome, assert_matches, enroll_members,
                     fresh_replay, mixed_entries, sid_key, wait_until)

# How long Redis stays down: a realistic restart, and longer than the first
# steps of the daemon's reconnect backoff (100 ms doubling up to
# reconnect_max_ms = 500 in the test config), so that at least one reconnect
# attempt finds nothing listening. This is the scenario, not a synchronisation.
REDIS_OUTAGE_S = 1.0
# Back to consuming after Redis returns: one backoff step (<= 500 ms) and the
# recovery handshake, with room for a slow machine.
RECONNECT_TIMEOUT_S = 8



def wait_degraded(env):
    def degraded():
        assert env.daemon.alive(), "the daemon died while Redis was away"
        status, body = env.daemon.health()
        return status == 503 and body["redis_up"] is False and body
    return wait_until(degraded, what="/healthz to report Redis away")


def test_daemon_stays_up_and_reports_degraded_health_while_redis_is_down(env):
    env.push(kind="enroll", txn="e1", member="m1")
    sid = env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=1000)
    env.wait_applied(sid)
    assert env.stop_redis() == 0
    body = wait_degraded(env)
    assert body["status"] != "ok" and body["consumer"] in ("connecting", "recovering")
    # Lookups are served from memory meanwhile.
    assert env.member("m1")["purchases"] == 1
    assert env.daemon.alive()
    # How it stops then is test_sigterm_while_redis_is_down_is_a_clean_stop's
    # business; this test ends here.
    env.daemon.kill()


def test_daemon_reconnects_by_itself_after_redis_restarts_mid_load_and_matches_a_fresh_replay(
        env):
    members = enroll_members(env, 12)
    entries = mixed_entries(env, members, 3000, seed=7)
    load = LoadThread(env, entries, pause_after=1500, chunk=25)
    load.start()
    assert load.paused.wait(timeout=30), "load did not reach its pause point"
    wait_until(lambda: (env.progress() or (0, 0)) >= sid_key(load.pushed[300][0]),
               what="the daemon to consume part of the load")
    assert env.stop_redis() == 0
    load.resume.set()  # the POS keeps pushing (and retrying) during the outage
    wait_degraded(env)
    wait_until(lambda: load.retries > 0, what="the load to hit the outage")
    time.sleep(REDIS_OUTAGE_S)
    env.start_redis()

    env.daemon.wait_healthy(timeout=RECONNECT_TIMEOUT_S)
    load.finish()
    last = env.r.xrevrange(PREFIX + "in", count=1)[0][0].decode()
    env.wait_applied(last)
    assert env.pending_count() == 0
    assert env.daemon.metrics()["loyalty_redis_connects_total"] >= 2
    actual = Outcome(env, env.daemon, env.r, members)
    assert_matches(actual, fresh_replay(env, members))


def test_daemon_started_before_redis_connects_once_redis_is_up(make_env):
    env = make_env(start=False)
    assert env.stop_redis() == 0
    env.daemon.start(wait=False)
    wait_degraded(env)
    time.sleep(REDIS_OUTAGE_S)
    env.start_redis()
    env.daemon.wait_healthy(timeout=RECONNECT_TIMEOUT_S)
    env.push(kind="enroll", txn="e1", member="late")
    sid = env.push(kind="purchase", txn="p1", member="late", store="s1", amount=500)
    env.wait_applied(sid)
    assert env.member("late")["purchases"] == 1


def test_sigterm_while_redis_is_down_is_a_clean_stop(env):
    env.push(kind="enroll", txn="e1", member="m1")
    sid = env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=1000)
    env.wait_applied(sid)
    view = env.member("m1")
    assert env.stop_redis() == 0
    wait_degraded(env)
    time.sleep(REDIS_OUTAGE_S)  # reconnect attempts find nothing listening
    assert env.daemon.stop() == 0
    env.start_redis()
    env.daemon.start()
    assert env.member("m1") == view
