#!/usr/bin/env bash
# Bad input never replaces working enforcement: a long-running bulkheadd enforcing a lab keeps its
# rules (read back with nft) and its verdicts (real probes) while its policy file, then its
# inventory file, is replaced by a 50 MB file, 100,000 rules (or endpoints), a truncated file,
# binary garbage, a YAML alias bomb and deeply nested YAML; and while a policy that loads but
# whose plan is too large to apply is offered. Each refusal is logged with its message, shows in
# `bulkhead status`, and `bulkhead lint` refuses the same file; good files then converge.
# Generated files live in a temporary directory. usage: bad_input.sh BUILD_DIR SOURCE_DIR
# (Not a C++ file: keep clang-format away from it.)
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

lab_begin bhbad$$

netlab_up "$prefix" a=198.18.0.2 b=198.18.0.3 c=198.18.0.4
mkdir "$work/policy" "$work/bad"
cat >"$work/inventory.good" <<INV
endpoints:
  - {name: a, netns: /run/netns/$prefix-a, labels: {app: a}, addresses: [198.18.0.2]}
  - {name: b, netns: /run/netns/$prefix-b, labels: {app: b}, addresses: [198.18.0.3]}
  - {name: c, netns: /run/netns/$prefix-c, labels: {app: c}, addresses: [198.18.0.4]}
INV
cat >"$work/policy.good" <<'POL'
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: t
spec:
  groups:
    a: {selector: "app=a"}
    b: {selector: "app=b"}
  allow:
    - from: [a]
      to: [b]
      ports: [8080/tcp]
POL
# Editors and config management replace files by rename; the daemon sees one complete file.
put() { cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; }
put "$work/policy.good" "$work/policy/p.yaml"
put "$work/inventory.good" "$work/inventory.yaml"

step "making the bad files"
bad=$work/bad
truncate -s 50M "$bad/huge.yaml"
awk 'BEGIN {
  print "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: t}\nspec:"
  print "  groups: {a: {selector: app=a}, b: {selector: app=b}}\n  allow:"
  for (i = 0; i < 100000; i++) print "    - {from: [a], to: [b], ports: [" (i % 60000 + 1) "/tcp]}"
}' >"$bad/rules.yaml"
head -c 150 "$work/policy.good" >"$bad/truncated.yaml"
head -c 4096 "$build/bulkheadd" >"$bad/garbage.yaml"
# 1,000 rules that each name the same 1,000 peers: 6 kB of text, 2,000,000 entries to walk.
awk 'BEGIN {
  printf "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: t}\nspec:\n"
  printf "  groups: {a: {selector: app=a}, b: {selector: app=b}}\n  allow: [&r {from: &p [a"
  for (i = 1; i < 1000; i++) printf ",a"
  printf "], to: *p}"
  for (i = 1; i < 1000; i++) printf ",*r"
  print "]"
}' >"$bad/bomb.yaml"
awk 'BEGIN { for (i = 0; i < 100; i++) printf "%*sk:\n", 2 * i, ""; printf "%*sv\n", 200, "" }' \
  >"$bad/deep.yaml"
# Inventories: the same attacks in an inventory's shape.
awk -v p="$prefix" 'BEGIN {
  print "endpoints:"
  for (i = 0; i < 100000; i++) print "  - {name: e" i ", netns: /run/netns/" p "-a, labels: {app: x}}"
}' >"$bad/inv-many.yaml"
# Cut in the middle of the second endpoint.
head -c 150 "$work/inventory.good" >"$bad/inv-truncated.yaml"
awk -v p="$prefix" 'BEGIN {
  printf "endpoints: [&e {name: e, netns: /run/netns/" p "-a, labels: &m {k0: v"
  for (i = 1; i < 1000; i++) printf ", k%d: v", i
  printf "}}"
  for (i = 1; i < 1000; i++) printf ", *e"
  print "]"
}' >"$bad/inv-bomb.yaml"
# Loads, but a's egress (and b's ingress) chain would need 20,010 rules (10,002 port rules for
# each address family, the base rules and the final drop): the plan is refused whole.
awk 'BEGIN {
  print "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: t}\nspec:"
  print "  groups: {a: {selector: app=a}, b: {selector: app=b}}\n  allow:"
  for (i = 1; i <= 5001; i++) print "    - {from: [a], to: [b], ports: [" 4 * i "/tcp, " 4 * i + 2 "/tcp]}"
}' >"$bad/plan.yaml"
plan_msg='would need 20010 rules in its egress chain; the limit is 10000'

# The file, the message, and the exit code `bulkhead lint` must give for it (README, exit codes: 2 for
# input that cannot be read, 1 for problems inside it).
policy_cases=(
  "huge.yaml|52428800 bytes exceeds the limit of 16777216 bytes for a policy or inventory file|2"
  "rules.yaml|more than 250000 YAML nodes in one file (the limit)|1"
  "truncated.yaml|YAML syntax error: |1"
  "garbage.yaml|YAML text cannot contain the control character 0x7f|1"
  "bomb.yaml|document is too large to check (more than 1000000 map entries and list items, aliases expanded)|1"
  "deep.yaml|maps and lists nested more than 64 levels deep (the limit)|1"
)
inventory_cases=(
  "huge.yaml|52428800 bytes exceeds the limit of 16777216 bytes for a policy or inventory file|2"
  "inv-many.yaml|more than 250000 YAML nodes in one file (the limit)|1"
  "inv-truncated.yaml|YAML syntax error: |1"
  "garbage.yaml|YAML text cannot contain the control character 0x7f|1"
  "inv-bomb.yaml|document is too large to check (more than 1000000 map entries and list items, aliases expanded)|1"
  "deep.yaml|maps and lists nested more than 64 levels deep (the limit)|1"
)

