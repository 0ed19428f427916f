"""faultkit.py - faults the fault and security tests inject, and what they
observe, on top of harness.py.

Faults: a Redis paused with SIGSTOP or restarted with its data deleted, a data
dir that runs out of space (a full tmpfs), a flood of entries pipelined on a
raw socket, HTTP clients that stall. Observations: the daemon's RSS, the sockets it still
holds, raw HTTP exchanges with their headers, and the sizes of the engine's
records (compiled from its headers) that bound its memory.

Every wait is bounded (harness.wait_until); every process is the test's own
and is addressed by pid.
"""
import contextlib
import errno
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import redis

from harness import (POLL_INTERVAL_S, PREFIX, REDIS_BIN, REPO, START_TIMEOUT_S,
                     RedisServer, free_port, sid_key, stop_pid)

# -- Redis faults ------------------------------------------------------------


@contextlib.contextmanager
def redis_paused(env):
    """SIGSTOP to the test's redis-server for the duration of the block,
    SIGCONT afterwards whatever happens: a Redis that accepts connections
    (the kernel does) but answers nothing."""
    pid = env.redis.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def restart_redis_empty(env):
    """Stops Redis, deletes everything it persisted (AOF directory, RDB; its
    own logs stay for the report) and starts it again on the same port:
    what an operator sees after losing the Redis volume."""
    assert env.stop_redis() == 0
    for path in env.redis.dir.iterdir():
        if path.name.startswith("redis.") and path.name.endswith(".log"):
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    env.start_redis()
    # The daemon may already have reconnected and created an empty input
    # stream with its group; nothing else may be there.
    assert env.r.xlen(PREFIX + "in") == 0 and not env.r.exists(PREFIX + "progress"), \
        "Redis should have come back empty"


def kill_client_connections(client):
    """CLIENT KILL of every other normal connection (the daemon's): it must
    reconnect and decide again what to do with what Redis holds."""
    return client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")


# -- data dir faults -----------------------------------------------------------


class DiskUnavailable(Exception):
    """No honest way to make writes in the data dir fail here."""


class DataDirFault:
    """A data dir that runs out of space, and recovers.

    The dir is a small tmpfs of its own; filling it with a filler file makes
    the snapshot writer's writes fail with ENOSPC, the real thing, and
    deleting the filler is the recovery. Nothing else does it honestly: as
    root chmod does not stop writes, a read-only remount is refused while
    the daemon holds DATA/LOCK open for writing, and a lowered RLIMIT_FSIZE
    also stops the daemon's own stderr log (a file in the tests) with
    SIGXFSZ. Where mounting is not permitted, DiskUnavailable says why.
    """

    TMPFS_BYTES = 512 * 1024  # a few snapshots of a small test state, and LOCK

    def __init__(self, data_dir):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.filler = self.dir / "FILLER"
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.TMPFS_BYTES}",
                              "tmpfs", str(self.dir)], capture_output=True, text=True)
        self.mounted = res.returncode == 0
        if not self.mounted:
            raise DiskUnavailable(
                f"cannot mount a tmpfs on the data dir ({(res.stderr or res.stdout).strip()}); "
                "needs root with CAP_SYS_ADMIN. Without it there is no honest way to fail "
                "only the snapshot write: chmod does not stop root, a read-only remount is "
                "refused while DATA/LOCK is open, RLIMIT_FSIZE also kills the daemon's log")

    def fill(self):
        """Takes every free block: writes in the dir fail with ENOSPC."""
        chunk = b"\0" * 4096
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        st = os.statvfs(self.dir)
        assert st.f_bavail == 0, f"{self.dir} still has {st.f_bavail} free blocks"

    def recover(self):
        self.filler.unlink(missing_ok=True)

    def close(self):
        """Unmounts (the daemon must be stopped by then)."""
        if not self.mounted:
            return
        res = subprocess.run(["umount", str(self.dir)], capture_output=True, text=True)
        if res.returncode != 0:  # still busy: detach it so no mount outlives the test
            subprocess.run(["umount", "-l", str(self.dir)], capture_output=True)
        self.mounted = False


