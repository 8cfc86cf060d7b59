#!/usr/bin/env bash
# Kubernetes NetworkPolicy transitions against one long-running bulkheadd: the 3x3 model goes
# through the steps under tests/data/conformance/transitions/ (a policy updated, a pod relabelled
# into and out of a selector, a namespace relabelled, a pod added, a policy deleted), each a full
# set of policy files and an inventory. The script changes the daemon's files to the step's (each
# file replaced by rename, as editors and config managers do) and then requires a
# `bulkhead verify` started at most 2 s after the change to match the step's hand-checked
# expected.txt with zero mismatches. It prints, per step, when the matching verify started.
# usage: k8s_transitions.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/k8s_lab.sh"

data=$src/tests/data/conformance/transitions
prefix=bhx$$
work=$(mktemp -d)
daemon_pid=
cleanup() {
  set +e
  [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null
  k8s_lab_down
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

live=$work/policy
inv=$work/inventory.yaml
mkdir -p "$live"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Makes the daemon's policy directory and inventory equal to step directory $1, touching only
# what differs.
install_step() {
  local dir=$1 f
  # Few processes: under load each fork costs milliseconds, and they all count as latency below.
  for f in "$dir"/policy/*.yaml; do
    cmp -s "$f" "$live/${f##*/}" && continue
    cp "$f" "$live/.${f##*/}.tmp"
    mv -f "$live/.${f##*/}.tmp" "$live/${f##*/}"
  done
  for f in "$live"/*.yaml; do
    [ -e "$f" ] || continue
    [ -e "$dir/policy/${f##*/}" ] || rm -f "$f"
  done
  if cmp -s "$work/inventory.next" "$inv"; then
    rm -f "$work/inventory.next"
  else
    mv -f "$work/inventory.next" "$inv"
  fi
}

# verify_until DEADLINE_MS EXPECTED: runs verify until one run matches EXPECTED in full; fails
# when a run that would start after DEADLINE_MS is needed. Sets $runs, and $matched_at_ms and
# $matched_end_ms to when the matching run started and ended.
verify_until() {
  local deadline=$1 expected=$2 out=$work/verify.txt start rc diffs=
  runs=0
  while :; do
    start=$(now_ms)
    if [ "$start" -gt "$deadline" ]; then
      echo "  pairs that differ from expected.txt in the last run:"
      echo "$diffs"
      cat "$out"
      echo "  daemon log (last 20 lines):"
      tail -20 "$work/daemon.log"
      return 1
    fi
    runs=$((runs + 1))
    rc=0
    "$build/bulkhead" verify "$live" --inventory "$inv" --ports "$k8s_ports" --timeout-ms 300 \
      --parallel 100 >"$out" 2>&1 || rc=$?
    diffs=$(k8s_diff_tables "$expected" "$out") || rc=1
    if [ "$rc" = 0 ]; then
      matched_at_ms=$start
      matched_end_ms=$(now_ms)
      return 0
    fi
    sleep 0.05
  done
}

started=$(date +%s%N)
previous=
report=()
for dir in "$data"/*/; do
  name=$(basename "$dir")
  step "$name"
  # The hand-checked table must be what the reference evaluator says, and must differ from the
  # previous step's: a step that changes nothing would pass without the daemon doing anything.
  "$build/bulkhead" verify "$dir/policy" --inventory "$dir/inventory.yaml.in" --ports "$k8s_ports" \
    --expected-only >"$work/evaluator.txt"
  diff -u "$dir/expected.txt" "$work/evaluator.txt" ||
    fail "$name: the reference evaluator differs from the hand-checked expected.txt (diff above)"
  if [ -n "$previous" ] && cmp -s "$previous/expected.txt" "$dir/expected.txt"; then
    fail "$name: the expected table equals the previous step's; the step would prove nothing"
  fi

  # New pods get their namespace and servers before the inventory names them, as a container
  # runtime creates the sandbox before the pod is reported.
  sed "s/@PREFIX@/$prefix/g" "$dir/inventory.yaml.in" >"$work/inventory.next"
  k8s_lab_up "$work/inventory.next"
  # Taken before the first file changes, so every time below is an upper bound.
  changed=$(now_ms)
  install_step "$dir"
  if [ -z "$daemon_pid" ]; then
    "$build/bulkheadd" --hook-socket none --policy "$live" --source "inventory:$inv" --log-level info \
      --status-socket "$work/status.sock" >"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    # Start-up is not a transition: allow it more time.
    verify_until $((changed + 10000)) "$dir/expected.txt" || fail "$name: no match after start-up"
  else
    verify_until $((changed + 2000)) "$dir/expected.txt" ||
      fail "$name: the dataplane did not match within 2 s of the change"
  fi
  # The daemon's own view: its last "endpoint enforced" log line, relative to the change.
  applied=$(awk '/endpoint enforced/ { t = $1 } END { print t }' "$work/daemon.log")
  applied=$([ -n "$applied" ] && echo "$(($(date -d "$applied" +%s%3N) - changed)) ms" || echo "-")
  report+=("$name: last apply logged at +$applied; matched by verify run $runs, which started $((matched_at_ms - changed)) ms and ended $((matched_end_ms - changed)) ms after the change")
  kill -0 "$daemon_pid" || fail "$name: bulkheadd died: $(tail -5 "$work/daemon.log")"
  previous=$dir
done

step "bulkheadd stops cleanly on SIGTERM"
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
[ "$rc" = 0 ] || fail "bulkheadd exited $rc on SIGTERM"

printf '  %s\n' "${report[@]}"
echo "k8s_transitions: all steps matched ($((($(date +%s%N) - started) / 1000000000))s)"
