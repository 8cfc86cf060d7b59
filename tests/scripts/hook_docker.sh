#!/usr/bin/env bash
# Born enforced on a real Docker engine of the test's own, started with bulkhead-runtime as its
# default runtime (issue 16, docs/docker.md). Every "blocked" is paired with a control that
# connects; each probe is the container's very first act.
#   bulkheadd absent: a deny-egress container starts quarantined (peer blocked, loopback works), an
#     unselected one too; the same deny container under plain runc connects (the control);
#   a burst of $BULKHEAD_HOOK_BURST (100, as issue 16 asks) deny containers started at once: none reaches the peer
#     at its first act, a plain runc control started among them does;
#   bulkheadd started: the quarantined one gets its real table, the unselected one is released
#     (connects), no quarantine table is left;
#   bulkheadd running: a burst of the same size is born enforced (the daemon answers every hook:
#     status says enforced_at "start", never quarantined) and none reaches the peer, while an
#     unselected container under the same wrapper and hook connects; the allowed flows work at
#     once: each reaches the allowed peer at its first act (which admits no one else), and an
#     allowed client already running reaches each of them (but not the unselected one); a
#     container joining an unselected one's namespace brings its labels to that endpoint and is
#     born under the merged rules;
#   the engine restarted with restart-policy containers while bulkheadd is down, bulkheadd started
#     after it (a boot where the daemon comes up late): none of the deny containers reaches the
#     peer at the first act of its restarted run, a plain runc one restarted beside them does;
#     bulkheadd then replaces every quarantine table with the real one;
#   the wrapper passes other commands and exit codes through: a --runtime runc container works,
#     `bulkhead-runtime --version` and `state` of an unknown id answer as runc does.
# usage: hook_docker.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$2
source "$src/tests/scripts/lib/common.sh"
step() { echo "--- [${SECONDS}s] $*"; }

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v jq >/dev/null ||
  ! command -v runc >/dev/null; then
  fail "needs root, docker.io, runc and jq (scripts/install-deps.sh installs them)"
fi

ENGINE=$(mktemp -d /tmp/bhhk.XXXXXX)
BUILD=$build
source "$src/tests/scripts/lib/docker.sh"
engine() { dk "$@"; }
pid_of() { container_pid "$1"; }
source "$src/tests/scripts/lib/hook.sh"
daemon_pid=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  cat "$ENGINE/runtime.err" >&2 2>/dev/null
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

log=$ENGINE/daemon.log
sock=$ENGINE/status.sock
hook_sock=$ENGINE/hook.sock
net=hooknet
subnet=198.19.$((150 + $$ % 50)).0/24
die() {
  echo "--- daemon log (tail)" >&2
  tail -n 40 "$log" >&2 2>/dev/null || true
  fail "$@"
}

# The wrapper as daemon.json's runtimeArgs would give it options: the test's hook and socket.
cat >"$ENGINE/runtime.sh" <<SH
#!/bin/sh
exec "$build/bulkhead-runtime" --hook-path "$build/bulkhead-hook" \
  --hook-arg=--socket=$hook_sock --hook-arg=--timeout=1500 "\$@" 2>>"$ENGINE/runtime.err"
SH
chmod +x "$ENGINE/runtime.sh"
write_born_policy "$ENGINE/policy.yaml"

step "engine with bulkhead-runtime as its default runtime"
BULKHEAD_DOCKERD_ARGS="--add-runtime bulkhead=$ENGINE/runtime.sh --add-runtime bh-other=$ENGINE/runtime.sh --default-runtime bulkhead" \
  bash "$src/scripts/docker-test-engine.sh" start "$ENGINE"
