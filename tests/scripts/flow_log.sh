#!/usr/bin/env bash
# The denied-flow log and audit mode, through a long-running bulkheadd on an inventory lab:
# a denied TCP connect, a denied UDP datagram and an audit-mode flow each give exactly one
# aggregated record naming the right endpoints and policy (in the JSON log and in
# `bulkhead status --drops --json`); the audit flow passes and is counted; a flood of denied
# datagrams is logged within the kernel's rate limit and the daemon's memory stays bounded.
# (A shell script: do not run clang-format on it.)
# usage: flow_log.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

lab_begin bhf$$

# Documented in docs/daemon.md: the kernel logs at most burst + rate x seconds per chain; the
# daemon stays under this resident size on a small lab, flood or not.
log_rate=10
log_burst=20
window_s=5
rss_limit_kib=$((32 * 1024))
rss_growth_kib=$((4 * 1024))

netlab_up "$prefix" client=198.18.0.2 web=198.18.0.3 aud=198.18.0.4

cat >"$work/inventory.yaml" <<INV
endpoints:
  - {name: client, netns: /run/netns/$prefix-client, labels: {app: client}, addresses: [198.18.0.2]}
  - {name: web, netns: /run/netns/$prefix-web, labels: {app: web}, addresses: [198.18.0.3]}
  - {name: aud, netns: /run/netns/$prefix-aud, labels: {app: aud}, addresses: [198.18.0.4]}
INV
mkdir "$work/policy"
cat >"$work/policy/lock.yaml" <<'POL'
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: lock
spec:
  groups:
    client: {selector: "app=client", isolate: []}
    web: {selector: "app=web", isolate: [ingress]}
  allow:
    - from: [client]
      to: [web]
      ports: [80/tcp]
POL
cat >"$work/policy/watch.yaml" <<'POL'
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: watch
spec:
  mode: audit
  groups:
    aud: {selector: "app=aud", isolate: [ingress]}
POL

metrics_port=$((20000 + ($$ + 7) % 20000))
step "long-running daemon on the lab"
# A resync every second: status's counters are those of the last one.
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inventory.yaml" \
  --resync-interval 1 --log-format json --status-socket "$work/status.sock" \
  --metrics-listen "127.0.0.1:$metrics_port" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 10 grep -q '"msg":"bulkheadd running"' "$work/daemon.log" || fail "daemon did not start: $(cat "$work/daemon.log")"
expect_table "$prefix-web"
expect_table "$prefix-aud"
expect_no_table "$prefix-client"
! grep -q '"msg":"flow log not available"' "$work/daemon.log" || fail "flow log: $(grep 'flow log' "$work/daemon.log")"

in_client() { ip netns exec "$prefix-client" "$@"; }
status_flows() { "$build/bulkhead" status --status-socket "$work/status.sock" --drops --json; }
# records DST PROTO PORT VERDICT: the status records of that flow, as compact JSON lines.
records() {
  status_flows | jq -c --arg d "$1" --arg p "$2" --argjson port "$3" --arg v "$4" \
    '.[] | select(.dst == $d and .proto == $p and .port == $port and .verdict == $v)'
}
closed() { [ "$(records "$@" | jq -s 'length > 0 and all(.open == false)')" = true ]; }

step "a denied TCP connect, a denied UDP datagram and an audit-mode connect"
# Denied: no answer at all, so the connect times out (bounded by timeout).
if in_client timeout 2 bash -c 'echo >/dev/tcp/198.18.0.3/8080' 2>/dev/null; then
  fail "client reached web:8080, which lock denies"
fi
in_client bash -c 'echo probe >/dev/udp/198.18.0.3/53'
# Audit: nothing listens on aud:8080, so a connect that passes is refused at once by the kernel
# (a dropped one would time out instead).
start=$(date +%s%N)
if in_client timeout 3 bash -c 'echo >/dev/tcp/198.18.0.4/8080' 2>"$work/aud.err"; then
  fail "aud:8080 accepted a connection although nothing listens"
fi
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
grep -q "Connection refused" "$work/aud.err" || fail "audit-mode connect did not pass (no refusal): $(cat "$work/aud.err")"
[ "$elapsed_ms" -lt 2000 ] || fail "audit-mode connect took $elapsed_ms ms"
probed=$(utc_ms)

