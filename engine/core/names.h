/* names.h - configured names (rewards, campaigns) looked up among the
 * names a state recorded, so that counters kept by rulebook index move
 * with their name when a rulebook is reordered (state_reindex,
 * budgets_reindex). A leaf of the core.
 */
#ifndef LOYALTY_NAMES_H
#define LOYALTY_NAMES_H

#include <stdint.h>

#include "rulebook.h"

#define NAMES_MAX 64 /* names one lookup covers: `taken` is a 64-bit set */

/* Index of `name` among names[0..n) (n <= NAMES_MAX) that no earlier
 * lookup took (bit i of `*taken`), or -1; marks it taken. Names may repeat
 * (every-N rewards may share one), so the k-th configured use of a name
 * gets the k-th recorded one. */
int names_take(const char names[][RULEBOOK_NAME_MAX + 1], uint32_t n, const char *name,
               uint64_t *taken);

#endif
