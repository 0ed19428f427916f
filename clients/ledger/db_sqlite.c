/* db_sqlite.c - the SQLite backend (db_backend.h).
 *
 * Statements are prepared once per connection and kept by the address of
 * their (literal) text. A multi-row statement runs as one prepared
 * single-row statement stepped once per row, inside the caller's
 * transaction: with SQLite in the same process that is as fast as a long
 * VALUES list, without building one. The writer's connection runs in WAL
 * mode with synchronous=FULL, so a COMMIT is on disk before the ledger
 * acknowledges the entries, and readers (the HTTP thread's own connection)
 * never wait for the writer nor make it wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_backend.h"
#include "lyassert.h"

#define SQLITE_CACHE_MAX 32  /* distinct statements: db.c has about 20 */
#define SQLITE_PARAMS_MAX 16 /* parameters of one statement (events: 15) */
#define SQLITE_COLS_MAX 16   /* columns of one result row (history: 14) */
#define SQLITE_SQL_MAX 1024  /* a multi-row statement's text for one row */

struct cached {
    const void *key; /* the statement's literal text (its head for exec_rows) */
    sqlite3_stmt *st;
    int nparams;
    int slot[SQLITE_PARAMS_MAX]; /* slot[i]: where "$<i+1>" is bound */
};

struct db_sqlite {
    struct db base;
    sqlite3 *conn;
    uint32_t cached_count;
    struct cached cache[SQLITE_CACHE_MAX];
};

static int fail_sqlite(struct db_sqlite *d, struct db_error *err, const char *what)
{
    db_fail(err, "sqlite: %s: %s (code %d)", what, sqlite3_errmsg(d->conn),
            sqlite3_extended_errcode(d->conn));
    return -1;
}

/* The statement for `key`, prepared from `sql` on first use. */
static struct cached *prepare(struct db_sqlite *d, const void *key, const char *sql,
                              struct db_error *err)
{
    for (uint32_t i = 0; i < d->cached_count; i++)
        if (d->cache[i].key == key)
            return &d->cache[i];
    LY_ASSERT(d->cached_count < SQLITE_CACHE_MAX);
    struct cached *c = &d->cache[d->cached_count];
    memset(c, 0, sizeof *c);
    if (sqlite3_prepare_v2(d->conn, sql, -1, &c->st, NULL) != SQLITE_OK) {
        fail_sqlite(d, err, "prepare");
        sqlite3_finalize(c->st);
        return NULL;
    }
    c->key = key;
    c->nparams = sqlite3_bind_parameter_count(c->st);
    LY_ASSERT(c->nparams <= SQLITE_PARAMS_MAX);
    for (int i = 0; i < c->nparams; i++) {
        char name[8];
        snprintf(name, sizeof name, "$%d", i + 1);
        c->slot[i] = sqlite3_bind_parameter_index(c->st, name);
        LY_ASSERT(c->slot[i] > 0); /* parameters are $1..$N without gaps */
    }
    d->cached_count++;
    return c;
}

static int bind_params(struct db_sqlite *d, struct cached *c, const struct db_val *p, uint32_t n,
                struct db_error *err)
{
    LY_ASSERT((int)n == c->nparams);
    for (uint32_t i = 0; i < n; i++) {
        int rc = p[i].type == DB_INT    ? sqlite3_bind_int64(c->st, c->slot[i], p[i].i)
                 : p[i].type == DB_TEXT ? sqlite3_bind_text(c->st, c->slot[i], p[i].s, -1,
                                                            SQLITE_STATIC)
                                        : sqlite3_bind_null(c->st, c->slot[i]);
        if (rc != SQLITE_OK)
            return fail_sqlite(d, err, "bind");
    }
    return 0;
}

