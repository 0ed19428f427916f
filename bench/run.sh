#!/usr/bin/env bash
# bench/run.sh - build in Release, run every benchmark, record the figures.
#
# Builds loyaltyd and the bench programs into build-release/, then:
#  1. bench_core: the rule engine in process, under conf/loyaltyd.conf (the
#     full rulebook) and under a base-rate-only rulebook written to a temp
#     file; then rule cost per entry as members grow (SCALE_MEMBERS).
#  2. bench_mem: resident bytes per member and snapshot figures (write,
#     size, fork() stall, recovery) at MEM_MEMBERS members.
#  3. A throwaway redis-server (loopback, a free port, no persistence) and
#     loyaltyd (conf/loyaltyd.conf, data in a temporary directory):
#     bench_e2e with the purchases preloaded while the daemon is stopped,
#     scan -> perk.triggered latency idle and under background purchases at
#     half the measured capacity, and GET /v1/members/ID under wrk at about
#     HTTP_RATE requests/s.
#  4. Baselines on the same Redis: redis-benchmark -P 64 XADD, and the same
#     preload against bench_bare, the bare consumer (the daemon's reading,
#     batching and commit with one fixed output per entry; fresh keys).
#  5. End to end throughput vs batch_entries_max (BATCH_SIZES), one fresh
#     daemon and fresh keys each; plotted to bench/batch_throughput.png
#     when gnuplot is installed.
#  6. The ledger (bench/ledger/run.sh): loyalty-ledger's writes into SQLite
#     and PostgreSQL vs a bare INSERT loop of the same rows, then end to end;
#     its own "Ledger" section in RESULTS.md. LEDGER_EVENTS=0 skips it.
#  7. The figures of issue 16 at each size of SIZES (bench/issue16.sh):
#     memory per member, recovery, the batch gap during a snapshot (with
#     and without huge pages), the full rulebook vs base-rate-only and vs
#     the lookup, cost per purchase against members, and scan latency
#     while snapshots run on the real daemon (bench/snapscan.sh); its own
#     section and plot (bench/issue16.png). SIZES="" skips it.
#
# The size knob: SIZES ["1m 10m"], member counts with k/m suffixes. 10m
# fits this machine's 24 GB (bench_mem peaks near 10 GB, the daemon and
# Redis of snapscan.sh near 12 GB) and adds about 25 minutes; SIZES=1m
# alone about 5. The heavy steps take turns under /work/heavy.lock when
# that file exists: do not run run.sh itself under that lock.
# Stops everything it started by pid and appends a dated section to
# bench/RESULTS.md: the machine, each figure with its same-run baseline and
# ratio, and the targets met or missed. About 7 minutes on a 2-core machine
# (peak memory about 8 GB: the 10M-member state of the scaling step).
#
# Sizes can be changed through the environment (defaults in brackets):
#   CORE_MEMBERS [100000] CORE_ENTRIES [200000] CORE_ROUNDS [7]
#   SCALE_MEMBERS ["10000 100000 1000000 10000000"] SCALE_ENTRIES [200000]
#   MEM_MEMBERS [1000000] MEM_MONTHS [12] MEM_REPLAY [100000]
#   E2E_MEMBERS [100000] E2E_PURCHASES [500000] E2E_SCANS [10000]
#   LOADED_SCANS [5000] HTTP_RATE [10000] HTTP_SECONDS [10]
#   XADD_N [500000] BATCH_SIZES ["64 256 1024 4096"] BATCH_PURCHASES [200000]
#   RESULTS [bench/RESULTS.md] PLOT [bench/batch_throughput.png]
#   LEDGER_EVENTS [200000] LEDGER_MEMBERS [100000] LEDGER_BATCH [1000] (bench/ledger/run.sh)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build-release"
results=${RESULTS:-$top/bench/RESULTS.md}
core_args=(--members "${CORE_MEMBERS:-100000}" --entries "${CORE_ENTRIES:-200000}"
           --rounds "${CORE_ROUNDS:-7}")
e2e_members=${E2E_MEMBERS:-100000}
e2e_args=(--members "$e2e_members" --purchases "${E2E_PURCHASES:-500000}"
          --scans "${E2E_SCANS:-10000}")
