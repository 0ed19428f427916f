# bench/proclib.sh - processes and ports of the benchmark scripts (sourced by
# run.sh and scale.sh). Needs READY_WAIT_S set by the caller.

# Stops a process we started, by pid: TERM (and CONT: a preload may have
# left it stopped), then KILL after $2 s (15: a daemon holding millions of
# members writes its snapshot on a clean stop and needs more).
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true
    for ((i = 0; i < ${2:-15} * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# True when something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on now, with port + 10000 free too (a Redis Cluster
# node's bus); the caller still checks that its server got it: another
# process may take it first.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 30000))
        listening "$port" || listening $((port + 10000)) || { echo "$port"; return; }
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
