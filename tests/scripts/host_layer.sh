#!/usr/bin/env bash
# The host layer (docs/host-layer.md) through bulkheadd, in a lab whose switch namespace holds the
# bridge and the host ends of the endpoints' veths: `--layers netns,host --host-netns` that
# namespace. A workload holding NET_ADMIN in the sandbox's namespace flushes its ruleset and at
# once connects to a peer its policy denies, 20 times: 0 connect, while the same probe to the
# allowed peer connects each time. It spoofs another address: 0 connect, its own address does.
# Status reports both layers; the endpoints leaving take the host tables with them.
# usage: host_layer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

lab_begin bhh$$
netlab_up "$prefix" sandbox=198.18.41.2 open=198.18.41.3 allowed=198.18.41.4
sw=$prefix-sw

inventory() {  # the endpoints, all or none
  if [ "$1" = all ]; then
    cat >"$work/inventory.yaml.tmp" <<INV
endpoints:
  - {name: sandbox, netns: /run/netns/$prefix-sandbox, labels: {app: sandbox}, addresses: [198.18.41.2]}
  - {name: open, netns: /run/netns/$prefix-open, labels: {app: open}, addresses: [198.18.41.3]}
  - {name: allowed, netns: /run/netns/$prefix-allowed, labels: {app: allowed}, addresses: [198.18.41.4]}
INV
  else
    echo "endpoints: []" >"$work/inventory.yaml.tmp"
  fi
  mv "$work/inventory.yaml.tmp" "$work/inventory.yaml"
}
inventory all
cat >"$work/policy.yaml" <<POL
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: guard
spec:
  groups:
    sandbox: {selector: "app=sandbox", isolate: [egress]}
    allowed: {selector: "app=allowed", isolate: []}
  allow:
    - from: [sandbox]
      to: [allowed]
      ports: [80/tcp]
POL
for n in open allowed; do
  ip netns exec "$prefix-$n" "$build/lab_server" --lifetime 300 80 >"$work/server-$n.log" 2>&1 &
done
wait_for 5 grep -q ready "$work/server-open.log" || fail "lab_server did not start"
wait_for 5 grep -q ready "$work/server-allowed.log" || fail "lab_server did not start"

probe() {  # probe FROM_NS ADDR: 0 when a TCP connection to ADDR:80 completes within 0.3 s
  ip netns exec "$1" timeout 0.3 bash -c "echo >/dev/tcp/$2/80" 2>/dev/null
}
from_source() {  # from_source ADDR: the sandbox's connections leave with source ADDR
  ip -n "$prefix-sandbox" route replace 198.18.41.0/24 dev eth0 src "$1"
}
blocked() { ! probe "$@"; }

metrics_port=$((20000 + $$ % 20000))
step "bulkheadd with both layers"
"$build/bulkheadd" --hook-socket none --policy "$work/policy.yaml" \
  --source "inventory:$work/inventory.yaml" --layers netns,host --host-netns "/run/netns/$sw" \
  --status-socket "$work/status.sock" --resync-interval 1 --log-format json --log-level debug \
  --metrics-listen "127.0.0.1:$metrics_port" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 5 grep -q '"msg":"host layer applied"' "$work/daemon.log" ||
  fail "host layer not applied: $(cat "$work/daemon.log")"
ip netns exec "$sw" nft list table inet bulkhead-host >/dev/null || fail "no inet bulkhead-host table"
ip netns exec "$sw" nft list table bridge bulkhead-host >/dev/null || fail "no bridge bulkhead-host table"
"$build/bulkhead" status --status-socket "$work/status.sock" --json >"$work/status.json"
for ep in sandbox open allowed; do
  jq -e --arg n "$ep" 'any(.endpoints[]; .name == $n and .layers.host.enabled and .layers.host.enforced)' \
    "$work/status.json" >/dev/null || fail "$ep: host layer not enforced in status: $(jq -c .endpoints "$work/status.json")"
done
blocked "$prefix-sandbox" 198.18.41.3 || fail "the sandbox reaches the open peer under both layers"
probe "$prefix-sandbox" 198.18.41.4 || fail "the sandbox cannot reach the allowed peer"

step "the workload flushes its ruleset and connects at once, 20 times"
connected=0
reached=0
for i in $(seq 20); do
  ip netns exec "$prefix-sandbox" nft flush ruleset
  probe "$prefix-sandbox" 198.18.41.3 && connected=$((connected + 1))
  probe "$prefix-sandbox" 198.18.41.4 && reached=$((reached + 1))
