/* llog.h - the ledger's log: one line per notable event on stderr, like
 * "2026-11-23T01:02:03.456Z loyalty-ledger[123] WARN text". Safe from any
 * thread (one write per line). Wall-clock time appears here only.
 */
#ifndef LOYALTY_LEDGER_LLOG_H
#define LOYALTY_LEDGER_LLOG_H

/* Writes one line with level `level` ("INFO", "WARN", "ERROR"). */
void llog(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define llog_info(...) llog("INFO", __VA_ARGS__)
#define llog_warn(...) llog("WARN", __VA_ARGS__)
#define llog_error(...) llog("ERROR", __VA_ARGS__)

#endif
