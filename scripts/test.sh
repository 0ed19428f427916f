#!/usr/bin/env bash
# Builds loyaltyd and runs the whole test suite twice: a normal build
# (RelWithDebInfo, warnings are errors) and one with AddressSanitizer and
# UBSan. Installs missing Debian packages first (scripts/deps.sh).
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/deps.sh

run_suite() { # name, cmake args...
    local dir=$1
    shift
    echo "=== build ${dir} ($*)"
    cmake -S . -B "${dir}" "$@" >"${dir}.configure.log" 2>&1 ||
        { cat "${dir}.configure.log"; exit 1; }
    cmake --build "${dir}" -j "${jobs}"
    echo "=== test ${dir}"
    (cd "${dir}" && ctest --output-on-failure -j "${jobs}" --timeout 600 "${CTEST_ARGS[@]}")
}

CTEST_ARGS=("$@")
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Sanitizers: any report aborts the process (-fno-sanitize-recover=all),
# so a finding fails the test that triggered it. Built with clang, which
# also builds the libFuzzer targets: each fuzzes for LOYALTY_FUZZ_SECONDS
# (45) as a ctest of this suite (label "fuzz").
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CC=clang run_suite build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DLOYALTY_SANITIZE=ON -DLOYALTY_FUZZ=ON
