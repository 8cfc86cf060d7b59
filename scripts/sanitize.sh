#!/usr/bin/env bash
# Builds bulkhead with clang under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer
# into ./build-asan and runs the unit, kernel and script tests there with ctest. The script tests
# take the build directory as an argument, so they drive the sanitized bulkhead and bulkheadd.
#   ./scripts/sanitize.sh [CTEST_ARGS...]
# Any sanitizer report fails the test it happens in (-fno-sanitize-recover=all, exit code 1).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-asan
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DBULKHEAD_SANITIZE=ON \
  -DBULKHEAD_BENCH=OFF -DBULKHEAD_FUZZ=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$dir"
# Leaks are checked at every exit, including the daemon's on SIGTERM. A report makes the program
# exit 1 instead of aborting, so the test shows the report rather than a core dump.
export ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
ctest --test-dir "$dir" --output-on-failure "$@"
