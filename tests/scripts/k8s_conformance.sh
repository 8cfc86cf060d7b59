#!/usr/bin/env bash
# Kubernetes NetworkPolicy conformance in real namespaces: the 3x3 model of the upstream e2e tests
# (namespaces x, y, z; pods a, b, c; every pod serving TCP and UDP on 80 and 81) and one case per
# directory under tests/data/conformance/cases/. For each case:
#   1. the reference evaluator's truth table (`bulkhead verify --expected-only`) must equal the
#      case's hand-checked expected.txt;
#   2. after `bulkheadd --once`, `bulkhead verify` probes every pair on 80/tcp, 81/tcp, 80/udp and
#      81/udp: it must report no mismatch, and what the probes saw must equal expected.txt.
# A failing case prints the pairs that differ and verify's comparison matrices; the other cases
# still run. K8S_CASES='13-*' runs only the matching cases.
# usage: k8s_conformance.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/k8s_lab.sh"

data=$src/tests/data/conformance
prefix=bhk$$
work=$(mktemp -d)
cleanup() {
  set +e
  k8s_lab_down
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s%N)
inv=$work/inventory.yaml
k8s_inventory_render "$data/inventory.yaml.in" "$inv"
step "lab: 9 pods on one bridge, each serving 80 and 81 over TCP and UDP"
k8s_lab_up "$inv"

last_verify=0
# probe_case DIR OUT: a probing verify of the case; 0 when it reports no mismatch and what the
# probes saw equals expected.txt. Sets $diffs to the pairs that differ.
probe_case() {
  local dir=$1 out=$2 rc=0
  # Let the previous run's UDP conntrack entries expire (see k8s_lab_add).
  while [ $(($(date +%s%N) - last_verify)) -lt 1100000000 ]; do sleep 0.1; done
  "$build/bulkhead" verify "$data/namespaces.yaml" "$dir" --inventory "$inv" \
    --ports "$k8s_ports" --timeout-ms 400 --parallel 81 >"$out" 2>&1 || rc=$?
  last_verify=$(date +%s%N)
  diffs=$(k8s_diff_tables "$dir/expected.txt" "$out") || rc=1
  return "$rc"
}

failed=()
count=0
for dir in "$data"/cases/${K8S_CASES:-*}/; do
  case=$(basename "$dir")
  count=$((count + 1))
  step "$case"
  eval_out=$work/$case.expected.txt
  # The template inventory is enough here: --expected-only opens no namespace.
  "$build/bulkhead" verify "$data/namespaces.yaml" "$dir" --inventory "$data/inventory.yaml.in" \
    --ports "$k8s_ports" --expected-only >"$eval_out"
  if ! diff -u "$dir/expected.txt" "$eval_out"; then
    echo "  the reference evaluator differs from the hand-checked $case/expected.txt (diff above)"
    failed+=("$case (evaluator)")
  fi

  if ! "$build/bulkheadd" --hook-socket none --policy "$data/namespaces.yaml" --policy "$dir" \
    --source "inventory:$inv" --once --log-level warn; then
    failed+=("$case (enforce)")
    continue
  fi
  out=$work/$case.verify.txt
  # One probing run: a wrong rule, a probe lost in the lab and a timeout are all failures to look
  # at, and a second run would hide the last two.
  probe_case "$dir" "$out" && continue
  echo "  the dataplane differs from the truth table; pairs that differ from expected.txt:"
  echo "${diffs:-  (none: the probes agree with expected.txt but verify failed)}"
  cat "$out"
  failed+=("$case (dataplane)")
done

[ "$count" -gt 0 ] || fail "no case matches '${K8S_CASES:-*}'"
secs=$((($(date +%s%N) - started) / 1000000000))
if [ ${#failed[@]} -gt 0 ]; then
  printf '  failed: %s\n' "${failed[@]}"
  fail "${#failed[@]} check(s) failed in $count case(s) (${secs}s)"
fi
echo "k8s_conformance: all $count cases match, evaluator and dataplane (${secs}s)"
