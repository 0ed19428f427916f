"""loyaltyctl against the real daemon: member lookups change nothing, health
drives the exit status, tail filters what it prints, and dlq redrive puts
rejected entries back on the input, safe to repeat thanks to txn
deduplication. Also: loyalty-scan stays the till (a real scan with perks)."""
import json
import signal
import subprocess

import msgpack
import pytest

from ctlkit import LOYALTY_SCAN, LOYALTYCTL, LineReader, ctl, run
from harness import PREFIX, stop_pid, strip_sid, wait_until

SUBCOMMANDS = [[], ["member"], ["health"], ["tail"], ["dlq"], ["dlq", "list"],
               ["dlq", "redrive"], ["rules"], ["rules", "show"], ["rules", "diff"],
               ["rules", "push"], ["liability"]]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "top")
def test_every_subcommand_has_help(words):
    res = ctl(*words, "--help")
    assert res.returncode == 0, res
    assert res.stdout.startswith("Usage: " + " ".join(["loyaltyctl", *words])), res.stdout
    if words:  # `help WORD` says the same as `WORD --help`
        assert ctl(*words[:-1], "help", words[-1]).stdout == res.stdout


def test_unknown_subcommands_and_options_are_usage_errors():
    for args in (["frobnicate"], ["dlq", "purge"], ["tail", "--no-such-option"],
                 ["member"], ["member", "a", "b"], ["health", "extra"]):
        res = ctl(*args)
        assert res.returncode == 2, (args, res)
        assert "loyaltyctl" in res.stderr, (args, res.stderr)


def enrolled_gold(env, member="M1"):
    """Enrols `member` and gives it enough points for the third tier."""
    env.push(kind="enroll", txn=f"e-{member}", member=member)
    amount = env.rules.amount_for(env.rules.tiers[2]["threshold"], 0)
    sid = env.push(kind="purchase", txn=f"p-{member}", member=member, store="S1",
                   amount=amount)
    env.wait_applied(sid)
    return env.rules.tiers[2]


def stream_lengths(env):
    return {s: env.r.xlen(PREFIX + s) for s in ("in", "out", "dlq")}


def test_member_is_a_lookup_without_side_effects(env):
    tier = enrolled_gold(env)
    before = stream_lengths(env)
    http = f"127.0.0.1:{env.daemon.http_port}"
    res = ctl("member", "M1", "--http", http, "--json")
    assert res.returncode == 0, res
    assert json.loads(res.stdout) == env.member("M1")
    text = ctl("member", "M1", "--http", http)
    assert text.returncode == 0, text
    lines = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert lines["tier"] == tier["name"]
    assert lines["perks"] == ", ".join(tier["perks"])
    assert lines["balance"] == str(env.member("M1")["balance"])
    assert stream_lengths(env) == before, "a lookup must not append to any stream"

    missing = ctl("member", "nobody", "--http", http)
    assert missing.returncode == 1 and "no member 'nobody'" in missing.stderr, missing
    bad = ctl("member", "has space", "--http", http)
    assert bad.returncode == 2, bad


def test_loyalty_scan_is_the_till_it_pushes_a_real_scan(env):
    tier = enrolled_gold(env)
    before = env.r.xlen(PREFIX + "in")
    res = run(LOYALTY_SCAN, "--redis", f"127.0.0.1:{env.redis.port}", "--member", "M1",
              "--store", "S9", "--timeout-ms", "20000")
    assert res.returncode == 0, res
    assert f"tier {tier['name']}" in res.stdout.splitlines()
    assert [ln.split()[1] for ln in res.stdout.splitlines() if ln.startswith("perk ")] \
        == tier["perks"]
    assert env.r.xlen(PREFIX + "in") == before + 1
    perks = [e for e in env.read_out() if e["kind"] == "perk.triggered" and e["store"] == "S9"]
    assert [e["perk"] for e in perks] == tier["perks"]


@pytest.fixture
def token_env(make_env):
    return make_env(http_token='"ctl-secret-1"')


