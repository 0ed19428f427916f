/* versions.c - see versions.h. */
#include "versions.h"

#include <string.h>


void versions_init(struct versions *v, const struct rulebook *rb)
{
    memset(v, 0, sizeof(*v));
    memcpy(&v->now, rb, sizeof(*rb));
    memcpy(&v->prev, rb, sizeof(*rb));
    v->count = 1; /* the start-up version, hash "" */
}

const struct rulebook_version *versions_current(const struct versions *v)
{
    return &v->history[v->count - 1];
}

