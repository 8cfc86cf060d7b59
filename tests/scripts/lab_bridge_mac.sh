#!/usr/bin/env bash
# The test labs' bridges keep their MAC address when a port joins (issue 13: script.cluster failed
# about every second run). Two labs, the same but for how their bridge is made:
#   fixed    netlab_up's bridge, with a MAC set at creation (netlab_bridge_mac);
#   control  a bridge made without an address, as netlab_up made them before.
# In each, containers a and b sit on br0, and br0's own address 198.18.40.1/24 (a container's
# gateway) serves 80/tcp. A prober (a container whose port does not own the bridge's MAC) connects
# to 198.18.40.1:80, so its neighbour entry holds the bridge's MAC; then a port with a MAC lower
# than every other joins, and the prober connects again at once, with no wait. Asserts:
#   fixed:   br0's MAC is the one netlab set, before and after the join; the connect succeeds;
#   control: br0's MAC became the new port's; the same connect is blocked (the neighbour entry
#            still names the old MAC): what the probe of script.cluster step b ran into.
# usage: lab_bridge_mac.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

lab_begin bhmac$$
gateway=198.18.40.1
low_mac=02:00:00:00:00:01
server_pids=()
lab_extra_cleanup() {
  local pid
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
}

link_mac() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
# reaches_gateway NS: one TCP connection from NS to the gateway's 80 within 2 s (a SYN sent to a
# MAC nobody takes is retransmitted after 1 s to the same MAC, and lost again).
reaches_gateway() { ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$gateway/80" 2>/dev/null; }

# gateway_lab LAB: containers a and b on LAB's bridge, which holds the gateway's address and
# serves 80/tcp from the switch namespace.
gateway_lab() {
  local lab=$1
  netlab_add "$lab" a=198.18.40.2 b=198.18.40.3
  ip -n "$lab-sw" addr add "$gateway/24" dev br0
  ip netns exec "$lab-sw" "$build/lab_server" --lifetime 60 80 >"$work/server-$lab.log" 2>&1 &
  server_pids+=($!)
  wait_for 5 grep -q ready "$work/server-$lab.log" ||
    fail "lab_server in $lab-sw did not start: $(cat "$work/server-$lab.log")"
}

# join_lower_port LAB: resolves the gateway from a prober, adds container n whose port has
# $low_mac, connects again at once; sets mac_before, mac_after, prober and outcome.
join_lower_port() {
  local lab=$1 name
  mac_before=$(link_mac "$lab-sw" br0)
  prober=
  for name in a b; do
    [ "$(link_mac "$lab-sw" "v-$name")" = "$mac_before" ] || {
      prober=$lab-$name
      break
    }
  done
  [ -n "$prober" ] || fail "$lab: every port owns the bridge's MAC $mac_before"
  [[ "$low_mac" < "$mac_before" ]] || fail "$lab: $low_mac is not below the bridge's $mac_before"
  reaches_gateway "$prober" || fail "$lab: $prober does not reach $gateway before the port joins"
  ip netns add "$lab-n"
  ip -n "$lab-n" link add eth0 type veth peer name v-n netns "$lab-sw"
  ip -n "$lab-sw" link set v-n address "$low_mac"
  ip -n "$lab-sw" link set v-n master br0 up
  mac_after=$(link_mac "$lab-sw" br0)
  if reaches_gateway "$prober"; then outcome=connected; else outcome=blocked; fi
  echo "  br0 $mac_before -> $mac_after; $prober -> $gateway:80 at once: $outcome" \
    "(neighbour: $(ip -n "$prober" neigh show "$gateway"))"
}

export LC_ALL=C  # the MAC comparison above is by bytes
step "fixed: netlab_up's bridge, a port with $low_mac joins"
netlab_up "$prefix"
gateway_lab "$prefix"
join_lower_port "$prefix"
[ "$mac_after" = "$mac_before" ] ||
  fail "netlab's bridge changed its MAC from $mac_before to $mac_after when a port joined"
[ "$outcome" = connected ] || fail "$prober did not reach its gateway right after a port joined"
want=$(netlab_bridge_mac "$prefix-sw")
[ "$mac_before" = "$want" ] || fail "netlab's bridge has $mac_before, not the fixed $want"

step "control: a bridge without a set MAC, the same port joins"
ip netns add "$prefix-u-sw"
ip -n "$prefix-u-sw" link set lo up
ip -n "$prefix-u-sw" link add br0 type bridge
ip -n "$prefix-u-sw" link set br0 up
gateway_lab "$prefix-u"
join_lower_port "$prefix-u"
[ "$mac_after" = "$low_mac" ] ||
  fail "a bridge without a set MAC kept $mac_after: the case this test guards against did not happen"
[ "$outcome" = blocked ] ||
  fail "the control connected although the bridge changed its MAC: the probe cannot see a stale neighbour entry"
echo "lab_bridge_mac: all checks passed"
