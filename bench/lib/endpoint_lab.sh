# Shared by bench/daemon_memory.sh and bench/status_latency.sh (sourced; run as root): one network
# namespace per endpoint (`ip netns add` with a per-run prefix; lo up and holding one address in
# 198.18.0.0/15; this sandbox has no dummy interfaces), a policy of 10 groups (label role=r0..r9,
# each group reaching the next on 8080/tcp, all isolated) and an inventory of the first N.
# Sets $prefix, $work and $daemon_pid; removes every namespace and the scratch directory at exit,
# even when interrupted.
prefix=bhm$$
work=$(mktemp -d /tmp/bhlab.XXXXXX)
daemon_pid=
lab_cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 {print "netns del " $1}' >"$work/del.batch"
  ip -force -batch "$work/del.batch" 2>/dev/null
  rm -rf "$work"
}
trap lab_cleanup EXIT
trap 'exit 130' INT TERM HUP  # so that a signal runs the cleanup too

lab_addr() { echo "198.18.$(($1 / 250)).$(($1 % 250 + 2))"; }

lab_namespaces() {  # MAX
  local max=$1 t0 i
  [ "$max" -le 16000 ] || { echo "at most 16000 endpoints" >&2; exit 2; }
  echo "creating $max namespaces ($prefix-*)..."
  t0=$(date +%s)
  for ((i = 0; i < max; i++)); do echo "netns add $prefix-$i"; done >"$work/add.batch"
  ip -batch "$work/add.batch"
  lab_setup_ns() {  # I
    ip -n "$prefix-$1" -batch - <<NS
link set lo up
addr add $(lab_addr "$1")/32 dev lo
NS
  }
  export -f lab_setup_ns lab_addr
  export prefix
  seq 0 $((max - 1)) | xargs -P 4 -I{} bash -c 'lab_setup_ns {}'
  echo "namespaces ready in $(($(date +%s) - t0)) s"
  {
    cat <<POL
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: mem
spec:
  groups:
POL
    for g in $(seq 0 9); do echo "    r$g: {selector: role=r$g}"; done
    echo "  allow:"
    for g in $(seq 0 8); do echo "    - {from: [r$g], to: [r$((g + 1))], ports: [8080/tcp]}"; done
  } >"$work/policy.yaml"
}

lab_inventory() {  # N: the first N namespaces as endpoints e0..e(N-1)
  local n=$1 i
  {
    echo "endpoints:"
    for ((i = 0; i < n; i++)); do
      echo "  - {name: e$i, netns: /run/netns/$prefix-$i, labels: {role: r$((i % 10))}, addresses: [$(lab_addr "$i")]}"
    done
  } >"$work/inventory.yaml"
}

# lab_daemon BULKHEADD N LOG [ARGS...]: starts BULKHEADD on the lab and waits (on the log, not on
# status: a status read allocates too) until N endpoints are enforced.
lab_daemon() {
  local bin=$1 n=$2 log=$3 done=0 i
  shift 3
  "$bin" --policy "$work/policy.yaml" --source "inventory:$work/inventory.yaml" \
    --status-socket "$work/status.sock" --log-format json "$@" >"$log" 2>&1 &
  daemon_pid=$!
  for ((i = 0; i < 1200; i++)); do
    done=$(grep -c '"msg":"endpoint enforced"' "$log" 2>/dev/null || true)
    [ "${done:-0}" -ge "$n" ] && return 0
    sleep 0.25
  done
  echo "only $done/$n enforced" >&2
  tail "$log" >&2
  exit 1
}

lab_stop_daemon() {
  kill "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=
}

# The next daemon starts from empty namespaces (a daemon leaves its tables in place).
lab_clear_tables() {  # N
  seq 0 $(($1 - 1)) | xargs -P 4 -I{} ip netns exec "$prefix-{}" nft delete table inet bulkhead
}
