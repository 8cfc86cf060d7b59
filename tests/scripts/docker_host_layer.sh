#!/usr/bin/env bash
# The host layer on a real Docker engine (docs/host-layer.md). The engine runs inside a network
# namespace of the test's own, so its bridge and the host ends of its containers' veths are there
# (and, in the second round, its iptables rules), never in the machine's own namespace; bulkheadd
# runs with --layers netns,host --host-netns that namespace. Twice: Docker's iptables off, then
# on. Each time a --cap-add NET_ADMIN container, allowed only to one peer, flushes its ruleset
# with nft and connects at once to a denied peer, 20 times: 0 connect, the allowed peer 20 times;
# with bulkheadd stopped (no repair), the same; spoofing another address reaches nothing (counted
# where it would arrive); and removing the containers removes the host tables.
# usage: docker_host_layer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
src=$2
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/docker.sh"
source "$src/tests/scripts/lib/nettools_image.sh"

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v jq >/dev/null; then
  fail "needs root, docker.io and jq (scripts/install-deps.sh installs them)"
fi

ENGINE=$(mktemp -d /tmp/bhdh.XXXXXX)
prefix=bhdh$$
policy=
export BULKHEAD_ENGINE_NETNS=$prefix-eng
daemon_pid=
stop_daemon() {
  [ -z "$daemon_pid" ] && return 0
  kill -CONT "$daemon_pid" 2>/dev/null
  kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  daemon_pid=
}
cleanup() {
  set +e
  stop_daemon
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
  ip netns del "$BULKHEAD_ENGINE_NETNS" 2>/dev/null
  rm -f "$policy"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
ip netns add "$BULKHEAD_ENGINE_NETNS"
ip -n "$BULKHEAD_ENGINE_NETNS" link set lo up
eng() { ip netns exec "$BULKHEAD_ENGINE_NETNS" "$@"; }

policy=$(mktemp /tmp/bhdh-policy.XXXXXX)  # the engine's stop removes its whole directory
cat >"$policy" <<'POL'
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: hostlayer
spec:
  groups:
    admin: {selector: role=admin, isolate: [egress]}
    allowed: {selector: role=allowed, isolate: []}
  allow:
    - from: [admin]
      to: [allowed]
      ports: [8080/tcp]
POL

# In the admin container, as its own workload would: N times, flush the ruleset with nft and at
# once connect; prints how many connected.
flush_and_connect() {  # ADDR N
  dk exec "$prefix-admin" sh -c "n=0; for i in \$(seq $2); do /usr/sbin/nft flush ruleset;
    nc -w 1 $1 8080 </dev/null >/dev/null 2>&1 && n=\$((n+1)); done; echo \$n"
}
connect_n() {  # ADDR N: the same without the flush
  dk exec "$prefix-admin" sh -c "n=0; for i in \$(seq $2); do
    nc -w 1 $1 8080 </dev/null >/dev/null 2>&1 && n=\$((n+1)); done; echo \$n"
}
ip_of() { dk inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
host_tables() { eng nft list ruleset | grep -c '^table .* bulkhead-host' || true; }

round() {  # IPTABLES(true|false) SUBNET_THIRD_OCTET
  local iptables=$1 net=198.19.$2
  step "engine in $BULKHEAD_ENGINE_NETNS, iptables=$iptables"
  BULKHEAD_DOCKER_IPTABLES=$iptables bash "$src/scripts/docker-test-engine.sh" start "$ENGINE"
  make_nettools_image
  dk network create --subnet "$net.0/24" "$prefix-net" >/dev/null
  if [ "$iptables" = true ]; then
    eng iptables -S | grep -q DOCKER || fail "the engine wrote no iptables rules in its namespace"
  fi
  for r in open allowed; do
    dk run -d --name "$prefix-$r" --label role=$r --network "$prefix-net" "$DOCKER_IMAGE" \
      httpd -f -p 8080 -h /var/www >/dev/null
  done
  dk run -d --name "$prefix-admin" --label role=admin --cap-add NET_ADMIN --network "$prefix-net" \
    "$NETTOOLS_IMAGE" sleep 600 >/dev/null
  local open allowed admin_ip
  open=$(ip_of "$prefix-open")
  allowed=$(ip_of "$prefix-allowed")
  admin_ip=$(ip_of "$prefix-admin")

  local sock=$ENGINE/status.sock
  "$BUILD/bulkheadd" --hook-socket none --policy "$policy" \
    --source "docker:$ENGINE/docker.sock" --layers netns,host \
    --host-netns "/run/netns/$BULKHEAD_ENGINE_NETNS" --status-socket "$sock" \
    --log-format json --log-level debug >"$ENGINE/daemon.log" 2>&1 &
  daemon_pid=$!
  host_enforced() {
    status_json "$sock" 2>/dev/null | jq -e --arg n "$prefix-admin" \
      'any(.endpoints[]; .name == $n and .layers.host.enforced)' >/dev/null
  }
  wait_for 15 host_enforced || fail "admin's host layer not enforced: $(status_json "$sock" |
    jq -c '.endpoints[] | {name, layers}'; tail -5 "$ENGINE/daemon.log")"
  [ "$(host_tables)" = 2 ] || fail "host tables: $(eng nft list ruleset)"
  [ "$(connect_n "$open" 3)" = 0 ] || fail "admin reaches the open peer under both layers"
  [ "$(connect_n "$allowed" 3)" = 3 ] || fail "admin cannot reach the allowed peer"

  step "iptables=$iptables: flush and connect at once, 20 times"
  local got
  got=$(flush_and_connect "$open" 20)
  [ "$got" = 0 ] || fail "$got of 20 reached the denied peer after a flush"
  got=$(flush_and_connect "$allowed" 20)
  [ "$got" = 20 ] || fail "only $got of 20 reached the allowed peer: the probe itself fails"

  step "iptables=$iptables: bulkheadd stopped, ruleset flushed: still only the allowed peer"
  kill -STOP "$daemon_pid"
  dk exec "$prefix-admin" /usr/sbin/nft flush ruleset
  got=$(connect_n "$open" 10)
  [ "$got" = 0 ] || fail "$got of 10 reached the denied peer with no rules in the container"
  got=$(connect_n "$allowed" 10)
  [ "$got" = 10 ] || fail "only $got of 10 reached the allowed peer with no rules in the container"

  step "iptables=$iptables: a spoofed source arrives nowhere; the own one does"
  local apid
  apid=$(container_pid "$prefix-allowed")
  nsenter -t "$apid" -n nft -f - <<NFT
table inet bhprobe {
  chain c_in {
    type filter hook input priority -10; policy accept;
    ip saddr $net.250 counter
    ip saddr $admin_ip counter
  }
}
NFT
  arrived() { nsenter -t "$apid" -n nft list chain inet bhprobe c_in | awk -v s="$1" '$3 == s {print $6}'; }
  dk exec "$prefix-admin" sh -c "ip addr add $net.250/32 dev eth0 &&
    for i in 1 2 3; do ip route replace $net.0/24 dev eth0 src $admin_ip; nc -w 1 $allowed 8080 </dev/null;
      ip route replace $net.0/24 dev eth0 src $net.250; nc -w 1 $allowed 8080 </dev/null; done;
    ip route replace $net.0/24 dev eth0 src $admin_ip" >/dev/null 2>&1 || true
  [ "$(arrived "$net.250")" = 0 ] || fail "$(arrived "$net.250") spoofed packets reached the allowed peer"
  [ "$(arrived "$admin_ip")" -ge 3 ] || fail "only $(arrived "$admin_ip") packets from the own address arrived"
  kill -CONT "$daemon_pid"

  step "iptables=$iptables: the containers go, and the host tables with them"
  dk rm -f "$prefix-admin" "$prefix-open" "$prefix-allowed" >/dev/null
  wait_for 15 sh -c "[ \"\$(ip netns exec $BULKHEAD_ENGINE_NETNS nft list ruleset | grep -c '^table .* bulkhead-host')\" = 0 ]" ||
    fail "host tables left: $(eng nft list ruleset | grep -A3 bulkhead-host)"
  stop_daemon
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
  mkdir -p "$ENGINE"
}

round false 94
round true 95
echo PASS
