#!/usr/bin/env bash
# bulkheadd killed with SIGKILL in the middle of applying a policy change to 200 namespaces, many
# times: in a running daemon's reload and in a start-up apply. The kernel times every kill:
# `nft monitor` in 8 namespaces spread over the first half of the endpoints reports when each gets
# its new table, and the daemon is killed as soon as 1 to 3 of them (varied) have it, so each kill
# lands while the apply is under way. After every kill each namespace holds either its complete
# previous table or its complete new one (all read back with nft and compared with `bulkhead
# compile`), never a partial table or none, and the kill left a mix of the two (or it proved
# nothing and does not count). A probe loop of a flow that every policy denies never connects,
# across kills and restarts; a final restart after a kill converges every namespace.
# usage: fault_sigkill.sh BUILD_DIR SOURCE_DIR   (env: FAULT_NS=200 FAULT_KILLS=8 FAULT_BUDGET=240)
# Reading 200 namespaces back after each kill is most of the time: about 40 s a kill on a 2-core
# machine at a load average of 12. Past FAULT_BUDGET seconds no new round begins once 4 mid-apply
# kills (2 reloads, 2 start-ups) are proven, so the test ends well inside ctest's 600 s either way.
set -euo pipefail
build=$1
src=$2
BUILD=$build
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"
source "$src/tests/scripts/lib/ruleset.sh"

N=${FAULT_NS:-200}
KILLS=${FAULT_KILLS:-8}  # mid-apply kills to prove, half in reloads and half in start-ups
BUDGET=${FAULT_BUDGET:-240}
MIN_KILLS=4
[ "$N" -ge 40 ] && [ "$N" -le 2000 ] || fail "FAULT_NS must be 40..2000"
[ "$KILLS" -ge $MIN_KILLS ] && [ "$KILLS" -le 100 ] || fail "FAULT_KILLS must be $MIN_KILLS..100"
SAMPLED=8
probe_pid=
monitor_pids=()
lab_extra_cleanup() {
  touch "$work/stop"
  [ -n "$probe_pid" ] && wait "$probe_pid" 2>/dev/null
  local ns
  for ns in "${sampled[@]}"; do ip netns pids "$prefix-$ns" 2>/dev/null | xargs -r kill 2>/dev/null; done
  [ ${#monitor_pids[@]} -gt 0 ] && kill "${monitor_pids[@]}" 2>/dev/null
  # The endpoint namespaces (no links) in one batch; netlab_down then takes the rest.
  ip netns list | awk -v p="$prefix-e" 'index($1, p) == 1 {print "netns del " $1}' >"$work/del.batch"
  ip -force -batch "$work/del.batch" 2>/dev/null
}
sampled=()
lab_begin bhk$$
t_start=$(date +%s)

step "$N namespaces: two on a bridge for probes, the rest plain"
netlab_up "$prefix" p1=198.18.0.2 p2=198.18.0.3
for ((i = 2; i < N; i++)); do echo "netns add $prefix-e$i"; done | ip -batch -
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

# A, B and C differ in one port of every chained rule, so every isolated endpoint's table differs
# between any two of them; all allow probe -> r1 on 8080/tcp and deny 7070/tcp. Each kill moves
# to the next of them, so every namespace has a table to replace whatever the last kill left.
POLICIES=(A B C)
mkdir "$work/policy"
for k in 0 1 2; do
  mkdir "$work/${POLICIES[k]}"
  chain_policy chain $((9000 + k)) >"$work/${POLICIES[k]}/p.yaml"
done
use_policy() {  # NAME: atomic replace, as a deploy tool would
  cp "$work/$1/p.yaml" "$work/policy/.p.tmp"
  mv "$work/policy/.p.tmp" "$work/policy/p.yaml"
}
next() { case $1 in A) echo B ;; B) echo C ;; *) echo A ;; esac; }

# Expected table per endpoint and policy, as checksums of the normalized rendering. Rule
# comments name the file, so each is compiled from where the daemon reads it.
ruleset_list "$work/inventory.yaml" >"$work/list"
for p in "${POLICIES[@]}"; do
  use_policy "$p"
  ruleset_expected "$work/policy" "$work/inventory.yaml" "$work/sum-$p" || fail "bulkhead compile $p"
done
[ "$(wc -l <"$work/sum-A")" = "$N" ] || fail "compile gave $(wc -l <"$work/sum-A") endpoints, not $N"
join "$work/sum-A" "$work/sum-B" | join - "$work/sum-C" |
  awk '$1 != "p1" && ($2 == $3 || $3 == $4 || $2 == $4) {print; bad = 1} END {exit bad}' ||
  fail "two policies render alike for some endpoints"

