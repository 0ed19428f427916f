/* phase.c - see phase.h. */
#include "phase.h"

#include <stdint.h>

#include "log.h"
#include "lyassert.h"

#define TO(p) (1u << (p))
_Static_assert(PHASE_COUNT <= 32, "the legal moves of a phase are a 32-bit mask");

/* Where each phase may go. A lost connection (-> IDLE) and a stop
 * (-> STOPPED) can happen in any phase that has a connection or waits for
 * one; BEHIND stays BEHIND across a lost connection and leaves only through
 * a new connection attempt; FENCED leaves only by stopping. A commit can
 * be refused as fenced in every phase that sends commits. */
static const uint32_t legal[PHASE_COUNT] = {
    [PHASE_IDLE] = TO(PHASE_CONNECTING) | TO(PHASE_STOPPED),
    [PHASE_CONNECTING] = TO(PHASE_SETUP) | TO(PHASE_IDLE) | TO(PHASE_STOPPED),
    [PHASE_SETUP] = TO(PHASE_REPLAY) | TO(PHASE_RESEND) | TO(PHASE_CATCHUP) | TO(PHASE_BEHIND) |
                    TO(PHASE_FENCED) | TO(PHASE_IDLE) | TO(PHASE_STOPPED),
    [PHASE_REPLAY] = TO(PHASE_CATCHUP) | TO(PHASE_BEHIND) | TO(PHASE_IDLE) | TO(PHASE_STOPPED),
    [PHASE_RESEND] = TO(PHASE_CATCHUP) | TO(PHASE_FENCED) | TO(PHASE_IDLE) | TO(PHASE_STOPPED),
    [PHASE_CATCHUP] = TO(PHASE_LIVE) | TO(PHASE_FENCED) | TO(PHASE_IDLE) | TO(PHASE_STOPPED),
    [PHASE_LIVE] = TO(PHASE_FENCED) | TO(PHASE_IDLE) | TO(PHASE_STOPPED),
    [PHASE_BEHIND] = TO(PHASE_CONNECTING) | TO(PHASE_STOPPED),
    [PHASE_FENCED] = TO(PHASE_STOPPED),
    [PHASE_STOPPED] = 0,
};

static const char *const names[PHASE_COUNT] = {
    [PHASE_IDLE] = "idle",       [PHASE_CONNECTING] = "connecting", [PHASE_SETUP] = "setup",
    [PHASE_REPLAY] = "replay",   [PHASE_RESEND] = "resend",         [PHASE_CATCHUP] = "catchup",
    [PHASE_LIVE] = "live",       [PHASE_BEHIND] = "behind",         [PHASE_FENCED] = "fenced",
    [PHASE_STOPPED] = "stopped",
};

const char *phase_name(enum consumer_phase p)
{
    LY_ASSERT(p < PHASE_COUNT);
    return names[p];
}

void phase_set(enum consumer_phase *phase, enum consumer_phase to)
{
    enum consumer_phase from = *phase;
    LY_ASSERT(from < PHASE_COUNT && to < PHASE_COUNT);
    if ((legal[from] & TO(to)) == 0)
        log_error("consumer: illegal phase change %s -> %s", names[from], names[to]);
    LY_ASSERT((legal[from] & TO(to)) != 0);
    log_debug("consumer: %s -> %s", names[from], names[to]);
    *phase = to;
}
