"""The input archive: the daemon archives what it trims from <prefix>in, so a
rebuild from empty state (archive + stream) gives the live state byte for
byte; damage is detected and named; without the archive a trimmed history
is refused rather than replayed wrong."""
import os
import re
import subprocess

from ctlkit import CLIENTS_DIR, run
from harness import (LOYALTYD_BIN, PREFIX, SETUP_ENTRIES, enroll_members, mixed_entries,
                     encode, wait_until)

LOYALTY_ARCHIVE = str(CLIENTS_DIR / "loyalty-archive")
MONTH_MS = 31 * 86400 * 1000
ARCHIVING = dict(snapshot_every_entries=300, snapshot_keep=1, trim_input="true")


def rulebook_hash(conf_path):
    out = subprocess.run([LOYALTYD_BIN, "--check-config", "-c", str(conf_path)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return re.search(r"rulebook ([0-9a-f]{32})", out).group(1)


def push_history(env):
    """A year of traffic: enrolments, the mixed POS load, bad bytes, rulebook
    switches (at once, held, unknown), and ticks that move time on by months
    (expiry, tier reviews, segments). Returns the number of entries pushed."""
    pushed_before = len(env.pushed)
    own = rulebook_hash(env.conf_path)
    members = enroll_members(env, 40)
    for month in range(12):
        if month == 3:
            env.push(kind="rules", hash=own, label="the same, by name")
            env.push(kind="rules", hash="0" * 32)  # unknown text: bad_rulebook
        if month == 6:
            env.push(kind="rules", hash=own, effective_ts=env._ts + MONTH_MS // 2)
        for e in mixed_entries(env, members, 250, seed=month):
            env.push_raw(encode(e))
        env.push_raw({"x": b"no m field"})
        env._ts += MONTH_MS
        env.push(kind="tick")
    return len(env.pushed) - pushed_before


def newest_snapshot(data):
    snaps = sorted(data.glob("snap-*.lysnap"))
    assert snaps, f"no snapshot in {data}"
    return snaps[-1]


def archive_run(*args):
    return run(LOYALTY_ARCHIVE, *args)


def wait_archived_and_trimmed(env, total):
    def done():
        m = env.daemon.metrics()
        return m["loyalty_archive_entries_total"] > 0 and m["loyalty_input_trims_total"] > 0 \
            and env.r.xlen(PREFIX + "in") < total
    wait_until(done, what="the daemon to archive and trim <prefix>in")


def test_rebuild_from_archive_and_stream_equals_the_live_snapshot(make_env, tmp_path):
    env = make_env(**ARCHIVING)
    total = push_history(env)
    last = env.input_ids()[-1]
    env.wait_applied(last)
    wait_archived_and_trimmed(env, total)
    assert env.daemon.stop() == 0
    live = newest_snapshot(env.daemon.data)

    verify = archive_run("verify", "-c", env.conf_path, "--data", env.daemon.data)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "from the start of the stream" in verify.stdout

    out = tmp_path / "rebuilt.lysnap"
    rebuilt = archive_run("rebuild", "-c", env.conf_path, "--redis",
                          f"127.0.0.1:{env.redis.port}", "--data", env.daemon.data,
                          "--out", out)
    assert rebuilt.returncode == 0, rebuilt.stderr
    m = re.search(r"rebuilt (\d+) entries \((\d+) archived, (\d+) from the stream\)",
                  rebuilt.stdout)
    assert m and int(m.group(1)) == SETUP_ENTRIES + total, rebuilt.stdout  # + the rules entry
    assert int(m.group(2)) > 0 and int(m.group(3)) > 0, "both parts of the history were read"
    assert out.read_bytes() == live.read_bytes(), \
        f"the rebuild differs from the daemon's snapshot {live.name}"
    assert not list(env.daemon.data.glob("*.tmp")), "the tool wrote into the data directory"


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_damaged_segment_is_named_and_stops_the_trimming(make_env, tmp_path):
    env = make_env(**ARCHIVING)
    total = push_history(env)
    env.wait_applied(env.input_ids()[-1])
    wait_archived_and_trimmed(env, total)
    assert env.daemon.stop() == 0
    segment = sorted((env.daemon.data / "archive").glob("seg-*.lyarc"))[-1]
    flip_last_byte(segment)

    verify = archive_run("verify", "-c", env.conf_path, "--data", env.daemon.data)
    assert verify.returncode == 1
    assert segment.name in verify.stdout and "checksum mismatch" in verify.stdout, verify.stdout
    rebuilt = archive_run("rebuild", "-c", env.conf_path, "--redis",
                          f"127.0.0.1:{env.redis.port}", "--data", env.daemon.data,
                          "--out", tmp_path / "x.lysnap")
    assert rebuilt.returncode == 1 and segment.name in rebuilt.stderr, rebuilt.stderr

    # The daemon still serves, names the segment, and trims nothing more:
    # trimming without archiving would lose the history.
    env.daemon.start()
    assert segment.name in env.daemon.log_text()
    before = env.r.xlen(PREFIX + "in")
    for e in mixed_entries(env, [f"mem{i:03d}" for i in range(40)], 700, seed=99):
        env.push_raw(encode(e))
    env.wait_applied(env.input_ids()[-1])
    wait_until(lambda: env.daemon.metrics()["loyalty_archive_failures_total"] > 0,
               what="a failed archive run after the next snapshot")
    assert env.r.xlen(PREFIX + "in") == before + 700


def test_without_the_archive_a_trimmed_history_is_refused(make_env, tmp_path):
    env = make_env(archive="false", **ARCHIVING)
    total = push_history(env)
    env.wait_applied(env.input_ids()[-1])
    wait_until(lambda: env.r.xlen(PREFIX + "in") < total, what="a trim")
    rebuilt = archive_run("rebuild", "-c", env.conf_path, "--redis",
                          f"127.0.0.1:{env.redis.port}", "--data", env.daemon.data,
                          "--out", tmp_path / "x.lysnap")
    assert rebuilt.returncode == 1
    assert "the history is not whole" in rebuilt.stderr, rebuilt.stderr
    assert not (tmp_path / "x.lysnap").exists()
    assert not os.path.exists(env.daemon.data / "archive")
