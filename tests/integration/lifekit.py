"""lifekit.py - members' lives on paper, next to the real daemon.

A model of the rules as README "Rules", engine/earn.h and the comments of
conf/loyaltyd.conf document them: given the same input entries as the daemon,
`World` says which events must be published, in which order, with which
numbers, and what GET /v1/members/ID must show. `Script` pushes each entry to
the daemon (event time chosen by the test, so `tick` entries control time)
and remembers what the model expects of it; `Script.check` compares every
published event with that, id by id.

Where the documents leave a detail open, the model takes the reading the
engine's header comments give, and says so where it does: the order of one
entry's events (the member's points, the referrer's bonus, segment moves, tier,
milestone, every-N rewards; a tick takes members in due-time order, which the
model does not keep, so there only each member's run of events is compared),
every-N rewards counting every point credited (bonuses too) less refunds and
issued as one event with a count, refunds and redemptions both spending the
oldest points first, F counting sales as made (refunds do not lower it) and M
counting what is left of them after refunds (engine/core/refunds.h: a refund
also takes back the tier it gave and, when full, the sale's bonuses). The
model has no pending points and no notices: tests using it turn both off
(HOLDS_OFF).
"""
import bisect
import calendar
import re
from collections import defaultdict
from datetime import datetime, timezone

import msgpack

from harness import PREFIX, RULES_ENTRY_ID, sid_key

DAY_MS = 86_400_000
BP = 10_000
STAGES = ("new", "active", "at_risk", "lapsed", "reactivated")


# -- time ------------------------------------------------------------------

def utc_ms(year, month, day, hour=0, minute=0, second=0):
    """Milliseconds since the epoch of a UTC date and time."""
    return calendar.timegm((year, month, day, hour, minute, second)) * 1000


def month_of(ts):
    """A month index (year * 12 + month - 1) of a ts, like engine/caltime.h."""
    d = datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
    return d.year * 12 + d.month - 1


