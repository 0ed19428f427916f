/* llog.c - see llog.h. */
#include "llog.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define LLOG_LINE_MAX 1024 /* longer lines are cut: a log line is a sentence */

void llog(const char *level, const char *fmt, ...)
{
    char line[LLOG_LINE_MAX];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ loyalty-ledger[%ld] %s ",
                          now.tv_nsec / 1000000, (long)getpid(), level);
    va_list ap;
    va_start(ap, fmt);
    if (n < sizeof line)
        vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
