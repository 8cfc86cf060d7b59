#!/usr/bin/env bash
# bulkheadd's resident memory with 100 and 1,000 enforced endpoints (run by hand, as root; not a
# ctest test).
#
#   bench/daemon_memory.sh [BUILD_DIR] [SOURCE_DIR]      (env: COUNTS="100 1000")
#
# On the lab of bench/lib/endpoint_lab.sh (one namespace per endpoint, 10 groups), for each count
# starts a fresh `bulkheadd --source inventory:FILE`, waits until every endpoint is enforced, lets
# it settle for 2 s, and reads VmRSS and VmHWM from /proc/PID/status.
# Target: VmRSS < 30 MiB at 1,000. Removes every namespace at the end, even when interrupted.
set -euo pipefail
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
build=$(cd "${1:-$src/build}" && pwd)
COUNTS=${COUNTS:-"100 1000"}
max=0
for c in $COUNTS; do [ "$c" -gt "$max" ] && max=$c; done
source "$src/bench/lib/endpoint_lab.sh"
lab_namespaces "$max"

measure() {  # COUNT
  local n=$1 t0
  lab_inventory "$n"
  t0=$(date +%s%N)
  lab_daemon "$build/bulkheadd" "$n" "$work/daemon-$n.log"
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
  lab_stop_daemon
  lab_clear_tables "$n"
}

for c in $COUNTS; do measure "$c"; done
awk 'NR == 1 {n0 = $1; r0 = $2; h0 = $3}
     NR > 1 {printf "ratio %d/%d endpoints: VmRSS x%.2f, VmHWM x%.2f\n", $1, n0, $2 / r0, $3 / h0}
     $1 >= 1000 {print "target VmRSS < 30 MiB at " $1 ": " ($2 < 30 * 1024 && $4 < 30 * 1024 ? "met" : "NOT met")}' \
  "$work/results"
