#!/usr/bin/env bash
# bench/ledger/run.sh - loyalty-ledger's write throughput into SQLite and
# PostgreSQL, each against a bare INSERT loop of the same rows in the same
# run, then end to end (Redis -> the loyalty-ledger binary -> database).
# Appends a dated "Ledger" section to bench/RESULTS.md with the figures and
# this command. bench/run.sh calls it last; it runs alone as well.
#
# What it starts, all stopped by pid at the end: a PostgreSQL 15 cluster
# (initdb in a temporary directory owned by the postgres system user, the
# server run as that user through setpriv, a free loopback port, default
# settings: fsync on, synchronous_commit on) and a redis-server (loopback,
# free port, no persistence). SQLite files go to the same temporary
# directory, in WAL mode with synchronous=FULL as the ledger runs them.
#
# Knobs (defaults in brackets):
#   LEDGER_EVENTS [200000]   events per run (0: skip the ledger benchmark)
#   LEDGER_MEMBERS [100000]  members the events are spread over
#   LEDGER_BATCH [1000]      entries per transaction (batch_entries_max)
#   PG_BIN [/usr/lib/postgresql/15/bin]
#   RESULTS [bench/RESULTS.md]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$top/build-release"
results=${RESULTS:-$top/bench/RESULTS.md}
events=${LEDGER_EVENTS:-200000}
members=${LEDGER_MEMBERS:-100000}
batch=${LEDGER_BATCH:-1000}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
TARGET_PER_S=50000  # events/s into each database (issue 19)
READY_WAIT_S=30