def snapshot_files(data_dir):
    """{name: sha256} of the finished snapshots in `data_dir`."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(data_dir).glob("snap-*.lysnap"))}


def snapshot_name(sid):
    """The file name snapdir.c gives the snapshot taken at entry `sid`."""
    ms, seq = sid_key(sid)
    return f"snap-{ms:020d}-{seq:020d}.lysnap"


# -- process observation -------------------------------------------------------


def sanitized(binary):
    """True for a binary built with AddressSanitizer (LOYALTY_SANITIZE): its
    quarantine keeps up to 256 MiB of freed memory resident, so its RSS
    says nothing about what the daemon holds."""
    return b"__asan_init" in Path(binary).read_bytes()


def rss_bytes(pid):
    """VmRSS of `pid` from /proc/PID/status, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler(threading.Thread):
    """Samples a process's RSS every POLL_INTERVAL_S until stopped; `peak`
    is the largest sample, `samples` how many were taken."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
                self.samples += 1
            except (OSError, AssertionError):
                return  # the process is gone: the test sees that itself
            self.stopping.wait(POLL_INTERVAL_S)

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        return self.peak


def _tcp_table():
    """[(local port, remote port, inode, tx_queue bytes)] of loopback TCP
    sockets, from /proc/net/tcp and tcp6."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            with open(name) as f:
                next(f)
                for line in f:
                    part = line.split()
                    local, remote, queues, inode = part[1], part[2], part[4], part[9]
                    rows.append((int(local.rsplit(":", 1)[1], 16),
                                 int(remote.rsplit(":", 1)[1], 16), int(inode),
                                 int(queues.split(":")[0], 16)))
    return rows


