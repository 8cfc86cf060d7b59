#!/usr/bin/env bash
# How long `bulkhead status` takes with 1,000 enforced endpoints (run by hand, as root; not a ctest
# test).
#
#   bench/status_latency.sh [BUILD_DIR] [SOURCE_DIR]
#   env: COUNT=1000 CALLS=50; BASELINE=DIR BASELINE_CALLS=10 to compare with another build
#
# On the lab of bench/lib/endpoint_lab.sh (one namespace per endpoint, 10 groups) starts bulkheadd,
# waits until every endpoint's counters are known (tables created afresh count from zero; else a
# resync reads them), then times CALLS runs of `bulkhead status --json` (the whole command:
# connect, the daemon's answer, parsing and printing) and prints p50, p99 and the largest in ms. With BASELINE, a build directory of
# another revision (e.g. one whose status read every table from the kernel), the same lab is
# measured with its programs too and the ratio of the medians is printed.
# Target: p99 < 100 ms at 1,000 endpoints.
set -euo pipefail
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
build=$(cd "${1:-$src/build}" && pwd)
COUNT=${COUNT:-1000}
CALLS=${CALLS:-50}
BASELINE_CALLS=${BASELINE_CALLS:-10}
source "$src/bench/lib/endpoint_lab.sh"
lab_namespaces "$COUNT"
lab_inventory "$COUNT"

counters_read() {  # every endpoint's counters read by a resync
  "$1/bulkhead" status --status-socket "$work/status.sock" --json |
    jq -e '[.endpoints[] | select((.counters_at // "") == "")] | length == 0' >/dev/null
}

# User and system time of this shell's finished children, in ms, into $children_ms (bash's
# `times`, second line; not in a $(...) subshell, whose children are others).
children_ms=0
children_cpu() {
  times >"$work/times"
  children_ms=$(awk 'NR == 2 {gsub(/[ms]/, " "); printf "%d\n", ($1 * 60 + $2 + $3 * 60 + $4) * 1000}' "$work/times")
}

# The median of the daemon's own "status answered" times (logged at debug level since this
# revision; "" for a build that does not log them).
answer_p50() {
  jq -r 'select(.msg == "status answered") | .ms' "$1" 2>/dev/null | sort -n |
    awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}

measure() {  # BUILD_DIR LABEL CALLS
  local dir=$1 label=$2 calls=$3 i t0 t1
  # A resync every 20 s: the first one reads the counters, the calls fit before the next.
  lab_daemon "$dir/bulkheadd" "$COUNT" "$work/daemon-$label.log" --resync-interval 20 --log-level debug
  if "$dir/bulkhead" status --status-socket "$work/status.sock" --json | jq -e '.endpoints[0] | has("counters_at")' >/dev/null; then
    for ((i = 0; i < 300; i++)); do counters_read "$dir" && break; sleep 0.2; done
    counters_read "$dir" || { echo "$label: no resync read the counters" >&2; exit 1; }
  fi
  : >"$work/$label.ms"
  # CPU time too, as wall time on a shared machine says as much about the neighbours: the
  # daemon's (/proc/PID/stat utime + stime, in clock ticks) and the command's (bash's `times`).
  local ticks0 ticks1 hz cli0
  hz=$(getconf CLK_TCK)
  children_cpu
  cli0=$children_ms
  ticks0=$(awk '{print $14 + $15}' "/proc/$daemon_pid/stat")
  # Printed to /dev/null: writing 1.5 MB into a file costs tens of ms on some filesystems.
  for ((i = 0; i < calls; i++)); do
    t0=$EPOCHREALTIME
    "$dir/bulkhead" status --status-socket "$work/status.sock" --json >/dev/null
    t1=$EPOCHREALTIME
    echo $((${t1/./} - ${t0/./})) >>"$work/$label.ms"
  done
  ticks1=$(awk '{print $14 + $15}' "/proc/$daemon_pid/stat")
  children_cpu
  local cli_cpu=$((children_ms - cli0))
  "$dir/bulkhead" status --status-socket "$work/status.sock" --json >"$work/status.json"
  local enforced
  enforced=$(jq '[.endpoints[] | select(.state == "enforced")] | length' "$work/status.json")
  [ "$enforced" = "$COUNT" ] || { echo "$label: status shows $enforced/$COUNT enforced" >&2; exit 1; }
  sort -n "$work/$label.ms" | awk -v label="$label" -v n="$COUNT" -v bytes="$(wc -c <"$work/status.json")" \
    -v daemon_ms="$(((ticks1 - ticks0) * 1000 / hz))" -v cli_ms="$cli_cpu" -v answer="$(answer_p50 "$work/daemon-$label.log")" '
    {v[NR] = $1}
    END {
      p50 = v[int((NR + 1) / 2)]; p99 = v[int(NR * 0.99 + 0.999)]
      printf "%-8s %d endpoints, %d calls, %d-byte document: p50 %.1f ms  p99 %.1f ms  max %.1f ms;",
        label, n, NR, bytes, p50 / 1000, p99 / 1000, v[NR] / 1000
      printf " CPU per call: daemon %.1f ms, bulkhead %.1f ms\n", daemon_ms / NR, cli_ms / NR
      if (answer != "") printf "%-8s the daemon answered in (document and send, from its log): p50 %s ms\n", label, answer
      print label, p50, p99 >"/dev/stderr"
    }' 2>>"$work/results"
  lab_stop_daemon
  lab_clear_tables "$COUNT"
}

measure "$build" current "$CALLS"
if [ -n "${BASELINE:-}" ]; then
  measure "$(cd "$BASELINE" && pwd)" baseline "$BASELINE_CALLS"
  awk '$1 == "current" {c = $2} $1 == "baseline" {b = $2}
       END {printf "ratio baseline/current (p50): x%.1f\n", b / c}' "$work/results"
fi
awk '$1 == "current" {print "target p99 < 100 ms: " ($3 < 100000 ? "met" : "NOT met")}' "$work/results"
