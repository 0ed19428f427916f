/* db_pg.c - the PostgreSQL backend (db_backend.h), on libpq.
 *
 * Parameters go as text (libpq's simplest form; integers are formatted
 * here). A multi-row statement is sent as few statements as the protocol
 * allows, each with one VALUES list of many rows: a round trip per row
 * would cap the ledger at a few thousand events a second. Readers get a
 * statement_timeout, so a slow query cannot hold the HTTP thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_backend.h"
#include "lyassert.h"

/* Type OIDs of the integer columns (PostgreSQL's catalog/pg_type.h, which
 * is not part of libpq's headers). They never change. */
#define PG_INT8_OID 20
#define PG_INT2_OID 21
#define PG_INT4_OID 23

#define PG_INT_TEXT_MAX 21   /* "-9223372036854775808" and NUL */
#define PG_COLS_MAX 16       /* columns of one result row (history: 14) */
#define PG_CONNECT_S_MIN 2   /* libpq treats less as 2 */

struct db_pg {
    struct db base;
    PGconn *conn;
};

/* libpq's message without its trailing newline. */
static int fail_pg(struct db_error *err, const char *what, const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    db_fail(err, "postgresql: %s: %.*s", what, (int)n, msg);
    return -1;
}

static bool is_int_type(Oid t)
{
    return t == PG_INT8_OID || t == PG_INT4_OID || t == PG_INT2_OID;
}

/* Hands each row of `res` to fn. */
static int rows_out(PGresult *res, db_row_fn fn, void *ctx, struct db_error *err)
{
    int ncols = PQnfields(res);
    LY_ASSERT(ncols <= PG_COLS_MAX);
    for (int r = 0; fn != NULL && r < PQntuples(res); r++) {
        struct db_val cols[PG_COLS_MAX];
        for (int c = 0; c < ncols; c++) {
            const char *v = PQgetvalue(res, r, c);
            if (PQgetisnull(res, r, c))
                cols[c] = (struct db_val){.type = DB_NULL};
            else if (is_int_type(PQftype(res, c)))
                cols[c] = (struct db_val){.type = DB_INT, .i = strtoll(v, NULL, 10)};
            else
                cols[c] = (struct db_val){.type = DB_TEXT, .s = v};
        }
        if (fn(ctx, cols, (uint32_t)ncols, err) != 0)
            return -1;
    }
    return 0;
}

/* Formats params[0..n) as text into values[], integers into `ints`
 * (n * PG_INT_TEXT_MAX bytes) and typed bigint in types[] (so that they
 * compare with integer columns anywhere, VALUES lists included); the type
 * of other parameters is left for the server to infer. */
static void text_params(const struct db_val *p, uint32_t n, const char **values, Oid *types,
                        char *ints)
{
    for (uint32_t i = 0; i < n; i++) {
        types[i] = p[i].type == DB_INT ? PG_INT8_OID : 0;
        if (p[i].type == DB_INT) {
            char *at = ints + (size_t)i * PG_INT_TEXT_MAX;
            snprintf(at, PG_INT_TEXT_MAX, "%" PRId64, p[i].i);
            values[i] = at;
        } else {
            values[i] = p[i].type == DB_TEXT ? p[i].s : NULL;
        }
    }
}

