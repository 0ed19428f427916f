"""systemd: conf/loyaltyd.service passes `systemd-analyze verify`, and the
real daemon speaks the notify protocol on NOTIFY_SOCKET: STATUS lines,
READY=1 once consuming, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1
then READY=1 around SIGHUP (which never stops it), STOPPING=1 on SIGTERM."""
import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest

from harness import EVENT_TIMEOUT_S, LOYALTYD_BIN, REPO, wait_until

UNIT = REPO / "conf" / "loyaltyd.service"
UNIT_BIN = "/usr/local/bin/loyaltyd"
VERIFY_TIMEOUT_S = 60
WATCHDOG_USEC = 200_000  # the daemon should ping every 100 ms


def verify(unit_path):
    """(exit code, everything systemd-analyze verify printed)."""
    run = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True,
                         text=True, timeout=VERIFY_TIMEOUT_S)
    return run.returncode, (run.stdout + run.stderr).strip()


def unit_for_build(tmp_path, text=None):
    """The shipped unit with ExecStart pointing at the binary under test
    (verify checks that the executable exists)."""
    text = text if text is not None else UNIT.read_text()
    assert UNIT_BIN in text
    path = tmp_path / "loyaltyd.service"
    path.write_text(text.replace(UNIT_BIN, LOYALTYD_BIN))
    return path


def directives(text):
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith("["):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    rc, report = verify(unit_for_build(tmp_path))
    assert rc == 0 and report == "", f"systemd-analyze verify exited {rc}:\n{report}"


def test_verify_catches_a_typo_so_the_check_above_can_fail(tmp_path):
    broken = UNIT.read_text().replace("WatchdogSec=", "WatchdogSecs=")
    rc, report = verify(unit_for_build(tmp_path, broken))
    assert "WatchdogSecs" in report, (rc, report)


def test_the_unit_is_a_hardened_notify_service():
    d = directives(UNIT.read_text())
    want = {"Type": "notify", "ExecReload": "/bin/kill -HUP $MAINPID", "DynamicUser": "yes",
            "ProtectSystem": "strict", "StateDirectory": "loyaltyd", "NoNewPrivileges": "yes",
            "PrivateTmp": "yes", "ProtectHome": "yes"}
    for key, value in want.items():
        assert d.get(key) == [value], (key, d.get(key))
    assert re.fullmatch(r"\d+s", d["WatchdogSec"][0])
    assert d["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]


def test_the_units_command_line_is_one_the_daemon_accepts(tmp_path):
    argv = shlex.split(directives(UNIT.read_text())["ExecStart"][0])
    assert argv[0] == UNIT_BIN
    # Same flags, the repository's configuration in place of /etc's.
    argv = [LOYALTYD_BIN] + argv[1:]
    argv[argv.index("-c") + 1] = str(REPO / "conf" / "loyaltyd.conf")
    run = subprocess.run(argv + ["--check-config"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr


class NotifySocket:
    """An abstract AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self):
        self.name = f"loyaltyd-test-{os.getpid()}-{time.monotonic_ns()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.seen = []  # every message, in order: a list of "KEY=value" lines

    @property
    def env(self):
        return {"NOTIFY_SOCKET": "@" + self.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def expect(self, line, timeout=EVENT_TIMEOUT_S):
        """Reads messages until one holds `line` (exact, or a prefix ending in
        '='-free text such as "STATUS=consuming"); returns that message."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {line!r} within {timeout}s; seen: {self.seen[-20:]}")
            self.sock.settimeout(remaining)
            try:
                msg = self.sock.recv(4096).decode().splitlines()
            except socket.timeout:
                continue
            self.seen.append(msg)
            if any(x == line or x.startswith(line + ":") for x in msg):
                return msg

    def close(self):
        self.sock.close()


@pytest.fixture
def notify():
    s = NotifySocket()
    yield s
    s.close()


def test_the_daemon_speaks_sd_notify_through_its_life(make_env, notify):
    env = make_env(start=False)
    env.daemon.extra_env = notify.env
    env.daemon.start(wait=False)

    notify.expect("STATUS=consuming")
    ready = notify.expect("READY=1")
    assert notify.seen.index(ready) > 0, "READY=1 before any STATUS line"
    status, body = env.http_get("/healthz")
    assert status == 200 and body["consumer"] == "consuming", body  # ready means consuming
    notify.expect("WATCHDOG=1")
    notify.expect("WATCHDOG=1")

    # Redis away and back: the status says so, and the daemon is not ready
    # again (it never stopped being the service).
    port = env.redis.port
    env.redis.stop()
    notify.expect("STATUS=connecting")
    env.redis.start(port=port)
    notify.expect("STATUS=consuming")

    assert sum(m == ["READY=1"] for m in notify.seen) == 1, notify.seen  # once, at start

    # SIGHUP: RELOADING=1, then READY=1; the daemon keeps consuming.
    mark = len(notify.seen)
    os.kill(env.daemon.proc.pid, signal.SIGHUP)
    reloading = notify.expect("RELOADING=1")
    assert any(x.startswith("MONOTONIC_USEC=") for x in reloading), reloading
    notify.expect("READY=1")
    assert not any("READY=1" in m for m in notify.seen[mark:notify.seen.index(reloading)])
    sid = env.push(kind="enroll", txn="after-hup", member="m-hup")
    env.wait_applied(sid)
    assert env.daemon.alive()

    os.kill(env.daemon.proc.pid, signal.SIGTERM)
    notify.expect("STOPPING=1")
    assert env.daemon.stop() == 0


def test_sighup_without_systemd_does_not_stop_the_daemon(env):
    os.kill(env.daemon.proc.pid, signal.SIGHUP)
    wait_until(lambda: "SIGHUP" in env.daemon.log_text(), what="the daemon to log the SIGHUP")
    assert env.daemon.alive()
    sid = env.push(kind="enroll", txn="e1", member="m1")
    env.wait_applied(sid)
    assert env.member("m1")["member"] == "m1"
