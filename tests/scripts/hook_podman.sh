#!/usr/bin/env bash
# Born enforced on a real Podman engine of the test's own, with an OCI hooks directory of the
# test's own holding what `bulkhead-hook config podman --install DIR` writes (issue 16,
# docs/podman.md). The open peer and the control start before the hook is installed (Podman reads
# the hooks directory at each container's creation); then, bulkheadd absent, a deny container
# and an unselected one are blocked at their first act while loopback works, and bulkheadd,
# started, gives the deny container its real table and releases the unselected one.
# usage: hook_podman.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$2
source "$src/tests/scripts/lib/common.sh"
step() { echo "--- [${SECONDS}s] $*"; }

if [ "$(id -u)" != 0 ] || ! command -v podman >/dev/null || ! command -v docker >/dev/null ||
  ! command -v jq >/dev/null; then
  fail "needs root, podman, the docker CLI and jq (scripts/install-deps.sh installs them)"
fi

dir=$(mktemp -d /tmp/bhhp.XXXXXX)
daemon_pid=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  bash "$src/scripts/podman-test-engine.sh" stop "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

pd() { docker -H "unix://$dir/podman.sock" "$@"; }
image=bulkhead-test/busybox:1
net=hookpod
subnet=198.19.$((200 + $$ % 50)).0/24
log=$dir/daemon.log
pid_of() { pd inspect -f '{{.State.Pid}}' "$1"; }
engine() { pd "$@"; }
source "$src/tests/scripts/lib/hook.sh"
tcp_probe() { nsenter -t "$1" -n timeout 0.3 bash -c "echo >/dev/tcp/$2/$3" 2>/dev/null; }
die() {
  tail -n 40 "$log" >&2 2>/dev/null || true
  fail "$@"
}

write_born_policy "$dir/policy.yaml"

