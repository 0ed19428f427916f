/* lyassert.h - assertions that stay on in release builds.
 *
 * LY_ASSERT(cond) documents a precondition or invariant that only a
 * programming error can break. It is never compiled out (unlike assert(3)
 * under NDEBUG): on failure it logs file:line and the expression to stderr
 * and aborts. Never put a side effect inside one. Operating errors (bad
 * input, Redis down, disk full) are handled, not asserted.
 */
#ifndef LOYALTY_LYASSERT_H
#define LOYALTY_LYASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define LY_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "loyaltyd: assertion failed at %s:%d: %s\n",       \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* LY_ALLOC_CHECK(ok) stops the daemon when an allocation failed. Rule
 * outcomes must be a pure function of the entries, so running out of memory
 * must never turn into a rejection that a replay on a bigger machine would
 * not make; the daemon stops instead and recovery resumes after restart.
 * Memory is bounded by configured limits (members_max, max_txns), so this
 * fires only when those limits exceed the machine. */
#define LY_ALLOC_CHECK(ok)                                                     \
    do {                                                                       \
        if (!(ok)) {                                                           \
            fprintf(stderr, "loyaltyd: out of memory at %s:%d\n", __FILE__,   \
                    __LINE__);                                                 \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
