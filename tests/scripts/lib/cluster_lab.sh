# The multi-host cluster lab (issue 8): an etcd of the test's own on loopback and three simulated
# hosts h1, h2, h3, each a bulkheadd in the root namespace enforcing its own containers. Sourced
# after scripts/netlab.sh, common.sh and k8s_lab.sh, with $build set; cluster_lab_begin calls
# lab_begin, and lib/ruleset.sh with $BUILD set. Docs: docs/cluster.md#test-lab.
#
#   $prefix-core-sw   br0 198.18.0.0/24 (no address): the core switch between the hosts
#   $prefix-hN-sw     the host: br0 198.18.N.1/24 for its containers, up0 198.18.0.N/24 into the
#                     core, ip_forward on, a route to each other host's subnet via its up0
#   $prefix-hN-NAME   a container: eth0 198.18.N.x/24 in the host's br0, default via 198.18.N.1,
#                     lab_server on 80 and 81 (TCP and UDP), as k8s_lab_add starts it
#
# Every br0 has a fixed MAC (netlab_up, scripts/netlab.sh): a container added to a running host
# joins that host's bridge, and a bridge that took the lowest MAC of its ports would change its
# address under the other containers' neighbour entries for their gateway (issue 13).
#
# No NAT anywhere, so a container sees the real address of a peer on another host, as it would
# with routed container networks (Calico, flannel host-gw). Every bulkheadd runs in the root
# namespace with its own inventory ($work/hN.yaml, /run/netns paths), status socket
# ($work/hN.sock) and log ($work/hN.log, JSON lines), the same policy directory ($work/policy)
# and `--node hN`.

cluster_hosts=(h1 h2 h3)
declare -A cluster_pid=()      # host -> bulkheadd pid
declare -A cluster_members=()  # host -> "NAME=ADDR LABELS" lines of its containers
cluster_etcd_pid=
cluster_rc=0
cluster_prefix_key=/bulkhead/v1
cluster_lease_ttl=3

# cluster_lab_begin PREFIX: lab_begin, plus the cluster's processes in the cleanup and, when the
# test fails, the daemon and etcd logs printed first.
cluster_lab_begin() {
  lab_begin "$1"
  trap 'cluster_rc=$?; lab_end' EXIT
}
lab_extra_cleanup() {
  local h pid
  if [ "$cluster_rc" -ne 0 ]; then
    for h in "${cluster_hosts[@]}"; do
      [ -f "$work/$h.log" ] || continue
      echo "=== bulkheadd $h log (last 60 lines)"
      tail -n 60 "$work/$h.log"
    done
    [ -f "$work/etcd.log" ] && echo "=== etcd log (last 20 lines)" && tail -n 20 "$work/etcd.log"
  fi
  for h in "${!cluster_pid[@]}"; do
    pid=${cluster_pid[$h]}
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  cluster_etcd_stop
  k8s_lab_down
}

# cluster_free_port: a TCP port nothing listens on, from 20000-59999 (never etcd's 2379/2380).
cluster_free_port() {
  local p _
  for _ in $(seq 50); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [ -z "$(ss -Htan "sport = :$p")" ] && echo "$p" && return 0
  done
  return 1
}

# cluster_etcd_start: etcd on 127.0.0.1 with a data directory in $work; the first call picks the
# ports, later calls (a restart) reuse them and the data. Sets $cluster_etcd_url.
cluster_etcd_start() {
  if [ -z "${cluster_etcd_port:-}" ]; then
    cluster_etcd_port=$(cluster_free_port) || fail "no free port for etcd"
    cluster_etcd_peer=$(cluster_free_port) || fail "no free port for etcd"
    [ "$cluster_etcd_peer" != "$cluster_etcd_port" ] || fail "etcd ports collide"
    cluster_etcd_url=http://127.0.0.1:$cluster_etcd_port
  fi
  local peer=http://127.0.0.1:$cluster_etcd_peer
  etcd --name bulkhead-test --data-dir "$work/etcd" \
    --listen-client-urls "$cluster_etcd_url" --advertise-client-urls "$cluster_etcd_url" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "bulkhead-test=$peer" >>"$work/etcd.log" 2>&1 &
  cluster_etcd_pid=$!
  wait_for 10 cluster_etcd_healthy || fail "etcd did not start: $(tail -n 20 "$work/etcd.log")"
}
cluster_etcd_healthy() {
  curl -sf -m 1 "$cluster_etcd_url/health" | grep '"health":"true"' >/dev/null
}
cluster_etcd_stop() {
  [ -n "$cluster_etcd_pid" ] || return 0
  # etcd dies of the SIGTERM (status 143): not a failure here.
  kill "$cluster_etcd_pid" 2>/dev/null && wait "$cluster_etcd_pid" 2>/dev/null || true
  cluster_etcd_pid=
}
cluster_etcdctl() { ETCDCTL_API=3 etcdctl --endpoints "$cluster_etcd_url" --command-timeout 5s "$@"; }

