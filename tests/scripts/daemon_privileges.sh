#!/usr/bin/env bash
# Least privilege (docs/security.md): the running daemon holds exactly the documented capabilities
# (effective, permitted, bounding; nothing inheritable or ambient; no_new_privs) in every thread,
# and still enforces a namespace that appears after the drop; the status socket answers root and
# members of --status-group only, with mode 0660 and that group; --metrics-listen PORT binds
# loopback only; the systemd unit verifies.
# usage: daemon_privileges.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

[ "$(id -u)" = 0 ] || fail "needs root"
lab_begin bhp$$

netlab_up "$prefix" a=198.18.0.2 b=198.18.0.3
inventory() {  # NAME...
  {
    echo "endpoints:"
    local n i=2
    for n in a b c; do
      if [[ " $* " == *" $n "* ]]; then
        echo "  - {name: $n, netns: /run/netns/$prefix-$n, labels: {app: $n}, addresses: [198.18.0.$i]}"
      fi
      i=$((i + 1))
    done
  } >"$work/inventory.yaml.tmp"
  mv "$work/inventory.yaml.tmp" "$work/inventory.yaml"
}
inventory a b
cat >"$work/policy.yaml" <<'POL'
apiVersion: bulkhead/v1
kind: Policy
metadata: {name: p}
spec:
  groups:
    all: {selector: "app in (a, b, c)"}
  allow:
    - from: [all]
      to: [all]
      ports: [8080/tcp]
POL

# A group number no account uses: membership is given per process with setpriv, so the test
# creates no group on the host.
gid=$((61000 + $$ % 3000))
metrics_port=$((20000 + $$ % 20000))
chmod 0755 "$work"
"$build/bulkheadd" --hook-socket none --policy "$work/policy.yaml" --source "inventory:$work/inventory.yaml" \
  --status-socket "$work/run/status.sock" --status-group "$gid" --metrics-listen "$metrics_port" \
  --log-format json >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 5 grep -q '"msg":"bulkheadd running"' "$work/daemon.log" || fail "daemon did not start: $(cat "$work/daemon.log")"
expect_table "$prefix-a"

step "every thread holds exactly CAP_NET_ADMIN, CAP_SYS_PTRACE and CAP_SYS_ADMIN"
# Bits 12, 19 and 21 (linux/capability.h).
want=0000000000281000
threads=0
for t in /proc/"$daemon_pid"/task/*; do
  threads=$((threads + 1))
  for f in CapEff CapPrm CapBnd; do
    got=$(awk -v f="$f:" '$1 == f {print $2}' "$t/status")
    [ "$got" = "$want" ] || fail "thread ${t##*/}: $f is $got, not $want ($(capsh --decode="$got" 2>/dev/null))"
  done
  for f in CapInh CapAmb; do
    got=$(awk -v f="$f:" '$1 == f {print $2}' "$t/status")
    [ "$got" = 0000000000000000 ] || fail "thread ${t##*/}: $f is $got, not empty"
  done
  [ "$(awk '$1 == "NoNewPrivs:" {print $2}' "$t/status")" = 1 ] || fail "thread ${t##*/}: no_new_privs not set"
done
echo "checked $threads threads: CapEff=CapPrm=CapBnd=$want ($(capsh --decode=$want | cut -d= -f2))"

step "a namespace that appears after the drop is enforced"
netlab_add "$prefix" c=198.18.0.4
inventory a b c
wait_for 5 has_table "$prefix-c" || fail "c not enforced after the drop: $(tail -5 "$work/daemon.log")"
wait_for 5 bash -c "'$build/bulkhead' status --status-socket '$work/run/status.sock' --json | jq -e 'any(.endpoints[]; .name == \"c\" and .state == \"enforced\")'" ||
  fail "c not reported enforced"

step "the status socket: mode 0660, group $gid; root and members read it, others do not"
[ "$(stat -c '%a %g' "$work/run/status.sock")" = "660 $gid" ] || fail "socket is $(stat -c '%a %u:%g' "$work/run/status.sock")"
install -m 0755 "$build/bulkhead" "$work/bulkhead-cli"
as() { setpriv "$@" "$work/bulkhead-cli" status --status-socket "$work/run/status.sock" --json; }
as --reuid=65534 --regid=65534 --groups="$gid" >"$work/member.out" 2>&1 || fail "a supplementary member was refused: $(cat "$work/member.out")"
jq -e '.endpoints | length == 3' "$work/member.out" >/dev/null || fail "member got: $(cat "$work/member.out")"
as --reuid=65534 --regid="$gid" --clear-groups >"$work/primary.out" 2>&1 || fail "a primary-group member was refused: $(cat "$work/primary.out")"
jq -e '.endpoints | length == 3' "$work/primary.out" >/dev/null || fail "primary member got: $(cat "$work/primary.out")"
if as --reuid=65534 --regid=65534 --clear-groups >"$work/nobody.out" 2>&1; then
  fail "a non-member read the status: $(cat "$work/nobody.out")"
fi
grep -q "Permission denied" "$work/nobody.out" || fail "unexpected refusal: $(cat "$work/nobody.out")"
# The socket's mode is one lock, the daemon's credential check the other: a non-member who gets
# past the mode (the socket opened to everyone by hand) is still refused by the daemon.
chgrp 65534 "$work/run/status.sock"
chmod 0666 "$work/run/status.sock"
if as --reuid=65534 --regid=65534 --clear-groups >"$work/nobody2.out" 2>&1 &&
  ! grep -q "permission denied" "$work/nobody2.out"; then
  fail "the daemon answered a non-member: $(cat "$work/nobody2.out")"
fi
grep -q 'permission denied: only root and the status group' "$work/nobody2.out" || fail "no refusal from the daemon: $(cat "$work/nobody2.out")"

step "--metrics-listen PORT listens on loopback only"
listeners=$(ss -Hltn "sport = :$metrics_port" | awk '{print $4}' | sort -u | tr '\n' ' ')
[ "$listeners" = "127.0.0.1:$metrics_port " ] || fail "metrics listen on: $listeners"

step "the systemd unit verifies"
if command -v systemd-analyze >/dev/null; then
  sed "s#^ExecStart=.*#ExecStart=$build/bulkheadd \$BULKHEADD_ARGS#" "$src/packaging/bulkheadd.service" >"$work/bulkheadd.service"
  systemd-analyze verify "$work/bulkheadd.service" >"$work/verify.out" 2>&1 || fail "systemd-analyze verify: $(cat "$work/verify.out")"
  [ ! -s "$work/verify.out" ] || fail "systemd-analyze verify: $(cat "$work/verify.out")"
  grep -q "^CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE$" "$work/bulkheadd.service" ||
    fail "the unit's CapabilityBoundingSet differs from the daemon's set"
fi

kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
echo "PASS"