def server_connections(pid, port):
    """{client port: bytes queued to send} for every connection to `port`
    that process `pid` still holds open (an fd of its own)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return {remote: txq for local, remote, inode, txq in _tcp_table()
            if local == port and inode in inodes and inode != 0}


# -- engine sizes ----------------------------------------------------------------

PROBE_SOURCE = r"""
#include <stdio.h>
#include "members.h"
#include "rules.h"
#include "schedule.h"
#include "txns.h"
int main(void)
{
    printf("member %zu\ntxn_rec %zu\nschedule_entry %zu\nentry_bytes_max %d\n"
           "outputs_max %d\n", sizeof(struct member), sizeof(struct txn_rec),
           sizeof(struct schedule_entry), PROTO_ENTRY_BYTES_MAX, (int)OUTBOX_ENTRY_OUTPUTS_MAX);
    return 0;
}
"""


def engine_sizes(workdir):
    """Sizes and limits of the engine's records as the compiler lays them out
    (the headers are the documentation of its memory: members.h, txns.h,
    batch.h): {member, txn_rec, schedule_entry, entry_bytes_max,
    outputs_max}."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    src, exe = workdir / "sizes.c", workdir / "sizes"
    src.write_text(PROBE_SOURCE)
    cc = os.environ.get("CC", "cc")
    res = subprocess.run([cc, "-std=c11", "-I", str(REPO / "engine" / "core"), "-I", str(REPO / "proto"),
                          str(src), "-o", str(exe)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"cannot compile the size probe: {res.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


# hindex.h: 8-byte slots, capacity doubled at 3/4 load, so right after a
# doubling there are 8/3 slots per key.
INDEX_BYTES_PER_KEY = 8 * 8 // 3 + 1
# batch.h: an output event is "a few hundred bytes" (ids <= 56 bytes, names
# <= 32, a dozen small fields); 512 bounds it.
OUTPUT_BYTES_MAX = 512
# A batch is held three times at most: the XREAD reply hiredis parsed, the
# batch's encoded outputs, and its commit call (formatted, then queued by
# hiredis); up to daemon.batches_in_flight batches are held at once.
BATCH_COPIES = 3
# glibc malloc keeps freed chunks and rounds requests up; a quarter on top of
# what the daemon asks for covers it.
ALLOCATOR_SLACK = 1.25


def rss_bound_bytes(baseline, sizes, members, lots_per, max_txns, batch_entries_max,
                    batches_in_flight):
    """What the daemon may hold beyond its idle RSS `baseline`, from the
    bounds its headers document: members (array doubled on growth, expiry
    lots, index, about one schedule entry each, doubled), the txn window
    (reserved up front, backed as it fills), and the batches in flight."""
    per_member = (2 * (sizes["member"] + 8 * lots_per) + INDEX_BYTES_PER_KEY
                  + 2 * 2 * sizes["schedule_entry"])
    txns = max_txns * (sizes["txn_rec"] + INDEX_BYTES_PER_KEY)
    batch = BATCH_COPIES * batches_in_flight * batch_entries_max * (
        sizes["entry_bytes_max"] + sizes["outputs_max"] * OUTPUT_BYTES_MAX)
    return int(baseline + ALLOCATOR_SLACK * (members * per_member + txns + batch))


# -- a flood of entries -----------------------------------------------------------


def resp_command(*args):
    """One Redis command in RESP (arguments are bytes)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _ReplyCounter(threading.Thread):
    """Reads the replies of pipelined XADDs: bulk strings (the ids) or
    errors, counted as they come; `last_id` is the newest id."""

    def __init__(self, sock, expected):
        super().__init__(daemon=True)
        self.sock = sock
        self.expected = expected
        self.ids = 0
        self.errors = []
        self.last_id = None
        self.failure = None

    def run(self):
        buf = b""
        try:
            while self.ids + len(self.errors) < self.expected:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                buf = self._parse(buf + data)
        except Exception as e:  # noqa: BLE001 - reported by FloodPusher.finish()
            self.failure = e

    def _parse(self, buf):
        pos = 0
        while True:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return buf[pos:]
            kind = buf[pos:pos + 1]
            if kind == b"-":
                self.errors.append(buf[pos + 1:end].decode())
                pos = end + 2
                continue
            assert kind == b"$", f"unexpected reply {buf[pos:end]!r}"
            size = int(buf[pos + 1:end])
            if len(buf) < end + 2 + size + 2:
                return buf[pos:]
            self.last_id = buf[end + 2:end + 2 + size].decode()
            self.ids += 1
            pos = end + 2 + size + 2


class FloodPusher(threading.Thread):
    """XADDs `count` entries, `make(i)` giving the i-th `m` bytes, as fast as
    one pipelined connection allows: commands are written in chunks while a
    reader thread counts the replies. `done` is set when Redis has answered
    all of them; `seconds` is how long that took."""

    CHUNK = 10000

    def __init__(self, port, count, make, deadline_s):
        super().__init__(daemon=True)
        self.port = port
        self.count = count
        self.make = make
        self.deadline_s = deadline_s
        self.done = threading.Event()
        self.seconds = None
        self.reader = None
        self.failure = None

    def run(self):
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.deadline_s) as s:
                self.reader = _ReplyCounter(s, self.count)
                self.reader.start()
                key = (PREFIX + "in").encode()
                for start in range(0, self.count, self.CHUNK):
                    stop = min(self.count, start + self.CHUNK)
                    s.sendall(b"".join(resp_command(b"XADD", key, b"*", b"m", self.make(i))
                                       for i in range(start, stop)))
                self.reader.join(timeout=max(1, self.deadline_s - (time.monotonic() - t0)))
                assert not self.reader.is_alive(), "Redis did not answer every XADD in time"
        except Exception as e:  # noqa: BLE001 - re-raised by finish()
            self.failure = e
        self.seconds = time.monotonic() - t0
        self.done.set()

    def finish(self):
        """Waits (bounded) and returns (ids acknowledged, last id); raises
        what went wrong, including any XADD Redis refused."""
        self.join(timeout=self.deadline_s + 5)
        assert not self.is_alive(), "flood pusher did not finish in time"
        if self.failure is not None:
            raise self.failure
        if self.reader.failure is not None:
            raise self.reader.failure
        assert not self.reader.errors, f"Redis refused XADDs: {self.reader.errors[:3]}"
        return self.reader.ids, self.reader.last_id


def outputs_between(client, after_id, upto_id):
    """Raw `m` bytes of the output entries in (after_id, upto_id]."""
    start = "-" if after_id is None else "(" + after_id
    return [f[b"m"] for _, f in client.xrange(PREFIX + "out", start, upto_id)]


def progress_and_out_tip(client):
    """(progress marker, newest output id), read atomically: outputs a commit
    published are in Redis exactly when its marker is (one commit call)."""
    pipe = client.pipeline(transaction=True)
    pipe.get(PREFIX + "progress")
    pipe.xrevrange(PREFIX + "out", count=1)
    marker, tip = pipe.execute()
    return (sid_key(marker) if marker else (0, 0)), (tip[0][0].decode() if tip else None)


# -- HTTP ---------------------------------------------------------------------------


def http_call(port, path, headers=None, method="GET", timeout=5):
    """(status, {lower-case header: value}, body bytes) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_http(port, request, timeout=5):
    """Sends `request` bytes as they are (no client-side URL checks) and
    returns the whole response, read until the server closes or a full
    response with its Content-Length has arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and \
                            len(body) >= int(value.strip()):
                        return data


def closed_by_peer(sock):
    """True once the peer closed `sock` (EOF or reset); reads and drops
    whatever it sent before (a 408, say); never blocks."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
        return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


# -- Redis with ACLs ------------------------------------------------------------------


class AclRedis(RedisServer):
    """redis-server like harness.RedisServer, with users from an ACL file;
    `admin` (user, password) is what the test itself connects as, since the
    default user may be off."""

    def __init__(self, directory, acl_text, admin):
        super().__init__(directory)
        self.acl = self.dir / "users.acl"
        self.acl.write_text(acl_text)
        self.admin = admin

    def start(self, port=None):
        self.port = port or self.port or free_port()
        self.starts += 1
        log = self.dir / f"redis.{self.starts}.log"
        self.proc = subprocess.Popen(
            [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir),
             "--aclfile", str(self.acl), "--logfile", str(log), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError,
                                     redis.BusyLoadingError):
                c = self.client()
                try:
                    if c.ping():
                        return self
                finally:
                    c.close()
            time.sleep(POLL_INTERVAL_S)
        stop_pid(self.proc, timeout=5)
        raise AssertionError(f"redis-server with {self.acl} did not start; see {log}")

    def client(self, user=None, password=None):
        user, password = (user, password) if user else self.admin
        return redis.Redis(host="127.0.0.1", port=self.port, username=user,
                           password=password, socket_timeout=10)
