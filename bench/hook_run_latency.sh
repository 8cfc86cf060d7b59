#!/usr/bin/env bash
# What born enforcement adds to `docker run` (issue 16; run by hand, as root; not a ctest test).
#
#   bench/hook_run_latency.sh [BUILD_DIR] [SOURCE_DIR]     (env: N=40)
#
# One private engine (scripts/docker-test-engine.sh) with two runtimes: plain runc and bulkhead
# (bulkhead-runtime adding bulkhead-hook). N `docker run --rm ... true` of each, interleaved
# (runc, bulkhead, runc, ...) so that both see the same machine load. When this build's
# bulkheadd has --hook-socket, a daemon answers the hook (a deny-egress group selects every
# container: the enforced path); otherwise the hook finds no daemon and installs the quarantine
# table (the failure path). Prints p50 and p99 (nearest rank) of each, the added ms and the ratio.
set -euo pipefail
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
build=$(cd "${1:-$src/build}" && pwd)
N=${N:-40}

source "$src/bench/lib/hook_engine.sh" bhhl
cat >"$ENGINE/runtime.sh" <<SH
#!/bin/sh
exec "$build/bulkhead-runtime" --hook-path "$build/bulkhead-hook" --hook-arg=--socket=$hook_sock "\$@"
SH
chmod +x "$ENGINE/runtime.sh"

hook_engine_start hooklat "--add-runtime bulkhead=$ENGINE/runtime.sh"
hook_daemon_start

one() {  # RUNTIME -> ms
  local t0 t1
  t0=$(date +%s%N)
  dk run --rm --runtime "$1" --network "$net" --label app=sandbox "$DOCKER_IMAGE" true >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
one runc >/dev/null
one bulkhead >/dev/null  # warm both paths once
: >"$ENGINE/runc.us"
: >"$ENGINE/bulkhead.us"
for ((i = 0; i < N; i++)); do
  one runc >>"$ENGINE/runc.us"
  one bulkhead >>"$ENGINE/bulkhead.us"
done
python3 - "$ENGINE/runc.us" "$ENGINE/bulkhead.us" "$N" "$mode" <<'PY'
import math, sys
def load(p): return sorted(int(l) / 1000 for l in open(p))
def pct(v, q): return v[max(0, math.ceil(q * len(v)) - 1)]
base, hook, n, mode = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"docker run --rm ... true, {n} each, interleaved; hook: {mode}")
for name, v in (("runc", base), ("bulkhead", hook)):
    print(f"  {name:9s} p50 {pct(v, .5):7.1f} ms   p99 {pct(v, .99):7.1f} ms")
for q, label in ((.5, "p50"), (.99, "p99")):
    b, h = pct(base, q), pct(hook, q)
    print(f"  added at {label}: {h - b:+.1f} ms (ratio {h / b:.3f})")
PY
