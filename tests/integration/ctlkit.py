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


class LineReader:
    """Reads a child's stdout (a binary pipe) line by line with a deadline.
    It keeps its own buffer: select() on the pipe says nothing about lines
    a buffered reader has already taken in."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def line(self, timeout=EVENT_TIMEOUT_S):
        """The next line (without its newline); fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from pid {self.proc.pid} within {timeout}s"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, f"pid {self.proc.pid} closed its output (exit {self.proc.poll()})"
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()
