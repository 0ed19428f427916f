#!/usr/bin/env bash
# bench/scale.sh - the pipeline against Redis's limit, and partitions.
#
# Builds Release into build-release/ (loyaltyd, bench_bare, bench_scale),
# starts its own redis-server (loopback, a free port, no persistence), and
# measures, ROUNDS times each, interleaved so that all see the same machine:
#   (x) redis-benchmark -P 64 XADD: what Redis takes at most;
#   (b) bench_bare, the bare consumer (the daemon's reading, batching,
#       batches in flight and fenced commit, one fixed output per entry);
#   (d) loyaltyd, one partition: end to end, conf/loyaltyd.conf;
#   (d4), (d16) loyaltyd serving 4 and 16 partitions on one event loop;
# each run: E2E_MEMBERS members enrolled, then E2E_PURCHASES purchases
# preloaded while the consumer is stopped and timed from SIGCONT until
# every partition's marker has its last one (bench_scale). Then a local
# Redis Cluster of 3 masters (redis-cli --cluster create): one loyaltyd
# serving 16 partitions, then two serving 8 each (per-instance figures).
# Medians go to bench/RESULTS.md with the targets: (b) >= 0.4 of (x),
# (d) >= 0.8 of (b), (d4) and (d16) >= 0.9 of (d). About 3 minutes.
#
# Sizes through the environment (defaults in brackets): ROUNDS [3]
# E2E_MEMBERS [100000] E2E_PURCHASES [500000] XADD_N [500000]
# RESULTS [bench/RESULTS.md]. Before and after a change: BASE_BUILD [unset],
# the Release build directory of another commit (say main's), adds (d0),
# its loyaltyd, to every round right after (d), and (d) / (d0) to the
# results; PARTS=0 [1] leaves out (d4), (d16) and the cluster (large member
# counts: each run enrols E2E_MEMBERS first).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build-release"
results=${RESULTS:-$top/bench/RESULTS.md}
rounds=${ROUNDS:-3}
members=${E2E_MEMBERS:-100000}
purchases=${E2E_PURCHASES:-500000}
xadd_n=${XADD_N:-500000}
base_build=${BASE_BUILD:-}
parts=${PARTS:-1}
kinds="bare d1${base_build:+ d0}"
[ "$parts" = 0 ] || kinds="$kinds d4 d16"
TARGET_BARE_OF_XADD=0.40
TARGET_E2E_OF_BARE=0.80
TARGET_PARTS_OF_ONE=0.90
READY_WAIT_S=20
START_TRIES=5 # free ports tried before giving up

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-scale.XXXXXX")
pids=()

step() { printf '[scale.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

. "$top/bench/proclib.sh" # stop_pid, listening, free_port, wait_listening

cleanup() {
    local rc=$? p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    if [ "$rc" -ne 0 ]; then
        step "failed (exit $rc); logs:"
        tail -n 20 "$tmp"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# start_redis NAME [ARGS...]: a redis-server on a free port; sets $port.
start_redis() {
    local name=$1
    shift
    port=$(free_port)
    mkdir -p "$tmp/$name"
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --dir "$tmp/$name" --logfile "$tmp/$name.log" --daemonize no "$@" &
    pids+=($!)
    wait_listening $! "$port"
}

# start_consumer NAME REDIS CONF [ARGS...]: a consumer (loyaltyd, or
# bench_bare when NAME is bare) on a free HTTP port (another one when that
# port was taken meanwhile); sets $cpid.
start_consumer() {
    local name=$1 redis=$2 conf=$3 http try
    shift 3
    for ((try = 0; try < START_TRIES; try++)); do
        http=$(free_port)
        rm -rf "$tmp/data-$name"
        if [ "$name" = bare ]; then
            "$build/bench/bench_bare" -c "$conf" --redis "$redis" --http "127.0.0.1:$http" \
                "$@" 2>>"$tmp/$name.log" &
        else
            local bin="$build/engine/loyaltyd"
            [ "$name" != d0 ] || bin="$base_build/engine/loyaltyd"
            "$bin" -c "$conf" --redis "$redis" --http "127.0.0.1:$http" \
                --data "$tmp/data-$name" "$@" 2>>"$tmp/$name.log" &
        fi
        cpid=$!
        pids+=("$cpid")
        wait_listening "$cpid" "$http" && return 0
        stop_pid "$cpid"
    done
    step "could not start $name"
    return 1
}

# conf_for P [CLUSTER] [NAME]: conf/loyaltyd.conf with P partitions.
conf_for() {
    sed -e "s/^  partitions = 1;/  partitions = $1;/" -e "s/^  cluster = false;/  cluster = ${2:-false};/" \
        -e "s/^  consumer = \"loyaltyd-1\";/  consumer = \"${3:-loyaltyd-1}\";/" \
        -e "s/^  tick_interval_ms = [0-9]*;/  tick_interval_ms = 0;/" \
        "$top/conf/loyaltyd.conf" >"$tmp/p$1-${3:-x}.conf"
    echo "$tmp/p$1-${3:-x}.conf"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
rate() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2fM/s", v / 1e6; else printf "%.1fk/s", v / 1e3 }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "**met**" : "**missed**") }'; }

# run_scale KIND P REDIS [--cluster]: one measurement into $tmp/KIND.rates.
run_scale() {
    local kind=$1 p=$2 redis=$3 cluster=${4:-}
    start_consumer "$kind" "$redis" "$(conf_for "$p" "${cluster:+true}")"
    "$build/bench/bench_scale" --redis "$redis" ${cluster:+--cluster} --partitions "$p" \
        --members "$members" --purchases "$purchases" --daemon-pid "$cpid" \
        >"$tmp/$kind.out" 2>>"$tmp/bench_scale.log"
    awk '$1 == "result" && $2 == "scale.purchases_per_s" { print $3 }' "$tmp/$kind.out" \
        >>"$tmp/$kind.rates"
    stop_pid "$cpid"
}

step "1/4 building Release into $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log"
cmake --build "$build" -j "$(nproc)" --target loyaltyd bench_bare bench_scale >>"$tmp/build.log"
started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

step "2/4 standalone redis-server: $rounds rounds of XADD -P 64, then: $kinds"
start_redis standalone
r="127.0.0.1:$port"
for ((i = 1; i <= rounds; i++)); do
    redis-cli -p "$port" FLUSHALL >/dev/null
    redis-benchmark -h 127.0.0.1 -p "$port" -P 64 -n "$xadd_n" -q XADD benchstream '*' m x |
        tr '\r' '\n' | awk '{ for (k = 1; k < NF; k++) if ($(k + 1) == "requests") v = $k }
                            END { printf "%.0f\n", v }' >>"$tmp/xadd.rates"
    for kind in $kinds; do
        redis-cli -p "$port" FLUSHALL >/dev/null
        case $kind in
            bare) run_scale bare 1 "$r" ;;
            d0) run_scale d0 1 "$r" ;;
            *) run_scale "$kind" "${kind#d}" "$r" ;;
        esac
        step "    round $i $kind: $(tail -n 1 "$tmp/$kind.rates")/s"
    done
