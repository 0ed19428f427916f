/* members.h - the member store: every member's state, held in memory.
 *
 * Members live in one dense array in enrolment order; an hindex maps ids to
 * positions. Positions never change (members are never deleted), so they
 * double as stable handles, and iterating 0..count-1 is a defined order
 * (the order of enrolment) for snapshots and anything else that can show.
 * Memory per member: sizeof(struct member) plus about 11 bytes of index.
 */
#ifndef LOYALTY_MEMBERS_H
#define LOYALTY_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "extras.h"
#include "hindex.h"
#include "lyassert.h"
#include "proto.h"
#include "rulebook.h"

/* Qualification buckets: one per calendar month of the window. */
#define MEMBERS_QUAL_MONTHS 12
/* A bucket holds one member's qualification (points or minor units,
 * tiers.h) of one month as int32, saturating at this bound: 21.4M
 * currency units of spend or 2.1G points in a month, far past any tier
 * threshold, so a saturated month still qualifies for every tier; half
 * the memory of int64 buckets. */
#define MEMBERS_QUAL_BUCKET_MAX INT32_MAX
_Static_assert(MEMBERS_QUAL_MONTHS >= RULEBOOK_WINDOW_MONTHS_MAX,
               "a bucket for every month of the longest window");

#define MEMBER_F_REFERRAL_PAID 0x01 /* the referrer got its bonus */
#define MEMBER_F_WIDE_LOTS 0x02     /* its ring of lots is kept as int64 (members_ring_set) */

struct member {
    char id[PROTO_MEMBER_MAX + 1];
    uint8_t id_len;
    uint8_t tier; /* index into rulebook tiers */
    uint8_t birthday_month; /* 0: unknown */
    uint8_t birthday_day;
    uint8_t flags;          /* MEMBER_F_* */
    int16_t birthday_bonus_year; /* year the birthday bonus was last given */
    uint32_t purchases;     /* sales ever made (refunds do not lower it) */
    uint32_t referrer;      /* position + 1 of the referrer; 0: none */
    int32_t qual_month;     /* month index of the newest qual bucket */
    int32_t lots_month;     /* month index the expiry lots are current to (wallet.h) */
    int32_t cap_day;        /* UTC day of cap_points */
    uint32_t auto_issued[RULEBOOK_AUTO_REWARDS_MAX]; /* every-N rewards issued */
    int32_t expiring_month; /* newest lot month points.expiring told of; lots up to it are
                             * told (notices.h) */
    int64_t balance;        /* may be negative: a refund of spent points */
    int64_t lifetime_points; /* points ever earned (never decreases) */
    int64_t reward_points;  /* net points earned (refunds subtract): every-N rewards */
    int64_t cap_points;     /* points earned on cap_day */
    int64_t enrolled_ts;
    int64_t last_purchase_ts; /* 0: never */
    int64_t next_review_ts; /* next tier review */
    int64_t grace_until_ts; /* a due downgrade waits until then; 0: none */
    int64_t sched_ts;       /* due time of its live schedule entry; 0: none */
    int32_t qual[MEMBERS_QUAL_MONTHS]; /* by month index % MEMBERS_QUAL_MONTHS; saturating
                                        * at +-MEMBERS_QUAL_BUCKET_MAX */
    /* Segments (segments.c): purchase statistics by month for frequency
     * and monetary scores (saturating: they are scores, not money), and
     * what the member was last classified as. */
    uint8_t rfm[3];         /* scores 1..5 at the last refresh; 0: never */
    uint8_t segment;        /* index into the rulebook's segments */
    uint8_t stage;          /* enum rulebook_stage */
    /* The highest tier reached by qualification (lifetime tiers fall back
     * to it; a manual status floor is in its extras, status.h). */
    uint8_t earned_tier;
    uint16_t hist_bucket;   /* value-histogram bucket it is counted in */
    int32_t rfm_month;      /* month index of the newest rfm bucket */
    uint32_t extra;         /* handle of its extras record (extras.h); 0: none. Not state */
    int64_t hist_spend;     /* window spend it is counted with */
    int64_t reactivated_until_ts;
    int64_t seg_due_ts;     /* next time its scores or stage can change */
    int32_t rfm_spend[MEMBERS_QUAL_MONTHS];  /* minor units by month */
    uint16_t rfm_count[MEMBERS_QUAL_MONTHS]; /* purchases by month */
    int64_t first_purchase_ts; /* 0: never (churn.h) */
    /* Pending points (pending.h), by slot, ascending release day; a free
     * slot has day 0 and comes after the used ones. Their qualification
     * (qualify_on release) is in the extras (pend_qual). */
    int64_t pend_points[MEMBERS_PENDING_SLOTS]; /* points waiting for release */
    /* Notices (notices.h). */
    int64_t notice_due_ts;  /* next time a notice may fall due; 0: none */
    int64_t risk_need;      /* need last told for the review on risk_review_day; 0: none,
                             * -1: the member qualified, no more notices for it */
    int32_t pend_day[MEMBERS_PENDING_SLOTS];    /* UTC day (since the epoch) of release */
    int32_t risk_review_day; /* UTC day of the review (or grace end) notices are about */
};