[ "$events" -gt 0 ] || { echo "ledger bench: LEDGER_EVENTS=0, skipped" >&2; exit 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ledger-bench.XXXXXX")
chmod 755 "$tmp"
pg_pid=""
redis_pid=""

step() { printf '[ledger/run.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

stop_pid() { # pid [signal]: TERM (or the signal), then KILL after 15 s
    local pid=$1 sig=${2:-TERM} i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    stop_pid "$pg_pid" INT # a fast shutdown
    stop_pid "$redis_pid"
    if [ "$rc" -ne 0 ]; then
        step "failed (exit $rc); logs:"
        tail -n 20 "$tmp"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        listening "$port" || { echo "$port"; return; }
    done
}

wait_listening() { # pid port
    local i
    for ((i = 0; i < READY_WAIT_S * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return 1
        listening "$2" && return 0
        sleep 0.1
    done
    return 1
}

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

step "building (Release) in $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_ledger loyalty-ledger >/dev/null

step "starting PostgreSQL and Redis"
install -d -o postgres -g postgres "$tmp/pg"
as_postgres "$pg_bin/initdb" -D "$tmp/pg/data" -U postgres -A trust -E UTF8 >"$tmp/initdb.log"
pg_port=$(free_port)
as_postgres "$pg_bin/postgres" -D "$tmp/pg/data" -p "$pg_port" -k "$tmp/pg" \
    -c listen_addresses=127.0.0.1 >"$tmp/postgres.log" 2>&1 &
pg_pid=$!
wait_listening "$pg_pid" "$pg_port" || { step "postgres did not start"; exit 1; }
for ((i = 0; i < READY_WAIT_S * 10; i++)); do
    pg_isready -q -h 127.0.0.1 -p "$pg_port" && break
    sleep 0.1
done
pg_url() { echo "postgresql://postgres@127.0.0.1:$pg_port/$1"; }
for db in store bare e2e; do
    psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -c "CREATE DATABASE $db" postgres
done
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly no --save "" --dir "$tmp" \
    --logfile "$tmp/redis.log" --daemonize no &
redis_pid=$!
wait_listening "$redis_pid" "$redis_port" || { step "redis did not start"; exit 1; }

declare -A r
read_results() { local key value; while read -r _ key value; do r[$key]=$value; done \
    < <(grep '^result ' "$1"); }

common=(--events "$events" --members "$members" --batch "$batch")
step "SQLite: the ledger's path and the bare INSERT loop ($events events)"
"$build/bench/ledger/bench_ledger" "${common[@]}" --database "sqlite://$tmp/store.db" \
    --bare-database "sqlite://$tmp/bare.db" >"$tmp/sqlite.out"
read_results "$tmp/sqlite.out"
step "PostgreSQL: the ledger's path and the bare INSERT loop"
"$build/bench/ledger/bench_ledger" "${common[@]}" --database "$(pg_url store)" \
    --bare-database "$(pg_url bare)" >"$tmp/pg.out"
read_results "$tmp/pg.out"
step "end to end: Redis -> loyalty-ledger -> SQLite, then -> PostgreSQL"
redis-cli -p "$redis_port" DEL bench:out >/dev/null
"$build/bench/ledger/bench_ledger" "${common[@]}" --e2e --database "sqlite://$tmp/e2e.db" \
    --redis "127.0.0.1:$redis_port" --ledger "$build/clients/ledger/loyalty-ledger" \
    --http-port "$(free_port)" >"$tmp/e2e-sqlite.out"
read_results "$tmp/e2e-sqlite.out"
redis-cli -p "$redis_port" DEL bench:out >/dev/null
"$build/bench/ledger/bench_ledger" "${common[@]}" --e2e --database "$(pg_url e2e)" \
    --redis "127.0.0.1:$redis_port" --ledger "$build/clients/ledger/loyalty-ledger" \
    --http-port "$(free_port)" >"$tmp/e2e-pg.out"
read_results "$tmp/e2e-pg.out"

verdict() { awk -v v="$1" -v t="$TARGET_PER_S" 'BEGIN { print (v >= t ? "met" : "missed") }'; }
rate() { awk -v v="$1" 'BEGIN { printf "%.1fk/s", v / 1000 }'; }

step "appending to $results"
{
    printf '\n## Ledger (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'Command: `LEDGER_EVENTS=%s LEDGER_MEMBERS=%s LEDGER_BATCH=%s bench/ledger/run.sh`\n' \
        "$events" "$members" "$batch"
    printf '(commit %s; %s, %s cores, load average %s). Target: >= 50k events/s into each\n' \
        "$(git -C "$top" rev-parse --short HEAD)" "$(uname -m)" "$(nproc)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'database. Events: output events as the daemon encodes them, 70%% points.changed,\n'
    printf 'over %s members; batches of %s entries, one transaction each. "store" is the\n' \
        "$members" "$batch"
    printf "ledger's whole write path in process (decode, JSON body, insert, FIFO lots, flows,\n"
    printf 'progress); "bare" inserts the very same rows with the same INSERT, in transactions\n'
    printf 'of the same size, and nothing else; "end to end" is the loyalty-ledger binary\n'
    printf 'reading them from a Redis stream until every entry is acknowledged (= committed).\n\n'
    printf '| database | store | bare INSERT loop | store / bare | end to end | target |\n'
    printf '| --- | --- | --- | --- | --- | --- |\n'
    for be in sqlite postgresql; do
        low=${r[$be.store_per_s]}
        if awk -v a="${r[$be.e2e_per_s]}" -v b="$low" 'BEGIN { exit !(a < b) }'; then
            low=${r[$be.e2e_per_s]}
        fi
        printf '| %s | %s | %s | %s | %s | %s |\n' "$be" "$(rate "${r[$be.store_per_s]}")" \
            "$(rate "${r[$be.bare_per_s]}")" "${r[$be.store_over_bare]}" \
            "$(rate "${r[$be.e2e_per_s]}")" "$(verdict "$low")"
    done
    printf '\nSQLite: WAL, synchronous=FULL (an fsync a commit). PostgreSQL 15: default settings\n'
    printf '(fsync on, synchronous_commit on), on the same machine, over TCP loopback.\n'
} >>"$results"
step "done"
