"""ctlkit.py - running the C command-line clients (loyaltyctl, loyalty-scan)
from tests, each bounded by a timeout, and reading a following process's
output lines with a deadline."""
import os
import select
import subprocess
import time
from pathlib import Path

from harness import EVENT_TIMEOUT_S, REPO

CLIENTS_DIR = Path(os.environ.get("LOYALTY_CLIENTS_DIR", str(REPO / "build" / "clients")))
LOYALTYCTL = str(CLIENTS_DIR / "loyaltyctl")
LOYALTY_SCAN = str(CLIENTS_DIR / "loyalty-scan")
RUN_TIMEOUT_S = 30


def run(binary, *args, env=None):
    """Runs a client to completion: CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=full_env, stdin=subprocess.DEVNULL)


def ctl(*args, env=None):
    return run(LOYALTYCTL, *args, env=env)


def read_line(proc, timeout=EVENT_TIMEOUT_S):
    """The next line the process prints on stdout (without its newline);
    fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no line from pid {proc.pid} within {timeout}s"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            assert line, f"pid {proc.pid} closed its output (exit {proc.poll()})"
            return line.rstrip("\n")
