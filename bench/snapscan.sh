#!/usr/bin/env bash
# bench/snapscan.sh - scan -> perk.triggered latency while snapshots are
# taken, against the same latency without snapshots, in the same run, with
# the real daemon and a throwaway Redis (issue 16).
#
#  1. redis-server (loopback, a free port, no persistence) and loyaltyd with
#     conf/loyaltyd.conf, periodic snapshots off (snapshot_every_entries =
#     snapshot_every_ms = 0); bench_e2e enrols MEMBERS members through the
#     log.
#  2. Baseline: bench_e2e --scans SCANS under purchases at LOAD_RATE/s.
#  3. For each writer priority of POLICIES (snapshot_priority), the daemon
#     stops cleanly (it writes its snapshot) and starts again on the same
#     data and Redis with snapshot_every_entries = 1 and that priority
#     (snapshot_deadline_ms = DEADLINE_MS): from its first batch on, a
#     snapshot is taken after every batch that finds none running, so one
#     is being written nearly all the time. The same scans under the same
#     load; its log tells how many snapshots finished meanwhile and how long
#     each took, /metrics the longest fork() stall, /proc/PID/smaps_rollup
#     how much of the daemon is still in huge pages after them (anon_mb,
#     huge_mb: copy-on-write during a snapshot splits huge pages).
# Prints `result snapscan.KEY VALUE` lines (snapscan.POLICY.KEY for each
# policy; the unprefixed ones are the first policy's, the daemon's default)
# and a summary; bench/run.sh and bench/issue16.sh judge: p99 with
# snapshots <= 2x p99 without. Exits 1 when no snapshot of the first
# policy finished during its scans: its p99 would say nothing about
# snapshots (raise SCANS for a longer measurement).
#
# Environment (defaults in brackets): MEMBERS [1000000] (10M is taken as
#   9,999,999: bench_e2e's limit) SCANS [MEMBERS / 50, at least 20000: a
#   window in which snapshots finish]
#   LOAD_RATE [20000] purchases/s beside the scans; BUILD [build-release];
#   POLICIES ["low"] (e.g. "low idle normal"); DEADLINE_MS [0: none, so that
#   the priority alone is measured; the daemon's default is 120000].
# Memory: the daemon's state (about 870 B/member today) twice over while
# a snapshot runs at worst, plus Redis holding the enrolments: 10M members
# fit in about 11 GB.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
    sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$top/build-release}
