# The setup both hook benchmarks share: a private Docker engine directory ($ENGINE), the test
# library that drives it, the policy they enforce, the engine's and the daemon's start, and a
# cleanup that stops that daemon ($daemon_pid) and the engine, even when the benchmark fails.
# Source it with $src and $build set; $1 is the name prefix of the engine's temporary directory.
ENGINE=$(mktemp -d "/tmp/$1.XXXXXX")
BUILD=$build
source "$src/tests/scripts/lib/docker.sh"
daemon_pid=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
hook_sock=$ENGINE/hook.sock

# The policy both benchmarks enforce: a deny-egress group that selects app=sandbox, and clients
# (app=client) that may reach it: each new sandbox address joins every client's set.
cat >"$ENGINE/policy.yaml" <<'YAML'
apiVersion: bulkhead/v1
kind: Policy
metadata: {name: bench}
spec:
  groups:
    sandbox: {selector: app=sandbox, isolate: [egress]}
    client: {selector: app=client, isolate: [egress]}
  allow:
    - {from: [client], to: [sandbox], ports: [80/tcp]}
YAML

# hook_engine_start NETWORK DOCKERD_ARGS: the engine with the benchmark's runtimes, and a network
# of its own ($net) in 198.19.150-199.0/24.
hook_engine_start() {
  BULKHEAD_DOCKERD_ARGS="$2" bash "$src/scripts/docker-test-engine.sh" start "$ENGINE"
  net=$1
  dk network create --subnet 198.19.$((150 + $$ % 50)).0/24 "$net" >/dev/null
}

# hook_daemon_start: when this build's bulkheadd has --hook-socket and DAEMON is not 0, starts it
# answering at $hook_sock (the enforced path); otherwise the hook finds no daemon (the failure
# path: the hook's own cost, the floor of the enforced path). $mode says which.
hook_daemon_start() {
  mode="failure path (no daemon: quarantine)"
  [ "${DAEMON:-1}" != 0 ] || return 0
  "$build/bulkheadd" --help 2>&1 | grep -q -- --hook-socket || return 0
  "$build/bulkheadd" --policy "$ENGINE/policy.yaml" --source "docker:$ENGINE/docker.sock" \
    --status-socket "$ENGINE/status.sock" --hook-socket "$hook_sock" --log-format json \
    >"$ENGINE/daemon.log" 2>&1 &
  daemon_pid=$!
  # As the unit runs it (packaging/bulkheadd.service); NICE= overrides, NICE=0 for the default.
  local nice=${NICE:-$(sed -n 's/^Nice=//p' "$src/packaging/bulkheadd.service")}
  [ -z "$nice" ] || renice -n "$nice" -p "$daemon_pid" >/dev/null
  local i
  for ((i = 0; i < 100; i++)); do [ -S "$hook_sock" ] && break; sleep 0.1; done
  [ -S "$hook_sock" ] || { tail "$ENGINE/daemon.log" >&2; exit 1; }
  mode="enforced path (bulkheadd answers)"
}
