/* replyarena.c - see replyarena.h. */
#include "replyarena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "lyassert.h"

struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[]; /* cap bytes */
};

struct replyarena {
    struct chunk *first, *cur; /* chunks in use: first..cur; after cur: kept, empty */
    struct chunk *big;         /* objects larger than a chunk, freed with the reply */
    void *root;                /* the reply being built or handled, or NULL */
    bool released;             /* the owner is done: free with the root */
};

/* Every object starts with its arena, so freeObject finds it. */
struct node {
    struct replyarena *a;
    redisReply r;
};

static struct chunk *chunk_new(size_t cap)
{
    struct chunk *c = malloc(sizeof(*c) + cap);
    if (c != NULL)
        *c = (struct chunk){.next = NULL, .cap = cap, .used = 0};
    return c;
}

/* `n` bytes, aligned, from the arena, or NULL when out of memory. */
static void *arena_alloc(struct replyarena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n > REPLYARENA_CHUNK) {
        struct chunk *c = chunk_new(n);
        if (c == NULL)
            return NULL;
        c->next = a->big;
        a->big = c;
        return c->data;
    }
    while (a->cur->cap - a->cur->used < n) {
        if (a->cur->next == NULL && (a->cur->next = chunk_new(REPLYARENA_CHUNK)) == NULL)
            return NULL;
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    void *p = (char *)a->cur->data + a->cur->used;
    a->cur->used += n;
    return p;
}

static void free_list(struct chunk *c)
{
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* Empties the arena, keeping at most REPLYARENA_KEEP chunks. */
static void arena_reset(struct replyarena *a)
{
    free_list(a->big);
    a->big = NULL;
    struct chunk *c = a->first;
    for (int kept = 1; kept < REPLYARENA_KEEP && c->next != NULL; kept++)
        c = c->next;
    free_list(c->next);
    c->next = NULL;
    a->first->used = 0;
    a->cur = a->first;
    a->root = NULL;
}

static void arena_free(struct replyarena *a)
{
    free_list(a->big);
    free_list(a->first);
    free(a);
}

/* A new object of `type` for `task`, hung in its parent array. */
static redisReply *object(const redisReadTask *task, int type, size_t extra, void **extra_at)
{
    struct replyarena *a = task->privdata;
    struct node *n = arena_alloc(a, sizeof(*n) + extra);
    if (n == NULL)
        return NULL;
    n->a = a;
    n->r = (redisReply){.type = type};
    if (extra_at != NULL)
        *extra_at = n + 1;
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;
        LY_ASSERT(parent->type == REDIS_REPLY_ARRAY && (size_t)task->idx < parent->elements);
        parent->element[task->idx] = &n->r;
    } else {
        LY_ASSERT(a->root == NULL); /* one reply at a time */
        a->root = &n->r;
    }
    return &n->r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    void *body;
    redisReply *r = object(task, task->type, len + 1, &body);
    if (r == NULL)
        return NULL;
    r->str = body;
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    void *body;
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = object(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *), &body);
    if (r == NULL)
        return NULL;
    r->elements = n;
    r->element = n > 0 ? body : NULL;
    if (n > 0)
        memset(r->element, 0, n * sizeof(redisReply *));
    return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = object(task, REDIS_REPLY_INTEGER, 0, NULL);
    if (r != NULL)
        r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return object(task, REDIS_REPLY_NIL, 0, NULL);
}

/* hiredis frees a reply through its root; an inner object is freed with
 * it (hiredis never frees one alone). */
static void free_object(void *obj)
{
    struct node *n = (struct node *)((char *)obj - offsetof(struct node, r));
    struct replyarena *a = n->a;
    if (obj != a->root)
        return;
    if (a->released)
        arena_free(a);
    else
        arena_reset(a);
}

static redisReplyObjectFunctions ARENA_FUNCTIONS = {
    create_string, create_array, create_integer, create_nil, free_object,
};

struct replyarena *replyarena_attach(redisReader *r)
{
    LY_ASSERT(r != NULL && r->reply == NULL);
    struct replyarena *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    if ((a->first = chunk_new(REPLYARENA_CHUNK)) == NULL) {
        free(a);
        return NULL;
    }
    a->cur = a->first;
    r->fn = &ARENA_FUNCTIONS;
    r->privdata = a;
    return a;
}

void replyarena_release(struct replyarena *a)
{
    if (a == NULL)
        return;
    LY_ASSERT(!a->released);
    if (a->root == NULL)
        arena_free(a);
    else
        a->released = true;
}
