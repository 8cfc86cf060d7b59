#!/usr/bin/env bash
# Every example lints clean against its inventory (--strict: not even a warning), and
# `bulkhead compile` prints exactly the reviewed rulesets in tests/golden/.
# UPDATE_GOLDEN=1 rewrites the golden files (review the diff before committing).
# usage: examples_golden.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$2"
source tests/scripts/lib/common.sh
status=0
for dir in examples/*/; do
  name=$(basename "$dir")
  inv=$dir/inventory.yaml
  [ -f "$inv" ] || continue
  step "$name: lint --strict"
  "$build/bulkhead" lint "$dir" --inventory "$inv" --strict || { echo "FAIL: $name does not lint clean"; status=1; }
  step "$name: compile matches tests/golden/$name.compile.txt"
  out=$(mktemp)
  "$build/bulkhead" compile "$dir" --inventory "$inv" >"$out"
  if [ -n "${UPDATE_GOLDEN:-}" ]; then
    cp "$out" "tests/golden/$name.compile.txt"
  elif ! diff -u "tests/golden/$name.compile.txt" "$out"; then
    echo "FAIL: $name compile output differs from the golden file"
    status=1
  fi
  rm -f "$out"
done
exit $status
