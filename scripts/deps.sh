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
  libcmocka-dev                                    # unit tests
  libsqlite3-dev libpq-dev                         # loyalty-ledger: SQLite, PostgreSQL
  postgresql                                       # the ledger's tests and bench/ledger
  redis-server                                     # the streams
  python3 python3-pytest python3-redis python3-msgpack  # integration tests
  wrk gnuplot-nox                                   # bench/run.sh: HTTP load, plot
)

installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PACKAGES[@]} packages are installed" >&2
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
echo "deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
