#!/usr/bin/env bash
# bulkheadd end to end on a real Docker engine of the test's own, judged by real traffic
# (`bulkhead verify` probes from inside the containers' namespaces): the Compose, Swarm and
# Kubernetes examples' labels select as documented; a container joining later, a removed one, a
# restarted one; the daemon restarted under a continuous probe of a denied and an allowed flow
# (never opened; a container started while it was down is reconciled); dockerd killed and
# restarted (the source reconnects); 50 containers started in a burst, none missed.
# Cleanup (daemon, probe loop, engine with its containers, networks and mounts) even on failure.
# usage: docker_e2e.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/tests/scripts/lib/common.sh"
step() { echo "--- [${SECONDS}s] $*"; }

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v docker >/dev/null ||
  ! command -v jq >/dev/null; then
  fail "needs root, docker.io and jq (scripts/install-deps.sh installs them)"
fi

ENGINE=$(mktemp -d /tmp/bhe2e.XXXXXX)
BUILD=$build
source "$src/tests/scripts/lib/docker.sh"
daemon_pid=
probe_pid=
cleanup() {
  set +e
  [ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null && wait "$probe_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP  # so that a signal runs the cleanup too

sock=$ENGINE/status.sock
log=$ENGINE/daemon.log
inv=$ENGINE/inventory.yaml
policies=("$src/examples/compose/policy.yaml" "$src/examples/swarm/policy.yaml" "$src/examples/kubernetes")
ports=80/tcp,443/tcp,3306/tcp,9000/tcp,6379/tcp,5432/tcp,8080/tcp
# A subnet of our own inside 198.19.0.0/16, apart from other tests' networks.
net=e2e
subnet=198.19.$((100 + $$ % 100)).0/24

dump() {
  echo "--- daemon log (tail)" >&2
  tail -n 60 "$log" >&2 || true
  echo "--- status" >&2
  status_json "$sock" 2>&1 | jq -c '{sources, errors, endpoints: [.endpoints[] | {name, state, netns, error}]}' >&2 || true
}
die() {
  dump
  fail "$@"
}
run() {  # NAME LABEL... : a busybox container on the test network
  local name=$1
  shift
  local args=() l
  for l in "$@"; do args+=(--label "$l"); done
  dk run -d --name "$name" --network "$net" "${args[@]}" "$DOCKER_IMAGE" sleep 3600 >/dev/null ||
    fail "docker run $name"
}
compose() { run "$1" com.docker.compose.project=blog "com.docker.compose.service=$2"; }
swarm() { run "$1" com.docker.stack.namespace=votes "com.docker.swarm.service.name=$2"; }
pod() { run "$1" "app=$2" "io.kubernetes.pod.namespace=$3" "io.kubernetes.pod.name=$1"; }
address() { dk inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$1"; }
start_daemon() {
  local args=() p
  for p in "${policies[@]}"; do args+=(--policy "$p"); done
  "$build/bulkheadd" --hook-socket none "${args[@]}" --source "docker:$ENGINE/docker.sock" --status-socket "$sock" \
    --log-format json --log-level debug >>"$log" 2>&1 &
  daemon_pid=$!
}
stop_daemon() {
  kill -TERM "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [ "$rc" = 0 ] || die "bulkheadd exited $rc on SIGTERM"
}
wait_enforced() {  # SECONDS NAME...
  local t=$1 c
  shift
  for c in "$@"; do
    wait_for "$t" is_enforced "$sock" "$c" || die "$c not enforced in its namespace within ${t}s"
  done
}
verify() {  # verify the policies over an inventory of every running container; must exit 0
  docker_inventory "$inv"
  local args=() p rc=0
  for p in "${policies[@]}"; do args+=("$p"); done
  "$build/bulkhead" verify "${args[@]}" --inventory "$inv" --ports "$ports" --timeout-ms 300 \
    >"$ENGINE/verify.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { cat "$ENGINE/verify.out" >&2; cat "$inv" >&2; die "verify exited $rc ($1)"; }
  grep -q 'all [0-9]* probes match the policy' "$ENGINE/verify.out" || die "verify said: $(tail -n 3 "$ENGINE/verify.out")"
}
set_has() {  # CONTAINER SET ADDRESS
  local elems
  elems=$(ns_set "$1" "$2") || return 1
  grep -qx "$3" <<<"$elems"
}

step "engine, network $subnet, Compose, Swarm and Kubernetes-labelled containers, bulkheadd"
bash "$src/scripts/docker-test-engine.sh" start "$ENGINE"
dk network create --subnet "$subnet" "$net" >/dev/null
net_bridge=br-$(dk network inspect -f '{{.Id}}' "$net" | cut -c1-12)
compose blog-proxy-1 proxy
compose blog-app-1 app
compose blog-db-1 db
swarm votes_vote.1 votes_vote
swarm votes_redis.1 votes_redis
swarm votes_worker.1 votes_worker
pod shop-web web shop
pod shop-api api shop
pod shop-db db shop
pod shop-misc misc shop         # selected only by shop's default-deny (podSelector {})
run stray app=web team=x        # namespace default: no policy selects it
dk exec blog-app-1 httpd -p 9000 -h /var/www  # a listener for the probe loop below
start_daemon
wait_for 10 grep -q '"msg":"bulkheadd running"' "$log" || die "bulkheadd did not start"
all=(blog-proxy-1 blog-app-1 blog-db-1 votes_vote.1 votes_redis.1 votes_worker.1 shop-web shop-api shop-db shop-misc)
wait_enforced 10 "${all[@]}"
grep -q '"msg":"endpoint enforced","endpoint":"blog-db-1"' "$log" || die "no 'endpoint enforced' log line for blog-db-1"

step "verify: the dataplane matches the policies, and something is blocked"
verify "initial"
# (No `a | grep -q`: with pipefail, grep quitting early fails the pipeline through SIGPIPE.)
awk '/ observed /{n = 12; next} n-- > 0 && / X /{f = 1} END {exit !f}' "$ENGINE/verify.out" ||
  die "no blocked flow in the observed matrices"

step "labels select as documented: Compose, Swarm, Kubernetes (namespace from the pod label)"
rules() { status_json "$sock" | jq -r --arg n "$1" '.endpoints[] | select(.name == $n) | .rules[].comment'; }
grep -q '^blog: blog-proxy -> blog-app 9000/tcp' <<<"$(rules blog-app-1)" || die "blog-app-1 lacks the Compose rule"
grep -q '^votes: vote -> redis 6379/tcp' <<<"$(rules votes_redis.1)" || die "votes_redis.1 lacks the Swarm rule"
status_json "$sock" | jq -e '.endpoints[] | select(.name == "shop-misc") | .rules | length > 0' >/dev/null ||
  die "shop-misc has no rules"
grep -qi 'default-deny' <<<"$(rules shop-misc)" || { rules shop-misc >&2; die "shop-misc is not isolated by shop/default-deny"; }
! ns_has_table stray || die "stray (selected by no policy) has a table"
# "enforced" for stray means its desired state, nothing, is in place.
status_json "$sock" | jq -e '.endpoints[] | select(.name == "stray") | (.rules // []) | length == 0' >/dev/null ||
  die "stray has rules"
[ "$(tcp_probe "$(container_pid blog-proxy-1)" "$(address blog-app-1)" 9000; echo $?)" = 0 ] ||
  die "blog-proxy-1 cannot reach blog-app-1:9000 (allowed by the Compose policy)"

step "a container joining a group later gets its flows, and its peers learn its address"
compose blog-app-2 app
wait_enforced 5 blog-app-2
app2=$(address blog-app-2)
wait_for 5 set_has blog-db-1 blog-app_v4 "$app2" || die "blog-db-1's blog-app_v4 set lacks $app2"
verify "after blog-app-2 joined"

step "a removed container's address leaves its peers' sets"
dk rm -f blog-app-2 >/dev/null
set_lacks() { ! set_has "$@"; }
wait_for 5 set_lacks blog-db-1 blog-app_v4 "$app2" ||
  die "$app2 still in blog-db-1's blog-app_v4 set"
set_has blog-db-1 blog-app_v4 "$(address blog-app-1)" || die "blog-app-1's address left the set too"
gone_from_status() { ! status_json "$sock" | jq -e --arg n "$1" '.endpoints[] | select(.name == $n)' >/dev/null; }
wait_for 5 gone_from_status blog-app-2 ||
  die "blog-app-2 still in status"

step "a restarted container is enforced again in its new namespace"
old=$(container_pid blog-db-1)
dk restart -t 0 blog-db-1 >/dev/null
new=$(container_pid blog-db-1)
[ "$new" -gt 0 ] && [ "$new" != "$old" ] || die "blog-db-1 pid $old -> $new"
wait_enforced 5 blog-db-1
wait_for 5 set_has blog-app-1 blog-db_v4 "$(address blog-db-1)" || die "blog-app-1's blog-db_v4 set lacks blog-db-1"
verify "after docker restart blog-db-1"

log_mark=0
no_errors_since() {  # LINE: no error logged after that line of the daemon's log
  ! tail -n "+$(($1 + 1))" "$log" | grep '"level":"error"' >&2 || die "errors in the daemon log"
}
step "bulkheadd restarted under a continuous probe: the denied flow never passes, the allowed one does"
app1=$(address blog-app-1)
db_pid=$(container_pid blog-db-1)
proxy_pid=$(container_pid blog-proxy-1)
probes=$ENGINE/probes
: >"$probes"
(
  # Bounded: at most 400 rounds. denied: blog-db-1 -> blog-app-1:9000 (blog-db is isolated in
  # egress, blog-app admits only blog-proxy); allowed: blog-proxy-1 -> blog-app-1:9000 (httpd).
  for ((i = 0; i < 400; i++)); do
    [ -e "$ENGINE/probe.stop" ] && break
    rc=0; tcp_probe "$db_pid" "$app1" 9000 || rc=$?
    echo "denied $rc" >>"$probes"
    rc=0; nsenter -t "$proxy_pid" -n timeout 1 bash -c "echo >/dev/tcp/$app1/9000" 2>/dev/null || rc=$?
    echo "allowed $rc" >>"$probes"
  done
) &
probe_pid=$!
# The pauses are the scenario, not waits for an outcome: a second of probes before the daemon
# stops, while it is down, and after the restart's enforcement, so that the probe loop covers
# each phase; what the probes saw is checked below.
sleep 1
stop_daemon
swarm votes_worker.2 votes_worker   # a change while the daemon is down
sleep 1
start_daemon
wait_enforced 10 votes_worker.2 "${all[@]}"
sleep 1
touch "$ENGINE/probe.stop"
wait "$probe_pid" || true
probe_pid=
denied_total=$(grep -c '^denied' "$probes" || true)
denied_passed=$(grep -Ec '^denied (0|1)$' "$probes" || true)
allowed_total=$(grep -c '^allowed' "$probes" || true)
allowed_ok=$(grep -c '^allowed 0$' "$probes" || true)
echo "probes: denied $denied_passed/$denied_total passed, allowed $allowed_ok/$allowed_total connected"
[ "$denied_total" -ge 10 ] || die "only $denied_total denied probes ran"
[ "$denied_passed" = 0 ] || die "the denied flow passed $denied_passed times during the restart"
# The allowed flow's rules stay in place; a probe can still time out on an overloaded machine.
[ $((allowed_ok * 10)) -ge $((allowed_total * 9)) ] || die "the allowed flow failed too often: $allowed_ok/$allowed_total"
no_errors_since "$log_mark"
verify "after the daemon restart"

step "dockerd killed: the source reports the error, enforcement stays"
bash "$src/scripts/docker-test-engine.sh" kill "$ENGINE"
source_error() { status_json "$sock" | jq -e '.sources[0].error != ""' >/dev/null; }
wait_for 10 source_error || die "the source shows no error with the engine down"
if kill -0 "$db_pid" 2>/dev/null; then
  nsenter -t "$db_pid" -n nft list table inet bulkhead >/dev/null || die "blog-db-1 lost its table while the engine was down"
fi
[ "$(status_json "$sock" | jq '[.endpoints[] | select(.state == "enforced")] | length')" -ge 10 ] ||
  die "endpoints dropped while the engine was down"

step "dockerd restarted: the source reconnects, stopped containers come back, new ones are enforced"
bash "$src/scripts/docker-test-engine.sh" start "$ENGINE"
source_ok() { status_json "$sock" | jq -e '.sources[0].ready and .sources[0].error == ""' >/dev/null; }
wait_for 15 source_ok || die "the source did not reconnect"
stopped=$(dk ps -a --filter status=exited --format '{{.Names}}')
echo "containers stopped by the engine's restart: $(echo "$stopped" | wc -w)"
if [ -n "$stopped" ]; then
  # shellcheck disable=SC2086
  dk start $stopped >/dev/null || die "docker start after the engine's restart"
  dk exec blog-app-1 httpd -p 9000 -h /var/www
fi
compose blog-app-3 app
wait_enforced 10 blog-app-3 votes_worker.2 "${all[@]}"
verify "after the engine's restart"

log_mark=$(wc -l <"$log")
step "50 containers in a burst: all enforced, none missed"
t0=$(date +%s)
seq -w 1 50 | xargs -P 6 -I{} docker -H "unix://$ENGINE/docker.sock" run -d --name burst-{} --network "$net" \
  --label com.docker.compose.project=blog --label com.docker.compose.service=app "$DOCKER_IMAGE" sleep 3600 >/dev/null ||
  die "docker run burst"
t1=$(date +%s)
burst_done() { [ "$(count_enforced "$sock" burst-)" = 50 ]; }
wait_for 30 burst_done || die "$(count_enforced "$sock" burst-)/50 burst containers enforced"
t2=$(date +%s)
# Each one enforced in its current namespace (one status read, one inspect), and has its table.
status_json "$sock" >"$ENGINE/status.json"
# shellcheck disable=SC2046
dk inspect -f '{{slice .Name 1}} {{.State.Pid}}' $(seq -f 'burst-%02g' 1 50) |
  while read -r name pid; do
    jq -e --arg n "$name" --arg ns "/proc/$pid/ns/net" \
      'any(.endpoints[]; .name == $n and .state == "enforced" and .netns == $ns)' "$ENGINE/status.json" >/dev/null ||
      fail "$name not enforced in its current namespace"
    nsenter -t "$pid" -n nft list table inet bulkhead >/dev/null 2>&1 || fail "$name has no table"
  done || die "burst containers not enforced"
n=$(ns_set blog-db-1 blog-app_v4 | wc -l)
[ "$n" = 52 ] || die "blog-db-1's blog-app_v4 set holds $n addresses, not 52"
echo "burst: started in $((t1 - t0)) s, all enforced $((t2 - t1)) s later"
no_errors_since "$log_mark"

step "bulkheadd exits 0 on SIGTERM; cleanup leaves nothing"
stop_daemon
bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
[ ! -e "$ENGINE" ] || fail "$ENGINE left behind"
! grep -q "$ENGINE" /proc/mounts || fail "mounts left under $ENGINE"
! ip link show "$net_bridge" >/dev/null 2>&1 || fail "the network's bridge $net_bridge left behind"
echo "PASS"
