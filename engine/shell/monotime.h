/* monotime.h - the one clock the shell measures intervals with.
 *
 * CLOCK_MONOTONIC never steps with NTP or an operator's date(1), so an
 * interval is an interval: batch latency, the reply watchdog, snapshot
 * durations and the fork() stall are all measured with it. It never enters
 * the state (the engine's time comes from events). Microseconds in a
 * uint64_t last 584 000 years.
 */
#ifndef LOYALTY_MONOTIME_H
#define LOYALTY_MONOTIME_H

#include <stdint.h>
#include <time.h>

/* Microseconds on the monotonic clock (an arbitrary origin: only
 * differences mean anything). */
static inline uint64_t monotime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
