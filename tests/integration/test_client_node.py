"""The Node client (clients/node) against the real daemon: this starts a
redis-server and loyaltyd (the env fixture) and runs the client's own
tests with `node --test`, giving them the ports. Its packages come from
clients/node/package-lock.json (`npm ci` in scripts/deps.sh)."""
import os
import re
import shutil
import subprocess

from harness import REPO

NODE_DIR = REPO / "clients" / "node"
NODE_TESTS = ["test/contract.test.js", "test/daemon.test.js"]
NODE_TIMEOUT_S = 180


def tap_counts(text):
    """The '# pass N' style summary lines of node's TAP reporter."""
    return {k: int(v) for k, v in re.findall(r"^# (\w+) (\d+)$", text, flags=re.M)}


def test_node_client_against_the_daemon(env):
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is not installed: run scripts/deps.sh (Debian's nodejs and npm)"
    assert (NODE_DIR / "node_modules" / "ioredis").is_dir(), \
        "clients/node/node_modules is missing: run scripts/deps.sh (npm ci)"
    res = subprocess.run(
        [node, "--test", "--test-reporter=tap", *NODE_TESTS], cwd=NODE_DIR,
        capture_output=True, text=True, timeout=NODE_TIMEOUT_S, stdin=subprocess.DEVNULL,
        env=dict(os.environ, LOYALTY_REDIS_PORT=str(env.redis.port),
                 LOYALTY_HTTP_PORT=str(env.daemon.http_port)))
    report = f"{res.stdout}\n{res.stderr}"
    counts = tap_counts(res.stdout)
    assert res.returncode == 0, report
    assert counts.get("fail") == 0 and "# SKIP" not in res.stdout, report
    assert counts.get("pass", 0) >= 8, report  # 4 contract tests, 4 against the daemon