/* The fields are ordered so that the narrow ones fill 8-byte words: the
 * struct has no padding. */
_Static_assert(MEMBERS_PENDING_SLOTS % 2 == 1, "pend_day and risk_review_day fill 8-byte words");

/* Expiry lots (wallet.h) take lots_per values per member at most. Keyed
 * lots are int64 (expiry instants and points) in `lots`, lots_per per
 * member. The ring of monthly lots takes ring_per slots per member: as
 * many as the rulebooks in force since the state was made or loaded need
 * (expiry.months + 1; lots_per, from expiry_months_max, at most), so a
 * 12-month rulebook keeps 13 slots however long a later one may set
 * (members_ring_resize). It is kept narrow, int32 per month in `lots32`
 * (half the memory), while every lot of the member fits INT32_MAX points;
 * the first lot that does not moves the member's ring to its int64 slice
 * of `lots` for good (MEMBER_F_WIDE_LOTS). The slice a member does not
 * use holds unspecified bytes; both are reserved for `max` members of
 * lots_per values and resident only where written. */
struct members {
    struct member *v; /* v[0..count) */
    int64_t *lots;    /* keyed lots (lots[pos * lots_per ..]), or a wide member's ring
                       * (lots[pos * ring_per ..]) */
    int32_t *lots32;  /* lots32[pos * ring_per ..]: a narrow member's ring */
    bool ring32;      /* lots are a ring (set by wallet_layout): lots32 is in use */
    uint32_t lots_per; /* values per member at most (wallet_lots_per), or 0: no lots */
    uint32_t ring_per; /* slots per member of the ring now (1..lots_per; while ring32) */
    uint8_t lots_kind; /* how the lots are kept (wallet.h; set by wallet_layout) */
    uint32_t lots_span; /* expiry days or years of keyed lots (wallet.h) */
    uint32_t count;
    uint32_t max; /* configured ceiling (members_max): v, lots and ix are reserved for it */
    struct hindex ix;
    struct extras extras; /* the members' extras records (extras.h), one per member at most */
};

/* Initialises an empty store that holds at most `max` members, each with
 * `lots_per` expiry lots (0: none). Returns 0, or -1 when out of memory. */
int members_init(struct members *ms, uint32_t max, uint32_t lots_per);

/* Frees everything the store holds. */
void members_free(struct members *ms);

/* Position of member `id` (NUL-terminated, <= PROTO_MEMBER_MAX bytes), or
 * HINDEX_NONE when unknown. */
uint32_t members_find(const struct members *ms, const char *id);

/* Adds a zeroed member `id` (not present: checked by the caller) and
 * returns its position, or HINDEX_NONE when the store holds `max` members.
 * Allocates nothing (the store was reserved at init). */
uint32_t members_add(struct members *ms, const char *id);

/* The keyed expiry lots of the member at `pos` (lots_per int64 of them),
 * or NULL when points never expire; not for a ring (asserted: use
 * members_ring_get / set, members_lots_read / write). */
int64_t *members_lots(const struct members *ms, uint32_t pos);

/* Slot `slot` (< ring_per) of member `pos`'s ring of lots. */
int64_t members_ring_get(const struct members *ms, uint32_t pos, uint32_t slot);

/* The first slot in [from, end) (end <= ring_per) of member `pos`'s ring
 * that holds points, or `end` when none does: one tight pass over the
 * slice in memory order, what the soonest-lot questions of every purchase
 * ask (wallet.c ring_first). */
