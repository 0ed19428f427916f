/* progfx.c - see progfx.h. */
#include "progfx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rulecanon.h"

void progfx_parse(const char *text, struct rulebook *rb)
{
    struct config_error err = {{0}};
    static char full[16384];
    int n = snprintf(full, sizeof(full), "%s%s", strstr(text, "tiers =") ? "" : PROGFX_TIERS,
                     text);
    assert_true(n > 0 && (size_t)n < sizeof(full));
    if (rulecanon_parse(full, "test rulebook", rb, &err) != 0)
        fail_msg("%s\n%s", err.text, full);
    rb->txns_max = 10000; /* the txn window is reserved: keep it small */
}

struct progfx *progfx_new(const char *text, uint32_t members_max)
{
    struct progfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    progfx_parse(text, &f->rb);
    assert_int_equal(state_init(&f->st, &f->rb, members_max), 0);
    rules_outbox_init(&f->ob);
    return f;
}

void progfx_free(struct progfx *f)
{
    outbox_free(&f->ob);
    state_free(&f->st);
    free(f);
}

int64_t progfx_midnight(int32_t year, uint8_t month, uint8_t day)
{
    return caltime_ts((struct caltime_date){year, month, day});
}

int64_t progfx_noon(int32_t year, uint8_t month, uint8_t day)
{
    return progfx_midnight(year, month, day) + DAY / 2;
}

static void put(char *dst, size_t cap, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    assert_true(len < cap);
    memcpy(dst, src ? src : "", len + 1);
}

struct proto_entry *progfx_entry(struct progfx *f, enum proto_kind kind, int64_t ts,
                                 const char *txn, const char *member)
{
    memset(&f->e, 0, sizeof(f->e));
    f->e.kind = kind;
    f->e.ts = ts;
    put(f->e.txn, sizeof(f->e.txn), txn);
    put(f->e.member, sizeof(f->e.member), member);
    return &f->e;
}

enum outbox_verdict progfx_apply(struct progfx *f)
{
    struct proto_id id = {1, ++f->seq};
    rules_apply(&f->st, id, &f->e, NULL, &f->ob);
    return f->ob.verdict;
}

void progfx_ok(struct progfx *f)
{
    if (progfx_apply(f) != OUTBOX_APPLIED)
        fail_msg("%s of '%s' not applied: %s %s", proto_kind_name(f->e.kind), f->e.member,
                 f->ob.reject.code ? f->ob.reject.code : "(duplicate)", f->ob.reject.detail);
}

/* The next helper txn id. */
static const char *next_txn(struct progfx *f, char *buf, size_t cap)
{
    snprintf(buf, cap, "x%llu", (unsigned long long)++f->txn);
    return buf;
}

void progfx_enroll(struct progfx *f, int64_t ts, const char *member)
{
    char txn[32];
    progfx_entry(f, PROTO_ENROLL, ts, next_txn(f, txn, sizeof(txn)), member);
    progfx_ok(f);
}

void progfx_buy(struct progfx *f, int64_t ts, const char *member, int64_t amount)
{
    char txn[32];
    progfx_entry(f, PROTO_PURCHASE, ts, next_txn(f, txn, sizeof(txn)), member);
    put(f->e.store, sizeof(f->e.store), "s1");
    f->e.amount = amount;
    progfx_ok(f);
}

void progfx_tick(struct progfx *f, int64_t ts)
{
    progfx_entry(f, PROTO_TICK, ts, NULL, NULL);
    progfx_ok(f);
}

enum outbox_verdict progfx_transfer(struct progfx *f, int64_t ts, const char *txn,
                                    const char *from, const char *to, int64_t points)
{
    progfx_entry(f, PROTO_TRANSFER, ts, txn, from);
    put(f->e.to, sizeof(f->e.to), to);
    f->e.points = points;
    return progfx_apply(f);
}

enum outbox_verdict progfx_set_tier(struct progfx *f, int64_t ts, const char *member,
                                    const char *tier, int64_t until_ts)
{
    char txn[32];
    progfx_entry(f, PROTO_SET_TIER, ts, next_txn(f, txn, sizeof(txn)), member);
    put(f->e.tier, sizeof(f->e.tier), tier);
    put(f->e.reason, sizeof(f->e.reason), "status match");
    f->e.until_ts = until_ts;
    return progfx_apply(f);
}

uint32_t progfx_pos(struct progfx *f, const char *id)
{
    uint32_t pos = members_find(&f->st.members, id);
    assert_int_not_equal(pos, HINDEX_NONE);
    return pos;
}

struct member *progfx_member(struct progfx *f, const char *id)
{
    return members_at(&f->st.members, progfx_pos(f, id));
}

uint32_t progfx_count(const struct progfx *f, enum proto_out_kind kind)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->ob.count; i++)
        n += f->ob.out[i].kind == kind;
    return n;
}

const struct proto_output *progfx_out(const struct progfx *f, enum proto_out_kind kind,
                                      uint32_t n)
{
    uint32_t left = n;
    for (uint32_t i = 0; i < f->ob.count; i++)
        if (f->ob.out[i].kind == kind && left-- == 0)
            return &f->ob.out[i];
    fail_msg("no %s number %u among %u outputs", proto_out_kind_name(kind), (unsigned)n,
             (unsigned)f->ob.count);
    return NULL;
}

int64_t progfx_delta(const struct progfx *f, const char *member, enum proto_cause cause)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < f->ob.count; i++) {
        const struct proto_output *o = &f->ob.out[i];
        if (o->kind == PROTO_OUT_POINTS_CHANGED && o->cause == cause &&
            strcmp(o->member, member) == 0)
            sum += o->delta;
    }
    return sum;
}
