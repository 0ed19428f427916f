# benchlib.sh - helpers bench/run.sh and bench/run_history.sh share
# (sourced): processes we started, stopped by pid; free loopback ports;
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

# `result KEY VALUE` lines; number formatting and verdicts for RESULTS.md.
# The sourcing script sets START_TRIES, READY_WAIT_S and $tmp, and defines step.

# Stops a process we started, by pid: TERM, then KILL after 15 s.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true # a preload may have left it stopped
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

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