static int run(struct db_pg *d, const char *sql, const struct db_val *p, uint32_t n,
               db_row_fn fn, void *ctx, struct db_error *err)
{
    LY_ASSERT(n <= PG_COLS_MAX);
    const char **values = malloc((n ? n : 1) * sizeof *values);
    Oid *types = malloc((n ? n : 1) * sizeof *types);
    char *ints = malloc((n ? n : 1) * (size_t)PG_INT_TEXT_MAX);
    LY_ALLOC_CHECK(values != NULL && types != NULL && ints != NULL);
    text_params(p, n, values, types, ints);
    PGresult *res = PQexecParams(d->conn, sql, (int)n, types, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    int rc;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        rc = rows_out(res, fn, ctx, err);
    else
        rc = fail_pg(err, "statement", res ? PQresultErrorMessage(res)
                                           : PQerrorMessage(d->conn));
    PQclear(res);
    free(ints);
    free(types);
    free(values);
    return rc;
}

static int pg_exec(struct db *db, const char *sql, const struct db_val *params, uint32_t n,
                   db_row_fn fn, void *ctx, struct db_error *err)
{
    return run((struct db_pg *)db, sql, params, n, fn, ctx, err);
}

/* Appends column `col` of the rows to f as an array literal:
 * {1,NULL,"a \"quoted\" text"}. */
static void array_literal(FILE *f, const struct db_val *p, uint32_t width, uint32_t rows,
                          uint32_t col, char type)
{
    fputc('{', f);
    for (uint32_t r = 0; r < rows; r++) {
        const struct db_val *v = &p[(size_t)r * width + col];
        LY_ASSERT(v->type != (type == 'i' ? DB_TEXT : DB_INT)); /* db.c keeps to types */
        if (r > 0)
            fputc(',', f);
        if (v->type == DB_NULL) {
            fputs("NULL", f);
        } else if (v->type == DB_INT) {
            fprintf(f, "%" PRId64, v->i);
        } else {
            fputc('"', f);
            for (const char *c = v->s; *c; c++) {
                if (*c == '"' || *c == '\\')
                    fputc('\\', f);
                fputc(*c, f);
            }
            fputc('"', f);
        }
    }
    fputc('}', f);
}

/* Sends the rows as one array parameter per column, unnested into rows on
 * the server: "head SELECT * FROM unnest($1::bigint[], $2::text[], ...)
 * tail". One short statement whatever the number of rows, parsed fast (a
 * VALUES list of thousands of parameters costs the server more to plan
 * than to execute). */
static int pg_exec_rows(struct db *db, const char *head, const char *tail, const char *types,
                        const struct db_val *params, uint32_t rows, db_row_fn fn, void *ctx,
                        struct db_error *err)
{
    uint32_t width = (uint32_t)strlen(types);
    LY_ASSERT(width > 0 && width <= PG_COLS_MAX);
    char *sql = NULL, *arrays[PG_COLS_MAX] = {NULL};
    size_t sql_len = 0, array_len[PG_COLS_MAX];
    struct db_val vals[PG_COLS_MAX];
    FILE *q = open_memstream(&sql, &sql_len);
    LY_ALLOC_CHECK(q != NULL);
    fprintf(q, "%s SELECT * FROM unnest(", head);
    for (uint32_t c = 0; c < width; c++) {
        FILE *f = open_memstream(&arrays[c], &array_len[c]);
        LY_ALLOC_CHECK(f != NULL);
        array_literal(f, params, width, rows, c, types[c]);
        int closed = fclose(f);
        LY_ALLOC_CHECK(closed == 0);
        vals[c] = (struct db_val){.type = DB_TEXT, .s = arrays[c]};
        LY_ASSERT(types[c] == 'i' || types[c] == 't');
        fprintf(q, "%s$%u::%s[]", c ? ", " : "", c + 1, types[c] == 'i' ? "bigint" : "text");
    }
    fprintf(q, ")%s", tail);
    int closed = fclose(q);
    LY_ALLOC_CHECK(closed == 0);
    int rc = run((struct db_pg *)db, sql, vals, width, fn, ctx, err);
    for (uint32_t c = 0; c < width; c++)
        free(arrays[c]);
    free(sql);
    return rc;
}

static int pg_script(struct db *db, const char *sql, struct db_error *err)
{
    struct db_pg *d = (struct db_pg *)db;
    PGresult *res = PQexec(d->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                 ? 0
                 : fail_pg(err, "script", res ? PQresultErrorMessage(res)
                                              : PQerrorMessage(d->conn));
    PQclear(res);
    return rc;
}

static void pg_close(struct db *db)
{
    struct db_pg *d = (struct db_pg *)db;
    PQfinish(d->conn);
    free(d);
}

/* Notices ("relation already exists, skipping") are not errors: drop them
 * instead of letting libpq print them. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static struct db *pg_open(const char *url, enum db_role role, uint32_t timeout_ms,
                          struct db_error *err)
{
    struct db_pg *d = calloc(1, sizeof *d);
    LY_ALLOC_CHECK(d != NULL);
    d->base.ops = &db_pg_ops;
    char connect_s[16], options[64];
    uint32_t secs = (timeout_ms + 999) / 1000;
    snprintf(connect_s, sizeof connect_s, "%u", secs < PG_CONNECT_S_MIN ? PG_CONNECT_S_MIN : secs);
    snprintf(options, sizeof options, "-c statement_timeout=%u", timeout_ms);
    /* The URL first (expand_dbname), so that the settings after it win. */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
    const char *vals[] = {url, connect_s, "loyalty-ledger", role == DB_READER ? options : "",
                          NULL};
    d->conn = PQconnectdbParams(keys, vals, 1);
    if (d->conn == NULL || PQstatus(d->conn) != CONNECTION_OK) {
        fail_pg(err, "cannot connect", d->conn ? PQerrorMessage(d->conn) : "out of memory");
        pg_close(&d->base);
        return NULL;
    }
    PQsetNoticeProcessor(d->conn, quiet, NULL);
    return &d->base;
}

const struct db_ops db_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_rows = pg_exec_rows,
    .script = pg_script,
    .begin_sql = "BEGIN",
    .lock_schema_sql = "LOCK TABLE schema_version IN EXCLUSIVE MODE",
    .keyed_table = "",
};
