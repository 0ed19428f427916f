/* log.h - one line per notable event, to stderr.
 *
 * Lines look like "2026-11-23T01:02:03.456Z loyaltyd[123] INFO text". The
 * shell logs; the rules core never does. Wall-clock time appears here only,
 * never in state.
 */
#ifndef LOYALTY_LOG_H
#define LOYALTY_LOG_H

#include <stdarg.h>

#include "snapdir.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below `level` are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Writes one line at `level`; `fmt` is printf-style, no trailing newline. */
void log_line(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes one line at `level` from a va_list (for adapters such as the
 * snapshot directory's report function). */
void log_vline(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The snapshot directory's report function (snapdir.h): its lines go to
 * this log at the matching level. */
void log_snapdir(enum snapdir_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_line(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_line(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_line(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_line(LOG_ERROR, __VA_ARGS__)

#endif
