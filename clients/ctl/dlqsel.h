/* dlqsel.h - choosing DLQ entries, for `loyaltyctl dlq list` and
 * `dlq redrive`.
 *
 * A selection is any of: entry ids (--id, repeatable), an inclusive id
 * range (--from, --to), a reason code, the rejected input's member or kind,
 * and a cap on the count. dlqsel_walk reads <prefix>dlq in pages (so a
 * large DLQ costs bounded memory) and calls back for each matching entry
 * in stream order, with its `m` decoded when it decodes.
 */
#ifndef LOYALTY_DLQSEL_H
#define LOYALTY_DLQSEL_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "ctl.h"
#include "xread.h"

#define DLQSEL_IDS_MAX 256     /* --id given this often: a hand-picked list */
#define DLQSEL_PAGE_ENTRIES 128 /* per XRANGE: DLQ entries hold up to 64 KiB */
#define DLQSEL_LIMIT_MAX 100000000ULL

struct dlqsel {
    char ids[DLQSEL_IDS_MAX][PROTO_ID_STR_MAX]; /* normalised "<ms>-<seq>" */
    uint32_t id_count;
    char from[PROTO_ID_STR_MAX]; /* "" : from the start */
    char to[PROTO_ID_STR_MAX];   /* "" : to the end */
    const char *reason;          /* NULL: any */
    const char *member;          /* NULL: any */
    const char *kind;            /* the input kind; NULL: any */
    uint64_t limit;              /* 0: no limit */
};

/* getopt_long codes, after the subcommand's own (which start at
 * CTL_OPT_FIRST_FREE and stay below DLQSEL_OPT_FIRST). */
enum {
    DLQSEL_OPT_FIRST = CTL_OPT_FIRST_FREE + 0x40,
    DLQSEL_OPT_ID = DLQSEL_OPT_FIRST,
    DLQSEL_OPT_FROM,
    DLQSEL_OPT_TO,
    DLQSEL_OPT_REASON,
    DLQSEL_OPT_MEMBER,
    DLQSEL_OPT_KIND,
    DLQSEL_OPT_LIMIT,
    DLQSEL_OPT_END
};

#define DLQSEL_LONGOPTS                                                        \
    {"id", required_argument, NULL, DLQSEL_OPT_ID},                            \
        {"from", required_argument, NULL, DLQSEL_OPT_FROM},                    \
        {"to", required_argument, NULL, DLQSEL_OPT_TO},                        \
        {"reason", required_argument, NULL, DLQSEL_OPT_REASON},                \
        {"member", required_argument, NULL, DLQSEL_OPT_MEMBER},                \
        {"input-kind", required_argument, NULL, DLQSEL_OPT_KIND},              \
        {"limit", required_argument, NULL, DLQSEL_OPT_LIMIT}

#define DLQSEL_USAGE                                                           \
    "Selection (all given must match):\n"                                      \
    "  --id ID             this DLQ entry (repeatable)\n"                      \
    "  --from ID, --to ID  DLQ entries from ID to ID, both included\n"         \
    "  --reason R          with reason code R (e.g. unknown_member)\n"         \
    "  --member M          whose input names member M\n"                       \
    "  --input-kind K      whose input is of kind K (e.g. purchase)\n"         \
    "  --limit N           at most N entries, oldest first\n"

/* Called for each chosen entry; `input` is its decoded `m`, or NULL when it
 * does not decode. Returns 0 to go on, -1 to stop the walk. */
typedef int (*dlqsel_fn)(void *ctx, const struct xread_entry *e,
                         const msgpack_object *input);

/* Applies selection option `opt`. Returns 1 when it was one, 0 when not,
 * -1 with err set when its argument is bad. */
int dlqsel_option(struct dlqsel *s, int opt, const char *arg, struct client_error *err);

/* True when some selector narrows the selection (a limit alone does not). */
bool dlqsel_narrowed(const struct dlqsel *s);

/* Walks stream `key` and calls fn for each chosen entry. Returns the number
 * chosen, or -1 with err set: a Redis error, an --id entry that does not
 * exist, or fn returned -1 (err names the entry; fn said why). */
int64_t dlqsel_walk(redisContext *c, const char *key, const struct dlqsel *s,
                    dlqsel_fn fn, void *ctx, struct client_error *err);

#endif
