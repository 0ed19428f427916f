/* retry.c - see retry.h. */
#include "retry.h"

#include <string.h>

#include <xxhash.h>

#include "lyassert.h"
#include "reasons.h"

/* The bytes a digest covers, gathered into one buffer and hashed at once:
 * XXH3 of the concatenation equals the streaming XXH3 of its pieces (the
 * digests kept in snapshots stay valid), at a fraction of the cost of a
 * streaming update per field. Every string field is a NUL-terminated
 * array of the entry and every integer is widened to 8 bytes, so the
 * bytes never exceed the entry's size plus the widening of its four
 * narrow integers (kind, birthday, qualifying, line_count). */
#define DIGEST_BYTES_MAX (sizeof(struct proto_entry) + 4u * sizeof(int64_t))

struct digest_buf {
    size_t len;
    unsigned char b[DIGEST_BYTES_MAX];
};

/* A string with its terminating NUL, so "ab" + "c" differs from "a" + "bc".
 * Copied byte by byte: most of an entry's strings are empty or a few
 * bytes, where a call to strlen and one to memcpy cost more than the
 * copy. The entry's own arrays bound it (DIGEST_BYTES_MAX). */
static void put_str(struct digest_buf *d, const char *str)
{
    size_t len = d->len;
    do {
        LY_ASSERT(len < sizeof(d->b) && "DIGEST_BYTES_MAX bounds an entry");
        d->b[len++] = (unsigned char)*str;
    } while (*str++ != '\0');
    d->len = len;
}

static void put_int(struct digest_buf *d, int64_t v)
{
    LY_ASSERT(sizeof(v) <= sizeof(d->b) - d->len && "DIGEST_BYTES_MAX bounds an entry");
    memcpy(d->b + d->len, &v, sizeof(v));
    d->len += sizeof(v);
}

uint64_t retry_digest(const struct proto_entry *e)
{
    struct digest_buf d;
    d.len = 0;
    put_int(&d, e->kind);
    put_str(&d, e->member);
    put_str(&d, e->orig_txn);
    put_str(&d, e->store);
    put_str(&d, e->reward);
    put_str(&d, e->referrer);
    put_str(&d, e->reason);
    put_int(&d, e->amount);
    put_int(&d, e->points);
    put_int(&d, e->birthday_month * 100 + e->birthday_day);
    put_int(&d, e->qualifying);
    put_str(&d, e->to);
    put_str(&d, e->tier);
    put_int(&d, e->until_ts);
    put_int(&d, e->line_count);
    for (uint32_t i = 0; i < e->line_count; i++) {
        put_str(&d, e->lines[i].sku);
        put_str(&d, e->lines[i].cat);
        put_int(&d, e->lines[i].qty);
        put_int(&d, e->lines[i].amount);
    }
    return XXH3_64bits(d.b, d.len);
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
