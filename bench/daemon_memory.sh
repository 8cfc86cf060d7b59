#!/usr/bin/env bash
# bulkheadd's resident memory with 100 and 1,000 enforced endpoints (run by hand, as root; not a
# ctest test).
#
#   bench/daemon_memory.sh [BUILD_DIR] [SOURCE_DIR]      (env: COUNTS="100 1000")
#
# Creates one network namespace per endpoint (`ip netns add` with a per-run prefix; lo up and
# holding one address in 198.18.0.0/15; this sandbox has no dummy interfaces), writes an
# inventory and a policy of 10 groups (label role=r0..r9, each group reaching the next on
# 8080/tcp, all isolated), and for each count starts a fresh `bulkheadd --source
# inventory:FILE`, waits until status shows every endpoint enforced, lets it settle for 2 s,
# and reads VmRSS and VmHWM from /proc/PID/status.
# Target: VmRSS < 30 MiB at 1,000. Removes every namespace at the end, even when interrupted.
set -euo pipefail
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
build=$(cd "${1:-$src/build}" && pwd)
COUNTS=${COUNTS:-"100 1000"}
max=0
for c in $COUNTS; do [ "$c" -gt "$max" ] && max=$c; done
[ "$max" -le 16000 ] || { echo "at most 16000 endpoints" >&2; exit 2; }

prefix=bhm$$
work=$(mktemp -d /tmp/bhmem.XXXXXX)
daemon_pid=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 {print "netns del " $1}' >"$work/del.batch"
  ip -force -batch "$work/del.batch" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP  # so that a signal runs the cleanup too

addr() { echo "198.18.$(($1 / 250)).$(($1 % 250 + 2))"; }

echo "creating $max namespaces ($prefix-*)..."
t0=$(date +%s)
for ((i = 0; i < max; i++)); do echo "netns add $prefix-$i"; done >"$work/add.batch"
ip -batch "$work/add.batch"
setup_ns() {  # I
  ip -n "$prefix-$1" -batch - <<EOF
link set lo up
addr add $(addr "$1")/32 dev lo
EOF
}
export -f setup_ns addr
export prefix
seq 0 $((max - 1)) | xargs -P 4 -I{} bash -c 'setup_ns {}'
echo "namespaces ready in $(($(date +%s) - t0)) s"

{
  cat <<EOF
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: mem
spec:
  groups:
EOF
  for g in $(seq 0 9); do echo "    r$g: {selector: role=r$g}"; done
  echo "  allow:"
  for g in $(seq 0 8); do echo "    - {from: [r$g], to: [r$((g + 1))], ports: [8080/tcp]}"; done
} >"$work/policy.yaml"

measure() {  # COUNT
  local n=$1 i
  {
    echo "endpoints:"
    for ((i = 0; i < n; i++)); do
      echo "  - {name: e$i, netns: /run/netns/$prefix-$i, labels: {role: r$((i % 10))}, addresses: [$(addr "$i")]}"
    done
  } >"$work/inventory.yaml"
  local t0
  t0=$(date +%s%N)
  "$build/bulkheadd" --policy "$work/policy.yaml" --source "inventory:$work/inventory.yaml" \
    --status-socket "$work/status.sock" --log-format json >"$work/daemon-$n.log" 2>&1 &
  daemon_pid=$!
  # Wait on the log, not on status: a status read allocates too, and is measured apart below.
  local done=0
  for ((i = 0; i < 1200; i++)); do
    done=$(grep -c '"msg":"endpoint enforced"' "$work/daemon-$n.log" || true)
    [ "$done" -ge "$n" ] && break
    sleep 0.25
  done
  [ "$done" -ge "$n" ] || { echo "only $done/$n enforced" >&2; tail "$work/daemon-$n.log" >&2; exit 1; }
  local secs=$((($(date +%s%N) - t0) / 1000000))
  # A measurement pause, not a wait for an outcome (the log above is that): the last applies'
  # buffers are returned before VmRSS is read.
  sleep 2
  local rss hwm rss2 hwm2 st
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon_pid/status")
  st=$("$build/bulkhead" status --status-socket "$work/status.sock" --json |
    jq '[.endpoints[] | select(.state == "enforced")] | length')
  [ "$st" = "$n" ] || { echo "status shows $st/$n enforced" >&2; exit 1; }
  sleep 1  # the same pause after the status read, whose buffers are measured apart
  rss2=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status")
  hwm2=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon_pid/status")
  mib() { echo "scale=1; $1 / 1024" | bc; }
  printf '%5d endpoints: VmRSS %5s MiB  VmHWM %5s MiB  (all enforced %d ms after start); after one status read: VmRSS %5s MiB  VmHWM %5s MiB\n' \
    "$n" "$(mib "$rss")" "$(mib "$hwm")" "$secs" "$(mib "$rss2")" "$(mib "$hwm2")"
  echo "$n $rss $hwm $rss2" >>"$work/results"
  kill "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=
  # Start the next count from empty namespaces (a daemon leaves its tables in place).
  seq 0 $((n - 1)) | xargs -P 4 -I{} ip netns exec "$prefix-{}" nft delete table inet bulkhead
}

for c in $COUNTS; do measure "$c"; done
awk 'NR == 1 {n0 = $1; r0 = $2; h0 = $3}
     NR > 1 {printf "ratio %d/%d endpoints: VmRSS x%.2f, VmHWM x%.2f\n", $1, n0, $2 / r0, $3 / h0}
     $1 >= 1000 {print "target VmRSS < 30 MiB at " $1 ": " ($2 < 30 * 1024 && $4 < 30 * 1024 ? "met" : "NOT met")}' \
  "$work/results"