scale_members=${SCALE_MEMBERS:-10000 100000 1000000 10000000}
scale_entries=${SCALE_ENTRIES:-200000}
mem_args=(--members "${MEM_MEMBERS:-1000000}" --months "${MEM_MONTHS:-12}"
          --replay "${MEM_REPLAY:-100000}")
loaded_scans=${LOADED_SCANS:-5000}
http_rate=${HTTP_RATE:-10000}
http_seconds=${HTTP_SECONDS:-10}
xadd_n=${XADD_N:-500000}
batch_sizes=${BATCH_SIZES:-64 256 1024 4096}
batch_purchases=${BATCH_PURCHASES:-200000}
plot=${PLOT:-$top/bench/batch_throughput.png}
# Targets (see the brief in bench/RESULTS.md's header).
TARGET_CORE_PER_S=2000000  # rules_apply per second on one core
TARGET_E2E_PER_S=150000    # purchases per second end to end
TARGET_SCAN_P99_US=1000    # scan -> perk.triggered p99 on loopback
TARGET_LOADED_P99_US=5000  # the same under purchases at half the capacity
TARGET_E2E_OF_BARE=0.80    # end to end vs the bare consumer
TARGET_FULL_OF_BASE=0.70   # full rulebook vs base-rate-only, rules_apply
TARGET_MEMBER_B=256        # bytes per member at rest (struct + index), before lots
START_TRIES=5              # free ports tried before giving up
READY_WAIT_S=20            # how long redis or the daemon may take to listen

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-bench.XXXXXX")
redis_pid=""
daemon_pid=""