step "bulkhead lint refuses every bad file with its message and exit code"
lint_expect() {  # $1 exit code, $2 message, then the lint arguments
  local want=$1 msg=$2 rc=0
  shift 2
  "$build/bulkhead" lint "$@" >"$work/lint.out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "lint $* exited $rc, not $want: $(head -c 600 "$work/lint.out")"
  grep -qF -- "$msg" "$work/lint.out" || fail "lint $* lacks \"$msg\": $(head -c 600 "$work/lint.out")"
}
for c in "${policy_cases[@]}"; do
  IFS='|' read -r file msg code <<<"$c"
  lint_expect "$code" "$msg" "$bad/$file"
done
for c in "${inventory_cases[@]}"; do
  IFS='|' read -r file msg code <<<"$c"
  lint_expect "$code" "$msg" "$work/policy" --inventory "$bad/$file"
done
lint_expect 1 "endpoint \"a\" $plan_msg" "$bad/plan.yaml" --inventory "$work/inventory.good"
rc=0
"$build/bulkhead" compile "$bad/plan.yaml" --inventory "$work/inventory.good" >/dev/null 2>"$work/compile.err" || rc=$?
[ $rc = 2 ] || fail "compile of a too-large plan exited $rc"
grep -qF 'the plan is refused whole and nothing is applied' "$work/compile.err" || fail "compile: $(cat "$work/compile.err")"

step "long-running daemon enforces the lab"
"$build/bulkheadd" --hook-socket none --policy "$work/policy" --source "inventory:$work/inventory.yaml" \
  --log-format json --status-socket "$work/status.sock" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 10 grep -q '"msg":"bulkheadd running"' "$work/daemon.log" || fail "daemon did not start: $(cat "$work/daemon.log")"
# Real probes (TCP, UDP, ICMP between every pair) against what the good files say: a->b 8080/tcp
# passes, everything else into a or b is dropped.
verify() {
  "$build/bulkhead" verify "$work/policy.good" --inventory "${1:-$work/inventory.good}" \
    --ports 8080/tcp,9090/tcp --brief >"$work/verify.out" 2>&1
}
wait_for 5 verify || fail "lab not enforced: $(cat "$work/verify.out")"
# Rules without counters (nft -s), so that probes do not change the snapshot.
rules() { for ns in a b c; do echo "== $ns"; ip netns exec "$prefix-$ns" nft -s list ruleset; done; }
rules >"$work/rules.before"
grep -q 'tcp dport 8080' "$work/rules.before" || fail "no allow rule read back: $(cat "$work/rules.before")"

still_enforcing() {  # $1: what was just refused
  rules >"$work/rules.now"
  diff -u "$work/rules.before" "$work/rules.now" >"$work/rules.diff" || fail "rules changed after $1: $(cat "$work/rules.diff")"
  verify || fail "verdicts changed after $1: $(cat "$work/verify.out")"
}
logged() { [ "$(grep -cF -- "$2" "$work/daemon.log")" -ge "$1" ]; }
refused() {  # $1 file, $2 message expected in the log and in status, $3 times it must be logged
  wait_for 30 logged "$3" "$2" || fail "no refusal logged for $1: $(tail -c 1500 "$work/daemon.log")"
  "$build/bulkhead" status --status-socket "$work/status.sock" >"$work/status.txt"
  grep -qF -- "$2" "$work/status.txt" || fail "status does not show the refusal of $1: $(cat "$work/status.txt")"
}

# replaced_by_bad KIND TARGET CASE...: each case's file ("FILE|MESSAGE|CODE") replaces TARGET in
# turn; the daemon refuses it with MESSAGE and keeps enforcing.
replaced_by_bad() {
  local kind=$1 target=$2 c file msg before
  shift 2
  for c in "$@"; do
    IFS='|' read -r file msg _ <<<"$c"
    step "$kind replaced by $file: refused, enforcement kept"
    before=$(grep -cF -- "$msg" "$work/daemon.log" || true)
    put "$bad/$file" "$target"
    refused "$file" "$msg" $((before + 1))
    still_enforcing "$kind $file"
  done
}

replaced_by_bad policy "$work/policy/p.yaml" "${policy_cases[@]}"

step "a policy whose plan is too large to apply: refused whole, enforcement kept"
put "$bad/plan.yaml" "$work/policy/p.yaml"
refused plan.yaml "$plan_msg" 1
grep -qF 'policy not loaded: ' "$work/status.txt" || fail "status lacks the refusal: $(cat "$work/status.txt")"
still_enforcing "plan.yaml"

step "the good policy again"
reloads=$(grep -c '"msg":"reloaded"' "$work/daemon.log" || true)
put "$work/policy.good" "$work/policy/p.yaml"
wait_for 10 logged $((reloads + 1)) '"msg":"reloaded"' || fail "good policy not reloaded: $(tail -c 1500 "$work/daemon.log")"
still_enforcing "restoring the policy"

replaced_by_bad inventory "$work/inventory.yaml" "${inventory_cases[@]}"

step "a good inventory converges: c joins group b and gets its table"
sed "s/app: c}/app: b}/" "$work/inventory.good" >"$work/inventory.c-in-b"
put "$work/inventory.c-in-b" "$work/inventory.yaml"
wait_for 10 bash -c "ip netns exec $prefix-c nft list table inet bulkhead 2>/dev/null | grep 'tcp dport 8080' >/dev/null" ||
  fail "c not enforced after the good inventory: $(tail -c 1500 "$work/daemon.log")"
wait_for 5 verify "$work/inventory.c-in-b" || fail "verdicts after converging: $(cat "$work/verify.out")"

step "SIGTERM exits 0"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit code $?"
daemon_pid=
echo "bad_input: all steps passed"