# cluster_hosts_up: the core switch and the three hosts, routed to each other, no containers yet.
cluster_hosts_up() {
  local n m sw
  netlab_up "$prefix-core"
  for n in 1 2 3; do
    sw=$prefix-h$n-sw
    netlab_up "$prefix-h$n"
    ip -n "$sw" addr add "198.18.$n.1/24" dev br0
    ip -n "$sw" link add up0 type veth peer name "v-h$n" netns "$prefix-core-sw"
    ip -n "$prefix-core-sw" link set "v-h$n" master br0 up
    ip -n "$sw" addr add "198.18.0.$n/24" dev up0
    ip -n "$sw" link set up0 up
    ip netns exec "$sw" sysctl -qw net.ipv4.ip_forward=1
  done
  for n in 1 2 3; do
    for m in 1 2 3; do
      [ $n = $m ] || ip -n "$prefix-h$n-sw" route add "198.18.$m.0/24" via "198.18.0.$m"
    done
  done
}

# cluster_container_add HOST NAME ADDR LABELS: a container namespace on HOST's bridge, serving
# 80 and 81, reachable from every other host. LABELS is a YAML flow map ({app: web}). Not in the
# host's inventory until cluster_inventory_write.
cluster_container_add() {
  local host=$1 name=$2 addr=$3 labels=$4
  prefix=$prefix-$host k8s_lab_add "$name" "$addr"
  ip -n "$prefix-$host-$name" route add default via "${addr%.*}.1"
  cluster_members[$host]+="$name $addr $labels"$'\n'
}

# cluster_tcp_reaches HOST NAME ADDR PORT: a TCP connection from the container to ADDR:PORT
# succeeds within 2 s.
cluster_tcp_reaches() {
  ip netns exec "$prefix-$1-$2" timeout 2 bash -c "exec 3<>/dev/tcp/$3/$4" 2>/dev/null
}

# cluster_inventory_lines HOST [RELABEL]: HOST's containers as inventory entries; with RELABEL
# (a YAML flow map), every one of them carries those labels instead of its own.
cluster_inventory_lines() {
  local name addr labels
  while read -r name addr labels; do
    [ -n "$name" ] || continue
    echo "  - {name: $name, netns: /run/netns/$prefix-$1-$name, labels: ${2:-$labels}, addresses: [$addr]}"
  done <<<"${cluster_members[$1]:-}"
}

# cluster_inventory_write HOST: HOST's inventory, replaced atomically (the daemon watches it).
cluster_inventory_write() {
  { echo "endpoints:"; cluster_inventory_lines "$1"; } >"$work/$1.yaml.tmp"
  mv -f "$work/$1.yaml.tmp" "$work/$1.yaml"
}

# cluster_inventory_all OUT: every container of every host in one inventory, what `bulkhead
# verify` probes and what the policy means across the cluster.
cluster_inventory_all() {
  local h
  {
    echo "endpoints:"
    for h in "${cluster_hosts[@]}"; do cluster_inventory_lines "$h"; done
  } >"$1"
}

# cluster_daemon_start HOST: HOST's bulkheadd, joined to the cluster; returns once it runs.
cluster_daemon_start() {
  local host=$1
  "$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/$host.yaml" \
    --cluster "etcd:$cluster_etcd_url" --node "$host" --cluster-lease-ttl "$cluster_lease_ttl" \
    --status-socket "$work/$host.sock" --log-format json >>"$work/$host.log" 2>&1 &
  cluster_pid[$host]=$!
  local _
  for _ in $(seq 100); do
    grep -q '"msg":"bulkheadd running"' "$work/$host.log" && return 0
    kill -0 "${cluster_pid[$host]}" 2>/dev/null || break
    sleep 0.1
  done
  fail "bulkheadd $host did not start: $(tail -n 20 "$work/$host.log")"
}

# cluster_status HOST: HOST's status document (JSON) on stdout.
cluster_status() { "$build/bulkhead" status --status-socket "$work/$1.sock" --json; }
# cluster_status_is HOST JQ_EXPR: HOST's status satisfies JQ_EXPR (for wait_for).
cluster_status_is() { cluster_status "$1" | jq -e "$2" >/dev/null; }

# cluster_set_elements HOST NAME SET: the IPv4 elements of SET in the container's table, one a
# line, sorted (nothing when the table or set does not exist).
cluster_set_elements() {
  ip netns exec "$prefix-$1-$2" nft -j list set inet bulkhead "$3" 2>/dev/null |
    jq -r '.nftables[] | .set? // empty | .elem // [] | .[] | if type == "string" then . else empty end' |
    sort -V
}
cluster_set_has() { cluster_set_elements "$1" "$2" "$3" | grep -x "$4" >/dev/null; }
cluster_set_lacks() { ! cluster_set_has "$@"; }

