/* schedule.c - see schedule.h. */
#include "schedule.h"

#include <string.h>

#include "lyassert.h"
#include "reserve.h"

int schedule_init(struct schedule *s, uint32_t cap)
{
    LY_ASSERT(cap >= 1);
    memset(s, 0, sizeof(*s));
    s->heap = reserve_derived(cap, sizeof(s->heap[0]));
    if (s->heap == NULL)
        return -1;
    s->cap = cap;
    return 0;
}

void schedule_free(struct schedule *s)
{
    reserve_release(s->heap, s->cap, sizeof(s->heap[0]));
    memset(s, 0, sizeof(*s));
}

bool schedule_full(const struct schedule *s)
{
    return s->count == s->cap;
}

void schedule_clear(struct schedule *s)
{
    s->count = 0;
    s->rebuilds++;
}

static bool before(const struct schedule_entry *a, const struct schedule_entry *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->pos < b->pos);
}

static void swap(struct schedule_entry *a, struct schedule_entry *b)
{
    struct schedule_entry t = *a;
    *a = *b;
    *b = t;
}

void schedule_push(struct schedule *s, int64_t due_ms, uint32_t pos)
{
    LY_ASSERT(s->count < s->cap && "the owner rebuilds a full schedule");
    uint32_t i = s->count++;
    s->heap[i] = (struct schedule_entry){due_ms, pos, 0};
    while (i > 0 && before(&s->heap[i], &s->heap[(i - 1) / 2])) {
        swap(&s->heap[i], &s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

/* Moves heap[i] down to where its children come after it. */
static void sift_down(struct schedule *s, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->count && before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->count && before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        swap(&s->heap[i], &s->heap[m]);
        i = m;
    }
}

bool schedule_pop_due(struct schedule *s, int64_t now_ms, struct schedule_entry *out)
{
    if (s->count == 0 || s->heap[0].due_ms > now_ms)
        return false;
    *out = s->heap[0];
    s->heap[0] = s->heap[--s->count];
    sift_down(s, 0);
    return true;
}

void schedule_append(struct schedule *s, int64_t due_ms, uint32_t pos)
{
    LY_ASSERT(s->count < s->cap && "the owner bounds the entries it appends");
    s->heap[s->count++] = (struct schedule_entry){due_ms, pos, 0};
}

void schedule_heapify(struct schedule *s)
{
    for (uint32_t i = s->count / 2; i-- > 0;)
        sift_down(s, i);
}
