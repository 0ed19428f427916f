/* db.h - the ledger's query layer: one schema and one set of statements
 * over two backends, SQLite (embedded, the default) and PostgreSQL,
 * chosen by the database URL (sqlite:///path, postgresql://...).
 *
 * All SQL lives in db.c, written in the dialect both backends share
 * ($N parameters, INSERT ... ON CONFLICT, RETURNING, VALUES lists). A
 * backend (db_sqlite.c, db_pg.c) only connects and runs statements: one
 * statement with parameters, a multi-row statement (PostgreSQL sends many
 * rows in one VALUES list; SQLite steps one prepared statement per row, the
 * fast way for an embedded database), and a script (migrations).
 *
 * Schema (version DB_SCHEMA_VERSION; db.c has the migrations):
 *   schema_version (version)
 *   streams      (part PK, stream UNIQUE, last_ms, last_seq, clock_ms, rules)
 *                one row per out stream followed: the last entry written (the
 *                ledger's watermark), the engine clock as the outputs show it
 *                and the rulebook version in force.
 *   events       (part, entry_ms, entry_seq) PK: the stream entry id;
 *                event_id, src, kind, member, ts, cause, delta, balance,
 *                month (of the engine clock), rules, problem, body (JSON of
 *                the whole event). Index (member, entry_ms, entry_seq) for
 *                member history.
 *   lots         (member, month) PK, points: what is left of each member's
 *                earning months, FIFO (cohort.h); a negative balance is the
 *                row of month -1 (COHORT_DEBT) holding the debt, so that a
 *                balance is the sum of the other rows less it. (One table
 *                written per member and batch, not two: at 50k events/s
 *                every random page written counts.)
 *   cohort_flows (cohort, month, cause) PK, points_in, points_out: the
 *                points that went into and out of an earning month (cohort)
 *                in a month, by cause, summed (cohort.h); the per-month
 *                aggregates reports read.
 * Errors go into a struct db_error the caller owns: `fatal` when retrying
 * cannot help (a schema newer than this binary, a URL that cannot work).
 */
#ifndef LOYALTY_LEDGER_DB_H
#define LOYALTY_LEDGER_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "cohort.h"
#include "proto.h"
#include "proto_out.h"

#define DB_SCHEMA_VERSION 1
#define DB_ERROR_MAX 512
#define DB_STREAM_KEY_MAX 80 /* "<prefix>out": prefix of at most 64 bytes */

struct db_error {
    char text[DB_ERROR_MAX];
    bool fatal;
};

enum db_role {
    DB_WRITER, /* migrates the schema, writes batches */
    DB_READER, /* history and reports; refuses a schema it does not know */
};

/* A parameter or a column value. Text points at memory the caller keeps
 * alive for the call (parameters) or that lives until the row callback
 * returns (columns). */
enum db_type { DB_NULL, DB_INT, DB_TEXT };
struct db_val {
    enum db_type type;
    int64_t i;
    const char *s;
};

/* Receives one result row of `n` columns; returns 0, or -1 to stop (the
 * statement then fails with the error the callback put in err). */
typedef int (*db_row_fn)(void *ctx, const struct db_val *cols, uint32_t n,
                         struct db_error *err);

struct db;

/* Sets err->text from a printf format (for backends and row callbacks);
 * err->fatal is left as it is. */
__attribute__((format(printf, 2, 3))) void db_fail(struct db_error *err, const char *fmt, ...);

/* One out stream's progress, as stored. */
struct db_stream {
    uint32_t part;
    char key[DB_STREAM_KEY_MAX + 1];
    struct proto_id last;  /* the last entry written; 0-0 before any */
    int64_t clock_ms;      /* the newest event time that moves the engine clock */
    char rules[PROTO_OUT_TEXT_MAX + 1]; /* the rulebook in force; "" before any */
};

/* One events row. Strings may be NULL (stored as NULL) except kind and body. */
struct db_event {
    uint32_t part;
    struct proto_id entry;
    const char *event_id, *src, *kind, *member, *cause, *rules, *problem, *body;
    int64_t ts;
    bool has_points;  /* a points.changed: delta and balance apply to the wallet */
    bool has_balance; /* balance is stored (points.changed and others carrying one) */
    int64_t delta, balance;
    int32_t month;
};

/* One lot of a member (points unused when deleting). */
struct db_lot {
    const char *member;
    int32_t month;
    int64_t points;
};

