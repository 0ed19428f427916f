/* test_xfer.c - transfers between members of different partitions
 * (xfer.h): two engines, partitions 0 and 1 of 2, and the relay played by
 * the test: each relay entry is encoded and decoded as the shell's relay
 * carries it (proto), then applied in the other partition. The sender is
 * debited at once and answered; the credit is applied once however often
 * it is relayed; an unknown receiver sends the points back, once, with
 * their expiry, and the daily limit gets them back.
 *
 * Rulebook (progfx.h): 1 point per 1.00, expiry 12 months after the
 * earning month, transfers enabled with at most 1000 points a day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "partition.h"
#include "progfx.h"
#include "wallet.h"
#include "xfer.h"

#define TEXT                                                                               \
    "expiry = { months = 12; };\n"                                                        \
    "transfers = { enabled = true; max_points_per_day = 1000; };\n"

/* A member id of partition `p` of 2 with stem `stem`. */
static void member_of(uint32_t p, const char *stem, char *out, size_t cap)
{
    for (int i = 0;; i++) {
        snprintf(out, cap, "%s%d", stem, i);
        if (partition_of(out, strlen(out), 2) == p)
            return;
    }
}

static struct progfx *engine(uint32_t p)
{
    struct progfx *f = progfx_new(TEXT, 16);
    f->st.place.partition = p;
    f->st.place.partitions = 2;
    return f;
}

/* Enrols sender s (16 bytes) of partition 0 in `a` on 2027-01-01, and
 * buys for `amount` on 2027-01-05. */
static void sender_earns(struct progfx *a, char *s, int64_t amount)
{
    member_of(0, "S", s, 16);
    progfx_enroll(a, progfx_noon(2027, 1, 1), s);
    progfx_buy(a, progfx_noon(2027, 1, 5), s, amount);
}

/* Carries the relay entry of `from`'s last entry into `to`'s input as the
 * shell does (encoded, decoded) and applies it there; returns the
 * verdict. The relay entry must be for `to`'s partition. */
static enum outbox_verdict relay(struct progfx *from, struct progfx *to)
{
    assert_true(from->ob.has_relay);
    assert_int_equal(from->ob.relay.partition, to->st.place.partition);
    struct proto_entry e;
    xfer_entry(&from->ob.relay.e, &e);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    assert_int_equal(proto_encode_entry(&buf, &e), 0);
    struct proto_reject rej;
    assert_int_equal(proto_decode(buf.data, buf.size, &to->e, &rej), 0);
    msgpack_sbuffer_destroy(&buf);
    assert_int_equal(to->e.points, e.points);
    return progfx_apply(to);
}

/* 300 points earned in January 2027 and 200 in March go to another
 * partition: the sender is debited and answered at once, the credit
 * carries two pieces with their expiry, the receiver gets them once. */
static void a_credit_crosses_partitions_once_with_its_expiry(void **unused)
{
    (void)unused;
    struct progfx *a = engine(0), *b = engine(1);
    char s[16], r[16];
    sender_earns(a, s, 30000);
    progfx_buy(a, progfx_noon(2027, 3, 5), s, 20000);
    member_of(1, "R", r, sizeof r);
    progfx_enroll(b, progfx_noon(2027, 1, 1), r);
    assert_int_equal(progfx_transfer(a, progfx_noon(2027, 4, 2), "T1", s, r, 400),
                     OUTBOX_APPLIED);
    assert_int_equal(progfx_delta(a, s, PROTO_CAUSE_TRANSFER_OUT), -400);
    const struct proto_output *res = progfx_out(a, PROTO_OUT_TRANSFER_RESULT, 0);
    assert_true(res->ok);
    assert_int_equal(res->balance, 100);
    const struct outbox_relay_entry *c = &a->ob.relay.e;
    assert_int_equal(c->kind, PROTO_TRANSFER_CREDIT);
    assert_string_equal(c->member, r);
    assert_string_equal(c->from, s);
    assert_int_equal(c->piece_count, 2);
    assert_int_equal(c->pieces[0].points, 300);
    assert_int_equal(c->pieces[0].expire_ts, progfx_midnight(2028, 2, 1));
    assert_int_equal(c->pieces[1].points, 100);
    assert_int_equal(c->pieces[1].expire_ts, progfx_midnight(2028, 4, 1));
    assert_int_equal(relay(a, b), OUTBOX_APPLIED);
    assert_int_equal(progfx_delta(b, r, PROTO_CAUSE_TRANSFER_IN), 400);
    assert_false(b->ob.has_relay);
    assert_int_equal(progfx_member(b, r)->balance, 400);
    assert_int_equal(wallet_expiring(&b->st.members, progfx_pos(b, r),
                                     progfx_midnight(2028, 2, 2)), 300);
    /* The relay repeats itself (a crash before it noted its progress). */
    assert_int_equal(relay(a, b), OUTBOX_DUPLICATE);
    assert_int_equal(b->ob.count, 0);
    assert_int_equal(progfx_member(b, r)->balance, 400);
    /* A POS retry of the transfer is answered again and relays nothing. */
    assert_int_equal(progfx_transfer(a, progfx_noon(2027, 4, 2), "T1", s, r, 400),
                     OUTBOX_DUPLICATE);
    assert_false(a->ob.has_relay);
    assert_int_equal(progfx_member(a, s)->balance, 100);
    progfx_free(a);
    progfx_free(b);
}