done
redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true

if [ "$parts" != 0 ]; then
step "3/4 a local Redis Cluster of 3 masters: one loyaltyd x 16 partitions, then two x 8"
nodes=()
for n in 1 2 3; do
    start_redis "node$n" --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 5000
    nodes+=("127.0.0.1:$port")
done
redis-cli --cluster create "${nodes[@]}" --cluster-yes >"$tmp/cluster.log" 2>&1
for ((i = 0; i < 100; i++)); do
    redis-cli -c -h 127.0.0.1 -p "${nodes[0]##*:}" CLUSTER INFO | grep -q 'cluster_state:ok' &&
        break
    sleep 0.2
done
seed=${nodes[0]}
run_scale c1 16 "$seed" cluster
# Two instances: A serves 0-7, B 8-15 (their own names, own data dirs).
conf_a=$(conf_for 16 true inst-a)
conf_b=$(conf_for 16 true inst-b)
for n in 1 2 3; do redis-cli -h 127.0.0.1 -p "${nodes[$((n - 1))]##*:}" FLUSHALL >/dev/null; done
start_consumer c2a "$seed" "$conf_a" --serve 0-7
pid_a=$cpid
start_consumer c2b "$seed" "$conf_b" --serve 8-15
pid_b=$cpid
"$build/bench/bench_scale" --redis "$seed" --cluster --partitions 16 --members "$members" \
    --purchases "$purchases" --daemon-pid "$pid_a" --daemon-pid "$pid_b" \
    >"$tmp/c2.out" 2>>"$tmp/bench_scale.log"
stop_pid "$pid_a"
stop_pid "$pid_b"
# Per instance: its partitions' purchases over the time its last one took.
inst() {
    awk -v lo="$1" -v hi="$2" '$1 == "result" && $2 ~ /^scale\.part\./ {
            split($2, k, "."); p = k[3] + 0
            if (p >= lo && p <= hi) { n += $3; if ($4 > t) t = $4 } }
        END { printf "%.0f %d %.2f\n", (t > 0 ? n / t : 0), n, t }' "$tmp/c2.out"
}
read -r c2a_rate c2a_n c2a_s < <(inst 0 7)
read -r c2b_rate c2b_n c2b_s < <(inst 8 15)
c2_total=$(awk '$2 == "scale.purchases_per_s" { print $3 }' "$tmp/c2.out")
fi

step "4/4 appending to $results"
x=$(median <"$tmp/xadd.rates")
bare=$(median <"$tmp/bare.rates")
d1=$(median <"$tmp/d1.rates")
if [ "$parts" != 0 ]; then
    d4=$(median <"$tmp/d4.rates")
    d16=$(median <"$tmp/d16.rates")
    c1=$(median <"$tmp/c1.rates")
