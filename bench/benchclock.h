/* benchclock.h - the one clock the benchmarks time with.
 *
 * CLOCK_MONOTONIC: never steps with NTP or an operator's date(1), so an
 * interval is an interval. Nanoseconds in a uint64_t last 584 years.
 */
#ifndef LOYALTY_BENCH_CLOCK_H
#define LOYALTY_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
