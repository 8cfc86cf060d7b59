# The Kubernetes conformance lab: one network namespace per pod of an inventory, on one bridge,
# each running tests/support/lab_server on ports 80 and 81. Sourced after netlab.sh and
# common.sh, with $build, $prefix and $work set. Docs: docs/kubernetes.md. The bridge is
# netlab_up's, with a fixed MAC address, so pods added to a running lab (k8s_transitions, the
# cluster lab's containers) never change the address their neighbours resolved (issue 13).

k8s_ports=80/tcp,81/tcp,80/udp,81/udp
k8s_server_pids=()

# Prints "NAME ADDRESS" for each endpoint of an inventory written as the conformance data writes
# it (one `- name:` line, then one `addresses: [IPV4]` line).
k8s_inventory_hosts() {
  awk '/^  - name:/ { name = $3 } /^    addresses:/ { gsub(/[][,]/, "", $2); print name, $2 }' "$1"
}

# k8s_inventory_render TEMPLATE OUT: the template with @PREFIX@ replaced, written atomically so
# a daemon watching OUT never reads half a file.
k8s_inventory_render() {
  sed "s/@PREFIX@/$prefix/g" "$1" >"$2.tmp"
  mv -f "$2.tmp" "$2"
}

# k8s_lab_add NAME ADDRESS: the pod's namespace on the lab bridge, with its servers running.
k8s_lab_add() {
  local name=$1 addr=$2
  netlab_add "$prefix" "$name=$addr"
  # An allowed UDP probe leaves a conntrack entry (30 s by default); a later probe that happens to
  # pick the same source port would pass as "established" under a policy that now denies it.
  # Entries of one second, and a pause between tables, keep every probe a new flow.
  ip netns exec "$prefix-$name" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1
  ip netns exec "$prefix-$name" "$build/lab_server" --lifetime 600 80 81 \
    >"$work/server-$name.log" 2>&1 &
  k8s_server_pids+=($!)
  wait_for 5 grep -q ready "$work/server-$name.log" ||
    fail "lab_server in $prefix-$name did not start: $(cat "$work/server-$name.log")"
}

# k8s_lab_up INVENTORY: the bridge, and every pod of the inventory that is not up yet.
k8s_lab_up() {
  [ -e "/run/netns/$prefix-sw" ] || netlab_up "$prefix"
  local name addr
  while read -r name addr; do
    [ -e "/run/netns/$prefix-$name" ] || k8s_lab_add "$name" "$addr"
  done < <(k8s_inventory_hosts "$1")
}

k8s_lab_down() {
  local pid
  for pid in "${k8s_server_pids[@]}"; do kill "$pid" 2>/dev/null; done
  netlab_down "$prefix"
}

# Prints "PORT|FROM|TO CELL" for every cell of the matrices in verify's output whose heading
# says KIND ("expected" from --expected-only, "observed" from a probing run).
k8s_cells() {
  awk -v kind="$2" '
    $2 == kind && $3 == "(rows:" { port = $1; state = 1; next }
    state == 1 { n = NF; for (i = 1; i <= NF; i++) col[i] = $i; rows = 0; state = 2; next }
    state == 2 { for (i = 2; i <= NF; i++) print port "|" $1 "|" col[i - 1], $i; if (++rows == n) state = 0 }
  ' "$1" | LC_ALL=C sort
}

# k8s_diff_cells CELLS OBSERVED_FILE: CELLS holds the expected "PORT|FROM|TO CELL" lines (as
# k8s_cells prints them); prints one line per pair whose observed cell differs from the expected
# one; returns 1 when there is any (or nothing was compared).
k8s_diff_cells() {
  local obs
  obs=$(k8s_cells "$2" observed)
  [ -n "$1" ] && [ -n "$obs" ] || {
    echo "  nothing to compare"
    return 1
  }
  LC_ALL=C join -j1 -a1 -e missing -o 0,1.2,2.2 <(echo "$1") <(echo "$obs") |
    awk '{ split($1, k, "|")
           if ($2 != $3) {
             printf "  %s -> %s %s: expected %s, observed %s\n", k[2], k[3], k[1],
               ($2 == "." ? "allowed" : "denied"),
               ($3 == "." ? "reached" : $3 == "X" ? "blocked" : $3)
             bad = 1 } }
         END { exit bad }'
}

# k8s_diff_tables EXPECTED_FILE OBSERVED_FILE: k8s_diff_cells with the expected table of a file.
k8s_diff_tables() { k8s_diff_cells "$(k8s_cells "$1" expected)" "$2"; }