step "each flow gives exactly one aggregated record, once its ${window_s} s window closed"
wait_for $((window_s + 5)) closed 198.18.0.3 tcp 8080 denied || fail "no closed TCP record: $(status_flows)"
wait_for 5 closed 198.18.0.3 udp 53 denied || fail "no closed UDP record: $(status_flows)"
wait_for 5 closed 198.18.0.4 tcp 8080 would-deny || fail "no closed audit record: $(status_flows)"
check_record() {  # DST PROTO PORT VERDICT SRC_EP DST_EP POLICY
  local recs
  recs=$(records "$1" "$2" "$3" "$4")
  [ "$(wc -l <<<"$recs")" = 1 ] || fail "expected one record for $*, got: $recs"
  jq -e --arg s "$5" --arg d "$6" --arg pol "$7" \
    '.src == "198.18.0.2" and .src_endpoint == $s and .dst_endpoint == $d and .policy == $pol and .count >= 1 and .endpoint == $d and .direction == "ingress"' \
    <<<"$recs" >/dev/null || fail "wrong record for $*: $recs"
  # The same record in the daemon's log, once.
  local lines
  lines=$(grep "\"msg\":\"$([ "$4" = denied ] && echo denied || echo would-deny) flow\"" "$work/daemon.log" |
    jq -c --arg d "$1" --arg p "$2" --arg port "$3" 'select(.dst == $d and .proto == $p and .port == $port)')
  [ "$(wc -l <<<"$lines")" = 1 ] && [ -n "$lines" ] || fail "expected one log line for $*, got: $lines"
  jq -e --arg s "$5" --arg d "$6" --arg pol "$7" --arg v "$4" \
    '.src_endpoint == $s and .dst_endpoint == $d and .policy == $pol and .verdict == $v and (.count | tonumber) >= 1' \
    <<<"$lines" >/dev/null || fail "wrong log line for $*: $lines"
}
check_record 198.18.0.3 tcp 8080 denied client web lock
check_record 198.18.0.3 udp 53 denied client web lock
check_record 198.18.0.4 tcp 8080 would-deny client aud watch
# The audit flow was connected once: one SYN, one record of count 1.
[ "$(records 198.18.0.4 tcp 8080 would-deny | jq .count)" = 1 ] || fail "audit record count: $(records 198.18.0.4 tcp 8080 would-deny)"

step "status counts the audit flow as would-deny, and human --drops lists the records"
for ep in web aud; do
  wait_for 5 counters_read_since "$work/status.sock" $ep "$probed" || fail "$ep's counters not read since $probed"
done
"$build/bulkhead" status --status-socket "$work/status.sock" --json >"$work/status.json"
jq -e '.endpoints[] | select(.name == "aud") | .would_deny_packets >= 1 and .dropped_packets == 0' "$work/status.json" >/dev/null ||
  fail "aud's would-deny counter: $(jq '.endpoints[] | select(.name == "aud")' "$work/status.json")"
jq -e '.endpoints[] | select(.name == "web") | .dropped_packets >= 2' "$work/status.json" >/dev/null ||
  fail "web's drop counter: $(jq '.endpoints[] | select(.name == "web")' "$work/status.json")"
"$build/bulkhead" status --status-socket "$work/status.sock" --drops >"$work/drops.txt"
grep -qE 'would-deny +client 198\.18\.0\.2 +aud 198\.18\.0\.4 +8080/tcp +1 +watch' "$work/drops.txt" ||
  fail "human --drops lacks the audit flow: $(cat "$work/drops.txt")"
grep -qE 'denied +client 198\.18\.0\.2 +web 198\.18\.0\.3 +53/udp +[0-9]+ +lock' "$work/drops.txt" ||
  fail "human --drops lacks the UDP flow: $(cat "$work/drops.txt")"

step "metrics count logged flows per endpoint, policy and verdict"
curl -s --max-time 5 "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.txt"
grep -qE '^bulkhead_denied_flows_total\{.*endpoint="web".*policy="lock".*verdict="denied".*\} [2-9]' "$work/metrics.txt" ||
  fail "no denied-flow metric for web: $(grep denied_flows "$work/metrics.txt")"
grep -qE '^bulkhead_denied_flows_total\{.*endpoint="aud".*policy="watch".*verdict="would-deny".*\} 1' "$work/metrics.txt" ||
  fail "no would-deny metric for aud: $(grep denied_flows "$work/metrics.txt")"

step "a flood of 20,000 denied datagrams is logged within the rate limit; memory stays bounded"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$daemon_pid/status"; }
rss_before=$(rss)
drops_before=$("$build/bulkhead" status --status-socket "$work/status.sock" --json | jq '.endpoints[] | select(.name == "web") | .dropped_packets')
start=$(date +%s%N)
# 200 destination ports x 100 datagrams from one socket: 200 distinct flows. Bounded: 20,000
# datagrams, 60 s at most. (perl-base is part of every Debian system; a shell loop is too slow.)
in_client timeout 60 perl -MSocket -e '
  socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
  for my $port (10000 .. 10199) {
    my $to = sockaddr_in($port, inet_aton("198.18.0.3"));
    for (1 .. 100) { send($s, "x", 0, $to) or die "send: $!" }
  }'