uint32_t members_ring_find(const struct members *ms, uint32_t pos, uint32_t from, uint32_t end);

/* Sets slot `slot` of member `pos`'s ring to `points` (>= 0), moving the
 * ring to int64 when they do not fit int32 (allocates nothing). */
void members_ring_set(struct members *ms, uint32_t pos, uint32_t slot, int64_t points);

/* Copies member `pos`'s lots_per lot values (keyed pairs; or the ring's
 * lots by month: value d - 1 the lot expiring in month lots_month + d, 0
 * past ring_per) to out[] / sets them from in[] (set lots_month first; a
 * value past ring_per makes the ring wide enough: members_ring_resize; a
 * ring: int64 when the member is
 * flagged wide or a value does not fit int32). */
void members_lots_read(const struct members *ms, uint32_t pos, int64_t *out);
void members_lots_write(struct members *ms, uint32_t pos, const int64_t *in);

/* Lays the ring out with `per` (1..lots_per) slots per member, every
 * member's lots kept by month: a state makes room for a rulebook with a
 * longer expiry (wallet_fit). Narrower than a member's lots need is a
 * programmer error (asserted). O(members); allocates nothing. */
void members_ring_resize(struct members *ms, uint32_t per);

/* Appends a copy of `m` with extras `x` and its `lots` (from a snapshot;
 * NULL when lots_per is 0) and returns its position, or HINDEX_NONE when
 * the store is full or already holds m->id. `m` must have a valid id
 * (id_len 1..PROTO_MEMBER_MAX, NUL-terminated: asserted); its extra
 * handle is ignored (a record is taken when `x` is not all zero). */
uint32_t members_restore(struct members *ms, const struct member *m,
                         const struct member_extra *x, const int64_t *lots);

/* The extras of member `m` of this store, read only: all zero when it has
 * none. */
const struct member_extra *members_extra(const struct members *ms, const struct member *m);

/* The extras of member `m` for writing, taking a record when it has none
 * (allocates nothing). Call members_extra_settle when done writing, so a
 * record that is all zero again goes back to the pool. */
struct member_extra *members_extra_edit(struct members *ms, struct member *m);

/* Gives `m`'s extras record back when all its fields are zero. */
void members_extra_settle(struct members *ms, struct member *m);

/* Copies member `pos` by value: its record to *m, its extras to *x and
 * its lots_per lot values to lots[] (a preview keeps what it may undo). */
void members_save(const struct members *ms, uint32_t pos, struct member *m,
                  struct member_extra *x, int64_t *lots);

/* Puts back what members_save copied of member `pos`. */
void members_put_back(struct members *ms, uint32_t pos, const struct member *m,
                      const struct member_extra *x, const int64_t *lots);

/* Removes the member added last (a previewed enrolment undone): its
 * index entry and extras go, its lots are zeroed, its position is free
 * again (members_add hands it out with zero lots). */
void members_drop_last(struct members *ms);

/* Whether member `pa` of `a` and member `pb` of `b` hold the same values:
 * record, extras and lots (their extras handles may differ). */
bool members_same(const struct members *a, uint32_t pa, const struct members *b, uint32_t pb);

/* Sizes an empty store's index for `n` (<= max) members at once (a
 * snapshot being loaded: its header says how many). */
void members_reserve(struct members *ms, uint32_t n);

/* The member at position `pos` (< count, asserted). Inline: every rule
 * asks for it, a couple of dozen times per purchase. */
static inline struct member *members_at(const struct members *ms, uint32_t pos)
{
    LY_ASSERT(pos < ms->count);
    return &ms->v[pos];
}

/* `v` saturated to +-MEMBERS_QUAL_BUCKET_MAX (a bucket's range). */
int32_t members_qual_clamp(int64_t v);

/* Adds `amount` (saturating) to the qualification bucket of month `month`, given the
 * engine clock's month `now_month` (>= month). Amounts older than the
 * longest window are not counted. */
void members_qual_add(struct member *m, int32_t month, int32_t now_month,
                      int64_t amount);

/* Sum of the buckets of the `window` months ending at `now_month`. */
int64_t members_qual_total(const struct member *m, int32_t now_month,
                           uint32_t window);

#endif
