#!/usr/bin/env bash
# bench/run_history.sh - the history features' figures: the input archive,
# the what-if replay and POST /v1/preview. Appends a dated section to
# bench/RESULTS.md, each figure with a baseline from the same run.
#
# Builds Release into build-release/, then:
#  1. bench_core -c conf/loyaltyd.conf (realistic mix): rules_apply per
#     second, warm and on a state just built: the replay's baseline.
#  2. bench_history: an archive of HIST_MEMBERS members with a history and
#     HIST_ENTRIES entries of the realistic mix; its disk cost per million
#     entries, append and read rates; the replay of it from empty state
#     (read, decode, rules_apply) in entries/s.
#  3. loyalty-whatif --archive-only on that archive, candidate = the shipped
#     rulebook with a doubled base rate from the middle of the history: the
#     whole tool (two replays, the comparison, the report and its plots).
#  4. Preview under load: redis-server + loyaltyd (conf/loyaltyd.conf),
#     PREVIEW_MEMBERS members; bench_e2e measures the purchase capacity,
#     then purchases flow at half of it while wrk posts previews at
#     PREVIEW_RATE/s and, in the same run, GETs /v1/members/ID at the same
#     rate (the baseline): p50/p99 of each.
# Stops what it started by pid. Sizes through the environment:
#   CORE_MEMBERS [100000] CORE_ENTRIES [200000] CORE_ROUNDS [3]
#   HIST_MEMBERS [100000] HIST_ENTRIES [1000000]
#   PREVIEW_MEMBERS [100000] PREVIEW_RATE [5000] PREVIEW_SECONDS [10]
#   RESULTS [bench/RESULTS.md]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build-release"
results=${RESULTS:-$top/bench/RESULTS.md}
core_args=(--members "${CORE_MEMBERS:-100000}" --entries "${CORE_ENTRIES:-200000}"
           --rounds "${CORE_ROUNDS:-3}")
hist_args=(--members "${HIST_MEMBERS:-100000}" --entries "${HIST_ENTRIES:-1000000}")
preview_members=${PREVIEW_MEMBERS:-100000}
preview_rate=${PREVIEW_RATE:-5000}
preview_seconds=${PREVIEW_SECONDS:-10}
TARGET_REPLAY_PER_S=1000000 # entries replayed per second per core, full rulebook
TARGET_PREVIEW_P99_US=1000  # preview p99 at PREVIEW_RATE/s under half-capacity purchases
START_TRIES=5
READY_WAIT_S=20

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-hbench.XXXXXX")
redis_pid=""
daemon_pid=""
load_pid=""

step() { printf '[run_history.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
source "$top/bench/benchlib.sh"

cleanup() {
    local rc=$?
    stop_pid "$load_pid"
    stop_pid "$daemon_pid"
    stop_pid "$redis_pid"
    [ "$rc" -eq 0 ] || { step "failed (exit $rc)"; tail -n 20 "$tmp"/*.log >&2 2>/dev/null || true; }
    rm -rf "$tmp"
}
trap cleanup EXIT

declare -A r

step "1/5 building Release into $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log"
cmake --build "$build" -j "$(nproc)" --target loyaltyd bench_core bench_history bench_e2e \
    loyalty-whatif loyalty-posload >>"$tmp/build.log"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

step "2/5 bench_core ${core_args[*]} (the baseline)"
"$build/bench/bench_core" -c "$top/conf/loyaltyd.conf" "${core_args[@]}" | tee "$tmp/core.out"
read_results "$tmp/core.out"

step "3/5 bench_history ${hist_args[*]}"
mkdir -p "$tmp/hist"
"$build/bench/bench_history" -c "$top/conf/loyaltyd.conf" --dir "$tmp/hist" "${hist_args[@]}" |
    tee "$tmp/hist.out"
read_results "$tmp/hist.out"

step "4/5 loyalty-whatif --archive-only (doubled base rate from the middle)"
sed 's/^\( *points_per_unit = \)1;/\12;/' "$top/conf/loyaltyd.conf" >"$tmp/double.conf"
"$build/clients/loyalty-whatif" -c "$top/conf/loyaltyd.conf" --data "$tmp/hist" --archive-only \
    --candidate "$tmp/double.conf" --out "$tmp/report" \
    --from $((1767225600000 + ${HIST_MEMBERS:-100000} * 2 + ${HIST_ENTRIES:-1000000} / 2)) |
    tee "$tmp/whatif.out"
r[whatif.per_s]=$(sed -n 's/.*in [0-9.]* s (\([0-9]*\) entries\/s).*/\1/p' "$tmp/whatif.out")

source "$top/bench/preview_load.sh"
step "5/5 preview under purchases at half capacity ($preview_members members)"
preview_under_load

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
step "appending to $results"
{
    printf '\n## bench/run_history.sh - %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- Code: commit %s\n' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
    printf -- '- Machine: %s CPUs, %s; load average %s before, %s at the end\n' "$(nproc)" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
        "$load_before" "$load_end"
    printf -- '- Command: `bench/run_history.sh` = `bench_core -c conf/loyaltyd.conf %s`; `bench_history %s`; `loyalty-whatif --archive-only` on that archive; preview: %s members, purchases at half the measured capacity, `wrk` at %s req/s for %s s each on POST /v1/preview and GET /v1/members/ID\n\n' \
        "${core_args[*]}" "${hist_args[*]}" "$preview_members" "$preview_rate" "$preview_seconds"
    printf '| figure | value | baseline, same run | ratio | target | verdict |\n| --- | --- | --- | --- | --- | --- |\n'
    printf '| archive disk cost, realistic mix | %s MB per million entries (%s B/entry; zstd %sx) | the entries as msgpack: %s B/entry | | | |\n' \
        "${r[archive.bytes_per_entry]}" "${r[archive.bytes_per_entry]}" "${r[archive.ratio]}" \
        "${r[archive.raw_bytes_per_entry]}"
    printf '| archive append (compress, write; fsync per 100k) | %s | | | | |\n' "$(rate "${r[archive.append_per_s]}")"
    printf '| archive read (checksums, decompress) | %s (%s MB/s) | | | | |\n' \
        "$(rate "${r[archive.read_per_s]}")" "${r[archive.read_mb_per_s]}"
    printf '| replay of the archive from empty state (read, decode, rules_apply), %s entries | %s | rules_apply alone, mix, state just built: %s; warm: %s | %s of cold, %s of warm | >= 1M/s per core | %s |\n' \
        "${r[replay.entries]}" "$(rate "${r[replay.entries_per_s]}")" \
        "$(rate "${r[core.mix.apply_cold_per_s]}")" "$(rate "${r[core.mix.apply_per_s]}")" \
        "$(ratio "${r[replay.entries_per_s]}" "${r[core.mix.apply_cold_per_s]}")" \
        "$(ratio "${r[replay.entries_per_s]}" "${r[core.mix.apply_per_s]}")" \
        "$(atleast "${r[replay.entries_per_s]}" "$TARGET_REPLAY_PER_S")"
    printf '| loyalty-whatif, whole tool (two replays, compare, report, plots) | %s history entries/s | | | | |\n' \
        "$(rate "${r[whatif.per_s]:-0}")"
    preview_rows
} >>"$results"
step "done: $results"
