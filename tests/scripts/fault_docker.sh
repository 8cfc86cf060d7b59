#!/usr/bin/env bash
# Docker faults against a long-running bulkheadd on a private engine (examples/compose policy):
# a container restarted while a policy change is being applied; the engine stalled (SIGSTOP) and
# resumed; the engine stopped and started again. Each time the other containers stay enforced
# (tables in place, a denied flow stays denied), the fault shows in `bulkhead status` and in the
# log, and the daemon recovers by itself when the engine is back.
# usage: fault_docker.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
BUILD=$build
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/docker.sh"

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v jq >/dev/null; then
  fail "needs root, docker.io and jq (scripts/install-deps.sh installs them)"
fi
ENGINE=$(mktemp -d /tmp/bhfd.XXXXXX)
work=$ENGINE/work
mkdir "$work"
daemon_pid=
engine_stopped_pid=
cleanup() {
  set +e
  [ -n "$engine_stopped_pid" ] && kill -CONT "$engine_stopped_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
t_start=$(date +%s)
sock=$work/status.sock

run() {  # NAME SERVICE
  dk run -d --name "$1" --stop-timeout 1 --network fblog --label com.docker.compose.project=blog \
    --label "com.docker.compose.service=$2" "$DOCKER_IMAGE" sleep 3600 >/dev/null || fail "docker run $1"
}
address() { dk inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
source_error() { status_json "$sock" | jq -r '.sources[0].error'; }
source_failing() { [ -n "$(source_error)" ]; }
source_healthy() { status_json "$sock" | jq -e '.sources[0].ready and .sources[0].error == ""' >/dev/null; }
all_enforced() {  # NAME...: each enforced in its current namespace
  local c
  for c in "$@"; do is_enforced "$sock" "$c" || return 1; done
}
has_rule() {  # PID TEXT: the namespace's table holds a rule matching TEXT
  nsenter -t "$1" -n nft list table inet bulkhead 2>/dev/null | grep "$2" >/dev/null
}
# Denied by the policy: blog-db-1 -> blog-app-1:9000 (db is isolated in egress, app admits only
# proxy). tcp_probe: 0 connected, 1 refused (rules gone), 124 dropped.
expect_denied() {  # DB_PID APP_ADDR
  local rc=0
  tcp_probe "$1" "$2" 9000 || rc=$?
  [ $rc = 124 ] || fail "denied flow db -> app:9000 gave $rc (0 connected, 1 refused), not a drop"
}
expect_allowed() {  # PROXY_PID APP_ADDR
  nsenter -t "$1" -n timeout 1 bash -c "echo >/dev/tcp/$2/9000" 2>/dev/null ||
    fail "allowed flow proxy -> app:9000 failed"
}

step "engine, containers, daemon"
bash "$src/scripts/docker-test-engine.sh" start "$ENGINE" >/dev/null
dk network create --subnet "198.19.$((100 + $$ % 100)).0/24" fblog >/dev/null
run blog-proxy-1 proxy
run blog-db-1 db
apps=(blog-app-1 blog-app-2 blog-app-3 blog-app-4)
for c in "${apps[@]}"; do run "$c" app; done
all=(blog-proxy-1 blog-db-1 "${apps[@]}")
mkdir "$work/policy"
cp "$src/examples/compose/policy.yaml" "$work/policy/p.yaml"
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "docker:$ENGINE/docker.sock" \
  --resync-interval 2 --log-format json --status-socket "$sock" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 20 all_enforced "${all[@]}" ||
  fail "not all enforced: $(status_json "$sock" | jq -c '[.endpoints[] | {name, state}]')"
dk exec blog-app-1 httpd -p 9000 -h /var/www
app1=$(address blog-app-1)
expect_denied "$(container_pid blog-db-1)" "$app1"
expect_allowed "$(container_pid blog-proxy-1)" "$app1"

step "a container restarts while a policy change is applied"
old_pid=$(container_pid blog-app-2)
sed 's#ports: \[9000/tcp\]#ports: [9000/tcp, 9001/tcp]#' "$src/examples/compose/policy.yaml" >"$work/p.new"
grep -q 9001 "$work/p.new" || fail "policy edit did not apply"
mv "$work/p.new" "$work/policy/p.yaml"
dk restart -t 0 blog-app-2 >/dev/null
new_pid=$(container_pid blog-app-2)
[ "$new_pid" != "$old_pid" ] || fail "blog-app-2 kept its pid"
wait_for 10 all_enforced "${all[@]}" || fail "not all enforced after the restart"
for c in "${apps[@]}"; do
  wait_for 5 has_rule "$(container_pid "$c")" 'tcp dport 9001' ||
    fail "$c lacks the new rule: $(nsenter -t "$(container_pid "$c")" -n nft list table inet bulkhead)"
done
grep -q "\"/proc/$new_pid/ns/net\"" "$work/daemon.log" || fail "no log line for the new namespace"
expect_denied "$(container_pid blog-db-1)" "$app1"

step "the engine stalls (SIGSTOP): reported, enforcement kept"
declare -A pids=()
for c in "${all[@]}"; do pids[$c]=$(container_pid "$c"); done
engine_pid=$(cat "$ENGINE/docker.pid")
kill -STOP "$engine_pid"
engine_stopped_pid=$engine_pid
t0=$(date +%s%N)
wait_for 20 source_failing || fail "the stall is not reported in status"
echo "stall reported $((($(date +%s%N) - t0) / 1000000)) ms after SIGSTOP: $(source_error)"
"$build/bulkhead" status --status-socket "$sock" | grep "degraded" >/dev/null || fail "human status does not show it"
grep -q '"msg":"docker source: engine unreachable' "$work/daemon.log" || fail "not logged"
status_json "$sock" | jq -e '[.endpoints[] | select(.state == "enforced")] | length == 6' >/dev/null ||
  fail "endpoints not enforced during the stall: $(status_json "$sock" | jq -c '[.endpoints[] | {name, state}]')"
for c in "${all[@]}"; do
  nsenter -t "${pids[$c]}" -n nft list table inet bulkhead >/dev/null || fail "$c lost its table"
done
expect_denied "${pids[blog-db-1]}" "$app1"
expect_allowed "${pids[blog-proxy-1]}" "$app1"

step "the engine resumes (SIGCONT): healthy again by itself, new containers enforced"
kill -CONT "$engine_pid"
engine_stopped_pid=
t0=$(date +%s%N)
wait_for 20 source_healthy || fail "the source did not recover: $(source_error)"
echo "recovered $((($(date +%s%N) - t0) / 1000000)) ms after SIGCONT"
run blog-app-5 app
all+=(blog-app-5)
wait_for 10 all_enforced "${all[@]}" || fail "a container started after the stall is not enforced"

step "the engine stops and starts again"
kill -TERM "$engine_pid"
for ((i = 0; i < 300; i++)); do
  kill -0 "$engine_pid" 2>/dev/null || break
  sleep 0.1
done
! kill -0 "$engine_pid" 2>/dev/null || fail "dockerd did not stop"
wait_for 20 source_failing || fail "the stopped engine is not reported in status"
kill -0 "$daemon_pid" || fail "bulkheadd died with the engine"
bash "$src/scripts/docker-test-engine.sh" start "$ENGINE" >/dev/null
wait_for 20 source_healthy || fail "the source did not recover: $(source_error)"
# No live-restore: the engine stopped every container. Started again, each is enforced in its new
# namespace.
dk start "${all[@]}" >/dev/null
wait_for 20 all_enforced "${all[@]}" ||
  fail "not enforced after the engine restart: $(status_json "$sock" | jq -c '[.endpoints[] | {name, state, netns}]')"
dk exec blog-app-1 httpd -p 9000 -h /var/www
app1=$(address blog-app-1)
expect_denied "$(container_pid blog-db-1)" "$app1"
expect_allowed "$(container_pid blog-proxy-1)" "$app1"
status_json "$sock" | jq -e '.sources[0].error == ""' >/dev/null || fail "source error stays"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
echo "fault_docker: all steps passed in $(($(date +%s) - t_start)) s"
