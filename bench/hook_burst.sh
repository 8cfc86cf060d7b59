#!/usr/bin/env bash
# A burst of containers started at once under born enforcement (issue 16; run by hand, as root;
# not a ctest test).
#
#   bench/hook_burst.sh [BUILD_DIR] [SOURCE_DIR]     (env: N=100 P=20)
#
# A private engine with bulkhead-runtime as its default runtime; N containers of a deny-egress
# group plus one unselected control start at once (P `docker run` in flight), each connecting to
# an open peer as its first act. Per container: the hook's own time, from its start to the
# container's rules being in place (the daemon's answer, or the quarantine committed), timed by a
# shell around bulkhead-hook. Prints p50/p99/max of it, how many deny containers connected (must
# be 0) and whether the control did (must be 1). When this build's bulkheadd has --hook-socket,
# the daemon answers; otherwise every container is quarantined (the failure path).
set -euo pipefail
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
build=$(cd "${1:-$src/build}" && pwd)
N=${N:-100}
P=${P:-20}

source "$src/bench/lib/hook_engine.sh" bhhb
times=$ENGINE/hook.times
cat >"$ENGINE/hook-timed.sh" <<SH
#!/bin/sh
t0=\$(date +%s%N)
"$build/bulkhead-hook" "\$@"
rc=\$?
echo "\$t0 \$(date +%s%N) \$rc" >>"$times"
exit \$rc
SH
cat >"$ENGINE/runtime.sh" <<SH
#!/bin/sh
exec "$build/bulkhead-runtime" --hook-path "$ENGINE/hook-timed.sh" --hook-arg=--socket=$hook_sock "\$@"
SH
chmod +x "$ENGINE/runtime.sh" "$ENGINE/hook-timed.sh"

hook_engine_start hookburst "--add-runtime bulkhead=$ENGINE/runtime.sh --default-runtime bulkhead"
dk run -d --runtime runc --name hb-peer --network "$net" "$DOCKER_IMAGE" httpd -f -p 80 >/dev/null
peer=$(dk inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" hb-peer)
hook_daemon_start
first_act="if nc -w 1 $peer 80 </dev/null; then echo PEER_CONNECTED; else echo PEER_BLOCKED; fi; exec sleep 600"
run_one() {  # NAME LABEL
  dk run -d --name "$1" --network "$net" --label "$2" "$DOCKER_IMAGE" sh -c "$first_act" \
    >/dev/null 2>&1 || echo "docker run $1 failed" >&2
}
export -f run_one dk
export ENGINE net DOCKER_IMAGE first_act
t0=$(date +%s%N)
{
  echo "hb-free app=other"
  seq -f "hb-%03g app=sandbox" 1 "$N"
} | xargs -P "$P" -L 1 bash -c 'run_one "$@"' _
t1=$(date +%s%N)
sleep 1.5  # the last containers' probes (nc -w 1)
connected=0 blocked=0 control=missing
for c in $(dk ps --format '{{.Names}}' | grep '^hb-' | grep -v '^hb-peer$'); do
  v=$(dk logs "$c" 2>&1 | grep -E '^PEER_' || true)
  if [ "$c" = hb-free ]; then control=$v; continue; fi
  case $v in PEER_CONNECTED) connected=$((connected + 1)) ;; PEER_BLOCKED) blocked=$((blocked + 1)) ;; esac
done
python3 - "$times" "$N" "$mode" "$(((t1 - t0) / 1000000))" "$connected" "$blocked" "$control" <<'PY'
import math, sys
times, n, mode, wall, conn, blocked, control = sys.argv[1:8]
d = sorted((int(b) - int(a)) / 1e6 for a, b, _ in (l.split() for l in open(times)))
def pct(q): return d[max(0, math.ceil(q * len(d)) - 1)]
print(f"burst of {n} deny + 1 control, all started in {int(wall) / 1000:.1f} s; hook: {mode}")
print(f"  hook start -> own rules in place: p50 {pct(.5):.1f} ms  p99 {pct(.99):.1f} ms  max {d[-1]:.1f} ms ({len(d)} hooks)")
print(f"  deny containers connected at their first act: {conn} of {int(conn) + int(blocked)}; control: {control or 'no verdict'}")
PY
