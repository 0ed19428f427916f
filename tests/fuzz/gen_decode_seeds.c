/* gen_decode_seeds.c - writes the seed corpus of fuzz_decode: one valid
 * encoded entry of each input kind, with its optional fields set.
 *
 * Built with -DLOYALTY_FUZZ=ON; the fuzz_decode test runs it into its work
 * dir. Refresh the committed seeds from the repository root when the
 * contract changes:
 *   build-asan/tests/fuzz/gen_decode_seeds tests/fuzz/corpus/decode
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"

static int write_seed(const char *dir, const struct proto_entry *e)
{
    char path[512];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    snprintf(path, sizeof path, "%s/%s.msgpack", dir, proto_kind_name(e->kind));
    FILE *f = fopen(path, "wb");
    int rc = f != NULL && proto_encode_entry(&sb, e) == 0 &&
                     fwrite(sb.data, 1, sb.size, f) == sb.size ? 0 : -1;
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        fprintf(stderr, "gen_decode_seeds: cannot write %s\n", path);
    return rc;
}

/* Sets every field, optional ones too; the encoder writes only those kind
 * `k` carries. */
static void fill(struct proto_entry *e, enum proto_kind k)
{
    memset(e, 0, sizeof *e);
    e->kind = k;
    e->ts = 1700000000000LL;
    strcpy(e->txn, "pos-7:000123");
    strcpy(e->member, "card-0042");
    strcpy(e->store, "store-12");
    e->amount = 2599;
    if (k == PROTO_REFUND) {
        strcpy(e->orig_txn, "pos-7:000122");
        e->amount = 1000;
    }
    if (k == PROTO_REDEEM || k == PROTO_ADJUST)
        e->points = k == PROTO_REDEEM ? 500 : -120;
    if (k == PROTO_ADJUST) {
        strcpy(e->reason, "goodwill: late delivery");
        e->qualifying = true;
    }
    if (k == PROTO_ENROLL) {
        e->birthday_month = 2;
        e->birthday_day = 29;
        strcpy(e->referrer, "card-0007");
    }
    if (k == PROTO_RULES) {
        strcpy(e->hash, "f365610ced47a94bda5c963a16cb58c2");
        strcpy(e->label, "weekend double points");
        e->effective_ts = 1700000600000LL;
    }
    if (k == PROTO_TRANSFER) {
        strcpy(e->to, "card-0043");
        e->points = 750;
    }
    if (k == PROTO_SET_TIER) {
        strcpy(e->tier, "gold");
        strcpy(e->reason, "status match: gold at another chain");
        e->until_ts = 1707776000000LL;
    }
    e->line_count = k == PROTO_PURCHASE ? 2 : 0;
    for (uint32_t i = 0; i < e->line_count; i++) {
        snprintf(e->lines[i].sku, sizeof e->lines[i].sku, "sku-%u", (unsigned)i);
        strcpy(e->lines[i].cat, "shoes");
        e->lines[i].qty = 1 + i;
        e->lines[i].amount = 1299 + i;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_decode_seeds DIR\n");
        return 2;
    }
    static struct proto_entry e;
    for (int k = 0; k < PROTO_KIND_COUNT; k++) {
        fill(&e, (enum proto_kind)k);
        if (write_seed(argv[1], &e) != 0)
            return 1;
    }
    return 0;
}
