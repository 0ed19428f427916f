/* db.c - see db.h: the schema, its migrations and every statement. */
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backend.h"
#include "lyassert.h"

/* ---- schema ------------------------------------------------------------ */

/* MIGRATIONS[v - 1] takes the schema from version v - 1 to v. Types are the
 * ones both backends know (SQLite reads BIGINT as INTEGER affinity). A
 * migration, once released, never changes: add the next one. KEYED marks
 * the small tables looked up by their primary key only, which SQLite then
 * stores in the key's own B-tree (WITHOUT ROWID: one tree to write, not
 * two); db_ops.keyed_table says what it becomes. */
#define KEYED "\x01"
static const char *const MIGRATIONS[DB_SCHEMA_VERSION] = {
    "CREATE TABLE streams ("
    " part INTEGER PRIMARY KEY,"
    " stream TEXT NOT NULL UNIQUE,"
    " last_ms BIGINT NOT NULL DEFAULT 0,"
    " last_seq BIGINT NOT NULL DEFAULT 0,"
    " clock_ms BIGINT NOT NULL DEFAULT 0,"
    " rules TEXT);"
    "CREATE TABLE events ("
    " part INTEGER NOT NULL,"
    " entry_ms BIGINT NOT NULL,"
    " entry_seq BIGINT NOT NULL,"
    " event_id TEXT,"
    " src TEXT,"
    " kind TEXT NOT NULL,"
    " member TEXT,"
    " ts BIGINT,"
    " cause TEXT,"
    " delta BIGINT,"
    " balance BIGINT,"
    " month INTEGER NOT NULL,"
    " rules TEXT,"
    " problem TEXT,"
    " body TEXT NOT NULL,"
    " PRIMARY KEY (part, entry_ms, entry_seq));"
    "CREATE INDEX events_member ON events (member, entry_ms, entry_seq);"
    "CREATE TABLE lots ("
    " member TEXT NOT NULL,"
    " month INTEGER NOT NULL,"
    " points BIGINT NOT NULL,"
    " PRIMARY KEY (member, month))" KEYED ";"
    "CREATE TABLE cohort_flows ("
    " cohort INTEGER NOT NULL,"
    " month INTEGER NOT NULL,"
    " cause TEXT NOT NULL,"
    " points_in BIGINT NOT NULL,"
    " points_out BIGINT NOT NULL,"
    " PRIMARY KEY (cohort, month, cause))" KEYED ";",
};