/* Steps a bound statement to the end, handing rows to fn; resets it. */
static int run(struct db_sqlite *d, struct cached *c, db_row_fn fn, void *ctx,
               struct db_error *err)
{
    int rc;
    int out = 0;
    while (out == 0 && (rc = sqlite3_step(c->st)) == SQLITE_ROW) {
        int n = sqlite3_column_count(c->st);
        LY_ASSERT(n <= SQLITE_COLS_MAX);
        struct db_val cols[SQLITE_COLS_MAX];
        for (int i = 0; i < n; i++) {
            int t = sqlite3_column_type(c->st, i);
            if (t == SQLITE_INTEGER)
                cols[i] = (struct db_val){.type = DB_INT, .i = sqlite3_column_int64(c->st, i)};
            else if (t == SQLITE_NULL)
                cols[i] = (struct db_val){.type = DB_NULL};
            else
                cols[i] = (struct db_val){.type = DB_TEXT,
                                          .s = (const char *)sqlite3_column_text(c->st, i)};
        }
        if (fn != NULL && fn(ctx, cols, (uint32_t)n, err) != 0)
            out = -1;
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = fail_sqlite(d, err, "step");
    sqlite3_reset(c->st);
    sqlite3_clear_bindings(c->st);
    return out;
}

static int sqlite_exec(struct db *db, const char *sql, const struct db_val *params, uint32_t n,
                       db_row_fn fn, void *ctx, struct db_error *err)
{
    struct db_sqlite *d = (struct db_sqlite *)db;
    struct cached *c = prepare(d, sql, sql, err);
    if (c == NULL || bind_params(d, c, params, n, err) != 0)
        return -1;
    return run(d, c, fn, ctx, err);
}

static int sqlite_exec_rows(struct db *db, const char *head, const char *tail, const char *types,
                            const struct db_val *params, uint32_t rows, db_row_fn fn,
                            void *ctx, struct db_error *err)
{
    struct db_sqlite *d = (struct db_sqlite *)db;
    uint32_t width = (uint32_t)strlen(types); /* SQLite types values, not columns */
    char sql[SQLITE_SQL_MAX];
    size_t len = (size_t)snprintf(sql, sizeof sql, "%s VALUES (", head);
    for (uint32_t i = 0; i < width && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s$%u", i ? ", " : "", i + 1);
    if (len < sizeof sql)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ")%s", tail);
    LY_ASSERT(len < sizeof sql);
    struct cached *c = prepare(d, head, sql, err);
    if (c == NULL)
        return -1;
    for (uint32_t r = 0; r < rows; r++)
        if (bind_params(d, c, &params[(size_t)r * width], width, err) != 0 ||
            run(d, c, fn, ctx, err) != 0)
            return -1;
    return 0;
}

static int sqlite_script(struct db *db, const char *sql, struct db_error *err)
{
    struct db_sqlite *d = (struct db_sqlite *)db;
    char *msg = NULL;
    if (sqlite3_exec(d->conn, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    db_fail(err, "sqlite: %s", msg ? msg : sqlite3_errmsg(d->conn));
    sqlite3_free(msg);
    return -1;
}

static void sqlite_close(struct db *db)
{
    struct db_sqlite *d = (struct db_sqlite *)db;
    for (uint32_t i = 0; i < d->cached_count; i++)
        sqlite3_finalize(d->cache[i].st);
    sqlite3_close(d->conn);
    free(d);
}

static struct db *sqlite_open(const char *path, enum db_role role, uint32_t timeout_ms,
                              struct db_error *err)
{
    struct db_sqlite *d = calloc(1, sizeof *d);
    LY_ALLOC_CHECK(d != NULL);
    d->base.ops = &db_sqlite_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (role == DB_WRITER ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &d->conn, flags, NULL) != SQLITE_OK) {
        db_fail(err, "sqlite: cannot open %s: %s", path,
                d->conn ? sqlite3_errmsg(d->conn) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(d->conn, (int)timeout_ms);
    sqlite3_extended_result_codes(d->conn, 1);
    const char *setup = role == DB_WRITER
                            ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;"
                            : "PRAGMA query_only = 1;";
    if (sqlite_script(&d->base, setup, err) != 0)
        goto fail;
    return &d->base;
fail:
    sqlite_close(&d->base);
    return NULL;
}

const struct db_ops db_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .exec_rows = sqlite_exec_rows,
    .script = sqlite_script,
    .begin_sql = "BEGIN IMMEDIATE",
    .keyed_table = " WITHOUT ROWID",
};
