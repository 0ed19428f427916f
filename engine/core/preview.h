/* preview.h - what a sale would do, without doing it.
 *
 * preview_purchase runs a purchase through the same code as the real one
 * (rules_purchase: earning, campaigns, caps, first-purchase and birthday
 * bonuses, the referrer's bonus, tier upgrade, rewards, segments) on the
 * live state, and then puts back everything it changed, byte for byte:
 * the member's record and expiry lots, the referrer's, the shared
 * counters (st->g: tier, segment and stage counts, the value histogram,
 * reward stock) and the engine clock; a member it enrolled is removed
 * again. While it runs, st->preview_rec makes the rules remember no txn
 * and reschedule nothing, so the txn window and the schedule are never
 * touched. Nothing else is written (no counters, no last id, no version
 * switch, no outputs published), so state, snapshots and outputs are as if
 * it never ran. A rulebook switch held for a later time is not applied:
 * the sale is judged under the version in force (`switch_due` says when
 * the real sale would switch first).
 *
 * Allocates nothing after preview_init (test_noalloc runs previews).
 */
#ifndef LOYALTY_PREVIEW_H
#define LOYALTY_PREVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "members.h"
#include "outbox.h"
#include "proto.h"
#include "rulebook.h"
#include "state.h"

enum preview_verdict {
    PREVIEW_APPLIED,        /* the sale would apply: outputs in `ob` */
    PREVIEW_DUPLICATE,      /* its txn was applied already: a POS retry, nothing new */
    PREVIEW_REJECTED,       /* it would go to the DLQ: reason in ob->reject */
    PREVIEW_UNKNOWN_MEMBER, /* unknown member and enrolment is required */
};

struct preview_result {
    enum preview_verdict verdict;
    bool new_member;          /* unknown: previewed as the enrolment the sale would make */
    bool switch_due;          /* a held rulebook version would switch before the sale */
    uint8_t tier_before, tier; /* indexes into the rulebook in force */
    int64_t balance_before, balance, lifetime_points, qualifying;
    int64_t pending_before, pending; /* points pending (release.h), before and after */
    uint32_t purchases;
};

/* The saved bytes and the outputs of one preview; one per server, reused. */
struct preview {
    struct outbox ob; /* OUTBOX_ENTRY_OUTPUTS_MAX outputs */
    struct member member, referrer;
    struct member_extra member_x, referrer_x; /* their extras, by value */
    int64_t lots[RULEBOOK_EXPIRY_MONTHS_MAX + 1];
    int64_t referrer_lots[RULEBOOK_EXPIRY_MONTHS_MAX + 1];
    struct state_globals g;
    struct liability liab;
    struct txn_rec rec;
};

/* Reserves the outputs. Stops the process when out of memory (once, at
 * start-up). */
void preview_init(struct preview *p);
void preview_free(struct preview *p);

/* Previews purchase `e` (decoded, kind purchase: asserted) on `st`,
 * judged at e->ts as the real sale would be. Its outputs are in p->ob
 * until the next call; `st` is unchanged when it returns. */
void preview_purchase(struct preview *p, struct state *st, const struct proto_entry *e,
                      struct preview_result *res);

#endif