# check_kill PREV TARGET: after a kill, every namespace holds its table from PREV ("NAME CHECKSUM"
# lines) or TARGET's whole; the kernel state goes to $work/now. Prints "CHANGED OF": how many
# of the namespaces whose table differs between the two hold TARGET's.
check_kill() {
  ruleset_seen "$work/list" "$work/seen"
  join "$work/seen" "$1" | join - "$work/sum-$2" >"$work/cmp"
  [ "$(wc -l <"$work/cmp")" = "$N" ] || fail "read back $(wc -l <"$work/cmp") of $N namespaces"
  if ! awk '$2 != $3 && $2 != $4 {print $1, "kernel", $2, "before", $3, "target", $4; bad = 1} END {exit bad}' \
    "$work/cmp" >"$work/bad"; then
    local ep
    ep=$(awk 'NR == 1 {print $1}' "$work/bad")
    "$build/bulkhead" compile "$work/policy" --inventory "$work/inventory.yaml" --endpoint "$ep" |
      ruleset_normalize >"$work/exp-ep"
    ip netns exec "$prefix-$ep" nft list table inet bulkhead 2>&1 | ruleset_normalize |
      diff "$work/exp-ep" - >&2 || true
    fail "namespaces hold neither their previous table nor the new one whole:
$(head -20 "$work/bad")"
  fi
  cp "$work/seen" "$work/now"
  awk '$3 != $4 {of++; if ($2 == $4) n++} END {print n + 0, of + 0}' "$work/cmp"
}

start_daemon() {
  "$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inventory.yaml" \
    --resync-interval 30 --log-format json --status-socket "$work/status.sock" \
    >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
}
kill_daemon() {
  kill -9 "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=
}
running_lines() { grep -c '"msg":"bulkheadd running"' "$work/daemon.log" || true; }
started_after() { [ "$(running_lines)" -gt "$1" ]; }
status_summary() {
  "$build/bulkhead" status --status-socket "$work/status.sock" --json 2>&1 |
    jq -c '[.endpoints[] | .state] | group_by(.) | map({(.[0]): length}) | add' 2>&1
}
all_enforced() {
  "$build/bulkhead" status --status-socket "$work/status.sock" --json |
    jq -e --argjson n "$N" '[.endpoints[] | select(.state == "enforced")] | length == $n' >/dev/null
}

step "tripwires: nft monitor in $SAMPLED namespaces spread over the first half of the endpoints"
# In name order, the order the daemon applies in today; any order works, only less evenly.
mapfile -t sampled < <(awk '$1 != "p1" && $1 != "p2" {print $1}' "$work/list" | LC_ALL=C sort |
  awk -v n=$((N - 2)) -v s=$SAMPLED '{a[NR] = $1} END {for (k = 0; k < s; k++) print a[int((k + 0.5) * n / s / 2) + 1]}')
mkfifo "$work/trip"
exec 7<>"$work/trip"
# Straight into the fifo, no filter in between: one process fewer between the event and the kill.
for ns in "${sampled[@]}"; do
  ip netns exec "$prefix-$ns" nft monitor tables >"$work/trip" &
  monitor_pids+=($!)
done
# Each monitor reports a table of the test's own before anything counts on it.
ready=0
for ((t = 0; t < 50 && ready < SAMPLED; t++)); do
  for ns in "${sampled[@]}"; do
    ip netns exec "$prefix-$ns" nft 'add table inet bhk_ready; delete table inet bhk_ready'
  done
  ready=0
  while read -r -t 1 -u 7 line; do
    [ "$line" != "add table inet bhk_ready" ] || ready=$((ready + 1))
  done
  [ $ready = $SAMPLED ] || sleep 0.2
done
[ $ready = $SAMPLED ] || fail "only $ready of $SAMPLED monitors came up"
drain() { while read -r -t 0.05 -u 7 _; do :; done; }
# trip J: returns once J sampled namespaces have had their table replaced (one "add table" line
# each per apply) and fails after 60 s without.
trip() {
  local got=0 line deadline=$(($(date +%s) + 60))
  while [ $got -lt "$1" ]; do
    [ "$(date +%s)" -lt $deadline ] || return 1
    read -r -t 1 -u 7 line || continue
    [ "$line" != "add table inet bulkhead" ] || got=$((got + 1))
  done
}

step "policy A enforced on all $N"
touch "$work/daemon.log"
use_policy A
start_daemon
wait_for 120 started_after 0 || fail "daemon did not start: $(tail -5 "$work/daemon.log")"
wait_for 30 all_enforced || fail "not all enforced: $(status_summary)"
ruleset_seen "$work/list" "$work/now"
ruleset_diff "$work/sum-A" "$work/now" >"$work/diff" || fail "A not in place: $(head "$work/diff")"

