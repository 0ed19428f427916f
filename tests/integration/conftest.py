"""Fixtures of the integration suite: each test gets its own redis-server on a
free loopback port and its own loyaltyd (harness.py), both stopped by pid at
teardown. When a test fails, the daemon's stderr and Redis's log are attached
to the report."""
import pytest

from harness import Daemon, Env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    env = getattr(item, "loyalty_env", None)
    if env is None or not rep.failed:
        return
    for d in daemons_of(env):
        rep.sections.append((f"{d.name} stderr ({d.dir})", d.log_text() or "(empty)"))
    for log in sorted(env.tmp.rglob("redis.*.log")):
        tail = log.read_text(errors="replace").splitlines()[-30:]
        rep.sections.append((f"redis log {log.relative_to(env.tmp)} (tail)", "\n".join(tail)))


def daemons_of(env):
    return [env.daemon] + [x for x in env.extra if isinstance(x, Daemon)]


def _teardown(request, env):
    """Stops every daemon (SIGTERM: a clean stop must exit 0), then every
    Redis, whatever happens to the daemons."""
    passed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.passed
    codes = []
    try:
        for d in daemons_of(env):
            if d.alive():
                codes.append((d.name, d.stop()))
    finally:
        for rs in [env.redis] + [x for x in env.extra if not isinstance(x, Daemon)]:
            rs.stop()
        env.close()
    if passed:
        bad = [(name, rc) for name, rc in codes if rc != 0]
        assert not bad, f"daemons exited non-zero on SIGTERM: {bad}"


@pytest.fixture
def make_env(request, tmp_path):
    """make_env(start=True, plain=False, **conf_overrides) -> Env: a fresh
    Redis and a daemon configured from conf/loyaltyd.conf plus the overrides
    (plain: without bonuses and caps, harness.PLAIN_EARNING); with start=True
    the daemon is running and healthy."""
    made = []

    def make(start=True, plain=False, **overrides):
        assert not made, "one environment per test"
        env = Env(tmp_path, overrides, plain)
        made.append(env)
        request.node.loyalty_env = env
        if start:
            env.daemon.start()
        return env

    yield make
    for env in made:
        _teardown(request, env)


@pytest.fixture
def env(make_env):
    """A running, healthy daemon on its own Redis, shipped configuration."""
    return make_env()


@pytest.fixture
def plain_env(make_env):
    """Like env, with bonuses and caps off (harness.PLAIN_EARNING)."""
    return make_env(plain=True)