flood_ms=$((($(date +%s%N) - start) / 1000000))
rss_peak=$(rss)
flooded=$(utc_ms)
wait_for 5 counters_read_since "$work/status.sock" web "$flooded" || fail "web's counters not read since $flooded"
drops_after=$("$build/bulkhead" status --status-socket "$work/status.sock" --json | jq '.endpoints[] | select(.name == "web") | .dropped_packets')
# A veth may shed a little of a burst before the hook; nearly all must reach the drop rule.
[ $((drops_after - drops_before)) -ge 19000 ] || fail "the kernel dropped only $((drops_after - drops_before)) of 20,000 datagrams"
# Every flood record's window (window_s from its first packet) has run out after this, plus a
# second for the daemon's sweep; then the records must be closed (wait_for below), and the log
# holds all of them. Waiting on "all closed" alone could pass while the daemon still decodes
# the queued packets of flows it has not opened a record for yet.
sleep $((window_s + 1))
flood_records() {
  status_flows | jq '[.[] | select(.dst == "198.18.0.3" and .proto == "udp" and .port >= 10000 and .port <= 10199)]'
}
flood_closed() { [ "$(flood_records | jq 'all(.open == false)')" = true ]; }
wait_for 5 flood_closed || fail "flood windows did not close: $(flood_records)"
# Summed from the log, which has every record (status keeps only the last 100).
logged=$(grep '"msg":"denied flow"' "$work/daemon.log" |
  jq -s '[.[] | select(.dst == "198.18.0.3" and .proto == "udp" and (.port | tonumber) >= 10000 and (.port | tonumber) <= 10199) | .count | tonumber] | add // 0')
flows=$(grep '"msg":"denied flow"' "$work/daemon.log" |
  jq -s '[.[] | select(.dst == "198.18.0.3" and .proto == "udp" and (.port | tonumber) >= 10000) | .port] | unique | length')
[ "$(flood_records | jq length)" -le 100 ] || fail "status keeps more than 100 records"
# Every logged packet was counted in some record; the kernel let through at most
# burst + rate x (flood time, plus a second for the token refill in progress).
bound=$((log_burst + log_rate * (flood_ms / 1000 + 2)))
echo "flood: 20000 datagrams in ${flood_ms} ms; ${logged} logged in ${flows} flows (bound ${bound}); RSS ${rss_before} -> ${rss_peak} -> $(rss) KiB"
[ "$logged" -ge "$log_burst" ] || fail "only $logged flood packets logged; the burst alone is $log_burst"
[ "$logged" -le "$bound" ] || fail "$logged flood packets logged, above the rate limit's $bound"
rss_after=$(rss)
[ "$rss_peak" -lt "$rss_limit_kib" ] && [ "$rss_after" -lt "$rss_limit_kib" ] ||
  fail "daemon RSS $rss_peak / $rss_after KiB, above $rss_limit_kib KiB"
[ $((rss_after - rss_before)) -lt "$rss_growth_kib" ] ||
  fail "daemon RSS grew by $((rss_after - rss_before)) KiB during the flood"
! grep -q '"level":"error"' "$work/daemon.log" || fail "errors in the daemon log: $(grep '"level":"error"' "$work/daemon.log")"

step "switching watch to enforce is one change: the audit flow is now dropped"
sed -i 's/  mode: audit/  mode: enforce/' "$work/policy/watch.yaml"
enforcing() { ip netns exec "$prefix-aud" nft list chain inet bulkhead ingress | grep "drop comment" >/dev/null; }
wait_for 5 enforcing || fail "aud's ingress chain was not switched to enforce"
refused() { in_client timeout 1 bash -c 'echo >/dev/tcp/198.18.0.4/8080' 2>&1 | grep "Connection refused" >/dev/null; }
! refused || fail "aud:8080 still answers after watch was switched to enforce"
wait_for $((window_s + 5)) closed 198.18.0.4 tcp 8080 denied || fail "no denied record for aud after the switch: $(status_flows)"
[ "$(records 198.18.0.4 tcp 8080 denied | jq -r .policy)" = watch ] || fail "deciding policy after the switch: $(records 198.18.0.4 tcp 8080 denied)"

step "SIGTERM exits 0"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
echo "flow_log: all steps passed"
