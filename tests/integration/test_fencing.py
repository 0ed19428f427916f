"""Ownership of a partition: the fenced commit (engine/shell/fenced.h).

A daemon claims its partition under its name (daemon.consumer); another
instance cannot serve it (/healthz says "fenced") until it takes it with
--take-partitions, which raises the owner epoch: from then on the former
owner's commits are refused, it stops serving the partition, and a restart
of it is refused too. Nothing is lost or doubled across the hand-over."""
import shutil

from ctlkit import ctl
from harness import PREFIX, TEST_OVERRIDES, Daemon, conf_text, wait_until

CONF = dict(snapshot_every_entries=40)


def health_word(daemon):
    status, body = daemon.health()
    return None if body is None else (status, body["consumer"])


def second_daemon(env, name, take=None):
    """Another instance on the same Redis, under `name`, own data dir."""
    path = env.tmp / f"{name}.conf"
    path.write_text(conf_text(dict(TEST_OVERRIDES, consumer=f'"{name}"', **CONF)))
    d = Daemon(env.tmp / name, env.redis.port, path, name=name)
    if take is not None:
        d.extra_args = ["--take-partitions", take]
    env.extra.append(d)
    return d


def sale(env, i, member="m1", amount=1000):
    return env.push(kind="purchase", txn=f"p{i}", member=member, store="s1", amount=amount)


def test_a_partition_moves_between_instances_and_the_old_owner_is_fenced(make_env):
    env = make_env(consumer='"alpha"', **CONF)
    alpha = env.daemon
    env.push(kind="enroll", txn="e1", member="m1")
    for i in range(100):
        last = sale(env, i)
    env.wait_applied(last)
    assert env.r.hgetall(PREFIX + "owner") == {b"epoch": b"1", b"instance": b"alpha"}
    assert list(alpha.data.glob("snap-*.lysnap")), "alpha wrote no snapshot"

    # Another instance without --take-partitions does not serve it.
    beta = second_daemon(env, "beta")
    beta.start(wait=False)
    wait_until(lambda: health_word(beta) == (503, "fenced"), what="beta to report fenced")
    assert "not served: FENCED the partition is owned by alpha at epoch 1" in beta.log_text()
    assert beta.stop() == 0
    assert health_word(alpha) == (200, "consuming")

    # The hand-over: beta takes it, from a copy of alpha's snapshots.
    for snap in alpha.data.glob("snap-*.lysnap"):
        shutil.copy(snap, beta.data / snap.name)
    beta.extra_args = ["--take-partitions", "0"]
    beta.start()
    assert env.r.hgetall(PREFIX + "owner") == {b"epoch": b"2", b"instance": b"beta"}
    assert "taken at epoch 2 by 'beta' from alpha" in beta.log_text()
    for i in range(100, 150):
        last = sale(env, i)
    env.wait_applied(last)
    wait_until(lambda: health_word(alpha) == (503, "fenced"), what="alpha to be fenced")
    assert "another instance owns it now" in alpha.log_text() or \
        "owned by beta at epoch 2" in alpha.log_text()

    # Every sale earned once, and published once, whoever applied it.
    assert_each_sale_published_once(env, beta, 150)

    # What an operator sees of it.
    res = ctl("partitions", "--partitions", 1, "--redis", f"127.0.0.1:{env.redis.port}")
    assert res.returncode == 0, res.stderr
    header, row = res.stdout.splitlines()
    assert header.split()[:4] == ["partition", "owner", "epoch", "marker"]
    assert row.split()[:4] == ["0", "beta", "2", last] and row.split()[5] == "0", row

    # The former owner restarted under its name is refused.
    assert alpha.stop() == 0
    alpha.start(wait=False)
    wait_until(lambda: health_word(alpha) == (503, "fenced"), what="restarted alpha fenced")
    assert "owned by beta at epoch 2" in alpha.logs[-1].read_text()
    last = sale(env, 150)
    env.wait_applied(last)
    assert len([e for e in env.read_out() if e["src"] == last]) >= 1
    assert env.r.hget(PREFIX + "owner", "epoch") == b"2"


def assert_each_sale_published_once(env, daemon, sales):
    """One purchase event per sale, no output id twice, and the published
    deltas add up to the balance the serving daemon holds."""
    events = [e for e in env.read_out() if e["kind"] == "points.changed"]
    ids = [e["id"] for e in env.read_out()]
    assert len(ids) == len(set(ids)), "an output was published twice"
    assert len([e for e in events if e["cause"] == "purchase"]) == sales
    assert sum(e["delta"] for e in events) == daemon.member("m1")["balance"] == \
        events[-1]["balance"]
