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
ninja -C build-fuzz load_policy_fuzz load_inventory_fuzz docker_json_fuzz cluster_json_fuzz \
  hook_protocol_fuzz oci_state_fuzz
mkdir -p build-fuzz/artifacts
yaml_seeds="examples/shop examples/kubernetes examples/compose examples/swarm tests/fuzz/seeds/native \
  tests/fuzz/seeds/kubernetes tests/fuzz/regressions"
# Real Engine API responses (Docker and Podman captures), small hand-written ones, and past findings.
json_seeds="tests/data/docker tests/fuzz/seeds/docker tests/fuzz/regressions/docker"
# etcd gateway answers and cluster records as other hosts write them.
cluster_seeds="tests/fuzz/seeds/cluster"
# Hook requests and daemon answers (enforcer/hook/protocol.cc).
hook_seeds="tests/fuzz/seeds/hook"
# OCI states as runc and Podman hand them to bulkhead-hook, and a Docker bundle's config.json.
oci_seeds="tests/fuzz/seeds/oci"
for spec in "load_policy_fuzz policy.dict $yaml_seeds" "load_inventory_fuzz policy.dict $yaml_seeds" \
  "docker_json_fuzz docker.dict $json_seeds" "cluster_json_fuzz cluster.dict $cluster_seeds" \
  "hook_protocol_fuzz hook.dict $hook_seeds" "oci_state_fuzz oci.dict $oci_seeds"; do
  read -r target dict seeds <<<"$spec"
  corpus=build-fuzz/corpus-$target
  mkdir -p "$corpus"
  echo "fuzzing $target for ${seconds}s"
  # shellcheck disable=SC2086 # the seed directories are words
  build-fuzz/tests/fuzz/$target -dict=tests/fuzz/$dict -max_total_time="$seconds" \
    -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/ "$corpus" $seeds 2>&1 | tail -15
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $target found a problem" >&2; exit 1; }
done
echo "fuzz: no crash, leak or hang"
