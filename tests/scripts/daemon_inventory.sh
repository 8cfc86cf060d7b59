#!/usr/bin/env bash
# bulkheadd on an inventory, in real namespaces: --once, failure reporting, live reload, a bad
# policy keeping enforcement, drift repair, clean exit, and no leftovers.
# usage: daemon_inventory.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

lab_begin bhd$$

netlab_up "$prefix" a=198.18.0.2 b=198.18.0.3 c=198.18.0.4

cat >"$work/inventory.yaml" <<INV
endpoints:
  - {name: a, netns: /run/netns/$prefix-a, labels: {app: a}, addresses: [198.18.0.2]}
  - {name: b, netns: /run/netns/$prefix-b, labels: {app: b}, addresses: [198.18.0.3]}
  - {name: c, netns: /run/netns/$prefix-c, labels: {app: c}, addresses: [198.18.0.4]}
INV
mkdir "$work/policy"
write_policy() {  # $1: extra allow rules
  cat >"$work/policy/p.yaml.tmp" <<POL
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: t
spec:
  groups:
    a: {selector: "app=a"}
    b: {selector: "app=b"}
  allow:
    - from: [a]
      to: [b]
      ports: [8080/tcp]
$1
POL
  mv "$work/policy/p.yaml.tmp" "$work/policy/p.yaml"
}
write_policy ""

verify() { "$build/bulkhead" verify "$work/policy" --inventory "$work/inventory.yaml" --ports 8080/tcp,9090/tcp "$@"; }

step "--once enforces every endpoint"
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inventory.yaml" --once
expect_table "$prefix-a"
expect_table "$prefix-b"
expect_no_table "$prefix-c"
verify >"$work/verify.out" || fail "verify after --once: $(cat "$work/verify.out")"

step "--once names an endpoint whose namespace is missing, enforces the rest, exits non-zero"
sed "s#/run/netns/$prefix-c#/run/netns/$prefix-missing#; s/app: c/app: b/" "$work/inventory.yaml" >"$work/inv-missing.yaml"
set +e
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inv-missing.yaml" --once 2>"$work/once.err"
rc=$?
set -e
[ $rc -ne 0 ] || fail "--once exited 0 with a missing namespace"
grep -q "endpoint c (/run/netns/$prefix-missing) not enforced" "$work/once.err" || fail "no per-endpoint failure: $(cat "$work/once.err")"

metrics_port=$((20000 + $$ % 20000))
step "long-running daemon: start"
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inventory.yaml" \
  --resync-interval 1 --log-format json --status-socket "$work/status.sock" \
  --metrics-listen "127.0.0.1:$metrics_port" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 5 grep -q '"msg":"bulkheadd running"' "$work/daemon.log" || fail "daemon did not start: $(cat "$work/daemon.log")"

step "a policy change is applied within 2 s"
write_policy "    - from: [a]
      to: [b]
      ports: [9090/tcp]"
wait_for 2 verify || fail "new rule not enforced in 2 s: $(verify || true)"

step "status reports every endpoint enforced, with the drops a denied probe caused"
verify >/dev/null  # 9090 from c to b is denied: b's drop counter moves
probed=$(utc_ms)
wait_for 5 counters_read_since "$work/status.sock" b "$probed" || fail "b's counters not read since $probed"
"$build/bulkhead" status --status-socket "$work/status.sock" --json >"$work/status.json"
for ep in a b c; do
  jq -e --arg n "$ep" 'any(.endpoints[]; .name == $n and .state == "enforced")' "$work/status.json" >/dev/null || fail "$ep not enforced in status: $(cat "$work/status.json")"
done
dropped_b=$(jq '.endpoints[] | select(.name == "b") | .dropped_packets' "$work/status.json")
[ "${dropped_b:-0}" -gt 0 ] || fail "no drops counted for b: $(cat "$work/status.json")"
"$build/bulkhead" status --status-socket "$work/status.sock" >"$work/status.txt"
grep -qE '^  b +enforced +198\.18\.0\.3 ' "$work/status.txt" || fail "human status lacks b: $(cat "$work/status.txt")"
grep -A1 -E '^  b ' "$work/status.txt" | grep 'groups: b' >/dev/null || fail "b's groups missing: $(cat "$work/status.txt")"

