#!/usr/bin/env bash
# bulkheadd killed with SIGKILL in the middle of applying a policy change to 200 namespaces, many
# times. After every kill each namespace holds either its complete old table or its complete new
# one (read back with nft and compared with `bulkhead compile`), never a partial table or none;
# a probe loop of a flow that both policies deny never connects, across kills and restarts; a
# final restart converges every namespace to the new policy.
# usage: fault_sigkill.sh BUILD_DIR SOURCE_DIR   (env: FAULT_NS=200 FAULT_ROUNDS=10 FAULT_BUDGET=380)
set -euo pipefail
build=$1
src=$2
BUILD=$build
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/ruleset.sh"

N=${FAULT_NS:-200}
ROUNDS=${FAULT_ROUNDS:-10}
BUDGET=${FAULT_BUDGET:-380}  # seconds from the start after which no new round begins
[ "$N" -ge 12 ] && [ "$N" -le 2000 ] || fail "FAULT_NS must be 12..2000"
prefix=bhk$$
work=$(mktemp -d /tmp/bhk.XXXXXX)
daemon_pid=
probe_pid=
server_pid=
cleanup() {
  set +e
  touch "$work/stop"
  [ -n "$probe_pid" ] && wait "$probe_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 {print "netns del " $1}' >"$work/del.batch"
  ip -force -batch "$work/del.batch" 2>/dev/null
  netlab_down "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
t_start=$(date +%s)

step "$N namespaces: two on a bridge for probes, the rest plain"
netlab_up "$prefix" p1=198.18.0.2 p2=198.18.0.3
for ((i = 2; i < N; i++)); do echo "netns add $prefix-e$i"; done >"$work/add.batch"
ip -batch "$work/add.batch"
addr() { echo "198.18.$((1 + $1 / 250)).$(($1 % 250 + 2))"; }
{
  echo "endpoints:"
  # p1 is in no isolated group (no table of its own): only p2's ingress chain stands between
  # the probe and its target, so any moment without p2's rules would show.
  echo "  - {name: p1, netns: /run/netns/$prefix-p1, labels: {role: probe}, addresses: [198.18.0.2]}"
  echo "  - {name: p2, netns: /run/netns/$prefix-p2, labels: {role: r1}, addresses: [198.18.0.3]}"
  for ((i = 2; i < N; i++)); do
    echo "  - {name: e$i, netns: /run/netns/$prefix-e$i, labels: {role: r$((i % 10))}, addresses: [$(addr "$i")]}"
  done
} >"$work/inventory.yaml"

# A and B differ in one port of every chained rule, so every isolated endpoint's table differs
# between them; both allow probe -> r1 on 8080/tcp and deny 7070/tcp.
write_policy() {  # NAME PORT FILE
  {
    cat <<EOF
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: $1
spec:
  groups:
    probe: {selector: role=probe, isolate: []}
EOF
    for g in $(seq 0 9); do echo "    r$g: {selector: role=r$g}"; done
    echo "  allow:"
    echo "    - {from: [probe], to: [r1], ports: [8080/tcp]}"
    for g in $(seq 0 8); do echo "    - {from: [r$g], to: [r$((g + 1))], ports: [8080/tcp, $2/tcp]}"; done
  } >"$3"
}
mkdir "$work/A" "$work/B" "$work/policy"
write_policy chain 9000 "$work/A/p.yaml"
write_policy chain 9001 "$work/B/p.yaml"
use_policy() {  # A|B: atomic replace, as a deploy tool would
  cp "$work/$1/p.yaml" "$work/policy/.p.tmp"
  mv "$work/policy/.p.tmp" "$work/policy/p.yaml"
}
other() { if [ "$1" = A ]; then echo B; else echo A; fi; }

# Expected table per endpoint and policy, as checksums of the normalized rendering. Rule
# comments name the file, so each is compiled from where the daemon reads it.
ruleset_list "$work/inventory.yaml" >"$work/list"
for p in A B; do
  use_policy $p
  ruleset_expected "$work/policy" "$work/inventory.yaml" "$work/sum-$p" || fail "bulkhead compile $p"
done
[ "$(wc -l <"$work/sum-A")" = "$N" ] || fail "compile gave $(wc -l <"$work/sum-A") endpoints, not $N"
join "$work/sum-A" "$work/sum-B" | awk '$1 != "p1" && $2 == $3 {print; bad = 1} END {exit bad}' ||
  fail "A and B render alike for some endpoints"

# check_complete TARGET: every namespace holds A's or B's table whole; prints how many hold
# TARGET's (p1, which has no table in either, not counted).
check_complete() {
  ruleset_seen "$work/list" "$work/seen"
  join "$work/seen" "$work/sum-A" | join - "$work/sum-B" >"$work/cmp"
  [ "$(wc -l <"$work/cmp")" = "$N" ] || fail "read back $(wc -l <"$work/cmp") of $N namespaces"
  if ! awk '$2 != $3 && $2 != $4 {print $1, "kernel", $2, "A", $3, "B", $4; bad = 1} END {exit bad}' \
    "$work/cmp" >"$work/bad"; then
    local ep
    ep=$(awk 'NR == 1 {print $1}' "$work/bad")
    "$build/bulkhead" compile "$work/policy" --inventory "$work/inventory.yaml" --endpoint "$ep" |
      ruleset_normalize >"$work/exp-ep"
    ip netns exec "$prefix-$ep" nft list table inet bulkhead 2>&1 | ruleset_normalize |
      diff "$work/exp-ep" - >&2 || true
    fail "namespaces hold neither A's nor B's table whole:
$(head -20 "$work/bad")"
  fi
  local col=3
  [ "$1" = B ] && col=4
  awk -v c=$col '$2 == $c && $3 != $4 {n++} END {print n + 0}' "$work/cmp"
}

start_daemon() {
  "$build/bulkheadd" --policy "$work/policy" --source "inventory:$work/inventory.yaml" \
    --resync-interval 5 --log-format json --status-socket "$work/status.sock" \
    >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
}
kill_daemon() {
  kill -9 "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=
}
running_lines() { grep -c '"msg":"bulkheadd running"' "$work/daemon.log" || true; }
enforced_lines() { grep -c '"msg":"endpoint enforced"' "$work/daemon.log" || true; }
started_after() { [ "$(running_lines)" -gt "$1" ]; }
enforced_at_least() { [ "$(enforced_lines)" -ge "$1" ]; }
all_enforced() {
  "$build/bulkhead" status --status-socket "$work/status.sock" --json |
    jq -e --argjson n "$N" '[.endpoints[] | select(.state == "enforced")] | length == $n' >/dev/null
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
sleep_ms() {
  sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

step "policy A enforced on all $N"
touch "$work/daemon.log"
use_policy A
t0=$(now_ms)
start_daemon
wait_for 120 started_after 0 || fail "daemon did not start: $(tail -5 "$work/daemon.log")"
start_window=$(($(now_ms) - t0))
n=$(check_complete A)
[ "$n" = $((N - 1)) ] || fail "$n namespaces hold A: $(tail -5 "$work/daemon.log")"

step "probe loop: a denied flow (p1 -> p2 7070/tcp) and an allowed one (8080/tcp)"
ip netns exec "$prefix-p2" "$build/lab_server" --lifetime 590 7070 8080 >"$work/server.log" 2>&1 &
server_pid=$!
wait_for 5 grep -q ready "$work/server.log" || fail "lab_server did not start: $(cat "$work/server.log")"
probe_loop() {
  local end=$(($(date +%s) + 560)) i
  for ((i = 0; i < 20000; i++)); do
    [ -e "$work/stop" ] && break
    [ "$(date +%s)" -lt "$end" ] || break
    if ip netns exec "$prefix-p1" timeout 0.2 bash -c 'echo >/dev/tcp/198.18.0.3/7070' 2>/dev/null; then
      echo "denied flow connected at $(date +%T.%N)" >>"$work/breach"
    fi
    echo >>"$work/denied_probes"
    if ip netns exec "$prefix-p1" timeout 0.5 bash -c 'echo >/dev/tcp/198.18.0.3/8080' 2>/dev/null; then
      echo >>"$work/allowed_ok"
    fi
    echo >>"$work/allowed_probes"
  done
}
probe_loop &
probe_pid=$!
wait_for 5 test -s "$work/allowed_ok" || fail "the allowed flow never connected: the probe is broken"

step "calibrate: one full reload A -> B"
before=$(enforced_lines)
t0=$(now_ms)
use_policy B
wait_for 120 enforced_at_least $((before + N - 1)) || fail "reload to B did not finish: $(tail -5 "$work/daemon.log")"
reload_window=$(($(now_ms) - t0))
echo "apply windows: start-up $start_window ms, reload $reload_window ms ($N endpoints)"
n=$(check_complete B)
[ "$n" = $((N - 1)) ] || fail "$n namespaces hold B after the reload"

step "$ROUNDS rounds: a reload killed at a varied delay, check; a start-up apply killed, check"
current=B
mixed=0
kills=0
for ((r = 0; r < ROUNDS; r++)); do
  # A slow machine runs fewer rounds rather than overrunning ctest's 600 s (at least 3: 6 kills).
  if [ $r -ge 3 ] && [ $(($(date +%s) - t_start)) -gt "$BUDGET" ]; then
    echo "time budget of $BUDGET s reached after $r rounds"
    break
  fi
  # Spread the delays over the measured windows (and a bit past them).
  d_reload=$((r * (reload_window + 100) / ROUNDS))
  d_start=$(((ROUNDS - 1 - r) * (start_window + 100) / ROUNDS))
  # A reload in the running daemon, killed after d_reload.
  target=$(other $current)
  use_policy $target
  sleep_ms $d_reload
  kill_daemon
  kills=$((kills + 1))
  n1=$(check_complete $target)
  # The policy changes back while the daemon is down: the start-up apply, killed after d_start.
  target=$(other $target)
  use_policy $target
  start_daemon
  sleep_ms $d_start
  kill_daemon
  kills=$((kills + 1))
  n2=$(check_complete $target)
  for n in $n1 $n2; do
    if [ "$n" -gt 0 ] && [ "$n" -lt $((N - 1)) ]; then mixed=$((mixed + 1)); fi
  done
  echo "round $r: reload killed after $d_reload ms: $n1/$((N - 1)) had the new table; start-up killed after $d_start ms: $n2/$((N - 1))"
  runs=$(running_lines)
  start_daemon
  wait_for 120 started_after "$runs" || fail "daemon did not start: $(tail -5 "$work/daemon.log")"
  current=$target
  [ ! -e "$work/breach" ] || fail "denied traffic passed: $(cat "$work/breach")"
done
echo "$mixed of $kills kills left a mix of old and new tables (killed mid-apply)"
[ $mixed -ge 1 ] || fail "no kill landed in the middle of an apply: the test proved nothing"

step "killed once more mid-apply, a restart converges every namespace to the new policy"
final=$(other $current)
use_policy $final
sleep_ms $((reload_window / 2))
kill_daemon
start_daemon
wait_for 120 all_enforced || fail "not all $N enforced after the final restart"
n=$(check_complete $final)
[ "$n" = $((N - 1)) ] || fail "$n namespaces hold $final after the final restart"

touch "$work/stop"
wait "$probe_pid"
probe_pid=
[ ! -e "$work/breach" ] || fail "denied traffic passed: $(cat "$work/breach")"
denied=$(wc -l <"$work/denied_probes")
allowed=$(wc -l <"$work/allowed_probes")
ok=$(wc -l <"$work/allowed_ok")
echo "probes: $denied denied-flow probes, none connected; allowed flow $ok/$allowed"
[ "$ok" -ge $((allowed * 9 / 10)) ] || fail "the allowed flow failed too often: $ok/$allowed"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
! grep -q '"level":"error"' "$work/daemon.log" || fail "errors in the log: $(grep '"level":"error"' "$work/daemon.log" | head -5)"
echo "fault_sigkill: all steps passed in $(($(date +%s) - t_start)) s"