step() { printf '[run.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

source "$top/bench/benchlib.sh" # stop_pid, free_port, start_redis, read_results, rate, ...

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


# start_consumer NAME PROGRAM ARGS...: PROGRAM ARGS --redis R --http H (a
# free port) as daemon_pid, its stderr in $tmp/NAME.log; with a fresh data
# directory $tmp/data each try.
start_consumer() {
    local try name=$1
    shift
    for ((try = 0; try < START_TRIES; try++)); do
        http_port=$(free_port)
        rm -rf "$tmp/data" && mkdir "$tmp/data"
        "$@" --redis "127.0.0.1:$redis_port" --http "127.0.0.1:$http_port" \
            2>>"$tmp/$name.log" &
        daemon_pid=$!
        wait_listening "$daemon_pid" "$http_port" && return 0
        stop_pid "$daemon_pid"
        daemon_pid=""
    done
    step "could not start $name"
    return 1
}

# start_daemon [CONF]: loyaltyd with a fresh data directory.
start_daemon() {
    start_consumer loyaltyd "$build/engine/loyaltyd" -c "${1:-$top/conf/loyaltyd.conf}" \
        --data "$tmp/data"
}

# start_bare CONF: the bare consumer baseline, bench_bare.
start_bare() {
    start_consumer bench_bare "$build/bench/bench_bare" -c "$1"
}

declare -A r

# Stops the daemon, empties Redis (fresh keys for the next daemon).
stop_daemon_flush() {
    stop_pid "$daemon_pid"
    daemon_pid=""
    redis-cli -h 127.0.0.1 -p "$redis_port" FLUSHALL >/dev/null
}

# The base-rate-only rulebook of the issue-5 comparison: earning at the
# base rate, one tier, nothing else (a feature left out is off).
write_base_conf() {
    cat >"$1" <<'CONF'
earning = { minor_per_unit = 100; points_per_unit = 1; require_enrollment = true; };
tiers = { basis = "points"; window_months = 12;
  levels = ( { name = "blue"; threshold = 0; multiplier_bp = 10000; perks = [ ]; } ); };
idempotency = { window_days = 35; max_txns = 5000000; };
CONF
}

step "1/11 building Release into $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log"
cmake --build "$build" -j "$(nproc)" \
    --target loyaltyd bench_core bench_e2e bench_mem bench_bare >>"$tmp/build.log"
started=$(date +%s)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
step "2/11 bench_core, full rulebook: ${core_args[*]}"
"$build/bench/bench_core" -c "$top/conf/loyaltyd.conf" "${core_args[@]}" | tee "$tmp/core.out"
read_results "$tmp/core.out"

step "3/11 bench_core, base-rate-only rulebook: ${core_args[*]} --purchases-only"
write_base_conf "$tmp/base.conf"
"$build/bench/bench_core" -c "$tmp/base.conf" "${core_args[@]}" --purchases-only |
    tee "$tmp/base.out"
read_results "$tmp/base.out" base.

for m in $scale_members; do
    step "4/11 bench_core scaling: --members $m --entries $scale_entries --rounds 1"
    "$build/bench/bench_core" -c "$top/conf/loyaltyd.conf" --members "$m" \
        --entries "$scale_entries" --rounds 1 --purchases-only 2>/dev/null | tee "$tmp/scale.out"
    read_results "$tmp/scale.out" "scale.$m."
done

step "5/11 bench_mem ${mem_args[*]}"
"$build/bench/bench_mem" -c "$top/conf/loyaltyd.conf" "${mem_args[@]}" --dir "$tmp" \
    2> >(grep -v ' applied$' >&2) | tee "$tmp/mem.out"
read_results "$tmp/mem.out"

step "6/11 starting redis-server and loyaltyd"
start_redis
start_daemon
step "    redis 127.0.0.1:$redis_port (pid $redis_pid), loyaltyd http :$http_port (pid $daemon_pid)"
e2e=("$build/bench/bench_e2e" --redis "127.0.0.1:$redis_port")

step "7/11 bench_e2e ${e2e_args[*]} (preloaded; scans idle, then loaded; GET by wrk)"
"${e2e[@]}" --http "127.0.0.1:$http_port" "${e2e_args[@]}" --daemon-pid "$daemon_pid" |
    tee "$tmp/e2e.out"
read_results "$tmp/e2e.out"
half=$(awk -v v="${r[e2e.purchases_per_s]}" 'BEGIN { printf "%d", v / 2 }')
"${e2e[@]}" --http "127.0.0.1:$http_port" --members "$e2e_members" --skip-enrol \
    --purchases 0 --scans "$loaded_scans" --load-rate "$half" | tee "$tmp/loaded.out"
read_results "$tmp/loaded.out" loaded.
# wrk paces by a delay per request: each connection waits 1 ms after each
# reply. A 2 s calibration with 10 connections gives the rate of one, and
# the timed run uses as many as HTTP_RATE/s needs, plus a fifth for the
# latency that more connections add (the achieved rate is reported).
WRK_MEMBERS=$e2e_members WRK_DELAY_MS=1 wrk -t1 -c 10 -d 2s -s "$top/bench/members.lua" \
    "http://127.0.0.1:$http_port/" >"$tmp/wrk0.out"
http_conns=$(awk -v want="$http_rate" '/^Requests\/sec:/ { c = int(1.2 * want * 10 / $2 + 0.999) }
    END { print (c >= 1 && c <= 1000 ? c : 10) }' "$tmp/wrk0.out")
WRK_MEMBERS=$e2e_members WRK_DELAY_MS=1 wrk -t1 -c "$http_conns" -d "${http_seconds}s" \
    --latency -s "$top/bench/members.lua" "http://127.0.0.1:$http_port/" | tee "$tmp/wrk.out"
r[http.rate]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$tmp/wrk.out")
r[http.p50_us]=$(wrk_pct "$tmp/wrk.out" 50%)
r[http.p99_us]=$(wrk_pct "$tmp/wrk.out" 99%)
r[http.non2xx]=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk.out")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# Where Redis spent its time during the run: what the daemon costs it.
redis-cli -h 127.0.0.1 -p "$redis_port" INFO commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),usec_per_call=\([0-9.]*\).*/\1 \2 \3 \4/p' |
    sort -k3,3nr | head -n 6 >"$tmp/redis.stats"

step "8/11 baseline: redis-benchmark -P 64 -n $xadd_n XADD on the same server"
stop_daemon_flush
redis-benchmark -h 127.0.0.1 -p "$redis_port" -P 64 -n "$xadd_n" -q \
    XADD benchstream '*' m x | tr '\r' '\n' | tee "$tmp/xadd.out"
r[xadd64.per_s]=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "requests") v = $i }
    END { printf "%.0f", v }' \
    "$tmp/xadd.out")