/* An unknown receiver: the points come back to the sender once, with
 * their expiry, and the day's limit gets them back. */
static void an_unknown_receiver_sends_the_points_back_once(void **unused)
{
    (void)unused;
    struct progfx *a = engine(0), *b = engine(1);
    char s[16], r[16];
    sender_earns(a, s, 100000);
    member_of(1, "R", r, sizeof r);
    int64_t day = progfx_noon(2027, 4, 2);
    /* In flight the sender cannot know the receiver: the answer is ok. */
    assert_int_equal(progfx_transfer(a, day, "T1", s, r, 1000), OUTBOX_APPLIED);
    assert_true(progfx_out(a, PROTO_OUT_TRANSFER_RESULT, 0)->ok);
    assert_int_equal(progfx_member(a, s)->balance, 0);
    assert_int_equal(relay(a, b), OUTBOX_APPLIED); /* b does not know r: back it goes */
    assert_int_equal(b->ob.count, 0);
    assert_int_equal(b->ob.relay.e.kind, PROTO_TRANSFER_RETURN);
    assert_string_equal(b->ob.relay.e.member, s);
    assert_string_equal(b->ob.relay.e.from, r);
    assert_int_equal(relay(b, a), OUTBOX_APPLIED);
    assert_int_equal(progfx_delta(a, s, PROTO_CAUSE_TRANSFER_RETURN), 1000);
    assert_int_equal(progfx_member(a, s)->balance, 1000);
    assert_int_equal(wallet_next_expiry(&a->st.members, progfx_pos(a, s)),
                     progfx_midnight(2028, 2, 1));
    assert_int_equal(relay(b, a), OUTBOX_DUPLICATE); /* the relay repeats the return */
    assert_int_equal(progfx_member(a, s)->balance, 1000);
    /* The retry of T1 is still answered as it was, and relays nothing. */
    assert_int_equal(progfx_transfer(a, day, "T1", s, r, 1000), OUTBOX_DUPLICATE);
    assert_false(a->ob.has_relay);
    /* The day's limit has the 1000 back: another 1000 the same day goes. */
    assert_int_equal(progfx_transfer(a, day, "T3", s, r, 1000), OUTBOX_APPLIED);
    assert_true(progfx_out(a, PROTO_OUT_TRANSFER_RESULT, 0)->ok);
    assert_true(a->ob.has_relay);
    progfx_free(a);
    progfx_free(b);
}

/* Both members in the sender's partition: one atomic entry, no relay. */
static void a_transfer_within_a_partition_relays_nothing(void **unused)
{
    (void)unused;
    struct progfx *a = engine(0);
    char s[16], r[16];
    sender_earns(a, s, 30000);
    member_of(0, "T", r, sizeof r);
    progfx_enroll(a, progfx_noon(2027, 1, 1), r);
    assert_int_equal(progfx_transfer(a, progfx_noon(2027, 4, 2), "T1", s, r, 120),
                     OUTBOX_APPLIED);
    assert_false(a->ob.has_relay);
    assert_int_equal(progfx_delta(a, r, PROTO_CAUSE_TRANSFER_IN), 120);
    assert_int_equal(progfx_member(a, r)->balance, 120);
    /* An unknown receiver of this partition is still bad input. */
    member_of(0, "X", r, sizeof r);
    assert_int_equal(progfx_transfer(a, progfx_noon(2027, 4, 2), "T2", s, r, 1),
                     OUTBOX_REJECTED);
    assert_string_equal(a->ob.reject.code, "unknown_member");
    progfx_free(a);
}

/* Bad relay entries are refused by the decoder with a reason. */
static void a_credit_without_pieces_or_to_itself_does_not_decode(void **unused)
{
    (void)unused;
    struct proto_entry e;
    memset(&e, 0, sizeof e);
    e.kind = PROTO_TRANSFER_CREDIT;
    e.ts = 1;
    strcpy(e.txn, "T1");
    strcpy(e.member, "R1");
    strcpy(e.from, "R1");
    e.piece_count = 1;
    e.pieces[0].points = 5;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    assert_int_equal(proto_encode_entry(&buf, &e), 0);
    struct proto_entry out;
    struct proto_reject rej;
    assert_int_equal(proto_decode(buf.data, buf.size, &out, &rej), -1);
    assert_string_equal(rej.code, PROTO_R_BAD_VALUE);
    msgpack_sbuffer_clear(&buf);
    strcpy(e.from, "S1");
    e.piece_count = 0;
    assert_int_equal(proto_encode_entry(&buf, &e), 0);
    assert_int_equal(proto_decode(buf.data, buf.size, &out, &rej), -1);
    assert_string_equal(rej.code, PROTO_R_FIELD_TOO_LONG);
    msgpack_sbuffer_destroy(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_credit_crosses_partitions_once_with_its_expiry),
        cmocka_unit_test(an_unknown_receiver_sends_the_points_back_once),
        cmocka_unit_test(a_transfer_within_a_partition_relays_nothing),
        cmocka_unit_test(a_credit_without_pieces_or_to_itself_does_not_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
