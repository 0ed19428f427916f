#!/usr/bin/python3
"""xfer_relay.py - transfers across partitions against transfers within one,
in the same run (README "Transfers"; the ratio is what to compare across runs,
this machine being shared and noisy).

One daemon serves P = 4 partitions of a standalone Redis (the test harness's
Env: tests/integration/harness.py). N senders and N receivers are enrolled;
then N transfers are pushed at once, each to a receiver in the sender's own
partition (baseline: one atomic entry each), and, after them, N to receivers
in the next partition (a debit, a commit to :xfer, the relay's append, the
credit). Each figure is the wall time from the first XADD to the last
transfer_in published. Usage (from the repository, after a build):

    LOYALTYD_BIN=build/engine/loyaltyd /usr/bin/python3 bench/xfer_relay.py [N]
"""
import sys
import tempfile
import time
import zlib
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from harness import Env  # noqa: E402

P = 4


def members(p, n, stem):
    out, i = [], 0
    while len(out) < n:
        m = f"{stem}{i}"
        if zlib.crc32(m.encode()) % P == p:
            out.append(m)
        i += 1
    return out


def push_all(env, entries):
    pipe = env.r.pipeline(transaction=False)
    for p, m in entries:
        pipe.xadd(f"loyalty:{{{p}}}:in", {"m": msgpack.packb(m)})
    return pipe.execute()


class Credits:
    """transfer_in outputs published so far, read on from where it left off."""

    def __init__(self, env):
        self.env, self.n = env, 0
        self.last = {p: "-" for p in range(P)}

    def count(self):
        for p in range(P):
            for sid, f in self.env.r.xrange(f"loyalty:{{{p}}}:out", self.last[p], "+"):
                self.last[p] = "(" + sid.decode()
                self.n += msgpack.unpackb(f[b"m"]).get("cause") == "transfer_in"
        return self.n


def run(env, n, ts, across, credits):
    senders = {p: members(p, n // P, f"S{int(across)}-") for p in range(P)}
    entries = []
    for p in range(P):
        q = (p + 1) % P if across else p
        receivers = members(q, n // P, f"R{int(across)}-")
        for s, r in zip(senders[p], receivers):
            entries.append((p, {"v": 1, "kind": "enroll", "txn": f"e-{s}", "member": s, "ts": ts}))
            entries.append((p, {"v": 1, "kind": "adjust", "txn": f"a-{s}", "member": s,
                                "points": 1000, "reason": "bench", "ts": ts}))
            entries.append((q, {"v": 1, "kind": "enroll", "txn": f"e-{r}", "member": r, "ts": ts}))
    push_all(env, entries)
    transfers = [(p, {"v": 1, "kind": "transfer", "txn": f"t{int(across)}-{s}", "member": s,
                      "to": r, "points": 10, "ts": ts + 1000})
                 for p in range(P)
                 for s, r in zip(senders[p], members((p + 1) % P if across else p, n // P,
                                                     f"R{int(across)}-"))]
    want = credits.count() + len(transfers)
    start = time.monotonic()
    push_all(env, transfers)
    deadline = start + 300
    while credits.count() < want:
        if time.monotonic() > deadline:
            raise SystemExit("transfers not all credited within 300 s")
        time.sleep(0.005)
    return time.monotonic() - start, len(transfers)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        env = Env(Path(tmp), dict(partitions=P, serve='"all"', max_points_per_day=0))
        try:
            env.daemon.start()
            credits = Credits(env)
            within, k = run(env, n, 1_800_000_000_000, False, credits)
            across, _ = run(env, n, 1_800_000_100_000, True, credits)
        finally:
            env.daemon.stop()
            env.redis.stop()
    print(f"| {k} | {within:.3f} | {k / within:.0f} | {across:.3f} | {k / across:.0f} "
          f"| {within / across:.2f} |")


if __name__ == "__main__":
    main()