step "9/11 baseline: bench_bare (the bare consumer), same preload"
redis-cli -h 127.0.0.1 -p "$redis_port" FLUSHALL >/dev/null
start_bare "$top/conf/loyaltyd.conf"
"${e2e[@]}" --http "127.0.0.1:$http_port" "${e2e_args[@]}" --scans 0 \
    --daemon-pid "$daemon_pid" | tee "$tmp/bare.out"
read_results "$tmp/bare.out" bare.

: >"$tmp/batch.dat"
for b in $batch_sizes; do
    step "10/11 end to end with batch_entries_max = $b ($batch_purchases purchases)"
    stop_daemon_flush
    sed "s/^\( *batch_entries_max = \)[0-9]*;/\1$b;/" "$top/conf/loyaltyd.conf" \
        >"$tmp/batch.conf"
    start_daemon "$tmp/batch.conf"
    "${e2e[@]}" --http "127.0.0.1:$http_port" --members "$e2e_members" \
        --purchases "$batch_purchases" --scans 0 --daemon-pid "$daemon_pid" |
        tee "$tmp/batch.out"
    read_results "$tmp/batch.out" "batch.$b."
    echo "$b ${r[batch.$b.e2e.purchases_per_s]} ${r[batch.$b.e2e.batch_mean]}" >>"$tmp/batch.dat"
done
stop_pid "$daemon_pid"
daemon_pid=""
stop_pid "$redis_pid"
redis_pid=""
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( $(date +%s) - started ))

plotted=""
if command -v gnuplot >/dev/null; then
    gnuplot <<GP && plotted=yes
set terminal pngcairo size 800,480 noenhanced
set output "$plot"
set title "loyaltyd end to end (preloaded purchases), $(date -u '+%Y-%m-%d')"
set xlabel "batch_entries_max"
set ylabel "purchases per second"
set logscale x 2
set yrange [0:*]
set grid
set key bottom right
plot "$tmp/batch.dat" using 1:2 with linespoints lw 2 pt 7 title "loyaltyd, conf/loyaltyd.conf", \
     ${r[bare.e2e.purchases_per_s]:-0} with lines dt 2 title "bench_bare, bare consumer (batch 1024)", \
     $TARGET_E2E_PER_S with lines dt 3 title "target 150k/s"
GP
fi

step "11/11 appending to $results"

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

lat_row() { # name key [target verdict [results prefix]]
    local p=${5:-}
    printf '| scan -> perk.triggered %s | %s us | XADD + XREAD round trip: %s us | %s | %s | %s |\n' \
        "$1" "${r[${p}scan.$2_us]}" "${r[${p}echo.$2_us]}" \
        "$(ratio "${r[${p}scan.$2_us]}" "${r[${p}echo.$2_us]}")" "${3:-}" "${4:-}"
}
mb() { awk -v v="$1" 'BEGIN { printf "%.0f", v / 1e6 }'; }

