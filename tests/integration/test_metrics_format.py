"""/metrics as Prometheus tooling reads it: Debian's promtool finds nothing
to lint in a live daemon's exposition, units are base units (seconds), and
loyalty_build_info names the version."""
import os
import re
import subprocess

from harness import LOYALTYD_BIN, REPO, wait_until

PROMTOOL = os.environ.get("PROMTOOL_BIN", "promtool")
PROMTOOL_TIMEOUT_S = 30


def project_version():
    text = (REPO / "CMakeLists.txt").read_text()
    return re.search(r"project\(loyaltyd VERSION (\S+)", text).group(1)


def live_metrics(make_env):
    """A daemon that has applied sales, rejected an entry and written a
    snapshot, so that every family (histogram buckets included) has data."""
    env = make_env(snapshot_every_entries=3)
    env.push(kind="enroll", txn="e1", member="m1")
    env.push(kind="purchase", txn="p1", member="m1", store="s1", amount=5000)
    env.push_raw(b"\xc1 not msgpack")
    last_ts = env.next_ts() + 7  # not a whole second: the fraction must survive
    sid = env.push(kind="purchase", txn="p2", member="m1", store="s1", amount=2500, ts=last_ts)
    env.wait_applied(sid)

    def settled():
        m = env.daemon.metrics()
        return m if m["loyalty_snapshots_total"] >= 1 and m["loyalty_batches_total"] >= 1 \
            else None
    wait_until(settled, what="a snapshot and a committed batch in /metrics")
    status, text = env.http_get("/metrics")
    assert status == 200
    return env, text, last_ts


def test_promtool_finds_nothing_to_lint_in_the_exposition(make_env):
    _, text, _ = live_metrics(make_env)
    run = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                         capture_output=True, timeout=PROMTOOL_TIMEOUT_S)
    report = (run.stdout + run.stderr).decode(errors="replace")
    assert run.returncode == 0 and report.strip() == "", \
        f"promtool check metrics exited {run.returncode}:\n{report}"


def test_times_are_seconds_and_the_version_is_a_label(make_env):
    env, text, last_ts = live_metrics(make_env)
    m = env.daemon.metrics()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
             if line and not line.startswith("#")}
    abbreviated = sorted(n for n in names if re.search(r"_(ms|us|ns|msec|usec|kb|mb)(_|$)", n))
    assert not abbreviated, abbreviated
    # Milliseconds written as exact decimal seconds, not rounded through a float.
    line = next(x for x in text.splitlines()
                if x.startswith("loyalty_engine_clock_timestamp_seconds "))
    assert line.split(" ")[1] == f"{last_ts // 1000}.{last_ts % 1000:03d}"
    assert m["loyalty_snapshot_last_duration_seconds"] > 0
    assert 0 <= m["loyalty_snapshot_fork_stall_max_seconds"] < 60
    assert m[f'loyalty_build_info{{version="{project_version()}"}}'] == 1
    version = subprocess.run([LOYALTYD_BIN, "--version"], capture_output=True,
                             text=True, timeout=10).stdout
    assert version.strip() == f"loyaltyd {project_version()}"