void db_fail(struct db_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

static struct db_val int_val(int64_t i)
{
    return (struct db_val){.type = DB_INT, .i = i};
}

/* Text, or NULL for a NULL pointer. */
static struct db_val text_val(const char *s)
{
    return s ? (struct db_val){.type = DB_TEXT, .s = s} : (struct db_val){.type = DB_NULL};
}

struct db *db_open(const char *url, enum db_role role, uint32_t timeout_ms,
                   struct db_error *err)
{
    memset(err, 0, sizeof *err);
    if (strncmp(url, "sqlite://", 9) == 0)
        return db_sqlite_ops.open(url + 9, role, timeout_ms, err);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return db_pg_ops.open(url, role, timeout_ms, err);
    db_fail(err, "not a database URL (sqlite:// or postgresql://)");
    err->fatal = true;
    return NULL;
}

void db_close(struct db *db)
{
    if (db)
        db->ops->close(db);
}

const char *db_backend(const struct db *db)
{
    return db->ops->name;
}

static int exec(struct db *db, const char *sql, const struct db_val *p, uint32_t n,
                db_row_fn fn, void *ctx, struct db_error *err)
{
    return db->ops->exec(db, sql, p, n, fn, ctx, err);
}

static int one_int(void *ctx, const struct db_val *cols, uint32_t n, struct db_error *err)
{
    (void)err;
    LY_ASSERT(n == 1);
    *(int64_t *)ctx = cols[0].type == DB_INT ? cols[0].i : 0;
    return 0;
}

int db_schema_version(struct db *db, int64_t *out, struct db_error *err)
{
    *out = 0;
    if (exec(db, "SELECT max(version) FROM schema_version", NULL, 0, one_int, out, err) != 0) {
        char why[DB_ERROR_MAX];
        memcpy(why, err->text, sizeof why);
        db_fail(err, "no ledger schema here (has loyalty-ledger written to this database?): "
                     "%.300s", why);
        return -1;
    }
    return 0;
}

static int refuse_newer(int64_t have, struct db_error *err)
{
    db_fail(err, "the database schema is version %lld, newer than this loyalty-ledger "
                 "understands (%d): upgrade loyalty-ledger, or point it at another database",
            (long long)have, DB_SCHEMA_VERSION);
    err->fatal = true;
    return -1;
}

/* Runs migration script `sql` with KEYED replaced by the backend's words. */
static int run_migration(struct db *db, const char *sql, struct db_error *err)
{
    const char *keyed = db->ops->keyed_table;
    size_t marks = 0;
    for (const char *p = sql; *p; p++)
        marks += *p == KEYED[0];
    char *text = malloc(strlen(sql) + marks * strlen(keyed) + 1);
    LY_ALLOC_CHECK(text != NULL);
    char *o = text;
    for (const char *p = sql; *p; p++) {
        if (*p == KEYED[0]) {
            memcpy(o, keyed, strlen(keyed));
            o += strlen(keyed);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    int rc = db->ops->script(db, text, err);
    free(text);
    return rc;
}

/* Applies the migrations after `have`, in one transaction with the lock
 * that keeps two writers from migrating at once. */
static int migrate(struct db *db, struct db_error *err)
{
    int64_t have = 0;
    if (db->ops->script(db, "CREATE TABLE IF NOT EXISTS schema_version "
                            "(version INTEGER NOT NULL)", err) != 0 ||
        exec(db, db->ops->begin_sql, NULL, 0, NULL, NULL, err) != 0)
        return -1;
    if ((db->ops->lock_schema_sql &&
         exec(db, db->ops->lock_schema_sql, NULL, 0, NULL, NULL, err) != 0) ||
        db_schema_version(db, &have, err) != 0)
        goto fail;
    if (have > DB_SCHEMA_VERSION) {
        refuse_newer(have, err);
        goto fail;
    }
    for (int64_t v = have + 1; v <= DB_SCHEMA_VERSION; v++) {
        struct db_val p = int_val(v);
        if (run_migration(db, MIGRATIONS[v - 1], err) != 0 ||
            exec(db, "DELETE FROM schema_version", NULL, 0, NULL, NULL, err) != 0 ||
            exec(db, "INSERT INTO schema_version (version) VALUES ($1)", &p, 1, NULL, NULL,
                 err) != 0)
            goto fail;
    }
    return exec(db, "COMMIT", NULL, 0, NULL, NULL, err);
fail:
    db_rollback(db);
    return -1;
}

int db_prepare_schema(struct db *db, enum db_role role, struct db_error *err)
{
    if (role == DB_WRITER)
        return migrate(db, err);
    int64_t have = 0;
    if (db_schema_version(db, &have, err) != 0)
        return -1;
    if (have > DB_SCHEMA_VERSION)
        return refuse_newer(have, err);
    if (have < DB_SCHEMA_VERSION) {
        db_fail(err, "the database schema is version %lld, this loyalty-ledger needs %d: "
                     "start the ledger's writer once to migrate it", (long long)have,
                DB_SCHEMA_VERSION);
        return -1;
    }
    return 0;
}

/* ---- streams ----------------------------------------------------------- */

static const char STREAMS_SQL[] =
    "SELECT part, stream, last_ms, last_seq, clock_ms, rules FROM streams ORDER BY part";

/* Copies a stream row into a struct db_stream. */
static int stream_of_row(const struct db_val *c, uint32_t n, struct db_stream *s,
                         struct db_error *err)
{
    LY_ASSERT(n == 6);
    if (c[0].type != DB_INT || c[1].type != DB_TEXT || c[2].type != DB_INT || c[2].i < 0 ||
        c[3].type != DB_INT || c[3].i < 0 || c[4].type != DB_INT ||
        strlen(c[1].s) > DB_STREAM_KEY_MAX ||
        (c[5].type == DB_TEXT && strlen(c[5].s) > PROTO_OUT_TEXT_MAX)) {
        db_fail(err, "table streams holds a row this ledger did not write");
        err->fatal = true;
        return -1;
    }
    memset(s, 0, sizeof *s);
    s->part = (uint32_t)c[0].i;
    snprintf(s->key, sizeof s->key, "%s", c[1].s);
    s->last = (struct proto_id){(uint64_t)c[2].i, (uint64_t)c[3].i};
    s->clock_ms = c[4].i;
    if (c[5].type == DB_TEXT)
        snprintf(s->rules, sizeof s->rules, "%s", c[5].s);
    return 0;
}

struct stream_load {
    const char *const *keys;
    uint32_t n;
    struct db_stream *out;
    bool *found;
    int64_t max_part;
};

static int stream_row(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    struct stream_load *l = ctx;
    struct db_stream s;
    if (stream_of_row(c, n, &s, err) != 0)
        return -1;
    if ((int64_t)s.part > l->max_part)
        l->max_part = s.part;
    for (uint32_t i = 0; i < l->n; i++) {
        if (strcmp(l->keys[i], s.key) == 0) {
            l->out[i] = s;
            l->found[i] = true;
        }
    }
    return 0;
}

int db_load_streams(struct db *db, const char *const *keys, uint32_t n, struct db_stream *out,
                    struct db_error *err)
{
    bool *found = calloc(n ? n : 1, sizeof *found);
    LY_ALLOC_CHECK(found != NULL);
    struct stream_load l = {keys, n, out, found, 0};
    if (exec(db, db->ops->begin_sql, NULL, 0, NULL, NULL, err) != 0) {
        free(found);
        return -1;
    }
    if (exec(db, STREAMS_SQL, NULL, 0, stream_row, &l, err) != 0)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        if (found[i])
            continue;
        LY_ASSERT(strlen(keys[i]) <= DB_STREAM_KEY_MAX);
        memset(&out[i], 0, sizeof out[i]);
        out[i].part = (uint32_t)++l.max_part;
        snprintf(out[i].key, sizeof out[i].key, "%s", keys[i]);
        struct db_val p[2] = {int_val(out[i].part), text_val(keys[i])};
        if (exec(db, "INSERT INTO streams (part, stream) VALUES ($1, $2)", p, 2, NULL, NULL,
                 err) != 0)
            goto fail;
    }
    free(found);
    return exec(db, "COMMIT", NULL, 0, NULL, NULL, err);
fail:
    free(found);
    db_rollback(db);
    return -1;
}

int db_save_streams(struct db *db, const struct db_stream *streams, uint32_t n,
                    struct db_error *err)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct db_stream *s = &streams[i];
        struct db_val p[5] = {int_val(s->part), int_val((int64_t)s->last.ms),
                              int_val((int64_t)s->last.seq), int_val(s->clock_ms),
                              text_val(s->rules[0] ? s->rules : NULL)};
        if (exec(db, "UPDATE streams SET last_ms = $2, last_seq = $3, clock_ms = $4, "
                     "rules = $5 WHERE part = $1", p, 5, NULL, NULL, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- transactions ------------------------------------------------------ */

int db_begin(struct db *db, struct db_error *err)
{
    return exec(db, db->ops->begin_sql, NULL, 0, NULL, NULL, err);
}

int db_commit(struct db *db, struct db_error *err)
{
    return exec(db, "COMMIT", NULL, 0, NULL, NULL, err);
}

void db_rollback(struct db *db)
{
    struct db_error ignored;
    exec(db, "ROLLBACK", NULL, 0, NULL, NULL, &ignored);
}

/* ---- events ------------------------------------------------------------ */

#define EVENT_COLS 15
/* The columns' types as event_params gives them (db_backend.h). */
#define EVENT_TYPES "iiittttitiiittt"
_Static_assert(sizeof EVENT_TYPES - 1 == EVENT_COLS, "a type for every column");

/* A row's key and its place in the batch, sorted to find which rows
 * RETURNING named. */
struct row_key {
    int64_t part, ms, seq;
    uint32_t idx;
};

struct inserted_map {
    const struct row_key *keys;
    uint32_t n;
    bool *inserted;
};

static int key_cmp(const struct row_key *a, const struct row_key *b)
{
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

static int key_qsort_cmp(const void *a, const void *b)
{
    return key_cmp(a, b);
}

static int returned_row(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    struct inserted_map *m = ctx;
    LY_ASSERT(n == 3);
    if (c[0].type != DB_INT || c[1].type != DB_INT || c[2].type != DB_INT) {
        db_fail(err, "INSERT ... RETURNING gave a row of the wrong types");
        return -1;
    }
    struct row_key want = {c[0].i, c[1].i, c[2].i, 0};
    const struct row_key *k = bsearch(&want, m->keys, m->n, sizeof *m->keys, key_qsort_cmp);
    if (k == NULL) {
        db_fail(err, "INSERT ... RETURNING named a row that was not sent");
        return -1;
    }
    m->inserted[k->idx] = true;
    return 0;
}

static void event_params(const struct db_event *r, struct db_val *p)
{
    p[0] = int_val(r->part);
    p[1] = int_val((int64_t)r->entry.ms);
    p[2] = int_val((int64_t)r->entry.seq);
    p[3] = text_val(r->event_id);
    p[4] = text_val(r->src);
    p[5] = text_val(r->kind);
    p[6] = text_val(r->member);
    p[7] = int_val(r->ts);
    p[8] = text_val(r->cause);
    p[9] = r->has_points ? int_val(r->delta) : text_val(NULL);
    p[10] = r->has_balance ? int_val(r->balance) : text_val(NULL);
    p[11] = int_val(r->month);
    p[12] = text_val(r->rules);
    p[13] = text_val(r->problem);
    p[14] = text_val(r->body);
}

int db_insert_events(struct db *db, const struct db_event *rows, uint32_t n, bool *inserted,
                     struct db_error *err)
{
    if (n == 0)
        return 0;
    struct db_val *p = malloc((size_t)n * EVENT_COLS * sizeof *p);
    struct row_key *keys = malloc((size_t)n * sizeof *keys);
    LY_ALLOC_CHECK(p != NULL && keys != NULL);
    for (uint32_t i = 0; i < n; i++) {
        LY_ASSERT(rows[i].entry.ms <= INT64_MAX && rows[i].entry.seq <= INT64_MAX);
        event_params(&rows[i], &p[(size_t)i * EVENT_COLS]);
        keys[i] = (struct row_key){rows[i].part, (int64_t)rows[i].entry.ms,
                                   (int64_t)rows[i].entry.seq, i};
        inserted[i] = false;
    }
    qsort(keys, n, sizeof *keys, key_qsort_cmp);
    struct inserted_map m = {keys, n, inserted};
    int rc = db->ops->exec_rows(
        db,
        "INSERT INTO events (part, entry_ms, entry_seq, event_id, src, kind, member, ts, "
        "cause, delta, balance, month, rules, problem, body)",
        " ON CONFLICT DO NOTHING RETURNING part, entry_ms, entry_seq", EVENT_TYPES, p, n,
        returned_row, &m, err);
    free(keys);
    free(p);
    return rc;
}

/* ---- wallets ----------------------------------------------------------- */

static int lot_row(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    const struct db_wallet_sink *s = ctx;
    LY_ASSERT(n == 3);
    if (c[0].type != DB_TEXT || c[1].type != DB_INT || c[2].type != DB_INT ||
        c[1].i < INT32_MIN || c[1].i > INT32_MAX ||
        s->lot(s->ctx, c[0].s, (int32_t)c[1].i, c[2].i) != 0) {
        db_fail(err, "table lots holds a row this ledger did not write");
        return -1;
    }
    return 0;
}

static struct db_val *member_params(const char *const *members, uint32_t n)
{
    struct db_val *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    LY_ALLOC_CHECK(p != NULL);
    for (uint32_t i = 0; i < n; i++)
        p[i] = text_val(members[i]);
    return p;
}

int db_load_wallets(struct db *db, const char *const *members, uint32_t n,
                    const struct db_wallet_sink *sink, struct db_error *err)
{
    if (n == 0)
        return 0;
    struct db_val *p = member_params(members, n);
    void *ctx = (void *)sink;
    int rc = db->ops->exec_rows(db, "SELECT member, month, points FROM lots WHERE member IN (",
                                ") ORDER BY member, month", "t", p, n, lot_row, ctx, err);
    free(p);
    return rc;
}

/* Lots as (member, month[, points]) parameters. */
static struct db_val *lot_params(const struct db_lot *lots, uint32_t n, uint32_t width)
{
    struct db_val *p = malloc((size_t)(n ? n : 1) * width * sizeof *p);
    LY_ALLOC_CHECK(p != NULL);
    for (uint32_t i = 0; i < n; i++) {
        p[width * i] = text_val(lots[i].member);
        p[width * i + 1] = int_val(lots[i].month);
        if (width == 3)
            p[width * i + 2] = int_val(lots[i].points);
    }
    return p;
}

int db_upsert_lots(struct db *db, const struct db_lot *lots, uint32_t n, struct db_error *err)
{
    if (n == 0)
        return 0;
    struct db_val *p = lot_params(lots, n, 3);
    int rc = db->ops->exec_rows(db, "INSERT INTO lots (member, month, points)",
                                " ON CONFLICT (member, month) DO UPDATE SET points = "
                                "excluded.points", "tii", p, n, NULL, NULL, err);
    free(p);
    return rc;
}

int db_delete_lots(struct db *db, const struct db_lot *lots, uint32_t n, struct db_error *err)
{
    if (n == 0)
        return 0;
    struct db_val *p = lot_params(lots, n, 2);
    int rc = db->ops->exec_rows(db, "DELETE FROM lots WHERE (member, month) IN (", ")", "ti", p, n,
                                NULL, NULL, err);
    free(p);
    return rc;
}

int db_add_flows(struct db *db, const struct db_flow *flows, uint32_t n, struct db_error *err)
{
    if (n == 0)
        return 0;
    struct db_val *p = malloc((size_t)n * 5 * sizeof *p);
    LY_ALLOC_CHECK(p != NULL);
    for (uint32_t i = 0; i < n; i++) {
        p[5 * i] = int_val(flows[i].cohort);
        p[5 * i + 1] = int_val(flows[i].month);
        p[5 * i + 2] = text_val(flows[i].cause);
        p[5 * i + 3] = int_val(flows[i].points_in);
        p[5 * i + 4] = int_val(flows[i].points_out);
    }
    int rc = db->ops->exec_rows(
        db, "INSERT INTO cohort_flows (cohort, month, cause, points_in, points_out)",
        " ON CONFLICT (cohort, month, cause) DO UPDATE SET "
        "points_in = cohort_flows.points_in + excluded.points_in, "
        "points_out = cohort_flows.points_out + excluded.points_out", "iitii", p, n, NULL, NULL,
        err);
    free(p);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

int db_history(struct db *db, const char *member, const struct proto_id *before,
               uint32_t limit, db_row_fn fn, void *ctx, struct db_error *err)
{
    struct proto_id b = before ? *before : (struct proto_id){INT64_MAX, INT64_MAX};
    if (b.ms > INT64_MAX)
        b = (struct proto_id){INT64_MAX, INT64_MAX};
    if (b.seq > INT64_MAX)
        b.seq = INT64_MAX;
    struct db_val p[4] = {text_val(member), int_val((int64_t)b.ms), int_val((int64_t)b.seq),
                          int_val(limit)};
    return exec(db,
                "SELECT part, entry_ms, entry_seq, event_id, src, kind, cause, delta, balance, "
                "ts, rules, problem, body, month FROM events WHERE member = $1 AND "
                "(entry_ms < $2 OR (entry_ms = $2 AND entry_seq < $3)) "
                "ORDER BY entry_ms DESC, entry_seq DESC, part DESC LIMIT $4",
                p, 4, fn, ctx, err);
}

int db_member_lots(struct db *db, const char *member, db_row_fn fn, void *ctx,
                   struct db_error *err)
{
    struct db_val p = text_val(member);
    return exec(db, "SELECT month, points FROM lots WHERE member = $1 ORDER BY month", &p, 1,
                fn, ctx, err);
}

int db_member_known(struct db *db, const char *member, bool *known, struct db_error *err)
{
    struct db_val p = text_val(member);
    int64_t one = 0;
    int rc = exec(db, "SELECT count(*) FROM (SELECT 1 FROM events WHERE member = $1 LIMIT 1) AS e",
                  &p, 1, one_int, &one, err);
    *known = one > 0;
    return rc;
}

int db_flows(struct db *db, db_row_fn fn, void *ctx, struct db_error *err)
{
    return exec(db, "SELECT cohort, month, cause, points_in, points_out FROM cohort_flows "
                    "ORDER BY cohort, month, cause", NULL, 0, fn, ctx, err);
}

struct stream_list {
    struct db_stream *out;
    uint32_t cap;
    uint32_t n;
};

static int listed_stream(void *ctx, const struct db_val *c, uint32_t n, struct db_error *err)
{
    struct stream_list *l = ctx;
    if (l->n == l->cap)
        return 0; /* more streams than asked for: the first ones */
    return stream_of_row(c, n, &l->out[l->n++], err);
}

int db_list_streams(struct db *db, struct db_stream *out, uint32_t cap, uint32_t *n,
                    struct db_error *err)
{
    struct stream_list l = {out, cap, 0};
    int rc = exec(db, STREAMS_SQL, NULL, 0, listed_stream, &l, err);
    *n = l.n;
    return rc;
}