members=${MEMBERS:-1000000}
E2E_MEMBERS_MAX=9999999 # bench_e2e's ids are "m" + 7 digits, one kept for the scan member
[ "$members" -le "$E2E_MEMBERS_MAX" ] || members=$E2E_MEMBERS_MAX
# Scans enough that several snapshots can finish while they run: about
# 4,000 scans a second here, a snapshot about 1.5 s per million members.
SCANS_PER_MEMBER_DIV=50
SCANS_MIN=20000
scans=${SCANS:-}
[ -n "$scans" ] || scans=$((members / SCANS_PER_MEMBER_DIV))
[ -n "${SCANS:-}" ] || [ "$scans" -ge "$SCANS_MIN" ] || scans=$SCANS_MIN
load_rate=${LOAD_RATE:-20000}
policies=${POLICIES:-low}
deadline_ms=${DEADLINE_MS:-0}
START_TRIES=5
READY_WAIT_S=600  # a daemon loading a 10M-member snapshot listens after it
STOP_WAIT_S=300   # and writes one of that size on a clean stop
tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-snapscan.XXXXXX")
redis_pid=""
daemon_pid=""
step() { printf '[snapscan.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
source "$top/bench/benchlib.sh" # stop_pid, free_port, start_redis, read_results

cleanup() {
    stop_pid "$daemon_pid" "$STOP_WAIT_S"
    stop_pid "$redis_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT

# conf/loyaltyd.conf with the snapshot triggers set to $2 entries, 0 ms,
# and the writer's priority $3 (default: the file's).
write_conf() {
    sed -e "s/^\( *snapshot_every_entries = \)[0-9]*;/\1$2;/" \
        -e "s/^\( *snapshot_every_ms = \)[0-9]*;/\10;/" \
        -e "s/^\( *snapshot_priority = \)\"[a-z]*\";/\1\"${3:-low}\";/" \
        -e "s/^\( *snapshot_deadline_ms = \)[0-9]*;/\1$deadline_ms;/" \
        "$top/conf/loyaltyd.conf" >"$1"
    grep -q "snapshot_every_entries = $2;" "$1"
    grep -q "snapshot_priority = \"${3:-low}\";" "$1"
}

# loyaltyd -c $1 on $tmp/data (kept between starts) as daemon_pid.
start_daemon() {
    local try
    for ((try = 0; try < START_TRIES; try++)); do
        http_port=$(free_port)
        "$build/engine/loyaltyd" -c "$1" --data "$tmp/data" --redis "127.0.0.1:$redis_port" \
            --http "127.0.0.1:$http_port" 2>>"$tmp/loyaltyd.log" &
        daemon_pid=$!
        wait_listening "$daemon_pid" "$http_port" && return 0
        stop_pid "$daemon_pid" "$STOP_WAIT_S"
        daemon_pid=""
    done
    step "could not start loyaltyd (log: $tmp/loyaltyd.log)"
    tail -n 20 "$tmp/loyaltyd.log" >&2
    return 1
}

# The value of metric $1 on /metrics (plain HTTP/1.0 over bash's /dev/tcp).
metric() {
    local v
    exec 3<>"/dev/tcp/127.0.0.1/$http_port"
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    v=$(tr -d '\r' <&3 | awk -v k="$1" '$1 == k { print $2 }')
    exec 3>&-
    echo "${v:-0}"
}

scans_under_load() { # RESULT-PREFIX
    "$build/bench/bench_e2e" --redis "127.0.0.1:$redis_port" --http "127.0.0.1:$http_port" \
        --members "$members" --skip-enrol --purchases 0 --scans "$scans" \
        --load-rate "$load_rate" >"$tmp/scan.out"
    read_results "$tmp/scan.out" "$1"
}

# The snapshots the daemon logged as written after line $1 of its log:
# "COUNT MAX_MS MEAN_MS".
written_since() {
    tail -n "+$(($1 + 1))" "$tmp/loyaltyd.log" |
        awk '/snapshot .* written in / { for (i = 1; i < NF; i++) if ($i == "in") ms = $(i + 1);
             n++; sum += ms; if (ms > max) max = ms }
             END { printf "%d %.0f %.0f\n", n, max, n ? sum / n : 0 }'
}

# "ANON_MB HUGE_MB": the daemon's anonymous memory and how much of it is
# in transparent huge pages (/proc/PID/smaps_rollup): a fork copies one
# entry per 2 MiB page but 512 per 4 KiB pages' worth, so this explains
# the fork stall.
anon_huge() {
    awk '$1 == "Anonymous:" { a = $2 } $1 == "AnonHugePages:" { h = $2 }
         END { printf "%.0f %.0f\n", a / 1024, h / 1024 }' "/proc/$daemon_pid/smaps_rollup"
}

# Phase 3 for priority $1: restart with it, the same scans, and what the
# snapshots did meanwhile, as r[$1.*].
scans_with_snapshots() {
    local p=$1 before lines
    stop_pid "$daemon_pid" "$STOP_WAIT_S"
    daemon_pid=""
    write_conf "$tmp/on-$p.conf" 1 "$p"
    start_daemon "$tmp/on-$p.conf"
    lines=$(wc -l <"$tmp/loyaltyd.log")
    scans_under_load "$p."
    read -r r[$p.snapshots] r[$p.snapshot_ms_max] r[$p.snapshot_ms_mean] <<<"$(written_since "$lines")"
    r[$p.stall]=$(metric loyalty_snapshot_fork_stall_max_seconds)
    r[$p.escalations]=$(metric loyalty_snapshot_escalations_total)
    read -r r[$p.anon_mb] r[$p.huge_mb] <<<"$(anon_huge)"
    step "$p: p99 ${r[$p.scan.p99_us]} us; ${r[$p.snapshots]} snapshots finished during the" \
        "scans (longest ${r[$p.snapshot_ms_max]} ms, mean ${r[$p.snapshot_ms_mean]} ms);" \
        "daemon ${r[$p.anon_mb]} MB anonymous, ${r[$p.huge_mb]} MB of it in huge pages;" \
        "longest fork ${r[$p.stall]} s"
}

declare -A r
cmake --build "$build" --target loyaltyd bench_e2e >/dev/null
mkdir -p "$tmp/data"
write_conf "$tmp/off.conf" 0
start_redis
step "1/3 loyaltyd without periodic snapshots; enrolling $members members"
start_daemon "$tmp/off.conf"
"$build/bench/bench_e2e" --redis "127.0.0.1:$redis_port" --http "127.0.0.1:$http_port" \
    --members "$members" --purchases 0 --scans 0 --wait-s 3600 >"$tmp/enrol.out"
step "2/3 baseline: $scans scans under $load_rate purchases/s, no snapshot"
scans_under_load off.
off_snapshots=$(metric loyalty_snapshots_total)
step "3/3 restart with a snapshot after every batch, for each of: $policies"
for p in $policies; do
    scans_with_snapshots "$p"
done
first=${policies%% *}
for k in p50 p99 p99_9 max; do
    printf 'result snapscan.%s_off_us %s\nresult snapscan.%s_on_us %s\n' \
        "$k" "${r[off.scan.${k}_us]}" "$k" "${r[$first.scan.${k}_us]}"
done
for p in $policies; do
    for k in p50 p99 p99_9 max; do
        printf 'result snapscan.%s.%s_on_us %s\n' "$p" "$k" "${r[$p.scan.${k}_us]}"
    done
    for k in snapshots snapshot_ms_max snapshot_ms_mean stall escalations anon_mb huge_mb; do
        printf 'result snapscan.%s.%s %s\n' "$p" "$k" "${r[$p.$k]}"
    done
done
printf 'result snapscan.members %s\n' "$members"
printf 'result snapscan.snapshots %s\n' "${r[$first.snapshots]}"
printf 'result snapscan.snapshots_off %s\n' "$off_snapshots"
printf 'result snapscan.fork_stall_max_s %s\n' "${r[$first.stall]}"
printf 'result snapscan.snapshot_s %s\n' "$(awk -v v="${r[$first.snapshot_ms_max]}" 'BEGIN { printf "%.3f", v / 1000 }')"
printf 'result snapscan.load_rate %s\n' "${r[$first.load.rate_per_s]:-0}"
for p in $policies; do
    printf 'snapscan: %s members, %s scans under %s purchases/s: p99 %s us without snapshots, %s us with %s snapshots running (%s finished meanwhile, longest %s ms, mean %s ms; %s writers replaced at the %s ms deadline; longest fork %s s)\n' \
        "$members" "$scans" "$load_rate" "${r[off.scan.p99_us]}" "${r[$p.scan.p99_us]}" "$p" \
        "${r[$p.snapshots]}" "${r[$p.snapshot_ms_max]}" "${r[$p.snapshot_ms_mean]}" \
        "${r[$p.escalations]}" "$deadline_ms" "${r[$p.stall]}"
done
if [ "${r[$first.snapshots]}" -eq 0 ]; then
    step "no $first snapshot finished while the scans ran: the p99 with snapshots says" \
        "nothing about them (raise SCANS for a longer measurement)"
    exit 1
fi
