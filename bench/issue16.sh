#!/usr/bin/env bash
# bench/issue16.sh - the figures of issue 16 (ten million members on one
# node) at each size of SIZES, each judged met or missed against its
# same-run baseline, appended to bench/RESULTS.md with a plot of the cost
# per purchase and the memory per member against members.
#
# Usage: bench/issue16.sh [--help]; bench/run.sh runs it last. Sizes and
# knobs come from the environment (defaults in brackets):
#   SIZES ["1m 10m"]   member counts the issue's figures are taken at
#                      (k and m suffixes: 100k, 1m, 10m). 10m fits this
#                      machine's 24 GB: bench_mem peaks at about 10 GB
#                      with the struct member of 544 B (less once the
#                      compact layout lands); 20m would not.
#   PLOT_SIZES ["10k 100k 1m 10m"]  the points of the plot
#   MONTHS [12]        monthly purchases per member in bench_mem's history
#   ENTRIES [200000]   purchases per bench_core pass; ROUNDS [3]
#   BATCH [1024]       purchases per batch in the stall measurement (the
#                      shipped batch_entries_max); STALL_BATCHES [2000]
#   SCANS [snapscan.sh's] LOAD_RATE [20000]  bench/snapscan.sh at each of SIZES
#                      (the real daemon; SCANS=0 skips it)
#   RESULTS [bench/RESULTS.md] PLOT16 [bench/issue16.png]
# Every program is a child of this script and runs to completion; the
# heavy steps run under `flock /work/heavy.lock` when that file exists (a
# shared machine's turn-taking), else directly.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$top/build-release}
results=${RESULTS:-$top/bench/RESULTS.md}
plot=${PLOT16:-$top/bench/issue16.png}
sizes=${SIZES:-1m 10m}
plot_sizes=${PLOT_SIZES:-10k 100k 1m 10m}
months=${MONTHS:-12}
entries=${ENTRIES:-200000}
rounds=${ROUNDS:-3}
batch=${BATCH:-1024}
stall_batches=${STALL_BATCHES:-2000}
scans=${SCANS:-} # empty: snapscan.sh's default, a window in which snapshots finish
load_rate=${LOAD_RATE:-20000}
# Targets of issue 16.
TARGET_MEMBER_B=256       # resident bytes per member at rest, everything included
TARGET_RECOVERY_S=10      # snapshot load of 10M members
TARGET_STALL_MS=20        # longest gap between batches during a snapshot
TARGET_FULL_OF_BASE=0.80  # full rulebook vs base-rate-only rulebook
TARGET_APPLY_OVER_LOOKUP=1.5
TARGET_SCALE_SPREAD=2.0   # ns per purchase, largest size over smallest
TARGET_SCAN_RATIO=2.0     # scan p99 during a snapshot over p99 without

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-issue16.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
step() { printf '[issue16.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
source "$top/bench/benchlib.sh" # read_results, rate, ratio, atleast, below
heavy() { if [ -e /work/heavy.lock ]; then flock /work/heavy.lock "$@"; else "$@"; fi; }
count() { # 10k -> 10000, 1m -> 1000000, 500 -> 500
    awk -v s="$1" 'BEGIN { n = s + 0; u = substr(s, length(s));
        printf "%d", (u == "k" ? n * 1e3 : (u == "m" ? n * 1e6 : n)) }'
}
declare -A r

step "building Release into $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log"
cmake --build "$build" -j "$(nproc)" --target bench_core bench_mem bench_e2e loyaltyd \
    >>"$tmp/build.log"
cat >"$tmp/base.conf" <<'CONF'
earning = { minor_per_unit = 100; points_per_unit = 1; require_enrollment = true; };
tiers = { basis = "points"; window_months = 12;
  levels = ( { name = "blue"; threshold = 0; multiplier_bp = 10000; perks = [ ]; } ); };
idempotency = { window_days = 35; max_txns = 5000000; };
CONF

core() { # KEYPREFIX CONF MEMBERS [ARGS...]
    local p=$1 conf=$2 m=$3
    shift 3
    heavy "$build/bench/bench_core" -c "$conf" --members "$m" --entries "$entries" \
        --rounds "$rounds" --purchases-only "$@" 2>/dev/null >"$tmp/core.out"
    read_results "$tmp/core.out" "$p"
}

mem() { # KEYPREFIX MEMBERS [ARGS...]
    local p=$1 m=$2
    shift 2
    heavy "$build/bench/bench_mem" -c "$top/conf/loyaltyd.conf" --members "$m" \
        --months "$months" --replay 100000 --batch "$batch" --stall-batches "$stall_batches" \
        --dir "$tmp" "$@" 2> >(grep -v ' applied$' >&2) >"$tmp/mem.out"
    read_results "$tmp/mem.out" "$p"
}

