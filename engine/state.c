/* state.c - see state.h. */
#include "state.h"

#include <string.h>

int state_init(struct state *st, const struct config *cfg)
{
    memset(st, 0, sizeof(*st));
    uint32_t lots = cfg->rules.expiry_months ? cfg->rules.expiry_months + 1 : 0;
    schedule_init(&st->schedule);
    if (members_init(&st->members, cfg->members_max, lots) != 0)
        return -1;
    if (txns_init(&st->txns, cfg->rules.txns_max) != 0) {
        members_free(&st->members);
        return -1;
    }
    return 0;
}

void state_free(struct state *st)
{
    members_free(&st->members);
    txns_free(&st->txns);
    schedule_free(&st->schedule);
}
