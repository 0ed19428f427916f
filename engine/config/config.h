/* config.h - the daemon's configuration file (libconfig syntax).
 *
 * config_load reads conf/loyaltyd.conf-style files: a `daemon` group (where
 * to connect, batch sizes, intervals) and the rulebook groups (`earning`,
 * `tiers`, `rewards`, `expiry`, `refunds`, `idempotency`), each optional,
 * a feature left out being off. Every value is validated; unknown settings
 * are errors (a typo must not silently fall back to a default). Errors name
 * the file, the line and the problem.
 */
#ifndef LOYALTY_CONFIG_H
#define LOYALTY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "cfgparse.h"
#include "partition.h"
#include "rulebook.h"

#define CONFIG_PATH_MAX 1024
#define CONFIG_KEY_MAX 64 /* prefix, group and consumer names */
#define CONFIG_SECRET_MAX 256 /* passwords and tokens */
#define CONFIG_CURRENCY_MAX 8 /* a currency's name: ISO 4217 codes have 3 letters */
/* liability_value_minor at most: a point worth a million currency units is
 * no loyalty point; points * value then fits 128 bits with ease. */
#define CONFIG_VALUE_MINOR_MAX 100000000
/* daemon.batches_in_flight at most: two keep Redis and the daemon busy at
 * the same time; more only add memory and latency. */
#define CONFIG_BATCHES_IN_FLIGHT_MAX 8

/* expiry_months_max by default: two years of expiry lots per member (200
 * bytes), room to lengthen a one-year expiry without a restart. */
#define CONFIG_EXPIRY_MONTHS_MAX_DEFAULT 24

/* How the snapshot writer is scheduled (snapshot_priority; snapper.c says
 * what each costs and guarantees). */
enum config_snap_priority {
    CONFIG_SNAP_IDLE,   /* "idle": SCHED_IDLE, idle I/O class */
    CONFIG_SNAP_LOW,    /* "low": SCHED_OTHER nice 19, lowest best-effort I/O */
    CONFIG_SNAP_NORMAL, /* "normal": as the daemon */
};

struct config {
    struct config_endpoint redis;
    struct config_endpoint http;
    char data_dir[CONFIG_PATH_MAX + 1];
    char prefix[CONFIG_KEY_MAX + 1];   /* stream names: <prefix>in, ... */
    char group[CONFIG_KEY_MAX + 1];    /* consumer group on <prefix>in */
    char consumer[CONFIG_KEY_MAX + 1]; /* this daemon's consumer name */
    uint32_t batch_entries_max;        /* entries per read */
    uint32_t batches_in_flight;        /* batches read before the first is confirmed */
    uint32_t block_ms;                 /* XREAD BLOCK */
    uint32_t tick_interval_ms;         /* 0: the daemon appends no ticks */
    uint64_t out_maxlen;               /* ~MAXLEN of <prefix>out; 0: none */
    uint32_t members_max;              /* enrolments beyond go to the DLQ */
    uint32_t reconnect_max_ms;         /* backoff ceiling */
    uint32_t snapshot_every_entries;   /* 0: not by count */
    uint32_t snapshot_every_ms;        /* 0: not by time */
    uint32_t snapshot_keep;            /* snapshots kept, >= 1 */
    enum config_snap_priority snapshot_priority; /* the writer's scheduling (snapper.c) */
    uint32_t snapshot_deadline_ms;     /* a writer still running after it is replaced
                                        * by one at normal priority; 0: never */
    uint32_t snapshot_write_delay_ms;  /* testing aid: the writer holds its temp file
                                        * this long before writing; 0 in production */
    bool trim_input;                   /* XTRIM <prefix>in below the oldest kept */
    uint32_t expiry_months_max;        /* the most expiry.months a rulebook may set:
                                        * sizes every member's expiry lots */
    bool append_file_rulebook;         /* at start and on SIGHUP, make the file's
                                        * rulebook the version in force (rulesync.h) */
    bool archive;                      /* archive what is trimmed (DATA/archive) */
    uint32_t archive_keep_days;        /* delete archive segments older; 0: keep all */
    uint64_t archive_keep_bytes;       /* and beyond this size; 0: no limit */
    char redis_user[CONFIG_KEY_MAX + 1];       /* ACL user; empty: AUTH password only */
    char redis_password[CONFIG_SECRET_MAX + 1]; /* empty: no AUTH */
    char redis_password_env[CONFIG_KEY_MAX + 1]; /* read the password from this variable */
    char http_token[CONFIG_SECRET_MAX + 1];    /* bearer token; empty: none */
    char http_token_env[CONFIG_KEY_MAX + 1];   /* read the token from this variable */
    uint32_t partitions;               /* P: the program's partitions (README Scaling out) */
    uint32_t serve_count;              /* partitions this daemon serves; 0: all of them */
    uint16_t serve[PARTITION_COUNT_MAX]; /* ascending, each < partitions */
    bool cluster;                      /* `redis` is a seed node of a Redis Cluster */
    uint32_t wait_replicas;            /* WAIT for this many replicas after a commit */
    uint32_t wait_timeout_ms;          /* ... at most this long */
    struct config_endpoint ledger;              /* loyalty-ledger's HTTP; port 0: none */
    char ledger_token[CONFIG_SECRET_MAX + 1];   /* its bearer token; empty: none */
    char ledger_token_env[CONFIG_KEY_MAX + 1];  /* read it from this variable */
    uint64_t liability_value_minor;  /* the liability's money value: this many minor
                                      * units (0: not valued) ... */
    uint32_t liability_value_points; /* ... per this many points (>= 1) */
    char liability_currency[CONFIG_CURRENCY_MAX + 1]; /* its name, e.g. "EUR" */
    struct rulebook rules;
};

/* Fills `*cfg` with the built-in defaults (documented in
 * conf/loyaltyd.conf). Never fails. */
void config_defaults(struct config *cfg);

/* Loads and validates `path` over the defaults already in `*cfg`. Returns
 * 0, or -1 with err->text = "PATH:LINE: problem" (LINE is the line of the
 * offending setting, or of the syntax error). */
int config_load(struct config *cfg, const char *path, struct config_error *err);

/* Final checks once the file and the command line are in: secrets named
 * by *_env settings are read from the environment (an unset variable is
 * an error), and HTTP bound to anything but loopback requires a token.
 * Returns 0, or -1 with err->text set. */
int config_finish(struct config *cfg, struct config_error *err);

/* Parses a set of partitions ("0-7,12,20-23"; "all": every one) among
 * `partitions` into out[0..*count), ascending and without repeats. Returns
 * 0, or -1 with the problem in why[0..cap). */
int config_parse_serve(const char *text, uint32_t partitions, uint16_t *out, uint32_t *count,
                       char *why, size_t cap);

/* The key prefix of partition `p` into buf[0..cap): cfg->prefix itself
 * when the program has one partition, else "<prefix>{p}:" (a hash tag:
 * all keys of a partition share one Redis Cluster slot). */
void config_partition_prefix(const struct config *cfg, uint32_t p, char *buf, size_t cap);

/* True when `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
bool config_is_loopback(const char *host);

#endif