{
    [ -s "$results" ] || printf '# loyaltyd benchmark results\n\nAppended by bench/run.sh, newest last. Each figure comes with a baseline measured\nin the same run, because this machine is shared and noisy: compare ratios across runs.\nTargets: rule engine >= 2M applies/s per core; end to end >= 150k purchases/s;\nscan -> perk.triggered p99 < 1 ms on loopback.\n'
    printf '\n## bench/run.sh - %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- Code: commit %s' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
    changed=$(git -C "$top" status --porcelain -- engine proto conf 2>/dev/null | wc -l)
    [ "$changed" -eq 0 ] || printf ' plus %s uncommitted or untracked files under engine/ proto/ conf/' "$changed"
    printf '\n- Machine: %s CPUs, %s, Linux %s, %s; load average %s before, %s after the latency runs, %s at the end\n' \
        "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
        "$(uname -r)" "$(redis-server --version | cut -d' ' -f1-3)" "$load_before" \
        "$load_after" "$load_end"
    printf -- '- Command: `bench/run.sh` (%s s after the build) = `bench_core -c conf/loyaltyd.conf %s` and with a base-rate-only rulebook (`--purchases-only`); `bench_mem %s`; `bench_e2e %s --daemon-pid` (purchases preloaded while the daemon is SIGSTOPped, timed from SIGCONT) against redis-server (appendonly no, no RDB) and loyaltyd (conf/loyaltyd.conf) on loopback; then `--scans %s --load-rate <half the capacity>`; `wrk -c %s` (1 ms between requests per connection) for %s s\n\n' \
        "$elapsed" "${core_args[*]}" "${mem_args[*]}" "${e2e_args[*]}" "$loaded_scans" \
        "$http_conns" "$http_seconds"
    printf '| figure | value (median) | baseline, same run | ratio | target | verdict |\n'
    printf '| --- | --- | --- | --- | --- | --- |\n'
    core_row purchase "purchases"
    core_row mix "realistic mix"
    printf '| rules_apply, purchases, base-rate-only rulebook | %s (best round %s) | full rulebook: %s | full = %s of base | full >= 0.70 of base | %s |\n' \
        "$(rate "${r[base.core.purchase.apply_per_s]}")" \
        "$(rate "${r[base.core.purchase.apply_best_per_s]}")" \
        "$(rate "${r[core.purchase.apply_per_s]}")" \
        "$(ratio "${r[core.purchase.apply_per_s]}" "${r[base.core.purchase.apply_per_s]}")" \
        "$(atleast "$(ratio "${r[core.purchase.apply_per_s]}" "${r[base.core.purchase.apply_per_s]}")" "$TARGET_FULL_OF_BASE")"
    printf '| end to end purchases, %s preloaded (SIGCONT to progress marker; mean batch %s) | %s | (a) the bare consumer `bench_bare`, same preload: %s | %s of (a) | >= 0.80 of (a) | %s |\n' \
        "${e2e_args[3]}" "${r[e2e.batch_mean]}" "$(rate "${r[e2e.purchases_per_s]}")" \
        "$(rate "${r[bare.e2e.purchases_per_s]}")" \
        "$(ratio "${r[e2e.purchases_per_s]}" "${r[bare.e2e.purchases_per_s]}")" \
        "$(atleast "$(ratio "${r[e2e.purchases_per_s]}" "${r[bare.e2e.purchases_per_s]}")" "$TARGET_E2E_OF_BARE")"
    printf '| end to end purchases, absolute | %s | (b) `redis-benchmark -P 64 -n %s XADD`: %s; the preload (pipeline 1000): %s | %s of (b) | >= 150k/s | %s |\n' \
        "$(rate "${r[e2e.purchases_per_s]}")" "$xadd_n" "$(rate "${r[xadd64.per_s]}")" \
        "$(rate "${r[e2e.xadd_per_s]}")" "$(ratio "${r[e2e.purchases_per_s]}" "${r[xadd64.per_s]}")" \
        "$(atleast "${r[e2e.purchases_per_s]}" "$TARGET_E2E_PER_S")"
    lat_row "p50, idle" p50
    lat_row "p99, idle" p99 "< 1 ms" "$(below "${r[scan.p99_us]}" "$TARGET_SCAN_P99_US")"
    lat_row "p99.9, idle" p99_9
    lat_row "max, idle" max
    for k in p50 p99 p99_9 max; do
        if [ "$k" = p99 ]; then
            lat_row "$k, purchases at ${r[loaded.load.rate_per_s]}/s" "$k" "< 5 ms" \
                "$(below "${r[loaded.scan.p99_us]}" "$TARGET_LOADED_P99_US")" loaded.
        else
            lat_row "${k/_/.}, purchases at ${r[loaded.load.rate_per_s]}/s" "$k" "" "" loaded.
        fi
    done
    printf '| GET /v1/members/ID p50 / p99 (wrk, %s req/s achieved, non-2xx: %s) | %s / %s us | | | | |\n' \
        "${r[http.rate]}" "${r[http.non2xx]:-0}" "${r[http.p50_us]}" "${r[http.p99_us]}"
    printf '| resident bytes per member, %s members x a year (%s monthly purchases) | %s B (RSS growth) | | | struct + index < 256 B | %s (struct member %s B + index %s B) |\n' \
        "${mem_args[1]}" "${mem_args[3]}" "${r[mem.rss_per_member]}" \
        "$(below "$(awk -v a="${r[mem.member_struct]}" -v b="${r[mem.index_per_member]}" 'BEGIN { print a + b }')" "$TARGET_MEMBER_B")" \
        "${r[mem.member_struct]}" "${r[mem.index_per_member]}"
    printf '| snapshot_write, %s members | %s s, %s MB (%s B/member) | | | | |\n' \
        "${mem_args[1]}" "${r[snap.write_s]}" "${r[snap.mb]}" "${r[snap.bytes_per_member]}"
    printf '| longest ingestion stall of a snapshot: fork() holding %s members | %s ms | | | | |\n' \
        "${mem_args[1]}" "${r[snap.fork_ms]}"
    printf '| recovery: snapshot_read + replay of %s purchases | %s s + %s s = %s s | | | | |\n' \
        "${mem_args[5]}" "${r[snap.read_s]}" "${r[snap.replay_s]}" "${r[snap.recovery_s]}"
    printf '\nMemory breakdown per member at %s members (bench_mem): struct member %s B (array\n' \
        "${mem_args[1]}" "${r[mem.member_struct]}"
    printf 'capacity included: %s B), expiry lots %s x 8 B = %s B, member index %s B, txn window\n' \
        "${r[mem.member_per_member]}" "${r[mem.lots_per]}" "${r[mem.lots_per_member]}" \
        "${r[mem.index_per_member]}"
    printf '%s records with their index %s B, schedule %s B; the txn ring is reserved for\n' \
        "${r[mem.txn_records]}" "${r[mem.txn_per_member]}" "${r[mem.sched_per_member]}"
    printf 'max_txns = %s records (%s MB, %s B/member here), all resident once it has wrapped,\n' \
        "${r[mem.txn_max]}" "${r[mem.ring_mb]}" "${r[mem.ring_per_member]}"
    printf 'as it has after a year of purchases; RSS growth %s B/member.\n' \
        "${r[mem.rss_per_member]}"
    printf '\nRule cost per purchase as members grow (bench_core --purchases-only, %s entries, 1 round):\n\n' \
        "$scale_entries"
    printf '| members | rules_apply | ns per purchase | lookup only | apply/lookup |\n| --- | --- | --- | --- | --- |\n'
    for m in $scale_members; do
        printf '| %s | %s | %s | %s | %s |\n' "$m" "$(rate "${r[scale.$m.core.purchase.apply_per_s]}")" \
            "$(awk -v v="${r[scale.$m.core.purchase.apply_per_s]}" 'BEGIN { printf "%.0f", 1e9 / v }')" \
            "$(rate "${r[scale.$m.core.purchase.lookup_per_s]}")" \
            "${r[scale.$m.core.purchase.apply_over_lookup]}"
    done
    printf '\nEnd to end vs batch_entries_max (%s purchases preloaded, fresh daemon and keys each):\n\n' \
        "$batch_purchases"
    printf '| batch_entries_max | purchases/s | mean batch |\n| --- | --- | --- |\n'
    while read -r b v mean; do
        printf '| %s | %s | %s |\n' "$b" "$(rate "$v")" "$mean"
    done <"$tmp/batch.dat"
    [ -z "$plotted" ] || printf '\n![throughput vs batch_entries_max](%s)\n' "$(basename "$plot")"
    printf '\nRedis command time during bench_e2e (INFO commandstats; FCALL includes the XADDs to\n'
    printf '<prefix>out and the SET of the marker it carries):\n\n'
    printf '| command | calls | total ms | us per call |\n| --- | --- | --- | --- |\n'
    while read -r cmd calls usec per; do
        printf '| %s | %s | %s | %s |\n' "$cmd" "$calls" "$((usec / 1000))" "$per"
    done <"$tmp/redis.stats"
} >>"$results"
step "done: $results"
RESULTS=$results "$top/bench/ledger/run.sh"
if [ -n "${SIZES-1m 10m}" ]; then
    RESULTS=$results SIZES="${SIZES-1m 10m}" BUILD="$build" "$top/bench/issue16.sh"
fi