def test_member_sends_the_bearer_token_from_the_environment(token_env):
    env = token_env
    sid = env.push(kind="enroll", txn="e1", member="M1")
    env.wait_applied(sid)
    http = f"127.0.0.1:{env.daemon.http_port}"
    no_token = ctl("member", "M1", "--http", http, env={"LOYALTY_HTTP_TOKEN": ""})
    assert no_token.returncode == 1 and "401" in no_token.stderr, no_token
    ok = ctl("member", "M1", "--http", http, "--json",
             env={"LOYALTY_HTTP_TOKEN": "ctl-secret-1"})
    assert ok.returncode == 0 and json.loads(ok.stdout)["member"] == "M1", ok
    other = ctl("member", "M1", "--http", http, "--token-env", "MY_TOKEN",
                env={"MY_TOKEN": "ctl-secret-1"})
    assert other.returncode == 0, other
    unset = ctl("member", "M1", "--http", http, "--token-env", "UNSET_TOKEN_VAR")
    assert unset.returncode == 1 and "UNSET_TOKEN_VAR" in unset.stderr, unset
    wrong = ctl("member", "M1", "--http", http, env={"LOYALTY_HTTP_TOKEN": "nope"})
    assert wrong.returncode == 1 and "401" in wrong.stderr, wrong


def test_health_exit_status_follows_the_daemon(env):
    http = f"127.0.0.1:{env.daemon.http_port}"
    ok = ctl("health", "--http", http)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: consumer=consuming"), ok
    assert json.loads(ctl("health", "--http", http, "--json").stdout)["status"] == "ok"

    env.stop_redis()
    wait_until(lambda: env.daemon.health()[0] == 503, what="/healthz 503 without Redis")
    down = ctl("health", "--http", http)
    assert down.returncode == 1 and down.stdout.startswith("degraded: consumer="), down
    env.start_redis()
    env.daemon.wait_healthy()

    env.daemon.stop()
    gone = ctl("health", "--http", http, "--timeout-ms", "2000")
    assert gone.returncode == 1 and gone.stdout.startswith("unreachable: "), gone
    assert json.loads(ctl("health", "--http", http, "--json").stdout)["status"] == "unreachable"


def fill(env):
    """Two members' sales and scans, an unknown member and garbage: outputs of
    several kinds and three DLQ entries. Returns the DLQ entries."""
    enrolled_gold(env, "M1")
    enrolled_gold(env, "M2")
    env.push(kind="scan", member="M1", store="S1")
    env.push(kind="scan", member="M2", store="S2")
    env.push(kind="purchase", txn="lost-1", member="M3", store="S1", amount=5000)
    env.push(kind="scan", member="M3", store="S1")
    env.wait_applied(env.push_raw(b"\xc1 not msgpack"))
    dlq = env.read_dlq()
    assert [d["reason"] for d in dlq] == ["unknown_member", "unknown_member", "bad_msgpack"]
    return dlq


def json_lines(res):
    assert res.returncode == 0, res
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_tail_once_prints_every_event_and_filters(env):
    dlq = fill(env)
    redis = f"127.0.0.1:{env.redis.port}"
    assert json_lines(ctl("tail", "--redis", redis, "--once", "--json")) == \
        strip_sid(env.read_out(setup=True))
    perks = json_lines(ctl("tail", "--redis", redis, "--once", "--json",
                           "--kind", "perk.triggered", "--member", "M2"))
    want = [e for e in strip_sid(env.read_out())
            if e["kind"] == "perk.triggered" and e["member"] == "M2"]
    assert perks == want and want
    only_dlq = json_lines(ctl("tail", "--redis", redis, "--once", "--json", "--dlq-only",
                              "--reason", "unknown_member"))
    assert [d["entry"] for d in only_dlq] == [d["_sid"] for d in dlq[:2]]
    assert only_dlq[0]["m"] == msgpack.unpackb(dlq[0]["m"])
    two = ctl("tail", "--redis", redis, "--once", "--count", "2")
    assert two.returncode == 0 and len(two.stdout.splitlines()) == 2, two
    text = ctl("tail", "--redis", redis, "--once", "--dlq", "--member", "M3")
    assert [ln.split()[0] for ln in text.stdout.splitlines()] == ["dlq", "dlq"], text