step "status refuses a user other than root"
# The user may reach the directory and run a copy of the CLI, so what refuses is the socket itself.
chmod 0755 "$work"
install -m 0755 "$build/bulkhead" "$work/bulkhead-cli"
if setpriv --reuid=65534 --regid=65534 --clear-groups "$work/bulkhead-cli" status --status-socket "$work/status.sock" >"$work/nobody.out" 2>&1; then
  fail "an unprivileged user read the status: $(cat "$work/nobody.out")"
fi
grep -q "connect .*Permission denied" "$work/nobody.out" || fail "unexpected refusal: $(cat "$work/nobody.out")"
chmod 0700 "$work"

step "metrics: endpoints by state, apply durations and drops in Prometheus text format"
scrape() {
  exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"
  printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  timeout 5 cat <&3 >"$work/metrics.txt" || true
  exec 3<&-
}
b_drops() {
  scrape
  # Both directions, as status's dropped_packets counts them.
  grep '^bulkhead_dropped_packets{' "$work/metrics.txt" | grep 'endpoint="b"' |
    awk '{n += $2} END {print int(n)}'
}
# New drops after the status read reach the metric through the resync (every second here).
verify >/dev/null
refreshed=0
for _ in $(seq 40); do
  if [ "$(b_drops)" -gt "$dropped_b" ] 2>/dev/null; then refreshed=1; break; fi
  sleep 0.1
done
[ $refreshed = 1 ] || fail "drop gauge not refreshed by the resync: $(grep dropped "$work/metrics.txt" | tr '\n' ' ')"
scrape
grep -q '^bulkhead_endpoints{state="enforced"} 3' "$work/metrics.txt" || fail "endpoint gauge: $(grep bulkhead_endpoints "$work/metrics.txt")"
grep -qE '^bulkhead_apply_duration_seconds_count [1-9]' "$work/metrics.txt" || fail "no apply histogram"
grep -qE '^bulkhead_dropped_packets\{.*endpoint="b".*\} [1-9]' "$work/metrics.txt" || fail "no drop gauge for b: $(grep dropped "$work/metrics.txt")"

step "a broken policy is reported with file:line:col and enforcement stays"
mkdir "$work/good"
cp "$work/policy/p.yaml" "$work/good/p.yaml"
printf 'apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: t}\nspec:\n  groups:\n    a: {selectr: "app=a"}\n' >"$work/policy/p.yaml"
wait_for 3 grep -q "p.yaml:6:" "$work/daemon.log" || fail "no positioned error: $(tail -5 "$work/daemon.log")"
grep -q '"msg":"reload failed; the running enforcement is kept as it was"' "$work/daemon.log" || fail "no reload-failed line"
# While the broken file is in place: the dataplane still does what the last good policy says.
verify_good() { "$build/bulkhead" verify "$work/good" --inventory "$work/inventory.yaml" --ports 8080/tcp,9090/tcp; }
verify_good >"$work/verify.out" || fail "enforcement changed under a bad policy: $(cat "$work/verify.out")"
reloads() { grep -c '"msg":"reloaded"' "$work/daemon.log" || true; }
reloads_before=$(reloads)
reloaded() { [ "$(reloads)" -gt "$reloads_before" ]; }
cp "$work/good/p.yaml" "$work/policy/p.yaml.tmp"
mv "$work/policy/p.yaml.tmp" "$work/policy/p.yaml"
wait_for 3 reloaded || fail "the good policy was not reloaded: $(tail -5 "$work/daemon.log")"
verify >"$work/verify.out" || fail "enforcement changed after a bad policy: $(cat "$work/verify.out")"

# The change monitor sees the deletion at once (docs/security.md, Tampering); the resync would
# repair it too, later.
step "a table deleted by hand is restored"
ip netns exec "$prefix-b" nft delete table inet bulkhead
wait_for 4 has_table "$prefix-b" || fail "table not restored"
grep -qE '"msg":"(drift detected; repairing|tampering detected; restoring)"' "$work/daemon.log" || fail "repair not logged"

step "an endpoint the policy stops selecting loses its table"
sed -i "s/app: a}/app: z}/" "$work/inventory.yaml"
wait_for 3 bash -c "! ip netns exec $prefix-a nft list table inet bulkhead >/dev/null 2>&1" || fail "table left behind in a"

step "SIGTERM exits 0 and leaves enforcement in place"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
expect_table "$prefix-b"

echo "daemon_inventory: all steps passed"