all=$(printf '%s\n' $sizes $plot_sizes | awk '!seen[$0]++')
for s in $all; do
    m=$(count "$s")
    step "$s: bench_core full rulebook, base-rate-only, with member prefetch"
    core "full.$s." "$top/conf/loyaltyd.conf" "$m"
    core "base.$s." "$tmp/base.conf" "$m"
    core "pf.$s." "$top/conf/loyaltyd.conf" "$m" --member-prefetch
    step "$s: bench_mem, $months months of history, THP as the system allows"
    mem "mem.$s." "$m"
    if printf '%s\n' $sizes | grep -qx "$s"; then
        step "$s: bench_mem --no-thp (the 4 KiB-page baseline of the stall)"
        mem "nothp.$s." "$m" --no-thp
        if [ "${scans:-1}" -gt 0 ]; then
            step "$s: bench/snapscan.sh, ${scans:-its default number of} scans under $load_rate purchases/s"
            heavy env MEMBERS="$m" SCANS="$scans" LOAD_RATE="$load_rate" BUILD="$build" \
                "$top/bench/snapscan.sh" >"$tmp/snapscan.out"
            read_results "$tmp/snapscan.out" "scan.$s."
        fi
    fi
done

ns() { awk -v v="$1" 'BEGIN { printf "%.0f", (v > 0 ? 1e9 / v : 0) }'; }
: >"$tmp/plot.dat"
for s in $plot_sizes; do
    echo "$(count "$s") $(ns "${r[full.$s.core.purchase.apply_per_s]}") $(ns "${r[pf.$s.core.purchase.apply_per_s]}") ${r[mem.$s.mem.rss_per_member]}" >>"$tmp/plot.dat"
done
plotted=""
if command -v gnuplot >/dev/null; then
    gnuplot <<GP && plotted=yes
set terminal pngcairo size 800,480 noenhanced
set output "$plot"
set title "loyaltyd, issue 16: cost and memory per member, $(date -u '+%Y-%m-%d')"
set xlabel "members"
set logscale x 10
set ylabel "ns per purchase (rules_apply, full rulebook)"
set y2label "resident bytes per member"
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
set grid
set key top left
plot "$tmp/plot.dat" using 1:2 with linespoints lw 2 pt 7 title "ns per purchase", \
     "$tmp/plot.dat" using 1:3 with linespoints lw 2 pt 5 dt 2 title "ns per purchase, member prefetch", \
     "$tmp/plot.dat" using 1:4 axes x1y2 with linespoints lw 2 pt 9 title "bytes per member (RSS)", \
     $TARGET_MEMBER_B axes x1y2 with lines dt 3 title "target 256 B/member"
GP
fi

first=$(echo $plot_sizes | cut -d' ' -f1)
last=$(echo $plot_sizes | awk '{ print $NF }')
spread=$(ratio "$(ns "${r[full.$last.core.purchase.apply_per_s]}")" \
    "$(ns "${r[full.$first.core.purchase.apply_per_s]}")")
