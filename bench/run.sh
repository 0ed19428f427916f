#!/usr/bin/env bash
# bench/run.sh - build in Release, run both benchmarks, record the figures.
#
# Builds loyaltyd, bench_core and bench_e2e into build-release/, starts a
# throwaway redis-server (loopback, a free port, no persistence: appendonly
# no and no RDB saves, for raw speed) and the daemon (conf/loyaltyd.conf,
# data in a temporary directory), runs bench_core then bench_e2e, stops
# both by pid, and appends a dated section to bench/RESULTS.md: the machine,
# each figure with its same-run baseline and ratio, and the targets met or
# missed. Takes about two minutes on a 2-core machine (five at the most).
#
# Sizes can be changed through the environment (defaults in brackets):
#   CORE_MEMBERS [100000] CORE_ENTRIES [200000] CORE_ROUNDS [7]
#   E2E_MEMBERS [100000] E2E_PURCHASES [500000] E2E_SCANS [10000]
#   RESULTS [bench/RESULTS.md]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build-release"
results=${RESULTS:-$top/bench/RESULTS.md}
core_args=(--members "${CORE_MEMBERS:-100000}" --entries "${CORE_ENTRIES:-200000}"
           --rounds "${CORE_ROUNDS:-7}")
e2e_args=(--members "${E2E_MEMBERS:-100000}" --purchases "${E2E_PURCHASES:-500000}"
          --scans "${E2E_SCANS:-10000}")
# Targets (see the brief in bench/RESULTS.md's header).
TARGET_CORE_PER_S=2000000  # rules_apply per second on one core
TARGET_E2E_PER_S=150000    # purchases per second end to end
TARGET_SCAN_P99_US=1000    # scan -> perk.triggered p99 on loopback
START_TRIES=5              # free ports tried before giving up
READY_WAIT_S=20            # how long redis or the daemon may take to listen

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-bench.XXXXXX")
redis_pid=""
daemon_pid=""

step() { printf '[run.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Stops a process we started, by pid: TERM, then KILL after 15 s.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    stop_pid "$daemon_pid"
    stop_pid "$redis_pid"
    if [ "$rc" -ne 0 ]; then
        step "failed (exit $rc); logs:"
        tail -n 20 "$tmp"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# True when something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on now (the caller still checks that its server
# got it: another process may take it first).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        listening "$port" || { echo "$port"; return; }
    done
}

# Waits until pid $1 listens on port $2; false if it exits or times out.
wait_listening() {
    local pid=$1 port=$2 i
    for ((i = 0; i < READY_WAIT_S * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        listening "$port" && return 0
        sleep 0.1
    done
    return 1
}

start_redis() {
    local try
    for ((try = 0; try < START_TRIES; try++)); do
        redis_port=$(free_port)
        redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly no --save "" \
            --dir "$tmp" --logfile "$tmp/redis.log" --daemonize no &
        redis_pid=$!
        wait_listening "$redis_pid" "$redis_port" && return 0
        stop_pid "$redis_pid"
        redis_pid=""
    done
    step "could not start redis-server"
    return 1
}

start_daemon() {
    local try
    for ((try = 0; try < START_TRIES; try++)); do
        http_port=$(free_port)
        rm -rf "$tmp/data" && mkdir "$tmp/data"
        "$build/engine/loyaltyd" -c "$top/conf/loyaltyd.conf" --redis "127.0.0.1:$redis_port" \
            --http "127.0.0.1:$http_port" --data "$tmp/data" 2>>"$tmp/loyaltyd.log" &
        daemon_pid=$!
        wait_listening "$daemon_pid" "$http_port" && return 0
        stop_pid "$daemon_pid"
        daemon_pid=""
    done
    step "could not start loyaltyd"
    return 1
}

# `result KEY VALUE` lines of the benchmarks, as r[KEY]=VALUE.
declare -A r
read_results() {
    local key value
    while read -r _ key value; do r[$key]=$value; done < <(grep '^result ' "$1")
}

step "1/5 building Release into $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log"
cmake --build "$build" -j "$(nproc)" --target loyaltyd bench_core bench_e2e >>"$tmp/build.log"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
step "2/5 bench_core ${core_args[*]}"
"$build/bench/bench_core" -c "$top/conf/loyaltyd.conf" "${core_args[@]}" | tee "$tmp/core.out"
read_results "$tmp/core.out"

step "3/5 starting redis-server and loyaltyd"
start_redis
start_daemon
step "    redis 127.0.0.1:$redis_port (pid $redis_pid), loyaltyd http :$http_port (pid $daemon_pid)"

step "4/5 bench_e2e ${e2e_args[*]}"
"$build/bench/bench_e2e" --redis "127.0.0.1:$redis_port" --http "127.0.0.1:$http_port" \
    "${e2e_args[@]}" | tee "$tmp/e2e.out"
read_results "$tmp/e2e.out"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# Where Redis spent its time during the run: what the daemon costs it.
redis-cli -h 127.0.0.1 -p "$redis_port" INFO commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),usec_per_call=\([0-9.]*\).*/\1 \2 \3 \4/p' |
    sort -k3,3nr | head -n 6 >"$tmp/redis.stats"
stop_pid "$daemon_pid"
daemon_pid=""
stop_pid "$redis_pid"
redis_pid=""

step "5/5 appending to $results"
# Formatting helpers: k/s and M/s rates, verdicts.
rate() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2fM/s", v / 1e6;
                                  else printf "%.1fk/s", v / 1e3 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
atleast() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "**met**" : "**missed**") }'; }
below() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t ? "**met**" : "**missed**") }'; }

