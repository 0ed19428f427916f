# preview_load.sh - sourced by bench/run_history.sh: POST /v1/preview
# latency while purchases flow at half the daemon's capacity, against
# GET /v1/members/ID at the same rate in the same run (the baseline: both
# answer from memory on the event loop between batches).
#
# preview_under_load: redis-server and loyaltyd (conf/loyaltyd.conf) on
# free loopback ports; bench_e2e enrols $preview_members members and
# measures the purchase capacity (200,000 preloaded); loyalty-posload then
# sends purchases at half of it while wrk posts previews at $preview_rate/s
# for $preview_seconds s, then GETs members at the same rate. Sets r[pv.*].
# preview_rows: the RESULTS.md rows.

start_pair() {
    local try
    start_redis
    for ((try = 0; try < START_TRIES; try++)); do
        http_port=$(free_port)
        rm -rf "$tmp/data" && mkdir "$tmp/data"
        "$build/engine/loyaltyd" -c "$top/conf/loyaltyd.conf" --data "$tmp/data" \
            --redis "127.0.0.1:$redis_port" --http "127.0.0.1:$http_port" 2>>"$tmp/loyaltyd.log" &
        daemon_pid=$!
        wait_listening "$daemon_pid" "$http_port" && return 0
        stop_pid "$daemon_pid"
        daemon_pid=""
    done
    step "could not start loyaltyd"
    return 1
}

# wrk_paced SCRIPT OUT: wrk at about $preview_rate requests/s (connections
# calibrated by a 2 s run of 10, as bench/run.sh does), p50/p99 into OUT.
wrk_paced() {
    local script=$1 out=$2 conns
    WRK_MEMBERS=$preview_members WRK_DELAY_MS=1 wrk -t1 -c 10 -d 2s -s "$script" \
        "http://127.0.0.1:$http_port/" >"$out.cal"
    conns=$(awk -v want="$preview_rate" '/^Requests\/sec:/ { c = int(1.2 * want * 10 / $2 + 0.999) }
        END { print (c >= 1 && c <= 1000 ? c : 10) }' "$out.cal")
    WRK_MEMBERS=$preview_members WRK_DELAY_MS=1 wrk -t1 -c "$conns" -d "${preview_seconds}s" \
        --latency -s "$script" "http://127.0.0.1:$http_port/" | tee "$out"
}

preview_under_load() {
    start_pair
    "$build/bench/bench_e2e" --redis "127.0.0.1:$redis_port" --http "127.0.0.1:$http_port" \
        --members "$preview_members" --purchases 200000 --scans 0 --daemon-pid "$daemon_pid" |
        tee "$tmp/pv_e2e.out"
    read_results "$tmp/pv_e2e.out" pv.
    r[pv.half]=$(awk -v v="${r[pv.e2e.purchases_per_s]}" 'BEGIN { printf "%d", v / 2 }')
    "$build/clients/loyalty-posload" --redis "127.0.0.1:$redis_port" --rate "${r[pv.half]}" \
        --members 1000 --mix purchase=100 --retry-pct 0 --quiet >"$tmp/posload.log" 2>&1 &
    load_pid=$!
    wrk_paced "$top/bench/preview.lua" "$tmp/wrk_preview.out"
    wrk_paced "$top/bench/members.lua" "$tmp/wrk_members.out"
    stop_pid "$load_pid"
    load_pid=""
    for k in preview members; do
        r[pv.$k.rate]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$tmp/wrk_$k.out")
        r[pv.$k.p50]=$(wrk_pct "$tmp/wrk_$k.out" 50%)
        r[pv.$k.p99]=$(wrk_pct "$tmp/wrk_$k.out" 99%)
        r[pv.$k.non2xx]=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk_$k.out")
    done
    stop_pid "$daemon_pid"
    daemon_pid=""
    stop_pid "$redis_pid"
    redis_pid=""
}

preview_rows() {
    printf '| POST /v1/preview p50 / p99, %s req/s achieved (non-2xx: %s), purchases at %s/s (half of %s/s measured) | %s / %s us | GET /v1/members/ID, same load, %s req/s: %s / %s us | p99 %sx | p99 <= 1 ms | %s |\n' \
        "${r[pv.preview.rate]}" "${r[pv.preview.non2xx]:-0}" "${r[pv.half]}" \
        "${r[pv.e2e.purchases_per_s]}" "${r[pv.preview.p50]}" "${r[pv.preview.p99]}" \
        "${r[pv.members.rate]}" "${r[pv.members.p50]}" "${r[pv.members.p99]}" \
        "$(ratio "${r[pv.preview.p99]}" "${r[pv.members.p99]}")" \
        "$(below "${r[pv.preview.p99]}" "$((TARGET_PREVIEW_P99_US + 1))")"
}
