#!/usr/bin/env bash
# demo.sh - loyaltyd end to end on this machine, in one command.
#
# Installs missing packages (scripts/deps.sh), builds a Release build into
# build-release/, starts a throwaway Redis (data in .demo/, appendonly) on a
# free loopback port, starts the daemon, and pushes simulated POS traffic
# with loyalty-posload while loyaltyctl tail prints every tier change and VIP
# perk, and prints the address of the dashboard (/ui/) that shows the
# program live. Event time is simulated (a minute of it per entry), so members move
# up tiers within seconds and a year passes in a few minutes. Ctrl-C stops
# everything; the logs stay in .demo/. Each run starts from a clean .demo/.
#
# Environment:
#   LOYALTY_REDIS=HOST:PORT  use this Redis instead of starting one (the demo
#                            then appends to its loyalty:* streams)
#   LOYALTY_RATE=N           entries per second (default 2000)
#   LOYALTY_SEED=N           posload seed (default: the current time)
set -euo pipefail
set -m # each child in its own process group: Ctrl-C reaches this script only,
       # which then stops the children in order (producer, daemon, Redis)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-release
DEMO=$ROOT/.demo
RATE=${LOYALTY_RATE:-2000}
SEED=${LOYALTY_SEED:-$(date +%s)}
STEP_MS=60000        # simulated event time per entry: a year in ~4 min at 2000/s
STOP_WAIT_S=30       # how long the daemon may take to write its snapshot and exit
START_WAIT_S=10      # how long Redis and the daemon may take to come up

redis_pid=""
daemon_pid=""
ledger_pid=""
tail_pid=""
load_pid=""

say() { printf 'demo: %s\n' "$*" >&2; }

# A loopback port nothing listens on now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds.
wait_until() {
  local tries=$(($1 * 10))
  shift
  until "$@" >/dev/null 2>&1; do
    ((tries-- > 0)) || return 1
    sleep 0.1
  done
}

healthy() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://$HTTP/healthz"
}

# stop PID NAME SECONDS: SIGTERM, then wait up to SECONDS for it to exit.
stop() {
  local pid=$1 name=$2 tries=$(($3 * 10))
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((tries-- > 0)); do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) did not stop within $3 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM # a second Ctrl-C must not leave the children running
  set +e
  echo >&2
  say "stopping"
  stop "$load_pid" loyalty-posload 5
  stop "$tail_pid" "loyaltyctl tail" 5
  stop "$daemon_pid" loyaltyd "$STOP_WAIT_S"
  stop "$ledger_pid" loyalty-ledger "$STOP_WAIT_S"
  stop "$redis_pid" redis-server "$STOP_WAIT_S"
  if [[ -d $DEMO ]]; then
    say "logs: $DEMO/loyaltyd.log (daemon), $DEMO/ledger.log (ledger), $DEMO/posload.log (load)" \
      "${redis_pid:+and $DEMO/redis.log (Redis)}"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$ROOT/scripts/deps.sh"

say "building Release into $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target loyaltyd loyalty-posload loyaltyctl loyalty-scan \
  loyalty-ledger \
  >/dev/null

rm -rf "$DEMO"
mkdir -p "$DEMO/redis" "$DEMO/data"

if [[ -n ${LOYALTY_REDIS:-} ]]; then
  REDIS=$LOYALTY_REDIS
  say "using Redis at $REDIS"
else
  port=$(free_port)
  REDIS=127.0.0.1:$port
  redis-server --bind 127.0.0.1 --port "$port" --dir "$DEMO/redis" --appendonly yes \
    --save "" --logfile "$DEMO/redis.log" </dev/null &
  redis_pid=$!
  wait_until "$START_WAIT_S" redis-cli -p "$port" ping || { say "Redis did not start"; exit 1; }
  say "Redis on $REDIS (pid $redis_pid, data in $DEMO/redis)"
fi

# The ledger on a SQLite file, so the dashboard's member page shows history:
# its own API on a free port, which the daemon relays /v1/members/ID/history to.
LEDGER_HTTP=127.0.0.1:$(free_port)
cat >"$DEMO/ledger.conf" <<CONF
ledger = {
  redis = "$REDIS";
  database = "sqlite://$DEMO/ledger.db";
  http = "$LEDGER_HTTP";
};
CONF
"$BUILD/clients/ledger/loyalty-ledger" -c "$DEMO/ledger.conf" </dev/null \
  2>"$DEMO/ledger.log" &
ledger_pid=$!
say "loyalty-ledger on http://$LEDGER_HTTP (pid $ledger_pid, SQLite $DEMO/ledger.db)"
# The shipped configuration, pointed at that ledger.
sed "s|^daemon = {|daemon = {\n  ledger = \"$LEDGER_HTTP\";|" "$ROOT/conf/loyaltyd.conf" \
  >"$DEMO/loyaltyd.conf"

HTTP=127.0.0.1:$(free_port)
"$BUILD/engine/loyaltyd" -c "$DEMO/loyaltyd.conf" --redis "$REDIS" --http "$HTTP" \
  --data "$DEMO/data" </dev/null 2>"$DEMO/loyaltyd.log" &
daemon_pid=$!
if ! wait_until "$START_WAIT_S" healthy; then
  say "loyaltyd did not come up; the end of its log:"
  tail -n 20 "$DEMO/loyaltyd.log" >&2
  exit 1
fi
say "loyaltyd on http://$HTTP (pid $daemon_pid)"
say "dashboard: http://$HTTP/ui/  (open it in a browser: the program, live)"

"$BUILD/clients/loyaltyctl" tail --redis "$REDIS" --kind tier.changed,perk.triggered --time \
  </dev/null &
tail_pid=$!

"$BUILD/clients/loyalty-posload" --redis "$REDIS" --rate "$RATE" --seed "$SEED" \
  --members 500 --stores 20 --terminals 4 --mix purchase=88,scan=2,redeem=4,refund=4,enroll=2 \
  --start-ts "$(($(date +%s) * 1000))" --ts-step-ms "$STEP_MS" \
  </dev/null 2>"$DEMO/posload.log" &
load_pid=$!

say "pushing $RATE entries/s (seed $SEED); tier changes and perks follow. Ctrl-C stops."
say "meanwhile, try: $BUILD/clients/loyaltyctl member M000001 --http $HTTP"
say "          or:   $BUILD/clients/loyalty-scan --redis $REDIS --member M000001   (a real scan)"
say "          or:   curl http://$HTTP/v1/members/M000001"
say "the dashboard: http://$HTTP/ui/ (member page: http://$HTTP/ui/#/member/M000001)"
wait "$tail_pid" || true
