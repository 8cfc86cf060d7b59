#!/usr/bin/env bash
# A running bulkheadd whose policy file is replaced by garbage, then deleted, then restored (as a
# file path and as a directory): the last good policy stays enforced the whole time (tables read
# back, a denied probe stays denied, drift is still repaired), status and the log report the
# failure with the file, and the restored file is loaded by itself. A daemon started on an empty
# policy directory refuses to run and changes nothing. (Malformed YAML in all its forms is
# bad_input.sh's subject; this is about the daemon's behaviour around a broken file.)
# usage: fault_policy.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
BUILD=$build
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/ruleset.sh"

lab_begin bhp$$
t_start=$(date +%s)

netlab_up "$prefix" a=198.18.0.2 b=198.18.0.3 c=198.18.0.4
cat >"$work/inventory.yaml" <<INV
endpoints:
  - {name: a, netns: /run/netns/$prefix-a, labels: {app: a}, addresses: [198.18.0.2]}
  - {name: b, netns: /run/netns/$prefix-b, labels: {app: b}, addresses: [198.18.0.3]}
  - {name: c, netns: /run/netns/$prefix-c, labels: {app: c}, addresses: [198.18.0.4]}
INV
ruleset_list "$work/inventory.yaml" >"$work/list"
good_policy() {  # PORTS
  cat <<POL
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: t
spec:
  groups:
    a: {selector: "app=a"}
    b: {selector: "app=b"}
    c: {selector: "app=c"}
  allow:
    - {from: [a], to: [b], ports: [$1]}
POL
}
mkdir "$work/good1" "$work/good2" "$work/policy"
good_policy 8080/tcp >"$work/good1/p.yaml"
good_policy "8080/tcp, 9090/tcp" >"$work/good2/p.yaml"
# Rule comments name the file, so each is compiled from where the daemon reads it.
cp "$work/good2/p.yaml" "$work/policy/p.yaml"
ruleset_expected "$work/policy/p.yaml" "$work/inventory.yaml" "$work/exp2"
cp "$work/good1/p.yaml" "$work/policy/p.yaml"
ruleset_expected "$work/policy/p.yaml" "$work/inventory.yaml" "$work/exp1"
! cmp -s "$work/exp1" "$work/exp2" || fail "the two policies compile alike"
replace() {  # SOURCE TARGET: atomically, as a deploy tool would
  cp "$1" "$2.tmp"
  mv "$2.tmp" "$2"
}
garbage() {  # TARGET: not YAML at all (binary bytes), written in place
  printf '\x89PNG\r\n\x1a\n\x00\x00\xff\xfe: [{ %s\n' "$(seq -s, 1 300)" >"$1"
}

ip netns exec "$prefix-b" "$build/lab_server" --lifetime 300 8080 >"$work/server.log" 2>&1 &
server_pid=$!
wait_for 5 grep -q ready "$work/server.log" || fail "lab_server did not start"
# 0: connected; anything else: not.
probe() { ip netns exec "$prefix-$1" timeout 0.3 bash -c "echo >/dev/tcp/198.18.0.3/8080" 2>/dev/null; }
status() { "$build/bulkhead" status --status-socket "$work/status.sock" --json; }
all_enforced() { status | jq -e '[.endpoints[] | select(.state == "enforced")] | length == 3' >/dev/null; }
policy_ok() { status | jq -e '.policy_load.ok == true and .policy_load.error == ""' >/dev/null; }
holds() { ruleset_seen "$work/list" "$work/seen" && ruleset_diff "$1" "$work/seen"; }  # EXPECTED
enforcement_intact() {  # EXPECTED: read back, a denied flow, an allowed flow, every endpoint enforced
  holds "$1" || fail "the tables changed while the policy was broken"
  ! probe c || fail "c reached b:8080 while the policy was broken"
  probe a || fail "a could not reach b:8080"
  all_enforced || fail "not every endpoint enforced: $(status)"
}
start_daemon() {  # POLICY_PATH
  "$build/bulkheadd" --hook-socket none --policy "$1" --source "inventory:$work/inventory.yaml" \
    --resync-interval 1 --log-format json --status-socket "$work/status.sock" \
    >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  wait_for 10 status || fail "daemon did not start: $(tail -5 "$work/daemon.log")"
}
policy_failed_with() {  # TEXT: status reports a failed policy load naming TEXT, and the old set
  status >"$work/status.json"
  jq -e --arg t "$1" '.policy_load.ok == false and (.policy_load.error | contains($t))
    and (.policy_load.since | length > 0) and (.policies | length == 1)' "$work/status.json" >/dev/null
}

