#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages loyaltyd needs to build, test and
# run (see the top-level CMakeLists.txt for why each library). Does nothing
# when all of them are installed already; otherwise runs apt-get, with sudo
# when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang          # toolchain (clang: fuzzing)
  libevent-dev libhiredis-dev libmsgpack-dev       # the fixed stack
  libconfig-dev libjansson-dev libxxhash-dev       # config, JSON, hashing
  libsystemd-dev                                   # sd_notify (systemd units)
  zlib1g-dev                                       # crc32: the partition function
  libzstd-dev                                      # the input archive's compression
  libcmocka-dev                                    # unit tests
  libsqlite3-dev libpq-dev                         # loyalty-ledger: SQLite, PostgreSQL
  postgresql                                       # the ledger's tests and bench/ledger
  redis-server                                     # the streams
  python3 python3-pytest python3-redis python3-msgpack  # integration tests
  wrk gnuplot-nox                                   # bench/run.sh: HTTP load, plot
  prometheus                                       # promtool: /metrics lint test
  systemd                                          # systemd-analyze verify (unit test)
  chromium python3-websocket                       # dashboard tests (DevTools protocol)
)
# The Node client (clients/node) and its tests: Debian's nodejs and npm,
# unless a node and an npm are on PATH already (another build of Node may
# conflict with Debian's npm package).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

ROOT=$(cd "$(dirname "$0")/.." && pwd)

# clients/node's packages, exactly as its package-lock.json pins them; done
# again only when the lock file is newer than the installed tree.
node_packages() {
  local dir=$ROOT/clients/node
  if [[ -f $dir/node_modules/.package-lock.json &&
        ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    return 0
  fi
  echo "deps: npm ci in clients/node" >&2
  (cd "$dir" && npm ci --no-audit --no-fund)
}

installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PACKAGES[@]} packages are installed" >&2
  node_packages
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
echo "deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
node_packages