dk network create --subnet "$subnet" "$net" >/dev/null
# The open peer runs under plain runc: a wrapper that broke other runtimes would show here.
dk run -d --runtime runc --name hk-peer --network "$net" "$DOCKER_IMAGE" httpd -f -p 80 >/dev/null
peer=$(dk inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" hk-peer)
[ -n "$peer" ] || fail "no address for hk-peer"
address_of() { dk inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$1"; }
# The peer the sandbox may reach, and a client that may reach the sandbox's 8080.
dk run -d --runtime runc --name hk-allowed --network "$net" --label app=allowed "$DOCKER_IMAGE" \
  httpd -f -p 80 >/dev/null
dk run -d --runtime runc --name hk-client --network "$net" --label app=client "$DOCKER_IMAGE" \
  sleep 600 >/dev/null
allowed=$(address_of hk-allowed)
[ -n "$allowed" ] || fail "no address for hk-allowed"

first_act=$(first_act_for "$peer")
start_probe() {  # NAME LABEL [docker run options]
  local name=$1 label=$2
  shift 2
  dk run -d --name "$name" --network "$net" --label "$label" "$@" "$DOCKER_IMAGE" \
    sh -c "$first_act" >/dev/null || fail "docker run $name"
}

step "bulkheadd absent: born quarantined; plain runc is the control"
start_probe hk-deny-1 app=sandbox
start_probe hk-free-1 app=other
start_probe hk-deny-2 app=sandbox --runtime bh-other
start_probe hk-control-1 app=sandbox --runtime runc
expect_verdicts hk-deny-1 "LOOPBACK_OK PEER_BLOCKED "
expect_verdicts hk-free-1 "LOOPBACK_OK PEER_BLOCKED "
expect_verdicts hk-deny-2 "LOOPBACK_OK PEER_BLOCKED "
expect_verdicts hk-control-1 "LOOPBACK_OK PEER_CONNECTED "
for c in hk-deny-1 hk-free-1 hk-deny-2; do is_quarantined "$c" || fail "$c has no quarantine table"; done
has_no_table hk-control-1 || fail "hk-control-1 (plain runc) has a table"
# The drop is counted: the quarantine's egress rule saw the peer probe.
pkts=$(table_text hk-deny-1 | awk '/chain egress/{e=1} e && /bulkhead quarantine/{print $3; exit}')
[ "${pkts:-0}" -gt 0 ] || fail "the quarantine drop counted nothing: $(table_text hk-deny-1)"

burst=${BULKHEAD_HOOK_BURST:-100}
step "a burst of $burst deny containers at once, bulkheadd absent; a plain runc control among them"
run_one() {  # NAME [docker run options]
  local name=$1
  shift
  dk run -d --name "$name" --network "$net" --label app=sandbox "$@" "$DOCKER_IMAGE" \
    sh -c "$first_act" >/dev/null 2>&1 || echo "docker run $name failed" >&2
}
export -f run_one dk
export ENGINE net DOCKER_IMAGE first_act
{
  seq -f 'hk-burst-%03g' 1 "$burst"
  echo "hk-burst-control --runtime runc"
} | xargs -P 10 -L 1 bash -c 'run_one "$@"' _
connected=0
for ((i = 1; i <= burst; i++)); do
  c=$(printf 'hk-burst-%03d' "$i")
  wait_for 10 has_verdicts "$c" || fail "$c printed no verdict: $(dk logs "$c" 2>&1 | tail -3)"
  [ "$(verdicts "$c")" = "LOOPBACK_OK PEER_BLOCKED " ] || connected=$((connected + 1))
done
[ "$connected" = 0 ] || fail "$connected of $burst burst containers reached the peer at their first act"
expect_verdicts hk-burst-control "LOOPBACK_OK PEER_CONNECTED "

step "bulkheadd started: real tables replace quarantine, the unselected one is released"
"$build/bulkheadd" --policy "$ENGINE/policy.yaml" --source "docker:$ENGINE/docker.sock" \
  --status-socket "$sock" --hook-socket "$hook_sock" --log-format json >>"$log" 2>&1 &
daemon_pid=$!
for c in hk-deny-1 hk-deny-2 hk-control-1; do
  wait_for 15 has_real_table "$c" || die "$c did not get its real table: $(table_text "$c")"
done
wait_for 15 has_no_table hk-free-1 || die "hk-free-1 still has a table: $(table_text hk-free-1)"
tcp_probe "$(container_pid hk-free-1)" "$peer" 80 || die "released hk-free-1 cannot reach the peer"
rc=0
tcp_probe "$(container_pid hk-deny-1)" "$peer" 80 || rc=$?
[ "$rc" != 0 ] || die "hk-deny-1 reaches the peer under its real table"
not_quarantined() { ! is_quarantined "$1"; }
for c in $(dk ps -q); do
  wait_for 15 not_quarantined "$c" || die "a quarantine table is left in $c"
done

step "bulkheadd running: a burst of $burst is born enforced; an unselected one under the wrapper connects"
first_act=$(first_act_for "$peer" "$allowed")
{
  seq -f 'hk-live-%03g' 1 "$burst"
  echo "hk-live-free --label app=other"
} | xargs -P 10 -L 1 bash -c 'run_one "$@"' _
for ((i = 1; i <= burst; i++)); do
  c=$(printf 'hk-live-%03d' "$i")
  wait_for 10 has_verdicts "$c" || die "$c printed no verdict: $(dk logs "$c" 2>&1 | tail -3)"
  [ "$(verdicts "$c")" = "LOOPBACK_OK ALLOWED_CONNECTED PEER_BLOCKED " ] ||
    die "$c at its first act: got '$(verdicts "$c")'"
done
# The unselected one is the control: the same first act under the same wrapper and hook connects
# to the open peer; the allowed peer admits only the sandbox (an allow's target is isolated).
expect_verdicts hk-live-free "LOOPBACK_OK ALLOWED_BLOCKED PEER_CONNECTED "
# Toward the new containers: the client's set has every address already (the daemon applies the
# peers' updates right after each answer); the unselected one stays out of it.
client=$(container_pid hk-client)
for ((i = 1; i <= burst; i++)); do
  c=$(printf 'hk-live-%03d' "$i")
  tcp_probe "$client" "$(address_of "$c")" 8080 || die "hk-client cannot reach $c on 8080"
done
rc=0
tcp_probe "$client" "$(address_of hk-live-free)" 8080 || rc=$?
[ "$rc" != 0 ] || die "hk-client reaches the unselected hk-live-free, outside its allowed set"
# A container that joins another's namespace (--network container:X) is a member of X's endpoint,
# as the events path sees it: born with the merged labels, never a second endpoint on the same
# namespace. The owner carries no app label and is unselected until the member brings one.
start_probe hk-owner team=x
expect_verdicts hk-owner "LOOPBACK_OK ALLOWED_BLOCKED PEER_CONNECTED "
dk run -d --name hk-member --network container:hk-owner --label app=sandbox "$DOCKER_IMAGE" \
  sh -c "$first_act" >/dev/null || die "docker run hk-member"
expect_verdicts hk-member "LOOPBACK_OK ALLOWED_CONNECTED PEER_BLOCKED "
"$build/bulkhead" status --status-socket "$sock" --json >"$ENGINE/status.json" || die "bulkhead status"
jq -e '[.endpoints[] | select(.name == "hk-member")] | length == 0' "$ENGINE/status.json" >/dev/null ||
  die "the member got an endpoint of its own on its owner's namespace"
jq -e '.endpoints[] | select(.name == "hk-owner") | .enforced_at == "start"' "$ENGINE/status.json" \
  >/dev/null || die "hk-owner not enforced at the member's start: $(jq -c '.endpoints[] |
  select(.name == "hk-owner")' "$ENGINE/status.json")"
# The events path's view of the same merge keeps the table.
sleep 1
has_real_table hk-owner || die "hk-owner lost its table after the events path: $(table_text hk-owner)"
"$build/bulkhead" status --status-socket "$sock" --json >"$ENGINE/status.json" || die "bulkhead status"
# The daemon answered every hook in time: rules in place at start, none of them quarantined first.
at_start=$(jq '[.endpoints[] | select((.name | startswith("hk-live-")) and .enforced_at == "start"
  and .started_quarantined == false)] | length' "$ENGINE/status.json")
[ "$at_start" = "$burst" ] || die "$at_start of $burst burst endpoints enforced at start: $(jq -c \
  '[.endpoints[] | select(.name | startswith("hk-live-")) | {name, enforced_at, started_quarantined}]' \
  "$ENGINE/status.json")"
# Those that started while the daemon was away are reported as such.
jq -e '.endpoints[] | select(.name == "hk-deny-1") | .started_quarantined == true and
  .enforced_at == "after"' "$ENGINE/status.json" >/dev/null || die "hk-deny-1 not reported as started quarantined"

step "the engine restarts its restart-policy containers with bulkheadd down; bulkheadd starts after it"
# A peer of its own at a fixed address: the restarted containers' first act is baked with it.
boot_peer=${subnet%.0/24}.250
dk run -d --runtime runc --restart always --name hk-boot-peer --network "$net" --ip "$boot_peer" \
  "$DOCKER_IMAGE" httpd -f -p 80 >/dev/null
# The engine restarts its containers in no order: the peer may come up after a prober, so each
# tries four times in 5 s (more chances for a deny container to leak, none for the control to
# miss).
first_act="for i in 1 2 3 4; do
  if nc -w 1 $boot_peer 80 </dev/null; then echo PEER_CONNECTED; exec sleep 600; fi; sleep 0.25
done; echo PEER_BLOCKED; exec sleep 600"
for i in 1 2 3; do start_probe "hk-boot-$i" app=sandbox --restart always; done
start_probe hk-boot-control app=sandbox --restart always --runtime runc
for c in hk-boot-1 hk-boot-2 hk-boot-3 hk-boot-control; do
  wait_for 15 has_verdicts "$c" || die "$c printed no verdict: $(dk logs "$c" 2>&1 | tail -3)"
done
kill "$daemon_pid" && wait "$daemon_pid" || true
daemon_pid=
BULKHEAD_DOCKERD_ARGS="--add-runtime bulkhead=$ENGINE/runtime.sh --add-runtime bh-other=$ENGINE/runtime.sh --default-runtime bulkhead" \
  bash "$src/scripts/docker-test-engine.sh" restart "$ENGINE"
# The restarted run's verdicts follow the first run's in the container's log.
restarted() { [ "$(dk logs "$1" 2>&1 | grep -cE '^PEER_')" = 2 ]; }
last_peer_verdict() { dk logs "$1" 2>&1 | grep -E '^PEER_' | tail -n 1; }
for c in hk-boot-1 hk-boot-2 hk-boot-3 hk-boot-control; do
  wait_for 30 restarted "$c" || fail "$c did not restart with the engine: $(dk logs "$c" 2>&1 | tail -3)"
done
for c in hk-boot-1 hk-boot-2 hk-boot-3; do
  [ "$(last_peer_verdict "$c")" = PEER_BLOCKED ] || fail "$c reached the peer after the engine restarted"
  is_quarantined "$c" || fail "$c restarted without a quarantine table: $(table_text "$c")"
done
[ "$(last_peer_verdict hk-boot-control)" = PEER_CONNECTED ] ||
  fail "hk-boot-control (plain runc) did not reach the peer after the restart: the probe proves nothing"
"$build/bulkheadd" --policy "$ENGINE/policy.yaml" --source "docker:$ENGINE/docker.sock" \
  --status-socket "$sock" --hook-socket "$hook_sock" --log-format json >>"$log" 2>&1 &
daemon_pid=$!
for c in hk-boot-1 hk-boot-2 hk-boot-3 hk-boot-control; do
  wait_for 15 has_real_table "$c" || die "$c did not get its real table: $(table_text "$c")"
done
for c in hk-boot-1 hk-boot-control; do
  rc=0
  tcp_probe "$(container_pid "$c")" "$boot_peer" 80 || rc=$?
  [ "$rc" != 0 ] || die "$c reaches the peer under its real table"
done

step "the wrapper passes other commands and exit codes through"
want=$(runc --version) got=$("$build/bulkhead-runtime" --version) ||
  fail "bulkhead-runtime --version failed"
[ "$got" = "$want" ] || fail "--version: got '$got', expected '$want'"
want_rc=0 got_rc=0
runc state bulkhead-no-such-container >/dev/null 2>&1 || want_rc=$?
"$build/bulkhead-runtime" state bulkhead-no-such-container >/dev/null 2>&1 || got_rc=$?
if [ "$want_rc" = 0 ] || [ "$got_rc" != "$want_rc" ]; then
  fail "state: exit $got_rc, runc exits $want_rc"
fi
BULKHEAD_RUNC=/bin/false "$build/bulkhead-runtime" --version >/dev/null 2>&1 && fail "BULKHEAD_RUNC ignored"
echo "PASS"
