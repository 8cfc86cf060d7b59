#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time.
#   ./scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# A crash, leak or hang fails the run; libFuzzer leaves the input as crash-*/timeout-*/leak-*
# in build-fuzz/artifacts/: minimise it, fix the cause and keep it in tests/fuzz/regressions/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DBULKHEAD_FUZZ=ON \
  -DBULKHEAD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz load_policy_fuzz load_inventory_fuzz
mkdir -p build-fuzz/artifacts
seeds=(examples/shop examples/kubernetes examples/compose examples/swarm tests/fuzz/regressions)
for target in load_policy_fuzz load_inventory_fuzz; do
  corpus=build-fuzz/corpus-$target
  mkdir -p "$corpus"
  echo "fuzzing $target for ${seconds}s"
  build-fuzz/tests/fuzz/$target -dict=tests/fuzz/policy.dict -max_total_time="$seconds" \
    -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/ "$corpus" "${seeds[@]}" 2>&1 | tail -15
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $target found a problem" >&2; exit 1; }
done
echo "fuzz: no crash, leak or hang"
