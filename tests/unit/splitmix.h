/* splitmix.h - the seeded generator behind the unit tests' workloads
 * (splitmix64): small, well mixed, and the same numbers on every machine,
 * so a failing seed can be replayed. Header-only: each test includes it. */
#ifndef LOYALTY_TEST_SPLITMIX_H
#define LOYALTY_TEST_SPLITMIX_H

#include <stdint.h>

static inline uint64_t splitmix_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A number in 0..n-1 (n >= 1; the slight modulo bias does not matter
 * for test workloads). */
static inline int64_t splitmix_below(uint64_t *s, uint64_t n)
{
    return (int64_t)(splitmix_next(s) % n);
}

#endif
