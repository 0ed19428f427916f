/* rulestore.c - see rulestore.h. */
#include "rulestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rulecanon.h"

void rulestore_init(struct rulestore *rs)
{
    rs->count = 0;
}

void rulestore_free(struct rulestore *rs)
{
    for (size_t i = 0; i < rs->count; i++)
        free(rs->items[i].rb);
    rs->count = 0;
}

static const struct rulestore_item *find(const struct rulestore *rs, const char *hash)
{
    for (size_t i = 0; i < rs->count; i++)
        if (strcmp(rs->items[i].hash, hash) == 0)
            return &rs->items[i];
    return NULL;
}

bool rulestore_known(const struct rulestore *rs, const char *hash)
{
    return find(rs, hash) != NULL;
}

/* A new item for `hash`, or NULL when full. */
static struct rulestore_item *slot(struct rulestore *rs, const char *hash)
{
    if (rs->count == RULESTORE_MAX || strlen(hash) != PROTO_HASH_LEN)
        return NULL;
    struct rulestore_item *it = &rs->items[rs->count];
    memset(it, 0, sizeof(*it));
    memcpy(it->hash, hash, PROTO_HASH_LEN + 1);
    return it;
}

int rulestore_add_text(struct rulestore *rs, const char *hash, const char *text, size_t len)
{
    struct config_error err;
    if (find(rs, hash) != NULL)
        return 0;
    struct rulestore_item *it = slot(rs, hash);
    char *copy = malloc(len + 1);
    struct rulebook *rb = malloc(sizeof(*rb));
    if (it == NULL || copy == NULL || rb == NULL) {
        free(copy);
        free(rb);
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (strlen(copy) != len) {
        snprintf(it->problem, sizeof(it->problem), "its text holds a NUL byte");
        free(rb);
    } else if (rulecanon_verify(copy, hash, rb, &err) != 0) {
        snprintf(it->problem, sizeof(it->problem), "%s", err.text);
        free(rb);
    } else {
        it->rb = rb;
    }
    free(copy);
    rs->count++;
    return 0;
}

int rulestore_add(struct rulestore *rs, const char *hash, const struct rulebook *rb)
{
    if (find(rs, hash) != NULL)
        return 0;
    struct rulestore_item *it = slot(rs, hash);
    if (it == NULL || (it->rb = malloc(sizeof(*rb))) == NULL)
        return -1;
    memcpy(it->rb, rb, sizeof(*rb));
    rs->count++;
    return 0;
}

struct rules_text rulestore_resolve(const struct rulestore *rs, const char *hash)
{
    const struct rulestore_item *it = find(rs, hash);
    if (it == NULL)
        return (struct rules_text){NULL, "its text was not found"};
    return (struct rules_text){it->rb, it->rb ? NULL : it->problem};
}