done
[ "$connected" = 0 ] || fail "$connected of 20 reached the denied peer after a flush"
[ "$reached" = 20 ] || fail "only $reached of 20 reached the allowed peer: the probe itself fails"

step "the daemon stopped (no repair): the flushed sandbox still reaches only the allowed peer"
kill -STOP "$daemon_pid"
ip netns exec "$prefix-sandbox" nft flush ruleset
connected=0
reached=0
for i in $(seq 20); do
  probe "$prefix-sandbox" 198.18.41.3 && connected=$((connected + 1))
  probe "$prefix-sandbox" 198.18.41.4 && reached=$((reached + 1))
done
kill -CONT "$daemon_pid"
[ "$connected" = 0 ] || fail "$connected of 20 reached the denied peer with the ruleset flushed"
[ "$reached" = 20 ] || fail "only $reached of 20 reached the allowed peer with the ruleset flushed"
pkts=$(ip netns exec "$sw" nft list table inet bulkhead-host |
  awk '/chain e[0-9a-f]+-egress/{e=1} e && /counter packets [0-9]+ bytes [0-9]+ drop comment "drop other/{print $3; exit}')
wait_for 5 has_table "$prefix-sandbox" || fail "the sandbox's own table was not repaired"
[ "${pkts:-0}" -ge 20 ] || fail "the host layer's drop counted ${pkts:-0} packets: $(ip netns exec "$sw" nft list table inet bulkhead-host)"

step "a spoofed source is dropped on the host side; the own address gets through"
# What reaches the allowed peer is counted there, by source, in a table of the test's own: a TCP
# probe alone could not tell, as the peer's answer to a spoofed source never comes back anyway.
ip netns exec "$prefix-allowed" nft -f - <<'NFT'
table inet bhprobe {
  chain c_in {
    type filter hook input priority -10; policy accept;
    ip saddr 198.18.41.9 counter
    ip saddr 198.18.41.2 counter
  }
}
NFT
arrived() {  # arrived SOURCE: packets from SOURCE the allowed peer's input hook saw
  ip netns exec "$prefix-allowed" nft list chain inet bhprobe c_in |
    awk -v s="$1" '$3 == s {print $6}'
}
ip -n "$prefix-sandbox" addr add 198.18.41.9/32 dev eth0
for i in $(seq 5); do
  from_source 198.18.41.2
  probe "$prefix-sandbox" 198.18.41.4 || fail "the own address does not reach the allowed peer"
  from_source 198.18.41.9
  blocked "$prefix-sandbox" 198.18.41.4 || fail "a spoofed source reached the allowed peer"
done
from_source 198.18.41.2
[ "$(arrived 198.18.41.9)" = 0 ] || fail "$(arrived 198.18.41.9) spoofed packets reached the allowed peer"
[ "$(arrived 198.18.41.2)" -ge 5 ] || fail "only $(arrived 198.18.41.2) packets from the own address arrived"

step "status counts what the host layer dropped: the denied connections and the spoofed frames"
host_counted() {
  "$build/bulkhead" status --status-socket "$work/status.sock" --json | jq -e \
    '.endpoints[] | select(.name == "sandbox") | .layers.host | .dropped_packets >= 20 and .spoofed_packets >= 5' >/dev/null
}
wait_for 5 host_counted || fail "host drops not in status: $("$build/bulkhead" status \
  --status-socket "$work/status.sock" --json | jq -c '.endpoints[] | {name, host: .layers.host}')"

scrape() {
  exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"
  printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  timeout 5 cat <&3 || true
  exec 3<&-
}
spoofed_metric=$(scrape | awk -F' ' '/^bulkhead_host_dropped_packets\{/ && /endpoint="sandbox"/ && /reason="spoofed"/ {print $2}')
[ "${spoofed_metric:-0}" -ge 5 ] 2>/dev/null || fail "bulkhead_host_dropped_packets spoofed: '${spoofed_metric}'"

step "the endpoints leave: the host tables go with them"
inventory none
wait_for 5 sh -c "! ip netns exec $sw nft list ruleset | grep -q bulkhead-host" ||
  fail "host tables left: $(ip netns exec "$sw" nft list ruleset)"
echo PASS