step "probe loop: a denied flow (p1 -> p2 7070/tcp) and an allowed one (8080/tcp)"
ip netns exec "$prefix-p2" "$build/lab_server" --lifetime 590 7070 8080 >"$work/server.log" 2>&1 &
server_pid=$!
wait_for 5 grep -q ready "$work/server.log" || fail "lab_server did not start: $(cat "$work/server.log")"
# One shell inside p1 for the whole loop (no namespace entry per probe, which would cost the
# read-backs their CPU).
# shellcheck disable=SC2016
ip netns exec "$prefix-p1" bash -c '
  w=$1
  end=$(($(date +%s) + 560))
  for ((i = 0; i < 20000; i++)); do
    [ -e "$w/stop" ] && break
    [ "$(date +%s)" -lt "$end" ] || break
    if timeout 0.2 bash -c "echo >/dev/tcp/198.18.0.3/7070" 2>/dev/null; then
      echo "denied flow connected at $(date +%T.%N)" >>"$w/breach"
    fi
    echo >>"$w/denied_probes"
    if timeout 0.5 bash -c "echo >/dev/tcp/198.18.0.3/8080" 2>/dev/null; then
      echo >>"$w/allowed_ok"
    fi
    echo >>"$w/allowed_probes"
    sleep 0.05
  done' probe "$work" &
probe_pid=$!
wait_for 5 test -s "$work/allowed_ok" || fail "the allowed flow never connected: the probe is broken"

step "kills until $KILLS landed mid-apply: a reload killed, checked; a start-up apply killed, checked; restart"
current=A
declare -A mid=([reload]=0 [start-up]=0)  # mid-apply kills proven, by kind
kills=0
# kill_mid_apply KIND J TARGET: the change to TARGET is under way (the policy file replaced, or
# the daemon starting); kill once J tripwires fired, check, count.
kill_mid_apply() {
  trip "$2" || fail "$1: no new tables in the sampled namespaces within 60 s: $(tail -3 "$work/daemon.log")"
  kill_daemon
  kills=$((kills + 1))
  cp "$work/now" "$work/prev"
  local res n of
  res=$(check_kill "$work/prev" "$3")
  read -r n of <<<"$res"
  if [ "$n" -gt 0 ] && [ "$n" -lt "$of" ]; then
    mid[$1]=$((mid[$1] + 1))
  else
    echo "  ($1 kill after $2 tripwires came too late: $n of $of had the new table; not counted)"
  fi
  echo "$1 killed after $2/$SAMPLED tripwires: $n of $of namespaces had the new table, all whole ($(($(date +%s) - t_start)) s)"
}
r=0
proven() { [ "${mid[reload]}" -ge "$1" ] && [ "${mid[start-up]}" -ge "$1" ]; }
while ! proven $((KILLS / 2)); do
  # Kills that came too late are retried, a few times at most.
  [ $kills -lt $((KILLS + 6)) ] || fail "mid-apply kills: ${mid[reload]} reloads, ${mid[start-up]} start-ups of $kills"
  if proven $((MIN_KILLS / 2)) && [ $(($(date +%s) - t_start)) -gt "$BUDGET" ]; then
    echo "time budget of $BUDGET s reached"
    break
  fi
  [ ! -e "$work/breach" ] || fail "denied traffic passed: $(cat "$work/breach")"
  target=$(next $current)
  drain
  use_policy "$target"
  kill_mid_apply reload $((1 + r % 3)) "$target"
  # The policy changes again while the daemon is down: the start-up apply, killed in turn.
  target=$(next "$target")
  use_policy "$target"
  drain
  start_daemon
  kill_mid_apply start-up $((1 + (r + 1) % 3)) "$target"
  # A restart converges; "running" follows the start-up apply. The next kill's check reads every
  # namespace back and finds any that did not converge (neither this table nor the next).
  runs=$(running_lines)
  start_daemon
  wait_for 120 started_after "$runs" || fail "daemon did not start: $(tail -5 "$work/daemon.log")"
  cp "$work/sum-$target" "$work/now"
  current=$target
  r=$((r + 1))
done
echo "$((mid[reload] + mid[start-up])) of $kills kills left a mix of old and new tables (killed mid-apply): ${mid[reload]} in reloads, ${mid[start-up]} in start-ups"

step "killed once more mid-apply, a restart converges every namespace to the new policy"
final=$(next $current)
drain
use_policy "$final"
kill_mid_apply reload 2 "$final"
start_daemon
wait_for 120 all_enforced || fail "not all $N enforced after the final restart: $(status_summary)"
ruleset_seen "$work/list" "$work/now"
ruleset_diff "$work/sum-$final" "$work/now" >"$work/diff" ||
  fail "$final not in place after the final restart: $(head "$work/diff")"

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
