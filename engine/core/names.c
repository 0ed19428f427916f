/* names.c - see names.h. */
#include "names.h"

#include <string.h>

#include "lyassert.h"

int names_take(const char names[][RULEBOOK_NAME_MAX + 1], uint32_t n, const char *name,
               uint64_t *taken)
{
    LY_ASSERT(n <= NAMES_MAX);
    for (uint32_t i = 0; i < n; i++)
        if (!(*taken >> i & 1) && names[i][0] != '\0' && strcmp(names[i], name) == 0) {
            *taken |= (uint64_t)1 << i;
            return (int)i;
        }
    return -1;
}
