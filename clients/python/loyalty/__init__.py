"""loyalty - a Python client of loyaltyd.

    import redis, loyalty
    r = redis.Redis(port=6379)
    till = loyalty.Client(r)
    till.add(loyalty.purchase("T1-0001", "M000042", "S001", 5999))
    out = till.scan("M000042", "S001")          # waits for the daemon's answer
    print(out.tier, out.perks)

    feed = loyalty.Consumer(r, group="crm", name="crm-1")
    for ev in feed.read(count=100, block_ms=1000):
        ...                                       # ev["kind"], ev["member"], ...
        feed.ack(ev)

Entries are validated as the daemon's decoder does (ValidationError.code is
the DLQ reason the daemon would give); partition_of(member, P) says which
partition a member belongs to.
"""
from .client import DEFAULT_PREFIX, Client, Consumer, Event, Outcome
from .contract import (INPUT_KINDS, OUTPUT_KINDS, DecodeError, ValidationError, adjust,
                       decode_output, encode, enroll, line, purchase, redeem, refund, rules,
                       scan, set_tier, tick, transfer, validate)
from .partition import partition_of, partition_prefix

__all__ = ["DEFAULT_PREFIX", "Client", "Consumer", "Event", "Outcome", "INPUT_KINDS",
           "OUTPUT_KINDS", "DecodeError", "ValidationError", "adjust", "decode_output",
           "encode", "enroll", "line", "purchase", "redeem", "refund", "rules", "scan",
           "set_tier", "tick", "transfer", "validate", "partition_of", "partition_prefix"]
