/* lstatus.c - see lstatus.h. */
#include "lstatus.h"

#include <string.h>

int lstatus_init(struct lstatus *s)
{
    memset(s, 0, sizeof *s);
    return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : -1;
}

void lstatus_destroy(struct lstatus *s)
{
    pthread_mutex_destroy(&s->lock);
}

void lstatus_get(struct lstatus *s, struct lstatus_view *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->v;
    pthread_mutex_unlock(&s->lock);
}

void lstatus_publish(struct lstatus *s, const struct lstatus_view *v)
{
    pthread_mutex_lock(&s->lock);
    s->v = *v;
    pthread_mutex_unlock(&s->lock);
}