def month_start(index):
    """00:00 UTC on the first day of month `index`."""
    return utc_ms(index // 12, index % 12 + 1, 1)


def add_months(ts, months):
    """00:00 UTC on the day of `ts` moved by `months`, the day clamped to the
    month's length (a yearly review of someone enrolled on 02-29)."""
    d = datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
    m = d.year * 12 + d.month - 1 + months
    year, month = m // 12, m % 12 + 1
    return utc_ms(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def date_of(ts):
    d = datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
    return d.year, d.month, d.day


# -- the configuration -----------------------------------------------------

_TOKEN = re.compile(r'\s+|#[^\n]*|//[^\n]*|/\*.*?\*/|("(?:[^"\\]|\\.)*")|(-?\d+)L?'
                    r'|([A-Za-z_][A-Za-z0-9_-]*)|([=:;,{}()\[\]])', re.S)


def parse_conf(text):
    """The subset of libconfig the daemon's configuration uses (groups, lists,
    arrays, strings, integers, booleans) as nested dicts and lists."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"cannot read the configuration at {text[pos:pos + 30]!r}"
        pos = m.end()
        if m.group(1):
            tokens.append(("str", m.group(1)[1:-1]))
        elif m.group(2):
            tokens.append(("int", int(m.group(2))))
        elif m.group(3):
            tokens.append(("name", m.group(3)))
        elif m.group(4):
            tokens.append(("punct", m.group(4)))
    tokens.append(("end", None))
    at = [0]

    def take():
        tok = tokens[at[0]]
        at[0] += 1
        return tok

    def peek():
        return tokens[at[0]]

    def value():
        kind, v = take()
        if kind in ("str", "int"):
            return v
        if kind == "name" and v in ("true", "false"):
            return v == "true"
        closing = {"{": "}", "(": ")", "[": "]"}.get(v)
        assert kind == "punct" and closing, f"unexpected {v!r} in the configuration"
        if v == "{":
            out = settings(closing)
        else:
            out = []
            while peek() != ("punct", closing):
                out.append(value())
                if peek() == ("punct", ","):
                    take()
        assert take() == ("punct", closing)
        return out

    def settings(closing):
        out = {}
        while peek() not in (("punct", closing), ("end", None)):
            kind, name = take()
            assert kind == "name", f"expected a setting name, got {name!r}"
            assert take()[1] in ("=", ":")
            out[name] = value()
            if peek() in (("punct", ";"), ("punct", ",")):
                take()
        return out

    return settings(None)


def date_ms(text):
    year, month, day = (int(x) for x in text.split("-"))
    return utc_ms(year, month, day)


class Book:
    """The rulebook of a configuration text, as the model reads it."""

    def __init__(self, text):
        c = parse_conf(text)
        e, t, r, s = c["earning"], c["tiers"], c["rewards"], c["segments"]
        self.minor_per_unit = e.get("minor_per_unit", 100)
        self.points_per_unit = e.get("points_per_unit", 1)
        self.categories = {x["cat"]: x["multiplier_bp"] for x in e.get("categories", [])}
        self.campaigns = [dict(x, start_ms=date_ms(x["start"]), end_ms=date_ms(x["end"]))
                          for x in e.get("campaigns", [])]
        self.first_purchase_bonus = e.get("first_purchase_bonus", 0)
        self.birthday_bonus = e.get("birthday_bonus", 0)
        self.referral_bonus = e.get("referral_bonus", 0)
        self.txn_cap = e.get("txn_cap_points", 0)
        self.day_cap = e.get("day_cap_points", 0)
        assert t.get("basis", "points") == "points", "the model qualifies on points"
        assert t.get("review", "anniversary") == "anniversary", "the model reviews yearly"
        self.window_months = t.get("window_months", 12)
        self.tiers = t["levels"]
        self.grace_months = t.get("grace_months", 0)
        self.auto = r.get("auto", [])
        self.milestones = {x["purchase"]: x["reward"] for x in r.get("milestones", [])}
        self.catalog = {x["reward"]: dict(cost=x["cost_points"], stock=x.get("stock", -1))
                        for x in r.get("catalog", [])}
        self.expiry_months = c.get("expiry", {}).get("months", 0)
        self.shortfall = c.get("refunds", {}).get("shortfall", "negative")
        self.keep_bonuses = c.get("refunds", {}).get("keep_bonuses", False)
        self.refund_downgrade = t.get("refund_downgrade", "immediate")
        n = c.get("notices", {})
        assert e.get("pending_days", 0) == 0, "the model has no pending points"
        assert n.get("tier_days", 0) == 0 and n.get("expiry_days", 0) == 0, \
            "the model publishes no notices"
        self.seg = s
        self.segments = [(x["name"], x.get("r", [1, 5]), x.get("f", [1, 5]), x.get("m", [1, 5]))
                         for x in s["map"]]
        self.value_classes = [x["name"] for x in s["value_classes"]]
        self.txn_window_ms = c.get("idempotency", {}).get("window_days", 35) * DAY_MS

    def tier_names(self):
        return [x["name"] for x in self.tiers]

    def tier_index(self, name):
        return self.tier_names().index(name)

    def tier_for(self, qualifying):
        return max(i for i, x in enumerate(self.tiers) if qualifying >= x["threshold"])

    def campaign_active(self, c, ts, store, amount):
        return (c["start_ms"] <= ts < c["end_ms"] and amount >= c.get("min_amount", 0) and
                ("stores" not in c or store in c["stores"]))

    def earn(self, ts, store, amount, lines, tier_bp):
        """(points, fixed campaign bonus) of a sale: engine/earn.h's formula,
        every multiplier exact, the sum over the lines floored once."""
        lines = lines or [dict(cat=None, amount=amount)]
        raw = 0
        for line in lines:
            cat = line["cat"]
            best = BP  # campaign multipliers do not stack: the best one per line
            for c in self.campaigns:
                if ("multiplier_bp" in c and self.campaign_active(c, ts, store, amount) and
                        ("categories" not in c or cat in c["categories"])):
                    best = max(best, c["multiplier_bp"])
            raw += line["amount"] * self.categories.get(cat, BP) * best
        points = raw * self.points_per_unit * tier_bp // (self.minor_per_unit * BP ** 3)
        bonus = 0  # fixed bonuses all stack, once per matching sale
        for c in self.campaigns:
            if "bonus_points" in c and self.campaign_active(c, ts, store, amount) and (
                    "categories" not in c or any(x["cat"] in c["categories"] for x in lines)):
                bonus += c["bonus_points"]
        return points, bonus


# -- the model -------------------------------------------------------------

class Member:
    """What the model keeps of one member."""

    def __init__(self, mid, ts, birthday, referrer):
        self.id = mid
        self.enrolled_ts = ts
        self.birthday_month = int(birthday.split("-")[0]) if birthday else 0
        self.referrer = referrer
        self.referral_paid = False
        self.balance = 0
        self.lifetime = 0
        self.reward_points = 0  # net points earned: every-N rewards
        self.auto_issued = defaultdict(int)
        self.lots = defaultdict(int)  # month index -> unexpired points earned then
        self.qual = defaultdict(int)  # month index -> qualifying points
        self.tier = 0
        self.purchases = 0
        self.last_purchase_ts = 0
        self.birthday_year = 0
        self.cap_day, self.cap_points = -1, 0
        self.next_review_ts = add_months(ts, 12)
        self.grace_until_ts = 0
        self.rfm_months = defaultdict(lambda: [0, 0])  # month -> [spend, purchases]
        self.reactivated_until_ts = 0
        self.rfm, self.segment, self.stage = None, None, None
        self.quiet_until = 0  # nothing of the member can change before then


class World:
    """Applies input entries to a model of every member and returns the
    events the daemon must publish for each, as a list of blocks: one block
    per member (in the order the model knows) whose events are contiguous."""

    def __init__(self, book):
        self.book = book
        self.members = {}
        self.clock = 0
        self.sales = {}
        self.issued = defaultdict(int)  # catalog reward -> redemptions so far
        self.lapses = defaultdict(lambda: defaultdict(int))  # segment -> month -> lapses

    # -- helpers ---------------------------------------------------------
    def _at(self, ts):
        assert ts >= self.clock, "the scripts push entries in event-time order"
        self.clock = ts

    @staticmethod
    def _ev(m, kind, ts, **fields):
        return dict(kind=kind, member=m.id, ts=ts, **fields)

    def _pc(self, m, ts, delta, cause):
        return self._ev(m, "points.changed", ts, delta=delta, balance=m.balance, cause=cause)

    def _expire(self, m, ts):
        """Lots of month k expire at the start of month k + months + 1."""
        if not self.book.expiry_months:
            return []
        last_due = month_of(self.clock) - self.book.expiry_months - 1
        expired = sum(p for k, p in m.lots.items() if k <= last_due)
        for k in [k for k in m.lots if k <= last_due]:
            del m.lots[k]
        if expired == 0:
            return []
        m.balance -= expired
        return [self._ev(m, "points.expired", ts, points=expired, balance=m.balance),
                self._pc(m, ts, -expired, "expiry")]

    def _credit(self, m, ts, points, cause):
        m.quiet_until = 0
        debt = max(0, -m.balance)  # a negative balance is repaid first
        if points > debt:
            m.lots[month_of(self.clock)] += points - debt
        m.balance += points
        m.lifetime += points
        m.reward_points += points
        return [self._pc(m, ts, points, cause)]

    def _debit(self, m, ts, points, cause):
        m.quiet_until = 0
        left = min(points, max(m.balance, 0))  # oldest points first
        for k in sorted(m.lots):
            take = min(m.lots[k], left)
            m.lots[k] -= take
            left -= take
        m.lots = defaultdict(int, {k: p for k, p in m.lots.items() if p})
        m.balance -= points
        return [self._pc(m, ts, -points, cause)]

    def _auto_rewards(self, m, ts):
        out = []
        for a in self.book.auto:
            due = max(0, m.reward_points) // a["every_points"]
            if due > m.auto_issued[a["reward"]]:  # a high-water mark, all at once
                out.append(self._ev(m, "reward.issued", ts, reward=a["reward"], cost=0,
                                    count=due - m.auto_issued[a["reward"]]))
                m.auto_issued[a["reward"]] = due
        return out

    def qualifying(self, m):
        now = month_of(self.clock)
        return sum(v for k, v in m.qual.items() if now - self.book.window_months < k <= now)

    # -- segments --------------------------------------------------------
    def window(self, m):
        """(spend, purchases) of the segments' window at the clock."""
        now, n = month_of(self.clock), self.book.seg["window_months"]
        spend = sum(v[0] for k, v in m.rfm_months.items() if now - n < k <= now)
        count = sum(v[1] for k, v in m.rfm_months.items() if now - n < k <= now)
        return spend, count

    def scores(self, m):
        s = self.book.seg
        if m.last_purchase_ts == 0:
            r = 1
        else:
            days = max(0, self.clock - m.last_purchase_ts) // DAY_MS
            r = 5 - sum(days > cut for cut in s["recency_days"])
        spend, count = self.window(m)
        f = 1 + sum(count >= cut for cut in s["frequency"])
        mon = 1 + sum(spend >= cut for cut in s["monetary"])
        return [r, f, mon]

    def segment_of(self, rfm):
        for name, *ranges in self.book.segments:
            if all(lo <= x <= hi for x, (lo, hi) in zip(rfm, ranges)):
                return name
        raise AssertionError("the last segment must catch everything")

    def stage_of(self, m):
        s, now = self.book.seg, self.clock
        if m.reactivated_until_ts > now:
            return "reactivated"
        if now < m.enrolled_ts + s["new_days"] * DAY_MS:
            return "new"
        age = now - max(m.last_purchase_ts, m.enrolled_ts)
        if age <= s["active_days"] * DAY_MS:
            return "active"
        return "at_risk" if age <= s["lapsed_days"] * DAY_MS else "lapsed"

    def _classify(self, m, ts, publish=True):
        rfm = self.scores(m)
        seg, stage = self.segment_of(rfm), self.stage_of(m)
        out = []
        if publish and seg != m.segment:
            out.append(self._ev(m, "segment.changed", ts, dimension="segment", to=seg, rfm=rfm,
                                **{"from": m.segment}))
        if publish and stage != m.stage:
            out.append(self._ev(m, "segment.changed", ts, dimension="stage", to=stage, rfm=rfm,
                                **{"from": m.stage}))
            if stage == "lapsed":  # churn counts the segment it lapsed out of
                self.lapses[m.segment][month_of(self.clock)] += 1
        m.rfm, m.segment, m.stage = rfm, seg, stage
        return out

    def churn_bp(self, segment):
        s, now = self.book.seg, month_of(self.clock)
        lapses = sum(n for k, n in self.lapses[segment].items() if now - 12 < k <= now)
        base = sum(1 for m in self.members.values() if m.segment == segment) + lapses
        churn = s["default_churn_bp"] if base < s["min_sample"] else lapses * BP // base
        return max(churn, BP // s["max_years"])

    def clv(self, m):
        s = self.book.seg
        spend, _ = self.window(m)
        yearly = spend * 12 // s["window_months"]
        return yearly * s["margin_bp"] // self.churn_bp(m.segment) - s["acquisition_cost"]

    # -- tiers -----------------------------------------------------------
    def _downgrade(self, m, ts):
        names = self.book.tier_names()
        m.tier -= 1
        return [self._ev(m, "tier.changed", ts, reason="review", to=names[m.tier],
                         **{"from": names[m.tier + 1]})]

    def _review(self, m, ts):
        """Downgrades only at a review, one level, after the grace months
        and only if the member still falls short then."""
        out, now = [], self.clock
        target = self.book.tier_for(self.qualifying(m))
        if m.grace_until_ts and now >= m.grace_until_ts:
            m.grace_until_ts = 0
            if target < m.tier:
                out += self._downgrade(m, ts)
        while now >= m.next_review_ts:
            review = m.next_review_ts
            m.next_review_ts = add_months(review, 12)
            if target >= m.tier or m.grace_until_ts:
                continue
            grace_end = add_months(review, self.book.grace_months)
            if self.book.grace_months and grace_end > now:
                m.grace_until_ts = grace_end
            else:
                out += self._downgrade(m, ts)
        return out

    def _upgrade(self, m, ts):
        t = self.book.tier_for(self.qualifying(m))
        if t <= m.tier:
            return []
        names = self.book.tier_names()
        ev = self._ev(m, "tier.changed", ts, reason="upgrade", to=names[t],
                      **{"from": names[m.tier]})
        m.tier, m.grace_until_ts = t, 0
        return [ev]

    # -- input kinds -----------------------------------------------------
    def enroll(self, ts, member, birthday=None, referrer=None, txn=None):
        self._at(ts)
        assert member not in self.members and (referrer is None or referrer in self.members)
        m = Member(member, ts, birthday, self.members.get(referrer))
        self.members[member] = m
        self._classify(m, ts, publish=False)  # nothing to move from
        return []

    def _capped(self, m, ts, points):
        if self.book.txn_cap and points > self.book.txn_cap:
            points = self.book.txn_cap
        if not self.book.day_cap:
            return points
        day = ts // DAY_MS
        used = m.cap_points if day == m.cap_day else 0
        points = min(points, max(0, self.book.day_cap - used))
        if day >= m.cap_day:
            m.cap_day, m.cap_points = day, used + points
        return points

    def purchase(self, ts, member, store, amount, lines=None, txn=None):
        self._at(ts)
        m = self.members[member]
        m.quiet_until = 0
        out = self._expire(m, ts)
        points, campaign_bonus = self.book.earn(ts, store, amount, lines,
                                             self.book.tiers[m.tier]["multiplier_bp"])
        total = self._capped(m, ts, points + campaign_bonus)
        points = min(total, points)
        personal = self.book.first_purchase_bonus if m.purchases == 0 else 0
        year, month, _ = date_of(ts)
        if self.book.birthday_bonus and m.birthday_month == month and m.birthday_year != year:
            m.birthday_year = year
            personal += self.book.birthday_bonus
        bonus = total - points + personal  # and what is left of the campaigns' fixed bonuses
        if points:
            out += self._credit(m, ts, points, "purchase")
        if bonus:
            out += self._credit(m, ts, bonus, "bonus")
        sale = dict(member=member, amount=amount, points=total, ts=ts, qual=points,
                    refunded_amount=0, refunded_points=0, refunded_qual=0, bonus=personal,
                    referral=0, tier_before=m.tier)
        self.sales[txn] = sale
        m.qual[month_of(ts)] += points
        blocks = [out]
        ref = m.referrer
        if ref is not None and not m.referral_paid and self.book.referral_bonus:
            m.referral_paid = True
            sale["referral"] = self.book.referral_bonus
            blocks.append(self._expire(ref, ts) +
                          self._credit(ref, ts, self.book.referral_bonus, "bonus") +
                          self._auto_rewards(ref, ts))
        if self.stage_of(m) == "lapsed":
            m.reactivated_until_ts = self.clock + self.book.seg["reactivated_days"] * DAY_MS
        m.rfm_months[month_of(ts)][0] += amount
        m.rfm_months[month_of(ts)][1] += 1
        m.purchases += 1
        m.last_purchase_ts = max(m.last_purchase_ts, ts)
        after = self._classify(m, ts) + self._upgrade(m, ts)
        if m.purchases in self.book.milestones:
            after.append(self._ev(m, "reward.issued", ts, reward=self.book.milestones[m.purchases],
                                  cost=0, count=1))
        after += self._auto_rewards(m, ts)
        # The referrer's events come between the member's own: one purchase is
        # one block of the member, then the referrer's, then the member's.
        return [b for b in blocks + [after] if b]

    def refund(self, ts, txn, orig_txn, member, amount):
        self._at(ts)
        m, sale = self.members[member], self.sales[orig_txn]
        m.quiet_until = 0
        assert sale["member"] == member and amount <= sale["amount"] - sale["refunded_amount"]
        refunded = sale["refunded_amount"] + amount  # cumulative, floored once
        points = sale["points"] * refunded // sale["amount"] - sale["refunded_points"]
        full = refunded == sale["amount"] and not self.book.keep_bonuses
        out = self._expire(m, ts)
        q_before = self.qualifying(m)
        out += self._take_back(m, ts, points + (sale["bonus"] if full else 0))
        # Qualifying points go back in the same proportion, out of what the
        # sale added to them: its purchase points, not its campaign bonus.
        qual = sale["qual"] * refunded // sale["amount"] - sale["refunded_qual"]
        m.qual[month_of(sale["ts"])] -= qual
        blocks = [out]
        if full and sale["referral"] and m.referrer is not None:
            ref = m.referrer  # the referral bonus the sale paid goes back too
            blocks.append(self._expire(ref, ts) + self._take_back(ref, ts, sale["referral"]))
        sale["refunded_amount"] = refunded
        sale["refunded_points"] += points
        sale["refunded_qual"] += qual
        after = self._refund_drop(m, ts, q_before, sale["tier_before"])
        spend = m.rfm_months[month_of(sale["ts"])]  # the refunded money leaves M
        spend[0] = max(0, spend[0] - amount)
        after += self._classify(m, ts)
        return [b for b in blocks + [after] if b]

    def _take_back(self, m, ts, points):
        debit = points
        if self.book.shortfall == "forgive" and debit > m.balance:
            debit = max(m.balance, 0)
        m.reward_points -= points
        return self._debit(m, ts, debit, "refund") if debit > 0 else []

    def _refund_drop(self, m, ts, q_before, tier_before):
        """refund_downgrade "immediate": a tier the window supported before the
        refund and no longer does drops to what it supports, never below the
        tier held before the sale."""
        supported = self.book.tier_for(self.qualifying(m))
        if (self.book.refund_downgrade != "immediate" or supported >= m.tier or
                self.book.tier_for(q_before) < m.tier):
            return []
        to = max(supported, tier_before)
        if to >= m.tier:
            return []
        names = self.book.tier_names()
        ev = self._ev(m, "tier.changed", ts, reason="refund", to=names[to],
                      **{"from": names[m.tier]})
        m.tier = to
        return [ev]

    def redeem(self, ts, txn, member, reward=None, points=None):
        self._at(ts)
        m = self.members[member]
        out = self._expire(m, ts)
        error = None
        if reward is not None:
            item = self.book.catalog.get(reward)
            if item is None:
                error = "unknown_reward"
            elif 0 <= item["stock"] <= self.issued[reward]:
                error = "out_of_stock"
            elif m.balance < item["cost"]:
                error = "insufficient_points"
            else:
                if item["cost"]:
                    out += self._debit(m, ts, item["cost"], "redeem")
                out.append(self._ev(m, "reward.issued", ts, reward=reward, cost=item["cost"],
                                    count=1))
                self.issued[reward] += 1
        elif m.balance < points:
            error = "insufficient_points"
        else:
            out += self._debit(m, ts, points, "redeem")
        result = self._ev(m, "redeem.result", ts, txn=txn, ok=error is None, balance=m.balance)
        if error is not None:
            result["error"] = error
        return [out + [result]]

    def scan(self, ts, member, store):
        self._at(ts)
        m = self.members[member]
        tier = self.book.tiers[m.tier]
        return [[self._ev(m, "perk.triggered", ts, perk=p, tier=tier["name"], store=store)
                 for p in tier["perks"]]]

    def tick(self, ts):
        """Every member whose expiry, review or segments are due: each one's
        events in one block (the daemon takes them in due-time order)."""
        self._at(ts)
        blocks = []
        for m in self.members.values():
            if m.quiet_until > self.clock:
                continue
            block = self._expire(m, ts) + self._review(m, ts) + self._classify(m, ts)
            m.quiet_until = self._next_change(m)
            if block:
                blocks.append(block)
        return blocks

    def _next_change(self, m):
        """An instant after the clock before which none of the member's
        expiry, review, scores or stage can change (the model's own reading of
        the documented thresholds; the daemon keeps its own schedule): the next
        month start (expiry, the windows), the review and grace, and each
        lifecycle and recency threshold."""
        s, now = self.book.seg, self.clock
        active = max(m.last_purchase_ts, m.enrolled_ts)
        times = [month_start(month_of(now) + 1), m.next_review_ts, m.grace_until_ts,
                 m.reactivated_until_ts, m.enrolled_ts + s["new_days"] * DAY_MS,
                 active + s["active_days"] * DAY_MS + 1, active + s["lapsed_days"] * DAY_MS + 1]
        if m.last_purchase_ts:
            times += [m.last_purchase_ts + (cut + 1) * DAY_MS for cut in s["recency_days"]]
        return min(t for t in times if t > now)

    # -- the lookup --------------------------------------------------------
    def expiring(self, m, within_ms):
        n = self.book.expiry_months + 1
        return sum(p for k, p in m.lots.items() if month_start(k + n) < self.clock + within_ms)

    def view(self, member):
        """What GET /v1/members/ID must show, as far as the model knows it."""
        m = self.members[member]
        q = self.qualifying(m)
        tiers = self.book.tiers
        nxt = None
        if m.tier + 1 < len(tiers):
            t = tiers[m.tier + 1]
            nxt = dict(name=t["name"], threshold=t["threshold"], remaining=t["threshold"] - q)
        lots = sorted(k for k, p in m.lots.items() if p > 0)
        spend, count = self.window(m)
        out = dict(member=m.id, tier=tiers[m.tier]["name"], balance=m.balance,
                   lifetime_points=m.lifetime, perks=tiers[m.tier]["perks"], qualifying=q,
                   next_tier=nxt, purchases=m.purchases, enrolled_ts=m.enrolled_ts,
                   last_purchase_ts=m.last_purchase_ts,
                   expiring={"30": self.expiring(m, 30 * DAY_MS),
                             "60": self.expiring(m, 60 * DAY_MS),
                             "90": self.expiring(m, 90 * DAY_MS),
                             "next_ts": month_start(lots[0] + self.book.expiry_months + 1)
                             if lots else None},
                   next_review_ts=m.next_review_ts,
                   grace_until_ts=m.grace_until_ts or None,
                   rfm=m.rfm, segment=m.segment, stage=m.stage,
                   days_since_last_purchase=(self.clock - m.last_purchase_ts) // DAY_MS
                   if m.last_purchase_ts else None,
                   window_spend=spend, window_purchases=count, clv=self.clv(m))
        return out


def assert_view(got, want):
    """Every field the model knows equals the lookup's."""
    diff = {k: (got.get(k, "<absent>"), v) for k, v in want.items() if got.get(k, "<absent>") != v}
    assert not diff, f"{want['member']}: lookup differs from the model (got, want): {diff}"


# -- driving the daemon ------------------------------------------------------

class Script:
    """Pushes entries with the event time the test chooses and remembers, per
    input id, the events the model expects of it. Entries carry the fields of
    the model's method of their kind, so the daemon and the model see the same
    entry.

    With `tick_first`, every entry other than a tick is preceded by a tick at
    its own ts, so that no member is ever due between two entries: the daemon
    appends a tick of its own, stamped with its wall clock, after any batch
    that leaves a member due, even with tick_interval_ms = 0 (the bug that
    test_population.py::test_the_daemon_appends_no_tick_when_tick_interval_ms_is_0
    pins down), and such a tick would take time out of the test's hands."""

    def __init__(self, env, world, tick_first=False):
        self.env = env
        self.world = world
        self.tick_first = tick_first
        self.expected = []  # (sid, kind, ts, blocks)
        self.ticks = []  # ts of every tick pushed
        self.last_sid = None

    def _entries(self, ts, kind, fields):
        if self.tick_first and kind != "tick":
            yield ts, "tick", {}
        yield ts, kind, fields

    def _stage(self, ts, kind, fields):
        """The model's events for the entry, and its `m` map."""
        blocks = getattr(self.world, kind)(ts, **fields)
        if kind == "tick":
            self.ticks.append(ts)
        wire = {k: v for k, v in fields.items() if v is not None}
        return blocks, self.env.entry(kind=kind, ts=ts, **wire)

    def push(self, kind, ts, **fields):
        """Pushes one entry; returns (sid, the events the model expects)."""
        for ts_, kind_, fields_ in self._entries(ts, kind, fields):
            blocks, m = self._stage(ts_, kind_, fields_)
            sid = self.env.push_raw(msgpack.packb(m))
            self.expected.append((sid, kind_, ts_, blocks))
            self.last_sid = sid
        return sid, [e for b in blocks for e in b]

    def push_many(self, entries):
        """Pushes (ts, kind, fields) entries in one pipeline: for populations."""
        pipe = self.env.r.pipeline(transaction=False)
        staged = []
        for entry in entries:
            for ts, kind, fields in self._entries(*entry):
                blocks, m = self._stage(ts, kind, fields)
                pipe.xadd(PREFIX + "in", {"m": msgpack.packb(m)})
                staged.append((kind, ts, blocks))
        for sid, (kind, ts, blocks) in zip(pipe.execute(), staged):
            self.expected.append((sid.decode(), kind, ts, blocks))
            self.last_sid = sid.decode()

    def first_tick_after(self, ts):
        """The ts of the first tick pushed strictly after `ts`."""
        return self.ticks[bisect.bisect_right(self.ticks, ts)]

    def settle(self, timeout=60):
        """Waits (bounded) until the progress marker reaches the last entry."""
        self.env.wait_applied(self.last_sid, timeout=timeout)

    def check(self):
        """Every published event is the one the model expects of its source
        entry: same kind and fields, ids `<src>:<n>` in stream order, the
        entry's ts, v 1; each member's events of one entry contiguous and in
        the model's order. Returns the published events."""
        self.settle()  # every pushed entry applied first: no race with the daemon
        events = self.env.read_out()
        by_src = defaultdict(list)
        for e in events:
            by_src[e["src"]].append(e)
        known = {sid for sid, _, _, _ in self.expected} | {RULES_ENTRY_ID}
        # With tick_interval_ms = 0 only the test appends entries (after the
        # harness's rules entry): the daemon must not add ticks of its own
        # (stamped with the wall clock), nor a rules entry.
        appended = [i for i in self.env.input_ids() if i not in known]
        assert not appended, f"entries the daemon appended to {PREFIX}in: {appended[:5]}"
        strays = sorted(set(by_src) - known, key=sid_key)
        assert not strays, f"events from entries the test did not push: {strays[:5]}"
        srcs = [e["src"] for e in events]
        assert srcs == sorted(srcs, key=sid_key), "events out of their sources' order"
        for sid, kind, ts, blocks in self.expected:
            got = by_src.get(sid, [])
            want = [e for b in blocks for e in b]
            assert [e["id"] for e in got] == [f"{sid}:{n}" for n in range(len(got))], sid
            for e in got:
                assert e["v"] == 1 and e["ts"] == ts, (sid, e)
            plain = [{k: v for k, v in e.items() if k not in ("v", "id", "src", "_sid")}
                     for e in got]
            if kind != "tick":
                assert plain == want, _diff(sid, plain, want)
                continue
            # A tick takes the due members in due-time order, which the model
            # does not keep: each member's events must be one run, as modelled.
            assert _runs(plain) == _runs(want), _diff(sid, plain, want)
        assert self.env.read_dlq() == []
        return events


def _runs(events):
    """Consecutive events of one member as (member, [events]) runs; a member
    must not have two runs in one entry's outputs."""
    runs = []
    for e in events:
        if runs and runs[-1][0] == e["member"]:
            runs[-1][1].append(e)
        else:
            assert all(r[0] != e["member"] for r in runs), f"{e['member']}'s events split"
            runs.append((e["member"], [e]))
    return sorted(runs, key=lambda r: r[0])


def _diff(sid, got, want):
    lines = [f"events of entry {sid} differ from the model:"]
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        lines.append(f"  {'  ' if g == w else '!='} got  {g}\n     want {w}")
    return "\n".join(lines)

