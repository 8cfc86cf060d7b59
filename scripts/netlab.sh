# Test hosts in network namespaces: one "switch" namespace holding a bridge, and one namespace per
# host with a veth into the bridge. Everything lives in namespaces named PREFIX-*, so the host's
# own namespace is never touched, and netlab_down removes it all by name.
# Addresses: 198.18.0.0/15 and 2001:2::/48 (the benchmarking ranges) only.
#
#   source scripts/netlab.sh
#   netlab_up PREFIX NAME=IPV4[,IPV6] ...   e.g. netlab_up bht1 a=198.18.0.2 b=198.18.0.3,2001:2::3
#   netlab_add PREFIX NAME=IPV4[,IPV6] ... more hosts on a lab that is up
#   netlab_down PREFIX
#   netlab_wait_listening NS PORT            until a server started in the background listens
#
# Every bridge has a fixed MAC address (netlab_bridge_mac). A Linux bridge created without one
# takes the lowest MAC of its ports and changes it whenever a port with a lower one joins or the
# lowest leaves. A host whose neighbour entry for an address on the bridge (its gateway) still
# holds the old MAC then sends frames that arrive on another port than the one owning that MAC;
# the bridge passes them up as addressed to another host and the IP layer drops them, until the
# neighbour entry is re-probed seconds later. Tests that add a container to a running lab and
# probe across it at once failed that way (tests/scripts/lab_bridge_mac.sh shows it).

# netlab_bridge_mac NAME: a locally administered unicast MAC for the bridge in namespace NAME,
# 02:bb and the CRC-32 of the name, so that different bridges of one lab differ, and the same lab
# gets the same addresses on every run.
netlab_bridge_mac() {
  local crc
  crc=$(printf '%s' "$1" | cksum | awk '{printf "%08x", $1}')
  echo "02:bb:${crc:0:2}:${crc:2:2}:${crc:4:2}:${crc:6:2}"
}

netlab_up() {
  local prefix=$1
  shift
  ip netns add "$prefix-sw"
  ip -n "$prefix-sw" link set lo up
  # The address is set at creation, so the bridge never follows its ports' addresses (see above).
  ip -n "$prefix-sw" link add br0 address "$(netlab_bridge_mac "$prefix-sw")" type bridge
  ip -n "$prefix-sw" link set br0 up
  netlab_add "$prefix" "$@"
}

netlab_add() {
  local prefix=$1
  shift
  local spec name addrs a
  for spec in "$@"; do
    name=${spec%%=*}
    addrs=${spec#*=}
    ip netns add "$prefix-$name"
    ip -n "$prefix-$name" link set lo up
    ip -n "$prefix-$name" link add eth0 type veth peer name "v-$name" netns "$prefix-sw"
    ip -n "$prefix-sw" link set "v-$name" master br0 up
    for a in ${addrs//,/ }; do
      case $a in
        *:*) ip -n "$prefix-$name" addr add "$a/64" dev eth0 nodad ;;
        *) ip -n "$prefix-$name" addr add "$a/24" dev eth0 ;;
      esac
    done
    ip -n "$prefix-$name" link set eth0 up
  done
}

# netlab_wait_listening NS PORT: returns once something in namespace NS listens on TCP PORT, or
# fails after 5 s. A server started in the background binds its port a moment after it starts; a
# client started in between is refused.
netlab_wait_listening() {
  local _
  for _ in $(seq 50); do
    [ -z "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ] || return 0
    sleep 0.1
  done
  return 1
}

netlab_down() {
  local prefix=$1 ns
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-" || true); do
    # Processes left in a namespace would keep it alive after the bind mount goes.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
