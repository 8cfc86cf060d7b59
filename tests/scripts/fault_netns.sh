#!/usr/bin/env bash
# Namespaces that disappear while a running bulkheadd applies a policy change to 60 of them: the
# others get the new policy whole (read back), a denied flow stays denied, the vanished ones are
# `failed` in status with the error and logged; recreated, they are enforced by themselves; taken
# out of the inventory while gone, they are released without error and retried no more.
# usage: fault_netns.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
BUILD=$build
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/ruleset.sh"

N=60
# The endpoint namespaces (no links) go in one batch; netlab_down then takes the rest.
lab_extra_cleanup() {
  ip netns list | awk -v p="$prefix-e" 'index($1, p) == 1 {print "netns del " $1}' >"$work/del.batch"
  ip -force -batch "$work/del.batch" 2>/dev/null
}
lab_begin bhn$$
t_start=$(date +%s)

netlab_up "$prefix" p1=198.18.0.2 p2=198.18.0.3
for ((i = 2; i < N; i++)); do echo "netns add $prefix-e$i"; done | ip -batch -
write_inventory() {  # [SKIP_FROM SKIP_TO]: endpoints eSKIP_FROM..eSKIP_TO left out
  local from=${1:-0} to=${2:--1} i
  {
    echo "endpoints:"
    echo "  - {name: p1, netns: /run/netns/$prefix-p1, labels: {role: probe}, addresses: [198.18.0.2]}"
    echo "  - {name: p2, netns: /run/netns/$prefix-p2, labels: {role: r1}, addresses: [198.18.0.3]}"
    for ((i = 2; i < N; i++)); do
      [ $i -ge "$from" ] && [ $i -le "$to" ] && continue
      echo "  - {name: e$i, netns: /run/netns/$prefix-e$i, labels: {role: r$((i % 4))}, addresses: [198.18.1.$i]}"
    done
  } >"$work/inventory.tmp"
  mv "$work/inventory.tmp" "$work/inventory.yaml"
}
write_inventory
ruleset_list "$work/inventory.yaml" >"$work/list"
write_policy() {  # PORT DIR
  mkdir -p "$2"
  {
    cat <<EOF
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: chain
spec:
  groups:
    probe: {selector: role=probe, isolate: []}
EOF
    for g in 0 1 2 3; do echo "    r$g: {selector: role=r$g}"; done
    echo "  allow:"
    echo "    - {from: [probe], to: [r1], ports: [8080/tcp]}"
    for g in 0 1 2; do echo "    - {from: [r$g], to: [r$((g + 1))], ports: [$1/tcp]}"; done
  } >"$2/p.yaml"
}
write_policy 9000 "$work/A"
write_policy 9001 "$work/B"
mkdir "$work/policy"
# Rule comments name the file, so each is compiled from where the daemon reads it.
cp "$work/B/p.yaml" "$work/policy/p.yaml"
ruleset_expected "$work/policy" "$work/inventory.yaml" "$work/expB"
cp "$work/A/p.yaml" "$work/policy/p.yaml"
ruleset_expected "$work/policy" "$work/inventory.yaml" "$work/expA"

status() { "$build/bulkhead" status --status-socket "$work/status.sock" --json; }
count_state() { status | jq --arg s "$1" '[.endpoints[] | select(.state == $s)] | length'; }
all_enforced() { [ "$(count_state enforced)" = "$1" ]; }
holds() { ruleset_seen "$work/list" "$work/seen" && ruleset_diff "$1" "$work/seen"; }  # EXPECTED
# The same, for the namespaces that still exist.
holds_except_gone() {  # EXPECTED
  ruleset_seen "$work/list" "$work/seen"
  grep -v ' gone$' "$work/seen" >"$work/seen.present" || true
  awk '{print $1}' "$work/seen.present" | join - "$1" >"$work/exp.present"
  ruleset_diff "$work/exp.present" "$work/seen.present"
}
denied_stays_denied() {
  ! ip netns exec "$prefix-p1" timeout 0.3 bash -c 'echo >/dev/tcp/198.18.0.3/7070' 2>/dev/null ||
    fail "p1 reached p2:7070, which the policy denies"
  ip netns exec "$prefix-p1" timeout 0.5 bash -c 'echo >/dev/tcp/198.18.0.3/8080' 2>/dev/null ||
    fail "p1 could not reach p2:8080 (the probe is broken)"
}
# Never `grep | grep -q` here: once the first grep's output passes a pipe buffer (the retries'
# log lines add up), the quitting `grep -q` kills it with SIGPIPE and pipefail fails the match.
released() { grep '"endpoint released"' "$work/daemon.log" | grep "\"endpoint\":\"$1\"" >/dev/null; }

