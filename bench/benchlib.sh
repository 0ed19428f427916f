# benchlib.sh - helpers bench/run.sh, bench/run_history.sh and
# bench/preview_load.sh share (sourced): processes we started, stopped by
# pid, and free loopback ports (proclib.sh, shared with scale.sh); a
# throwaway redis-server; `result KEY VALUE` lines; number formatting and
# verdicts for RESULTS.md. The sourcing script sets START_TRIES,
# READY_WAIT_S and $tmp, and defines step.

source "$(dirname "${BASH_SOURCE[0]}")/proclib.sh" # stop_pid, listening, free_port, wait_listening

# A throwaway redis-server (loopback, a free port, no persistence, files in
# $tmp) as redis_pid / redis_port.
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

# `result KEY VALUE` lines of the benchmarks, as r[PREFIXKEY]=VALUE (the
# caller declares the associative array r).
read_results() {
    local key value
    while read -r _ key value; do r[${2:-}$key]=$value; done < <(grep '^result ' "$1")
}

# wrk's "Latency Distribution" percentile $2 (50%, 99%) of file $1, in us.
wrk_pct() {
    awk -v p="$2" '$1 == p { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        m = (u == "ms" ? 1000 : (u == "s" ? 1e6 : 1)); printf "%.1f", v * m; exit }' "$1"
}

# Formatting: k/s and M/s rates, ratios, verdicts.
rate() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2fM/s", v / 1e6;
                                  else printf "%.1fk/s", v / 1e3 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
atleast() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "**met**" : "**missed**") }'; }
below() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t ? "**met**" : "**missed**") }'; }