step "daemon on a policy file"
replace "$work/good1/p.yaml" "$work/policy/p.yaml"
start_daemon "$work/policy/p.yaml"
wait_for 10 all_enforced || fail "not enforced: $(status)"
policy_ok || fail "policy_load: $(status)"
enforcement_intact "$work/exp1"

step "the file is overwritten with garbage: reported, enforcement kept, drift still repaired"
lines=$(grep -c '"msg":"reload failed' "$work/daemon.log" || true)
garbage "$work/policy/p.yaml"
wait_for 5 policy_failed_with "$work/policy/p.yaml" || fail "status does not report the failure: $(status)"
grep -q '"level":"error".*"pos":"'"$work/policy/p.yaml"':' "$work/daemon.log" || fail "no positioned error in the log"
[ "$(grep -c '"msg":"reload failed' "$work/daemon.log")" -gt "$lines" ] || fail "no reload-failed line"
status | jq -e --arg f "$work/policy/p.yaml" 'any(.errors[]; contains($f))' >/dev/null || fail "not in recent errors"
"$build/bulkhead" status --status-socket "$work/status.sock" | grep "policy load FAILED since" >/dev/null ||
  fail "human status does not show the failure"
enforcement_intact "$work/exp1"
ip netns exec "$prefix-b" nft delete table inet bulkhead
wait_for 5 has_table "$prefix-b" || fail "drift not repaired while the policy was broken"
enforcement_intact "$work/exp1"

step "the file is deleted: reported, enforcement kept"
rm "$work/policy/p.yaml"
wait_for 5 policy_failed_with "cannot read file" || fail "status does not report the missing file: $(status)"
enforcement_intact "$work/exp1"

step "a fixed file comes back (with a new rule): loaded by itself"
replace "$work/good2/p.yaml" "$work/policy/p.yaml"
wait_for 5 policy_ok || fail "not reloaded: $(status)"
wait_for 5 holds "$work/exp2" || fail "the restored policy is not enforced: $(ruleset_diff "$work/exp2" "$work/seen")"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=

step "daemon on a policy directory whose only file is deleted: refused, enforcement kept"
start_daemon "$work/policy"
rm "$work/policy/p.yaml"
wait_for 5 policy_failed_with "no policy in the policy paths" || fail "empty directory not refused: $(status)"
grep -q '"msg":"no policy in the policy paths' "$work/daemon.log" || fail "not logged"
enforcement_intact "$work/exp2"
replace "$work/good1/p.yaml" "$work/policy/p.yaml"
wait_for 5 holds "$work/exp1" || fail "the restored policy is not enforced"
policy_ok || fail "policy_load not ok after the restore: $(status)"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=

step "a daemon started on an empty policy directory exits 2 and changes nothing"
mkdir "$work/empty"
set +e
"$build/bulkheadd" --hook-socket none --policy "$work/empty" --source "inventory:$work/inventory.yaml" --once \
  --log-format json >"$work/empty.log" 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "exit code $rc: $(cat "$work/empty.log")"
holds "$work/exp1" || fail "tables changed by a daemon without policy"
echo "fault_policy: all steps passed in $(($(date +%s) - t_start)) s"