step "appending to $results"
{
    printf '\n## Issue 16 figures (bench/issue16.sh) - %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- Code: commit %s; %s CPUs, Linux %s; THP enabled=%s defrag=%s, khugepaged defrag=%s\n' \
        "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')" "$(nproc)" "$(uname -r)" \
        "$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)" \
        "$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null)" \
        "$(cat /sys/kernel/mm/transparent_hugepage/khugepaged/defrag 2>/dev/null)"
    printf -- '- Command: `SIZES="%s" PLOT_SIZES="%s" MONTHS=%s bench/issue16.sh`: bench_core --purchases-only --entries %s --rounds %s (full conf/loyaltyd.conf, base-rate-only rulebook); bench_mem --months %s --batch %s --stall-batches %s, and --no-thp\n\n' \
        "$sizes" "$plot_sizes" "$months" "$entries" "$rounds" "$months" "$batch" "$stall_batches"
    printf '| figure | members | value | baseline, same run | ratio | target | verdict |\n'
    printf '| --- | --- | --- | --- | --- | --- | --- |\n'
    for s in $sizes; do
        printf '| resident bytes per member (RSS growth, %s months of history) | %s | %s B | | | <= 256 B | %s |\n' \
            "$months" "$s" "${r[mem.$s.mem.rss_per_member]}" \
            "$(atleast "$TARGET_MEMBER_B" "${r[mem.$s.mem.rss_per_member]}")"
        mbps=$(awk -v mb="${r[mem.$s.snap.mb]}" -v s="${r[mem.$s.snap.read_s]}" 'BEGIN { printf "%.0f", (s > 0 ? mb / s : 0) }')
        printf '| recovery: snapshot_read (%s MB, %s MB/s) | %s | %s s | | | <= 10 s, >= 500 MB/s | %s |\n' \
            "${r[mem.$s.snap.mb]}" "$mbps" "$s" "${r[mem.$s.snap.read_s]}" \
            "$(atleast "$TARGET_RECOVERY_S" "${r[mem.$s.snap.read_s]}")"
        printf '| longest gap between batches of %s during a snapshot (fork %s ms, first gap %s ms) | %s | %s ms | without a snapshot: %s ms | %s | <= 20 ms | %s |\n' \
            "$batch" "${r[mem.$s.stall.fork_ms]}" "${r[mem.$s.stall.first_ms]}" "$s" \
            "${r[mem.$s.stall.max_ms]}" "${r[mem.$s.stall.base_max_ms]}" \
            "$(ratio "${r[mem.$s.stall.max_ms]}" "${r[mem.$s.stall.base_max_ms]}")" \
            "$(atleast "$TARGET_STALL_MS" "${r[mem.$s.stall.max_ms]}")"
        printf '| the same, THP disabled (--no-thp; fork %s ms, first gap %s ms) | %s | %s ms | without a snapshot: %s ms | %s | (4 KiB-page baseline) | |\n' \
            "${r[nothp.$s.stall.fork_ms]}" "${r[nothp.$s.stall.first_ms]}" "$s" \
            "${r[nothp.$s.stall.max_ms]}" "${r[nothp.$s.stall.base_max_ms]}" \
            "$(ratio "${r[nothp.$s.stall.max_ms]}" "${r[nothp.$s.stall.base_max_ms]}")"
        full=${r[full.$s.core.purchase.apply_per_s]}
        printf '| rules_apply purchases, full rulebook | %s | %s | base-rate-only: %s | full = %s of base | >= 0.80 | %s |\n' \
            "$s" "$(rate "$full")" "$(rate "${r[base.$s.core.purchase.apply_per_s]}")" \
            "$(ratio "$full" "${r[base.$s.core.purchase.apply_per_s]}")" \
            "$(atleast "$(ratio "$full" "${r[base.$s.core.purchase.apply_per_s]}")" "$TARGET_FULL_OF_BASE")"
        printf '| rules_apply purchases, full rulebook vs the member lookup | %s | %s ns | lookup: %s ns | %sx | <= 1.5x | %s |\n' \
            "$s" "$(ns "$full")" "$(ns "${r[full.$s.core.purchase.lookup_per_s]}")" \
            "${r[full.$s.core.purchase.apply_over_lookup]}" \
            "$(atleast "$TARGET_APPLY_OVER_LOOKUP" "${r[full.$s.core.purchase.apply_over_lookup]}")"
        printf '| the same with member prefetch (bench_core --member-prefetch, as the daemon batch loop does) | %s | %s ns | lookup: %s ns | %sx | <= 1.5x | %s |\n' \
            "$s" "$(ns "${r[pf.$s.core.purchase.apply_per_s]}")" \
            "$(ns "${r[pf.$s.core.purchase.lookup_per_s]}")" \
            "${r[pf.$s.core.purchase.apply_over_lookup]}" \
            "$(atleast "$TARGET_APPLY_OVER_LOOKUP" "${r[pf.$s.core.purchase.apply_over_lookup]}")"
        if [ -n "${r[scan.$s.snapscan.p99_on_us]:-}" ]; then
            printf '| scan -> perk.triggered p99 under %s purchases/s while snapshots run (bench/snapscan.sh; %s finished meanwhile, longest fork %s s) | %s | %s us | without snapshots: %s us | %s | <= 2x | %s |\n' \
                "${r[scan.$s.snapscan.load_rate]}" "${r[scan.$s.snapscan.snapshots]}" \
                "${r[scan.$s.snapscan.fork_stall_max_s]}" "$s" "${r[scan.$s.snapscan.p99_on_us]}" \
                "${r[scan.$s.snapscan.p99_off_us]}" \
                "$(ratio "${r[scan.$s.snapscan.p99_on_us]}" "${r[scan.$s.snapscan.p99_off_us]}")" \
                "$(atleast "$TARGET_SCAN_RATIO" "$(ratio "${r[scan.$s.snapscan.p99_on_us]}" "${r[scan.$s.snapscan.p99_off_us]}")")"
        else
            printf '| scan -> perk.triggered p99 during a snapshot | %s | not measured (SCANS=0) | | | <= 2x | |\n' "$s"
        fi
    done
    printf '| cost per purchase, %s vs %s members (full rulebook) | | %s ns vs %s ns | | %sx | <= 2x | %s |\n' \
        "$last" "$first" "$(ns "${r[full.$last.core.purchase.apply_per_s]}")" \
        "$(ns "${r[full.$first.core.purchase.apply_per_s]}")" "$spread" \
        "$(atleast "$TARGET_SCALE_SPREAD" "$spread")"
    printf '\n| members | ns per purchase | with member prefetch | lookup ns | resident B/member | THP MB |\n| --- | --- | --- | --- | --- | --- |\n'
    for s in $plot_sizes; do
        printf '| %s | %s | %s | %s | %s | %s |\n' "$s" \
            "$(ns "${r[full.$s.core.purchase.apply_per_s]}")" \
            "$(ns "${r[pf.$s.core.purchase.apply_per_s]}")" \
            "$(ns "${r[full.$s.core.purchase.lookup_per_s]}")" \
            "${r[mem.$s.mem.rss_per_member]}" "${r[mem.$s.stall.huge_mb]}"
    done
    [ -z "$plotted" ] || printf '\n![cost per purchase and memory per member](%s)\n' "$(basename "$plot")"
} >>"$results"
step "done: $results"
