/* lconf.h - the ledger's configuration: one `ledger` section in libconfig
 * syntax (conf/ledger.conf is the documented example).
 *
 * Every setting has a default; unknown settings, wrong types, values out of
 * range and malformed addresses or URLs are errors that name the file and
 * line ("ledger.conf:12: block_ms: 0 is outside 1..60000"). Secrets can come
 * from environment variables instead of the file. HTTP bound beyond
 * loopback requires a token. Errors go into a struct lconf_error the caller
 * owns; nothing here prints or exits.
 */
#ifndef LOYALTY_LEDGER_LCONF_H
#define LOYALTY_LEDGER_LCONF_H

#include <stdbool.h>
#include <stdint.h>

#define LCONF_HOST_MAX 255      /* a DNS name is at most 253 bytes */
#define LCONF_KEY_MAX 64        /* prefix, group, consumer: the daemon's CONFIG_KEY_MAX */
#define LCONF_SECRET_MAX 256    /* passwords and tokens, as the daemon */
#define LCONF_URL_MAX 1024      /* a database URL with host, user, password and options */
#define LCONF_PATH_MAX 4096     /* PATH_MAX on Linux */
#define LCONF_PREFIXES_MAX 64   /* partitions one ledger follows (DESIGN.md: P = 64) */
#define LCONF_ERROR_MAX 600     /* a path, a line number and a sentence */
#define LCONF_FILE_MAX (1 << 20) /* the file is a few hundred bytes; refuse anything huge */

struct lconf_error {
    char text[LCONF_ERROR_MAX];
};

struct lconf_endpoint {
    char host[LCONF_HOST_MAX + 1];
    int port; /* 1..65535 */
};

struct lconf {
    struct lconf_endpoint redis;
    char redis_user[LCONF_KEY_MAX + 1];
    char redis_password[LCONF_SECRET_MAX + 1];
    char redis_password_env[LCONF_KEY_MAX + 1];
    char prefixes[LCONF_PREFIXES_MAX][LCONF_KEY_MAX + 1]; /* stream <prefix>out each */
    uint32_t prefix_count;                                /* 1..LCONF_PREFIXES_MAX */
    char group[LCONF_KEY_MAX + 1];
    char consumer[LCONF_KEY_MAX + 1];
    char database[LCONF_URL_MAX + 1]; /* sqlite:///path or postgresql://... */
    char database_env[LCONF_KEY_MAX + 1];
    struct lconf_endpoint http;
    char http_token[LCONF_SECRET_MAX + 1];
    char http_token_env[LCONF_KEY_MAX + 1];
    uint32_t batch_entries_max; /* entries per read and per transaction */
    uint32_t block_ms;          /* XREADGROUP BLOCK */
    uint32_t retry_max_ms;      /* longest wait between retries (Redis, database) */
    uint32_t db_timeout_ms;     /* busy / connect / statement timeout of reads */
    uint32_t wallet_cache_members; /* wallets the writer keeps in memory (wcache.h) */
};

/* Sets every default: Redis and HTTP on loopback (6379, 8091), prefix
 * "loyalty:", group "ledger", consumer "ledger-1", database
 * "sqlite://./ledger.db", 1000 entries a batch, 1000 ms blocks, retries up
 * to 5000 ms apart, reads time out after 2000 ms, 250000 wallets cached. */
void lconf_defaults(struct lconf *cfg);

/* Reads `path` over the values in *cfg (defaults first). Returns 0, or -1
 * with err naming the file, the line and the problem. */
int lconf_load(struct lconf *cfg, const char *path, struct lconf_error *err);

/* Parses "HOST:PORT" into *ep. Returns 0, or -1 with err set. */
int lconf_parse_endpoint(const char *s, struct lconf_endpoint *ep, struct lconf_error *err);

/* Checks a database URL: "sqlite://" followed by a path, or
 * "postgresql://" / "postgres://" followed by anything libpq accepts.
 * Returns 0, or -1 with err set. */
int lconf_check_database(const char *url, struct lconf_error *err);

/* After the file and any command-line overrides: fills secrets and the
 * database URL from their environment variables where named, and checks
 * what involves more than one setting (a token when HTTP is not on
 * loopback, a password with a Redis user). Returns 0, or -1 with err set. */
int lconf_finish(struct lconf *cfg, struct lconf_error *err);

#endif