ip netns exec "$prefix-p2" "$build/lab_server" --lifetime 300 7070 8080 >"$work/server.log" 2>&1 &
server_pid=$!
wait_for 5 grep -q ready "$work/server.log" || fail "lab_server did not start"

step "$N endpoints enforced with policy A"
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inventory.yaml" \
  --resync-interval 1 --log-format json --status-socket "$work/status.sock" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 30 all_enforced $N || fail "not all enforced: $(tail -3 "$work/daemon.log")"
holds "$work/expA" || fail "A not in place"
denied_stays_denied

step "policy B while 10 namespaces are deleted in the middle of the apply"
cp "$work/B/p.yaml" "$work/policy/p.tmp"
mv "$work/policy/p.tmp" "$work/policy/p.yaml"
# Aims the deletions at the apply (the daemon waits 50 ms for editors to finish, then applies).
# Nothing waits for an outcome here: deleted before, during or after the apply, the 10 must be
# reported failed and every other namespace must get B, which the waits below check.
sleep 0.05
for i in $(seq 10 19); do echo "netns del $prefix-e$i"; done | ip -batch -
wait_for 20 holds_except_gone "$work/expB" || fail "the other namespaces did not get B: $(cat "$work/seen.present" | head -3)"
wait_for 10 all_enforced $((N - 10)) || fail "expected $((N - 10)) enforced: $(count_state enforced)"
status >"$work/status.json"
for i in $(seq 10 19); do
  jq -e --arg n "e$i" 'any(.endpoints[]; .name == $n and .state == "failed" and (.error | test("No such file")))' \
    "$work/status.json" >/dev/null ||
    fail "e$i not reported failed: $(jq -c --arg n "e$i" '.endpoints[] | select(.name == $n)' "$work/status.json")"
done
grep '"endpoint apply failed"' "$work/daemon.log" | grep '"endpoint":"e1[0-9]"' >/dev/null || fail "failure not logged"
denied_stays_denied

step "recreated, the 10 are enforced by themselves"
for i in $(seq 10 19); do echo "netns add $prefix-e$i"; done | ip -batch -
t0=$(date +%s%N)
wait_for 40 all_enforced $N || fail "not recovered: $(count_state enforced) enforced"
echo "recovered $((($(date +%s%N) - t0) / 1000000)) ms after the namespaces came back"
holds "$work/expB" || fail "B not in place after the recovery"

step "gone and taken out of the inventory: released without error, no more retries"
for i in $(seq 20 24); do echo "netns del $prefix-e$i"; done | ip -batch -
write_inventory 20 24
wait_for 10 all_enforced $((N - 5)) || fail "expected $((N - 5)) enforced: $(count_state enforced)"
status | jq -e '[.endpoints[] | select(.name | test("^e2[0-4]$"))] | length == 0' >/dev/null ||
  fail "released endpoints still in status"
for i in $(seq 20 24); do
  released "e$i" || fail "e$i not released: $(grep "\"e$i\"" "$work/daemon.log" | tail -3)"
done
! grep '"endpoint release failed"' "$work/daemon.log" | grep '"endpoint":"e2[0-4]"' >/dev/null ||
  fail "release of a vanished namespace failed"
before=$(grep -c '"e2[0-4]"' "$work/daemon.log" || true)
# An observation window, not a wait for something to happen: three resyncs (--resync-interval 1),
# each of which would log a released endpoint that was still retried.
sleep 3
[ "$(grep -c '"e2[0-4]"' "$work/daemon.log" || true)" = "$before" ] || fail "still retrying released endpoints"
denied_stays_denied
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
echo "fault_netns: all steps passed in $(($(date +%s) - t_start)) s"
