#!/usr/bin/env bash
# bulkheadd on a real Docker engine of the test's own: --once enforces every container of the
# Compose example and never the host-network one; then, running, it enforces a container started
# later. No leftovers: the engine's directory, containers, networks and mounts all go.
# usage: docker_daemon.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/tests/scripts/lib/common.sh"

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  fail "needs root and docker.io (scripts/install-deps.sh installs it)"
fi

engine=$(mktemp -d /tmp/bhdd.XXXXXX)
daemon_pid=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  bash "$src/scripts/docker-test-engine.sh" stop "$engine"
}
trap cleanup EXIT

dk() { docker -H "unix://$engine/docker.sock" "$@"; }
image=bulkhead-test/busybox:1
ns_has_table() {  # CONTAINER
  local pid
  pid=$(dk inspect -f '{{.State.Pid}}' "$1")
  [ "$pid" -gt 0 ] && nsenter -t "$pid" -n nft list table inet bulkhead >/dev/null 2>&1
}
compose_run() {  # NAME SERVICE [docker run options]
  local name=$1 service=$2
  shift 2
  dk run -d --name "$name" --label com.docker.compose.project=blog \
    --label "com.docker.compose.service=$service" "$@" "$image" sleep 600 >/dev/null 2>&1 ||
    fail "docker run $name"
}

step "engine"
bash "$src/scripts/docker-test-engine.sh" start "$engine"
dk network create --subnet 198.19.77.0/24 blog >/dev/null
host_tables_before=$(nft list tables | grep -c 'inet bulkhead' || true)
compose_run blog-proxy-1 proxy --network blog
compose_run blog-app-1 app --network blog
compose_run blog-db-1 db --network blog
compose_run blog-backup-1 backup --network host

step "--once enforces every container namespace, not the host's"
"$build/bulkheadd" --hook-socket none --policy "$src/examples/compose/policy.yaml" \
  --source "docker:$engine/docker.sock" --once --status-socket "$engine/status.sock" \
  >"$engine/once.log" 2>&1 || { cat "$engine/once.log"; fail "bulkheadd --once"; }
for c in blog-proxy-1 blog-app-1 blog-db-1; do
  ns_has_table "$c" || { cat "$engine/once.log"; fail "no inet bulkhead table in $c"; }
done
[ "$(nft list tables | grep -c 'inet bulkhead' || true)" = "$host_tables_before" ] ||
  fail "the host's namespace was programmed"

step "running: a container started later is enforced"
"$build/bulkheadd" --hook-socket none --policy "$src/examples/compose/policy.yaml" \
  --source "docker:$engine/docker.sock" --status-socket "$engine/status.sock" \
  >"$engine/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 10 grep -q "blog-db-1" "$engine/daemon.log" || { cat "$engine/daemon.log"; fail "daemon did not start"; }
"$build/bulkhead" status --status-socket "$engine/status.sock" --json >"$engine/status.json" ||
  fail "bulkhead status"
jq -e 'any(.unenforceable[]; .name == "blog-backup-1" and (.reason | contains("network_mode host")))' "$engine/status.json" >/dev/null || { cat "$engine/status.json"; fail "host-network container not reported"; }
compose_run blog-app-2 app --network blog
wait_for 5 ns_has_table blog-app-2 || { cat "$engine/daemon.log"; fail "blog-app-2 not enforced"; }
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=

step "cleanup leaves nothing"
bash "$src/scripts/docker-test-engine.sh" stop "$engine"
[ ! -e "$engine" ] || fail "$engine left behind"
! grep -q "$engine" /proc/mounts || fail "mounts left under $engine"
echo "PASS"