fi
all() { tr '\n' ' ' <"$tmp/$1.rates" | sed 's/ $//'; }
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
    printf '\n## bench/scale.sh - %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- Code: commit %s' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
    changed=$(git -C "$top" status --porcelain -- engine proto conf bench ':!bench/RESULTS.md' 2>/dev/null | wc -l)
    [ "$changed" -eq 0 ] || printf ' plus %s uncommitted files under engine/ proto/ conf/ bench/' "$changed"
    printf '\n- Machine: %s CPUs, %s, Linux %s, %s; load average %s before, %s at the end (%s s)\n' \
        "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
        "$(uname -r)" "$(redis-server --version | cut -d' ' -f1-3)" "$load_before" "$load_end" \
        "$(($(date +%s) - started))"
    printf -- '- Command: `bench/scale.sh` = per round `redis-benchmark -P 64 -n %s XADD`, then `bench_scale --members %s --purchases %s --partitions P --daemon-pid PID` against bench_bare and loyaltyd (conf/loyaltyd.conf, ticks off, batches_in_flight 2) on one redis-server (no persistence); medians of %s rounds (all rounds in brackets); purchases preloaded while the consumer is stopped, timed from SIGCONT to the last marker\n\n' \
        "$xadd_n" "$members" "$purchases" "$rounds"
    printf '| figure | value (median) | baseline, same run | ratio | target | verdict |\n'
    printf '| --- | --- | --- | --- | --- | --- |\n'
    printf '| (b) bench_bare, the bare consumer [%s] | %s | (x) redis-benchmark -P 64 XADD [%s]: %s | %s of (x) | >= %s of (x) | %s |\n' \
        "$(all bare)" "$(rate "$bare")" "$(all xadd)" "$(rate "$x")" "$(ratio "$bare" "$x")" \
        "$TARGET_BARE_OF_XADD" "$(verdict "$(ratio "$bare" "$x")" "$TARGET_BARE_OF_XADD")"
    printf '| (d) loyaltyd end to end, 1 partition [%s] | %s | (b): %s | %s of (b) | >= %s of (b) | %s |\n' \
        "$(all d1)" "$(rate "$d1")" "$(rate "$bare")" "$(ratio "$d1" "$bare")" \
        "$TARGET_E2E_OF_BARE" "$(verdict "$(ratio "$d1" "$bare")" "$TARGET_E2E_OF_BARE")"
    if [ -n "$base_build" ]; then
        d0=$(median <"$tmp/d0.rates")
        printf '| (d0) loyaltyd of BASE_BUILD (commit %s), 1 partition [%s] | %s | (b): %s | %s of (b); (d) is %s of (d0) | | |\n' \
            "$(git -C "$base_build" rev-parse --short HEAD 2>/dev/null || echo "$base_build")" \
            "$(all d0)" "$(rate "$d0")" "$(rate "$bare")" "$(ratio "$d0" "$bare")" "$(ratio "$d1" "$d0")"
    fi
    if [ "$parts" != 0 ]; then
        printf '| (d4) loyaltyd, 4 partitions on one daemon [%s] | %s | (d): %s | %s of (d) | >= %s of (d) | %s |\n' \
            "$(all d4)" "$(rate "$d4")" "$(rate "$d1")" "$(ratio "$d4" "$d1")" \
            "$TARGET_PARTS_OF_ONE" "$(verdict "$(ratio "$d4" "$d1")" "$TARGET_PARTS_OF_ONE")"
        printf '| (d16) loyaltyd, 16 partitions on one daemon [%s] | %s | (d): %s | %s of (d) | >= %s of (d) | %s |\n' \
            "$(all d16)" "$(rate "$d16")" "$(rate "$d1")" "$(ratio "$d16" "$d1")" \
            "$TARGET_PARTS_OF_ONE" "$(verdict "$(ratio "$d16" "$d1")" "$TARGET_PARTS_OF_ONE")"
        printf '| local cluster (3 masters): one loyaltyd, 16 partitions | %s | (d16) on one redis-server: %s | %s of (d16) | | |\n' \
            "$(rate "$c1")" "$(rate "$d16")" "$(ratio "$c1" "$d16")"
        printf '| local cluster: two loyaltyd, 8 partitions each, together | %s | one loyaltyd on the cluster: %s | %s of it | | |\n' \
            "$(rate "$c2_total")" "$(rate "$c1")" "$(ratio "$c2_total" "$c1")"
        printf '| local cluster: instance A (partitions 0-7) | %s (%s purchases in %s s) | | | | |\n' \
            "$(rate "$c2a_rate")" "$c2a_n" "$c2a_s"
        printf '| local cluster: instance B (partitions 8-15) | %s (%s purchases in %s s) | | | | |\n' \
            "$(rate "$c2b_rate")" "$c2b_n" "$c2b_s"
    fi
} >>"$results"
step "done: bare $(rate "$bare") = $(ratio "$bare" "$x") of XADD; loyaltyd $(rate "$d1") = $(ratio "$d1" "$bare") of bare${base_build:+; base $(rate "$d0") = $(ratio "$d0" "$bare") of bare}${d4:+; 4: $(ratio "$d4" "$d1"), 16: $(ratio "$d16" "$d1") of 1}"