/* One aggregated flow (cohort.h): points into and out of a cohort. */
struct db_flow {
    int32_t cohort;
    int32_t month;
    const char *cause;
    int64_t points_in;
    int64_t points_out;
};

/* Where a wallet load goes: each lot row, the debt row (month
 * COHORT_DEBT) included. Returns 0, or -1 when the row cannot be taken
 * (corrupt storage). */
struct db_wallet_sink {
    void *ctx;
    int (*lot)(void *ctx, const char *member, int32_t month, int64_t points);
};

/* ---- connections and schema ---------------------------------------- */

/* Connects to `url` (lconf_check_database accepted it). `timeout_ms`
 * bounds connecting and, for readers, every statement (SQLite: how long a
 * lock is waited for). Returns NULL with err set. */
struct db *db_open(const char *url, enum db_role role, uint32_t timeout_ms,
                   struct db_error *err);

/* Closes (NULL is fine). */
void db_close(struct db *db);

/* "sqlite" or "postgresql". */
const char *db_backend(const struct db *db);

/* Writer: brings the schema to DB_SCHEMA_VERSION (each migration one
 * transaction); reader: checks it is exactly that. A newer schema is
 * refused (err->fatal) naming both versions. Returns 0 or -1. */
int db_prepare_schema(struct db *db, enum db_role role, struct db_error *err);

/* The stored version of the schema (0 when there is none yet), into *out. */
int db_schema_version(struct db *db, int64_t *out, struct db_error *err);

/* Loads the rows of the `n` stream keys into out[0..n), creating those not
 * stored yet (with fresh part numbers). Returns 0 or -1. */
int db_load_streams(struct db *db, const char *const *keys, uint32_t n, struct db_stream *out,
                    struct db_error *err);

/* ---- writing a batch (between db_begin and db_commit) -------------- */

int db_begin(struct db *db, struct db_error *err);
int db_commit(struct db *db, struct db_error *err);
/* Rolls back whatever is open; errors are ignored (the connection is then
 * closed by the caller). */
void db_rollback(struct db *db);

/* Inserts rows[0..n) that are not stored yet (by their key) and sets
 * inserted[i] for each row it inserted. Returns 0 or -1. */
int db_insert_events(struct db *db, const struct db_event *rows, uint32_t n, bool *inserted,
                     struct db_error *err);

/* Loads the lots of members[0..n) (distinct) into `sink`, oldest first per
 * member (the debt row first). Members without lots get no calls. */
int db_load_wallets(struct db *db, const char *const *members, uint32_t n,
                    const struct db_wallet_sink *sink, struct db_error *err);

/* Stores lots[0..n) (distinct member and month), replacing their points. */
int db_upsert_lots(struct db *db, const struct db_lot *lots, uint32_t n, struct db_error *err);

/* Deletes lots[0..n) (by member and month). */
int db_delete_lots(struct db *db, const struct db_lot *lots, uint32_t n, struct db_error *err);

/* Adds flows[0..n) (distinct keys) to the stored sums. */
int db_add_flows(struct db *db, const struct db_flow *flows, uint32_t n, struct db_error *err);

/* Stores the progress of streams[0..n). */
int db_save_streams(struct db *db, const struct db_stream *streams, uint32_t n,
                    struct db_error *err);

/* ---- reading --------------------------------------------------------- */

/* Member history, newest first: at most `limit` events of `member` before
 * stream entry `before` (NULL: from the newest). Columns, in order: part,
 * entry_ms, entry_seq, event_id, src, kind, cause, delta, balance, ts,
 * rules, problem, body, month. */
int db_history(struct db *db, const char *member, const struct proto_id *before,
               uint32_t limit, db_row_fn fn, void *ctx, struct db_error *err);

/* A member's lots, oldest first (the debt row, month COHORT_DEBT, first).
 * Columns: month, points. */
int db_member_lots(struct db *db, const char *member, db_row_fn fn, void *ctx,
                   struct db_error *err);

/* Whether the ledger holds any event of `member`, into *known. */
int db_member_known(struct db *db, const char *member, bool *known, struct db_error *err);

/* Every flow sum, by cohort, month and cause. Columns: cohort, month,
 * cause, points_in, points_out. */
int db_flows(struct db *db, db_row_fn fn, void *ctx, struct db_error *err);

/* The stored streams, by part number: at most `cap` into out[0..*n). */
int db_list_streams(struct db *db, struct db_stream *out, uint32_t cap, uint32_t *n,
                    struct db_error *err);

#endif