def test_tail_follows_new_events_until_stopped(env):
    enrolled_gold(env)
    proc = subprocess.Popen([LOYALTYCTL, "tail", "--redis", f"127.0.0.1:{env.redis.port}",
                             "--json", "--dlq", "--kind", "perk.triggered", "--from", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = LineReader(proc)
    try:
        # From the start: no scan yet, so no perk.triggered before this one.
        env.push(kind="scan", member="M1", store="S5")
        first = json.loads(lines.line())
        assert first["kind"] == "perk.triggered" and first["store"] == "S5", first
        env.push(kind="purchase", txn="x1", member="ghost", store="S1", amount=100)
        rest = [json.loads(lines.line()) for _ in range(len(env.rules.tiers[2]["perks"]))]
        assert [e["kind"] for e in rest[:-1]] == ["perk.triggered"] * (len(rest) - 1), rest
        assert rest[-1]["kind"] == "dlq" and rest[-1]["reason"] == "unknown_member", rest
    finally:
        rc, by_itself = stop_pid(proc, sig=signal.SIGTERM, timeout=10)
    assert by_itself and rc == 0


def test_dlq_list_selects_by_id_reason_range_and_kind(env):
    dlq = fill(env)
    redis = f"127.0.0.1:{env.redis.port}"
    every = json_lines(ctl("dlq", "list", "--redis", redis, "--json"))
    assert [(e["entry"], e["src"], e["reason"], e["detail"]) for e in every] == \
        [(d["_sid"], d["src"], d["reason"], d["detail"]) for d in dlq]
    assert every[2]["m"] is None  # bad_msgpack: the bytes do not decode
    by_id = json_lines(ctl("dlq", "list", "--redis", redis, "--json", "--id", dlq[1]["_sid"]))
    assert [e["entry"] for e in by_id] == [dlq[1]["_sid"]]
    rng = json_lines(ctl("dlq", "list", "--redis", redis, "--json",
                         "--from", dlq[1]["_sid"], "--to", dlq[2]["_sid"]))
    assert [e["entry"] for e in rng] == [d["_sid"] for d in dlq[1:]]
    kind = json_lines(ctl("dlq", "list", "--redis", redis, "--json", "--input-kind", "scan"))
    assert [e["entry"] for e in kind] == [dlq[1]["_sid"]]
    limit = json_lines(ctl("dlq", "list", "--redis", redis, "--json", "--limit", "1"))
    assert [e["entry"] for e in limit] == [dlq[0]["_sid"]]
    text = ctl("dlq", "list", "--redis", redis, "--reason", "bad_msgpack")
    assert text.returncode == 0 and text.stdout.splitlines()[-1] == "1 entry", text
    missing = ctl("dlq", "list", "--redis", redis, "--id", "1-1")
    assert missing.returncode == 1 and "no entry 1-1" in missing.stderr, missing


def test_dlq_redrive_after_a_fix_is_safe_to_repeat(plain_env):
    env = plain_env
    dlq = fill(env)
    redis = f"127.0.0.1:{env.redis.port}"
    assert ctl("dlq", "redrive", "--redis", redis).returncode == 2  # no selection
    dry = ctl("dlq", "redrive", "--redis", redis, "--all", "--dry-run")
    assert dry.returncode == 1, dry  # two have no txn: skipped
    assert dry.stdout.splitlines()[-1] == "would re-drive 1, skipped 2", dry.stdout
    assert len(env.input_ids()) == len(env.pushed)

    # The fix: M3 enrols. Then the lost sale goes back on the input.
    env.wait_applied(env.push(kind="enroll", txn="e-M3", member="M3"))
    first = json_lines_rc(ctl("dlq", "redrive", "--redis", redis, "--json",
                              "--reason", "unknown_member"), 1)
    assert [(r["entry"], r["action"], r["txn"]) for r in first] == \
        [(dlq[0]["_sid"], "redriven", "lost-1"), (dlq[1]["_sid"], "skipped", None)]
    new_id = first[0]["new_id"]
    assert env.r.xrange(PREFIX + "in", new_id, new_id)[0][1][b"m"] == dlq[0]["m"]
    env.wait_applied(new_id)
    balance = env.member("M3")["balance"]
    assert balance == env.rules.earn(5000, 0)
    dup_before = env.daemon.metrics()["loyalty_entries_duplicate_total"]

    again = json_lines_rc(ctl("dlq", "redrive", "--redis", redis, "--json",
                              "--id", dlq[0]["_sid"]), 0)
    env.wait_applied(again[0]["new_id"])
    assert env.member("M3")["balance"] == balance, "a re-drive twice must not earn twice"
    assert env.daemon.metrics()["loyalty_entries_duplicate_total"] == dup_before + 1

    forced = json_lines_rc(ctl("dlq", "redrive", "--redis", redis, "--json", "--force-no-txn",
                               "--id", dlq[1]["_sid"]), 0)
    assert forced[0]["action"] == "redriven"
    env.wait_applied(forced[0]["new_id"])
    assert len(env.read_dlq()) == len(dlq), "the re-driven scan was applied, not rejected"
    garbage = ctl("dlq", "redrive", "--redis", redis, "--force-no-txn", "--id", dlq[2]["_sid"])
    assert garbage.returncode == 0, garbage  # re-driven, and rejected again
    env.wait_applied(env.input_ids()[-1])
    assert [d["reason"] for d in env.read_dlq()][-1] == "bad_msgpack"


def json_lines_rc(res, rc):
    assert res.returncode == rc, res
    return [json.loads(line) for line in res.stdout.splitlines()]
