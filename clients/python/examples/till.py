#!/usr/bin/env python3
"""A till, end to end: enrols a customer, rings up a sale, scans the card
(the daemon answers with the member's perks), and redeems points.

    PYTHONPATH=clients/python python3 clients/python/examples/till.py \\
        --redis 127.0.0.1:6379 --member M-TILL-1

Prints one line per step, e.g.
    enrolled M-TILL-1
    sale T1-...-sale: 2500.00 -> +2600 points (balance 2600), tier gold
    scan at S001: tier gold
    perk free_delivery
    perk priority_service
    redeem 100 points: ok, balance 2500
"""
import argparse
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import loyalty  # noqa: E402  (the package next to this example)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", default="127.0.0.1:6379", help="HOST:PORT of Redis")
    p.add_argument("--prefix", default=loyalty.DEFAULT_PREFIX, help="stream key prefix")
    p.add_argument("--member", default="M-TILL-1", help="the customer's card id")
    p.add_argument("--store", default="S001", help="this till's store")
    p.add_argument("--amount", type=int, default=250000, help="the sale, in cents")
    p.add_argument("--redeem", type=int, default=100, help="points to redeem")
    a = p.parse_args()
    host, _, port = a.redis.rpartition(":")
    r = redis.Redis(host=host, port=int(port), socket_timeout=10)
    till = loyalty.Client(r, a.prefix)
    run = f"T1-{time.time_ns()}"  # this run's txn prefix: a rerun is a new visit

    out = till.submit(loyalty.enroll(f"{run}-enroll", a.member))
    print(f"enrolled {a.member}" if out.ok else f"enrol: {out.rejected[0]} (already a member?)")

    out = till.submit(loyalty.purchase(f"{run}-sale", a.member, a.store, a.amount))
    if not out.ok:
        sys.exit(f"sale rejected: {out.rejected[0]}: {out.rejected[1]}")
    earned = sum(e["delta"] for e in out.of_kind("points.changed"))
    balance = out.of_kind("points.changed")[-1]["balance"] if earned else None
    tiers = [e["to"] for e in out.of_kind("tier.changed")]
    print(f"sale {run}-sale: {a.amount / 100:.2f} -> +{earned} points (balance {balance})"
          + (f", tier {tiers[-1]}" if tiers else ""))

    out = till.scan(a.member, a.store)
    print(f"scan at {a.store}: tier {out.tier or '(no perks)'}")
    for perk in out.perks:
        print(f"perk {perk}")

    out = till.submit(loyalty.redeem(f"{run}-redeem", a.member, points=a.redeem))
    result = out.of_kind("redeem.result")[0]
    print(f"redeem {a.redeem} points: {'ok' if result['ok'] else result['error']}, "
          f"balance {result['balance']}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
