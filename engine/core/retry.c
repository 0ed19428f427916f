/* retry.c - see retry.h. */
#include "retry.h"

#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: no allocation */
#include <xxhash.h>

#include "reasons.h"

static void put(XXH3_state_t *s, const void *p, size_t n)
{
    XXH3_64bits_update(s, p, n);
}

/* A string with its terminating NUL, so "ab" + "c" differs from "a" + "bc". */
static void put_str(XXH3_state_t *s, const char *str)
{
    put(s, str, strlen(str) + 1);
}

static void put_int(XXH3_state_t *s, int64_t v)
{
    put(s, &v, sizeof(v));
}

uint64_t retry_digest(const struct proto_entry *e)
{
    XXH3_state_t s;
    XXH3_INITSTATE(&s);
    XXH3_64bits_reset(&s);
    put_int(&s, e->kind);
    put_str(&s, e->member);
    put_str(&s, e->orig_txn);
    put_str(&s, e->store);
    put_str(&s, e->reward);
    put_str(&s, e->referrer);
    put_str(&s, e->reason);
    put_int(&s, e->amount);
    put_int(&s, e->points);
    put_int(&s, e->birthday_month * 100 + e->birthday_day);
    put_int(&s, e->qualifying);
    put_str(&s, e->to);
    put_str(&s, e->tier);
    put_int(&s, e->until_ts);
    put_int(&s, e->line_count);
    for (uint32_t i = 0; i < e->line_count; i++) {
        put_str(&s, e->lines[i].sku);
        put_str(&s, e->lines[i].cat);
        put_int(&s, e->lines[i].qty);
        put_int(&s, e->lines[i].amount);
    }
    return XXH3_64bits_digest(&s);
}

/* The amount (purchase, refund) or points (redeem, adjust, transfer) an entry gives,
 * and its name; the field a conflict most often differs in. */
static int64_t given(const struct proto_entry *e, const char **name)
{
    bool money = e->kind == PROTO_PURCHASE || e->kind == PROTO_REFUND;

    *name = money ? "amount" : "points";
    return money ? e->amount : e->points;
}

struct txn_rec *retry_remember(struct state *st, const struct proto_entry *e, uint32_t pos)
{
    const char *name;
    struct txn_rec *r = txns_add(&st->txns, e->txn, st->clock_ms);
    r->kind = (uint8_t)e->kind;
    r->member = pos;
    r->ts = e->ts;
    r->digest = retry_digest(e);
    r->given = given(e, &name);
    return r;
}

/* The fields of a kind, other than its amount or points, that a
 * conflicting reuse may differ in. */
static const char *other_fields(enum proto_kind k)
{
    switch (k) {
    case PROTO_PURCHASE: return "store or lines";
    case PROTO_REFUND: return "orig_txn";
    case PROTO_REDEEM: return "reward";
    case PROTO_ADJUST: return "reason or qualifying";
    case PROTO_ENROLL: return "birthday or referrer";
    case PROTO_TRANSFER: return "receiver (to)";
    case PROTO_SET_TIER: return "tier, until_ts or reason";
    default: return "content";
    }
}

bool retry_conflict(const struct txn_rec *r, const struct member *owner,
                    const struct proto_entry *e, struct outbox *ob)
{
    const char *kind = proto_kind_name((enum proto_kind)r->kind), *name;
    if (r->kind != e->kind || strcmp(owner->id, e->member) != 0) {
        outbox_reject(ob, RULES_R_TXN_CONFLICT, "txn '%s' was already used by a %s of member '%s'",
                      e->txn, kind, owner->id);
        return true;
    }
    if (r->digest == retry_digest(e))
        return false;
    int64_t now = given(e, &name);
    if (now != r->given)
        outbox_reject(ob, RULES_R_TXN_CONFLICT, "txn '%s' was a %s with %s %lld; this one has "
                      "%s %lld", e->txn, kind, name, (long long)r->given, name, (long long)now);
    else
        outbox_reject(ob, RULES_R_TXN_CONFLICT, "txn '%s' was a %s of member '%s' with another "
                      "%s", e->txn, kind, owner->id, other_fields(e->kind));
    return true;
}
