/* extras.c - see extras.h. */
#include "extras.h"

#include <stddef.h>
#include <string.h>

#include "lyassert.h"
#include "reserve.h"

/* What a member without a record reads. */
static const struct member_extra none;

/* The bytes that hold fields: all of a record but its pool link. */
#define FIELD_BYTES offsetof(struct member_extra, next_free)

int extras_init(struct extras *x, uint32_t max)
{
    LY_ASSERT(max >= 1);
    memset(x, 0, sizeof(*x));
    x->v = reserve_zeroed(max, sizeof(*x->v));
    if (x->v == NULL)
        return -1;
    x->max = max;
    return 0;
}

void extras_free(struct extras *x)
{
    reserve_release(x->v, x->max, sizeof(*x->v));
    memset(x, 0, sizeof(*x));
}

const struct member_extra *extras_get(const struct extras *x, uint32_t h)
{
    LY_ASSERT(h <= x->high);
    return h == 0 ? &none : &x->v[h - 1];
}

struct member_extra *extras_edit(struct extras *x, uint32_t *h)
{
    if (*h != 0) {
        LY_ASSERT(*h <= x->high);
        return &x->v[*h - 1];
    }
    uint32_t take;
    if (x->free_head != 0) {
        take = x->free_head;
        x->free_head = x->v[take - 1].next_free;
    } else {
        LY_ASSERT(x->high < x->max); /* one record per member at most */
        take = ++x->high;
    }
    struct member_extra *r = &x->v[take - 1];
    memset(r, 0, sizeof(*r));
    x->live++;
    *h = take;
    return r;
}

void extras_settle(struct extras *x, uint32_t *h)
{
    if (*h == 0)
        return;
    LY_ASSERT(*h <= x->high);
    struct member_extra *r = &x->v[*h - 1];
    if (memcmp(r, &none, FIELD_BYTES) != 0)
        return;
    /* Free records keep their link in the record itself; the taker zeroes
     * it (extras_edit). */
    r->next_free = x->free_head;
    x->free_head = *h;
    x->live--;
    *h = 0;
}

void extras_put(struct extras *x, uint32_t *h, const struct member_extra *val)
{
    if (*h == 0 && extras_same(val, &none))
        return;
    memcpy(extras_edit(x, h), val, FIELD_BYTES);
    extras_settle(x, h);
}

bool extras_same(const struct member_extra *a, const struct member_extra *b)
{
    return memcmp(a, b, FIELD_BYTES) == 0;
}
