/* db_backend.h - what a database backend provides to db.c. Not a public
 * interface: only db.c, db_sqlite.c and db_pg.c include it.
 *
 * A backend connects and runs statements written in the shared dialect
 * ($1..$N parameters). Every call returns 0, or -1 with err set; after an
 * error the caller rolls back and, for a writer, reconnects.
 */
#ifndef LOYALTY_LEDGER_DB_BACKEND_H
#define LOYALTY_LEDGER_DB_BACKEND_H

#include "db.h"

struct db_ops {
    const char *name;
    /* Opens `target`: the whole URL for PostgreSQL, the path for SQLite. */
    struct db *(*open)(const char *target, enum db_role role, uint32_t timeout_ms,
                       struct db_error *err);
    void (*close)(struct db *db);
    /* Runs `sql` with params[0..n); each result row goes to fn (may be NULL
     * when the statement returns none). `sql` is a string literal: backends
     * may keep it prepared by its address. */
    int (*exec)(struct db *db, const char *sql, const struct db_val *params, uint32_t n,
                db_row_fn fn, void *ctx, struct db_error *err);
    /* Runs `head <rows> tail` for `rows` rows of strlen(types) parameters
     * each (params holds them row by row), column c of the type types[c]:
     * 'i' a bigint, 't' text (NULL allowed in either), where <rows> is
     * a row source the backend chooses: VALUES (row), (row), ... or a SELECT
     * of the same rows, so `head` must accept either (INSERT INTO t (cols),
     * or "... IN ("). Result rows go to fn. */
    int (*exec_rows)(struct db *db, const char *head, const char *tail, const char *types,
                     const struct db_val *params, uint32_t rows, db_row_fn fn, void *ctx,
                     struct db_error *err);
    /* Runs several statements without parameters (migrations). */
    int (*script)(struct db *db, const char *sql, struct db_error *err);
    /* Starts a write transaction (SQLite takes the write lock at once). */
    const char *begin_sql;
    /* In the migrating transaction, keeps a second writer from migrating at
     * the same time; NULL when begin_sql does already. */
    const char *lock_schema_sql;
    /* What follows CREATE TABLE (...) of a table used through its primary
     * key only (db.c, KEYED). */
    const char *keyed_table;
};

/* Every connection starts with this; backends extend it. */
struct db {
    const struct db_ops *ops;
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

#endif
