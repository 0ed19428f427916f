"""The snapshot writer's scheduling (README, "Snapshots without a stall"):
snapshot_priority puts the forked writer at nice 19 with the lowest
best-effort I/O priority ("low"), under SCHED_IDLE with the idle I/O class
("idle"), or leaves it as the daemon ("normal"); a low writer still running
at snapshot_deadline_ms is stopped and the next writer runs at normal
priority, so a snapshot lands anyway. snapshot_write_delay_ms (a testing
aid) holds each writer long enough to be looked at, whatever its state."""
import ctypes
import os
import platform

import pytest

from crashkit import gone, writers_of
from harness import wait_until

# ioprio_get(2) has no Python binding: the syscall, on the machines CI runs.
SYS_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(platform.machine())
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE = 2, 3
SCHED_IDLE = getattr(os, "SCHED_IDLE", 5)
HOLD_MS = 3000  # each writer holds its temp file this long before writing
WRITER_TIMEOUT_S = 15


def ioprio(pid):
    """(class, level) of `pid`'s I/O priority."""
    libc = ctypes.CDLL(None, use_errno=True)
    value = libc.syscall(SYS_IOPRIO_GET, IOPRIO_WHO_PROCESS, pid)
    assert value >= 0, os.strerror(ctypes.get_errno())
    return value >> 13, value & 0x1fff


def writer(env, not_in=()):
    """The pid of the daemon's snapshot writer (a fork of it: the same
    command line), other than those of `not_in`, once it holds its temp
    file (it set its priority before creating it)."""
    daemon, data = env.daemon.proc.pid, env.daemon.data

    def holding():
        pids = [p for p in writers_of(str(data)) if p != daemon and p not in not_in]
        held = any(p.name.endswith(".tmp") for p in data.iterdir())
        return pids[0] if len(pids) == 1 and held else None
    return wait_until(holding, WRITER_TIMEOUT_S, "a snapshot writer holding its temp file")


def scheduling(pid):
    """(policy, nice, I/O class) of `pid`."""
    return (os.sched_getscheduler(pid), os.getpriority(os.PRIO_PROCESS, pid),
            ioprio(pid)[0] if SYS_IOPRIO_GET else None)


def start_snapshot(env, members=6):
    """Enough entries for a snapshot (snapshot_every_entries = members)."""
    for i in range(members):
        env.push(kind="enroll", txn=f"e{i}", member=f"m{i}")
    env.wait_applied(env.input_ids()[-1])


@pytest.mark.parametrize("priority, expect", [
    ("low", (os.SCHED_OTHER, 19, IOPRIO_CLASS_BE)),
    ("idle", (SCHED_IDLE, 0, IOPRIO_CLASS_IDLE)),
])
def test_the_writer_runs_at_the_configured_priority(make_env, priority, expect):
    env = make_env(snapshot_every_entries=6, snapshot_every_ms=0, snapshot_deadline_ms=0,
                   snapshot_priority=f'"{priority}"', snapshot_write_delay_ms=HOLD_MS)
    start_snapshot(env)
    pid = writer(env)
    policy, nice, io_class = scheduling(pid)
    assert (policy, nice) == expect[:2]
    assert io_class in (None, expect[2])
    assert scheduling(env.daemon.proc.pid)[:2] == (os.SCHED_OTHER, 0), "the daemon is not"
    wait_until(lambda: env.daemon.metrics()["loyalty_snapshots_total"] >= 1,
               WRITER_TIMEOUT_S, "the snapshot to land")
    assert env.daemon.metrics()["loyalty_snapshot_escalations_total"] == 0


def test_a_writer_past_its_deadline_is_replaced_by_one_at_normal_priority(make_env):
    env = make_env(snapshot_every_entries=6, snapshot_every_ms=0, snapshot_priority='"low"',
                   snapshot_deadline_ms=500, snapshot_write_delay_ms=HOLD_MS)
    start_snapshot(env)
    low = writer(env)
    assert scheduling(low)[:2] == (os.SCHED_OTHER, 19)
    # Its deadline passes long before it would write: it is stopped, and the
    # partition, idle, starts the next writer at once, at normal priority.
    wait_until(lambda: env.daemon.metrics()["loyalty_snapshot_escalations_total"] == 1,
               WRITER_TIMEOUT_S, "the low writer's deadline")
    assert gone(low)
    normal = writer(env, not_in={low})
    assert scheduling(normal)[:2] == (os.SCHED_OTHER, 0)
    # It has no deadline: it holds as long as the low one did, and lands.
    wait_until(lambda: env.daemon.metrics()["loyalty_snapshots_total"] >= 1,
               WRITER_TIMEOUT_S, "the normal writer's snapshot")
    metrics = env.daemon.metrics()
    assert metrics["loyalty_snapshot_escalations_total"] == 1
    assert metrics["loyalty_snapshot_failures_total"] == 0
    assert "not written after 500 ms at low priority" in env.daemon.log_text()
    assert [p.name for p in env.daemon.data.iterdir() if p.name.endswith(".tmp")] == []