# cluster_ms_since T0: milliseconds since T0 (a `date +%s%N` value).
cluster_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# cluster_ms_until T0 LIMIT_MS CMD...: runs CMD every 50 ms until it succeeds, then prints the
# milliseconds since T0; returns 1 (printing nothing) once LIMIT_MS have passed since T0.
cluster_ms_until() {
  local t0=$1 limit=$2
  shift 2
  while :; do
    if "$@"; then
      cluster_ms_since "$t0"
      return 0
    fi
    [ "$(cluster_ms_since "$t0")" -lt "$limit" ] || return 1
    sleep 0.05
  done
}

# cluster_verify INVENTORY OUT [verify options...]: a probing `bulkhead verify` of the policy over
# INVENTORY on the lab's ports; its status is verify's (0: what the probes saw is what the
# policy says). At least 1.1 s after the previous one, so that no UDP conntrack entry of an
# allowed probe lets a later probe through (see k8s_lab_add).
cluster_ports=80/tcp,81/tcp,81/udp
cluster_last_verify=0
cluster_verify() {
  local inv=$1 out=$2 rc=0 _
  shift 2
  for _ in $(seq 20); do
    [ $(($(date +%s%N) - cluster_last_verify)) -ge 1100000000 ] && break
    sleep 0.1
  done
  "$build/bulkhead" verify "$work/policy" --inventory "$inv" --ports "$cluster_ports" \
    --timeout-ms 400 --parallel 128 "$@" >"$out" 2>&1 || rc=$?
  cluster_last_verify=$(date +%s%N)
  return $rc
}

# cluster_tables_match INVENTORY HOST...: every container of the HOSTs holds exactly the table that
# `bulkhead compile` gives it over INVENTORY (lib/ruleset.sh, sourced with $BUILD set); the
# differences are in $work/tables.diff. A host's status counts the remote endpoints as soon as
# it has read them, and its containers' sets follow a few hundred milliseconds later: what a
# probing verify needs is this.
cluster_tables_match() {
  local inv=$1 h
  shift
  for h in "$@"; do cluster_inventory_lines "$h"; done | ruleset_list /dev/stdin >"$work/tables.list"
  ruleset_expected "$work/policy" "$inv" "$work/tables.all" || return 1
  join <(cut -d' ' -f1 "$work/tables.list" | sort) "$work/tables.all" >"$work/tables.expected"
  ruleset_seen "$work/tables.list" "$work/tables.seen"
  ruleset_diff "$work/tables.expected" "$work/tables.seen" >"$work/tables.diff"
}

# cluster_verify_or_fail INVENTORY OUT WHAT: cluster_verify, once; when it finds a mismatch, the
# dataplane's state (cluster_dataplane_dump) and verify's output, then fail with WHAT. No second
# run: a rule that is wrong, a probe lost to a stale neighbour entry (issue 13) and a timeout are
# all failures to look at.
cluster_verify_or_fail() {
  local inv=$1 out=$2
  shift 2
  cluster_verify "$inv" "$out" && return 0
  cluster_dataplane_dump
  fail "$*: $(cat "$out")"
}

# cluster_dataplane_dump: what a lost probe met on its way, for a failure's output: each switch's
# bridge MAC and neighbours, and each container's neighbour entries and live conntrack entries.
cluster_dataplane_dump() {
  local sw ns
  for sw in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-(h[0-9]|core)-sw$" || true); do
    echo "=== $sw: br0 $(ip -n "$sw" -br link show br0 | awk '{print $3}'), neighbours:"
    ip -n "$sw" neigh || true
  done
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-h[0-9]-[a-z]+[0-9]$" || true); do
    echo "=== $ns: neighbours: $(ip -n "$ns" neigh | tr '\n' ';')"
    echo "    conntrack (not CLOSE or TIME_WAIT):"
    ip netns exec "$ns" grep -vE "CLOSE|TIME_WAIT" /proc/net/nf_conntrack | head -20 || true
  done
}

# cluster_cells_without VERIFY_EXPECTED_OUT HOST: the cells of an --expected-only run, with every
# flow between one of HOST's containers and a container of another host made "denied": what the
# others enforce once they have forgotten HOST's endpoints.
cluster_cells_without() {
  local gone
  gone=$(cluster_inventory_lines "$2" | sed -E 's/.*name: ([^,]+),.*/\1/' | tr '\n' ' ')
  k8s_cells "$1" expected | awk -v gone="$gone" '
    BEGIN { n = split(gone, g, " "); for (i = 1; i <= n; i++) out[g[i]] = 1 }
    { split($1, k, "|"); if ((k[2] in out) != (k[3] in out)) $2 = "X"; print }'
}