core_row() { # variant label
    local v=$1
    printf '| rules_apply, %s | %s (best round %s) | member lookup only: %s | %sx the lookup time | >= 2M/s per core | %s |\n' \
        "$2" "$(rate "${r[core.$v.apply_per_s]}")" "$(rate "${r[core.$v.apply_best_per_s]}")" \
        "$(rate "${r[core.$v.lookup_per_s]}")" "${r[core.$v.apply_over_lookup]}" \
        "$(atleast "${r[core.$v.apply_per_s]}" "$TARGET_CORE_PER_S")"
    printf '| rules_apply, %s, state just built (txn ring pages not yet resident) | %s | | | | %s |\n' \
        "$2" "$(rate "${r[core.$v.apply_cold_per_s]}")" \
        "$(atleast "${r[core.$v.apply_cold_per_s]}" "$TARGET_CORE_PER_S")"
    printf '| proto_decode, %s | %s (%s MB/s) | | | | |\n' "$2" \
        "$(rate "${r[core.$v.decode_per_s]}")" "${r[core.$v.decode_mb_per_s]}"
}

lat_row() { # name key [target verdict]
    printf '| scan -> perk.triggered %s | %s us | XADD + XREAD round trip: %s us | %s | %s | %s |\n' \
        "$1" "${r[scan.$2_us]}" "${r[echo.$2_us]}" "$(ratio "${r[scan.$2_us]}" "${r[echo.$2_us]}")" \
        "${3:-}" "${4:-}"
}

{
    [ -s "$results" ] || printf '# loyaltyd benchmark results\n\nAppended by bench/run.sh, newest last. Each figure comes with a baseline measured\nin the same run, because this machine is shared and noisy: compare ratios across runs.\nTargets: rule engine >= 2M applies/s per core; end to end >= 150k purchases/s;\nscan -> perk.triggered p99 < 1 ms on loopback.\n'
    printf '\n## bench/run.sh - %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- Code: commit %s' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
    changed=$(git -C "$top" status --porcelain -- engine proto conf 2>/dev/null | wc -l)
    [ "$changed" -eq 0 ] || printf ' plus %s uncommitted or untracked files under engine/ proto/ conf/' "$changed"
    printf '\n- Machine: %s CPUs, %s, Linux %s, %s; load average %s before, %s after\n' \
        "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
        "$(uname -r)" "$(redis-server --version | cut -d' ' -f1-3)" "$load_before" "$load_after"
    printf -- '- Command: `bench/run.sh` = `bench_core -c conf/loyaltyd.conf %s`; `bench_e2e %s` against redis-server (appendonly no, no RDB) and loyaltyd (conf/loyaltyd.conf) on loopback\n\n' \
        "${core_args[*]}" "${e2e_args[*]}"
    printf '| figure | value (median) | baseline, same run | ratio | target | verdict |\n'
    printf '| --- | --- | --- | --- | --- | --- |\n'
    core_row purchase "purchases"
    core_row mix "realistic mix"
    printf '| end to end purchases (first XADD to progress marker) | %s | Redis pipelined XADD of the same entries: %s | %s of the XADD rate | >= 150k/s | %s |\n' \
        "$(rate "${r[e2e.purchases_per_s]}")" "$(rate "${r[e2e.xadd_per_s]}")" "${r[e2e.ratio]}" \
        "$(atleast "${r[e2e.purchases_per_s]}" "$TARGET_E2E_PER_S")"
    printf '| daemon drain after the XADDs ended (mean batch %s entries) | %s | | | | |\n' \
        "${r[e2e.batch_mean]}" "$(rate "${r[e2e.drain_per_s]}")"
    lat_row p50 p50
    lat_row p99 p99 "< 1 ms" "$(below "${r[scan.p99_us]}" "$TARGET_SCAN_P99_US")"
    lat_row p99.9 p99_9
    lat_row max max
    printf '\nRedis command time during bench_e2e (INFO commandstats; EXEC includes the XADDs to\n'
    printf '<prefix>out, the XACK and the SET it carries):\n\n'
    printf '| command | calls | total ms | us per call |\n| --- | --- | --- | --- |\n'
    while read -r cmd calls usec per; do
        printf '| %s | %s | %s | %s |\n' "$cmd" "$calls" "$((usec / 1000))" "$per"
    done <"$tmp/redis.stats"
} >>"$results"
step "done: $results"
