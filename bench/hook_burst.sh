#!/usr/bin/env bash
# A burst of containers started at once under born enforcement (issue 16; run by hand, as root;
# not a ctest test).
#
#   bench/hook_burst.sh [BUILD_DIR] [SOURCE_DIR]     (env: N=100 P=20)
#
# A private engine with bulkhead-runtime as its default runtime; N containers of a deny-egress
# group plus one unselected control start at once (P `docker run` in flight), each connecting to
# an open peer as its first act. Per container:
#   start -> own rules: the hook's own time, from its start to the container's rules being in
#     place (the daemon's answer, or the quarantine committed), timed by a shell around
#     bulkhead-hook;
#   start -> peers: from the same start to the container's address reaching the set of a client
#     allowed to reach it (app=client), timed by `nft monitor` in the client's namespace.
# Prints p50/p99/max of both, how many deny containers connected (must be 0) and whether the
# control did (must be 1). When this build's bulkheadd has --hook-socket, the daemon answers;
# otherwise every container is quarantined (the failure path, with no peers' updates).
set -euo pipefail
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
build=$(cd "${1:-$src/build}" && pwd)
N=${N:-100}
P=${P:-20}

source "$src/bench/lib/hook_engine.sh" bhhb
times=$ENGINE/hook.times
events=$ENGINE/peer.events
# The hook's state (stdin) names the container: kept to match its start with the peers' events.
# Timed with bash's own clock and read: no fork besides the hook's, whose cost under the burst
# would be counted otherwise.
cat >"$ENGINE/hook-timed.sh" <<SH
#!/bin/bash
t0=\$EPOCHREALTIME
IFS= read -r -d '' state
"$build/bulkhead-hook" "\$@" <<<"\$state"
rc=\$?
t1=\$EPOCHREALTIME
[[ \$state =~ \"id\":\ *\"([0-9a-f]+)\" ]]
echo "\${t0/./} \${t1/./} \$rc \${BASH_REMATCH[1]}" >>"$times"
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
dk run -d --runtime runc --name hb-client --network "$net" --label app=client "$DOCKER_IMAGE" \
  sleep 600 >/dev/null
hook_daemon_start
# Every set change in the client's namespace, stamped as it arrives (nft flushes each event).
mkfifo "$ENGINE/monitor.fifo"
nsenter -t "$(dk inspect -f '{{.State.Pid}}' hb-client)" -n nft monitor elements \
  >"$ENGINE/monitor.fifo" 2>/dev/null &
monitor_pids=$!
python3 -u -c '
import sys, time
for line in sys.stdin:
    print(time.time_ns(), line.rstrip(), flush=True)' <"$ENGINE/monitor.fifo" >"$events" &
monitor_pids="$monitor_pids $!"
stop_monitor() { kill $monitor_pids 2>/dev/null || true; }
trap 'stop_monitor; cleanup' EXIT
sleep 0.5  # the monitor subscribes; the client's own table was applied before it
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
stop_monitor
for c in $(dk ps --format '{{.Names}}' | grep '^hb-' | grep -Ev '^hb-(peer|client)$'); do
  v=$(dk logs "$c" 2>&1 | grep -E '^PEER_' || true)
  if [ "$c" = hb-free ]; then control=$v; continue; fi
  case $v in PEER_CONNECTED) connected=$((connected + 1)) ;; PEER_BLOCKED) blocked=$((blocked + 1)) ;; esac
done
dk inspect -f "{{.Id}} {{(index .NetworkSettings.Networks \"$net\").IPAddress}} {{.Name}}" \
  $(dk ps -q --filter label=app=sandbox) >"$ENGINE/addresses"
python3 - "$times" "$events" "$ENGINE/addresses" "$N" "$mode" "$(((t1 - t0) / 1000000))" \
  "$connected" "$blocked" "$control" "$ENGINE/daemon.log" <<'PY'
import json, math, re, sys
times, events, addresses, n, mode, wall, conn, blocked, control, log = sys.argv[1:11]
starts, own = {}, []
for line in open(times):
    a, b, _, *cid = line.split()
    own.append((int(b) - int(a)) / 1e3)  # microseconds
    if cid: starts[cid[0]] = int(a) * 1000
# The first time each address was added to the client's set.
added = {}
for line in open(events):
    t, text = line.split(" ", 1)
    if text.startswith("add element"):
        for ip in re.findall(r"\d+\.\d+\.\d+\.\d+", text): added.setdefault(ip, int(t))
peers = sorted((added[ip] - starts[cid]) / 1e6 for cid, ip, _ in (l.split() for l in open(addresses))
               if cid in starts and ip in added)
def pct(d, q): return d[max(0, math.ceil(q * len(d)) - 1)]
def line(what, d, unit):
    if not d: return f"  {what}: none measured"
    return f"  {what}: p50 {pct(d, .5):.1f} ms  p99 {pct(d, .99):.1f} ms  max {d[-1]:.1f} ms ({len(d)} {unit})"
own.sort()
print(f"burst of {n} deny + 1 control, all started in {int(wall) / 1000:.1f} s; hook: {mode}")
print(line("hook start -> own rules in place", own, "hooks"))
print(line("hook start -> address in an allowed client's set", peers, "containers"))
# The daemon's side: how its answers were batched and how long each batch took.
batches = {}
for l in open(log):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("msg") == "hook answered" and "batch" in e:
        batches.setdefault((e.get("time"), e["ms"]), int(e["batch"]))
if batches:
    sizes = sorted(batches.values())
    ms = sorted(float(k[1]) for k in batches)
    print(f"  daemon: {len(sizes)} batches, size p50 {pct(sizes, .5)} max {sizes[-1]}; "
          f"batch answered in p50 {pct(ms, .5):.1f} ms  p99 {pct(ms, .99):.1f} ms")
print(f"  deny containers connected at their first act: {conn} of {int(conn) + int(blocked)}; control: {control or 'no verdict'}")
PY
