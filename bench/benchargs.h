/* benchargs.h - command-line numbers for the benchmarks.
 *
 * Every count a benchmark takes has a named limit (what memory or time it
 * would take past it); a value out of range is refused, never clamped.
 */
#ifndef LOYALTY_BENCH_ARGS_H
#define LOYALTY_BENCH_ARGS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Parses the value `arg` of option `name` as a decimal integer in
 * [min, max]. Returns 0, or -1 after saying on stderr (as program `prog`)
 * that it is not one: sign, junk, overflow or out of range. */
static inline int bench_option_u64(const char *prog, const char *name, const char *arg,
                                   uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < min || v > max) {
        fprintf(stderr, "%s: %s: '%s' is not a number in %llu..%llu\n", prog, name, arg,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

/* bench_option_u64 for a count that fits 32 bits (max <= UINT32_MAX). */
static inline int bench_option_u32(const char *prog, const char *name, const char *arg,
                                   uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (bench_option_u64(prog, name, arg, min, max, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

#endif