step "engine with a hooks directory of its own (empty for now)"
mkdir -p "$dir/hooks"
BULKHEAD_PODMAN_ARGS="--hooks-dir $dir/hooks" bash "$src/scripts/podman-test-engine.sh" start "$dir"
pd network create --subnet "$subnet" "$net" >/dev/null
pd run -d --name hp-peer --network "$net" "$image" httpd -f -p 80 >/dev/null
peer=$(pd inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" hp-peer)
[ -n "$peer" ] || fail "no address for hp-peer"

first_act=$(first_act_for "$peer")
start_probe() {  # NAME LABEL
  pd run -d --name "$1" --network "$net" --label "$2" "$image" sh -c "$first_act" >/dev/null ||
    fail "run $1"
}

step "control: the deny container without the hook connects"
start_probe hp-control-1 app=sandbox
expect_verdicts hp-control-1 "LOOPBACK_OK PEER_CONNECTED "

step "hook installed, bulkheadd absent: born quarantined"
"$build/bulkhead-hook" config podman --install "$dir/hooks" --hook "$build/bulkhead-hook" \
  --hook-arg=--socket="$dir/hook.sock" >/dev/null
jq -e '.stages == ["createRuntime"] and .when.always == true' "$dir/hooks/bulkhead.json" >/dev/null ||
  fail "unexpected hook file: $(cat "$dir/hooks/bulkhead.json")"
start_probe hp-deny-1 app=sandbox
start_probe hp-free-1 app=other
expect_verdicts hp-deny-1 "LOOPBACK_OK PEER_BLOCKED "
expect_verdicts hp-free-1 "LOOPBACK_OK PEER_BLOCKED "
is_quarantined hp-deny-1 || fail "hp-deny-1 has no quarantine table"

step "bulkheadd started: real table for the deny container, the unselected one released"
"$build/bulkheadd" --policy "$dir/policy.yaml" --source "docker:$dir/podman.sock" \
  --status-socket "$dir/status.sock" --hook-socket "$dir/hook.sock" --log-format json --log-level debug >>"$log" 2>&1 &
daemon_pid=$!
wait_for 15 has_real_table hp-deny-1 || die "hp-deny-1 did not get its real table: $(table_text hp-deny-1)"
wait_for 15 has_no_table hp-free-1 || die "hp-free-1 still has a table: $(table_text hp-free-1)"
tcp_probe "$(pid_of hp-free-1)" "$peer" 80 || die "released hp-free-1 cannot reach the peer"
rc=0
tcp_probe "$(pid_of hp-deny-1)" "$peer" 80 || rc=$?
[ "$rc" != 0 ] || die "hp-deny-1 reaches the peer under its real table"

# Podman 4.3's list waits for a starting container (past the gate's 1000 ms bound), so the gate
# takes the labels from Podman's create event instead (docs/docker.md, "Born enforced"): the
# daemon answers each hook itself, and the unselected container is open at its first act.
step "bulkheadd running: the hook answered, the deny container blocked, the unselected one open at once"
start_probe hp-deny-2 app=sandbox
start_probe hp-free-2 app=other
for c in hp-deny-2 hp-free-2; do
  wait_for 10 has_verdicts "$c" || die "$c printed no verdict: $(pd logs "$c" 2>&1 | tail -3)"
done
[ "$(verdicts hp-deny-2)" = "LOOPBACK_OK PEER_BLOCKED " ] || die "hp-deny-2: got '$(verdicts hp-deny-2)'"
[ "$(verdicts hp-free-2)" = "LOOPBACK_OK PEER_CONNECTED " ] || die "hp-free-2: got '$(verdicts hp-free-2)'"
wait_for 15 has_real_table hp-deny-2 || die "hp-deny-2 did not get its real table: $(table_text hp-deny-2)"
wait_for 15 has_no_table hp-free-2 || die "hp-free-2 still has a table: $(table_text hp-free-2)"
tcp_probe "$(pid_of hp-free-2)" "$peer" 80 || die "released hp-free-2 cannot reach the peer"
rc=0
tcp_probe "$(pid_of hp-deny-2)" "$peer" 80 || rc=$?
[ "$rc" != 0 ] || die "hp-deny-2 reaches the peer under its real table"
"$build/bulkhead" status --status-socket "$dir/status.sock" --json >"$dir/status.json" ||
  die "bulkhead status"
jq -e '.endpoints[] | select(.name == "hp-deny-2") | .enforced_at == "start" and .started_quarantined == false' \
  "$dir/status.json" >/dev/null || die "hp-deny-2's start not reported: $(jq -c '.endpoints' "$dir/status.json")"

burst=${BULKHEAD_HOOK_BURST:-100}
step "bulkheadd running: a burst of $burst deny containers at once, born enforced"
run_one() {  # NAME
  docker -H "unix://$dir/podman.sock" run -d --name "$1" --network "$net" --label app=sandbox \
    "$image" sh -c "$first_act" >/dev/null 2>&1 || echo "run $1 failed" >&2
}
export -f run_one
export dir net image first_act
seq -f 'hp-live-%03g' 1 "$burst" | xargs -P 10 -L 1 bash -c 'run_one "$@"' _
for ((i = 1; i <= burst; i++)); do
  c=$(printf 'hp-live-%03d' "$i")
  wait_for 10 has_verdicts "$c" || die "$c printed no verdict: $(pd logs "$c" 2>&1 | tail -3)"
  [ "$(verdicts "$c")" = "LOOPBACK_OK PEER_BLOCKED " ] || die "$c at its first act: got '$(verdicts "$c")'"
done
"$build/bulkhead" status --status-socket "$dir/status.sock" --json >"$dir/status.json" ||
  die "bulkhead status"
at_start=$(jq '[.endpoints[] | select((.name | startswith("hp-live-")) and .enforced_at == "start"
  and .started_quarantined == false)] | length' "$dir/status.json")
[ "$at_start" = "$burst" ] || die "$at_start of $burst burst endpoints enforced at start: $(jq -c \
  '[.endpoints[] | select(.name | startswith("hp-live-")) | {name, enforced_at, started_quarantined}]' \
  "$dir/status.json")"
echo "PASS"
