/* phase.h - the consumer's state machine, and the one function that moves it.
 *
 *   IDLE -> CONNECTING -> SETUP -> [REPLAY | RESEND] -> CATCHUP -> LIVE
 *
 * IDLE: not started, or waiting to reconnect. CONNECTING: a connection
 * attempt is under way (link.h). SETUP: connected; the cursor claims the
 * partition (fenced.h), checks key types, reads the progress marker and
 * reconciles (cursor.h). REPLAY: re-applying (state, marker] with outputs
 * suppressed. RESEND: committing again the batches whose commits went
 * unanswered. CATCHUP: reading from the marker without waiting for new
 * entries, until a read finds none (pipeline.h). LIVE: consuming new
 * entries. BEHIND: Redis is behind our state (or its keys are unusable);
 * consuming stopped until a reconnection finds it fixed. FENCED: another
 * instance owns the partition (its epoch refused our claim or a commit):
 * this daemon no longer serves it. STOPPED: final.
 *
 * A lost connection sends every phase but BEHIND, FENCED and STOPPED back
 * to IDLE; any phase may stop. phase_set() asserts each move against the
 * table in phase.c and logs it at debug level; nothing else writes a phase.
 */
#ifndef LOYALTY_PHASE_H
#define LOYALTY_PHASE_H

enum consumer_phase {
    PHASE_IDLE,
    PHASE_CONNECTING,
    PHASE_SETUP,
    PHASE_REPLAY,
    PHASE_RESEND,
    PHASE_CATCHUP,
    PHASE_LIVE,
    PHASE_BEHIND,
    PHASE_FENCED,
    PHASE_STOPPED,
    PHASE_COUNT
};

/* Moves `*phase` to `to`. A move the table does not allow is a programming
 * error: it is asserted (the daemon aborts with file:line). Moving to the
 * phase already held is not a move: it is asserted too, so callers say
 * what they mean. */
void phase_set(enum consumer_phase *phase, enum consumer_phase to);

/* The phase's name for logs ("idle", "live", ...). */
const char *phase_name(enum consumer_phase p);

#endif
