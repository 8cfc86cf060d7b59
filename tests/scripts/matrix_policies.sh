#!/usr/bin/env bash
# Connectivity matrices in real namespaces: for each policy set under tests/data/matrix/, enforce
# it with bulkheadd --once and let `bulkhead verify` probe every pair (TCP, UDP, ICMP; IPv4 and
# IPv6) and compare with the reference evaluator. Also checks that each policy really denies
# something (a matrix of all "." would prove nothing) and that switching policies leaves no
# table behind where the new policy isolates nobody.
# usage: matrix_policies.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
source "$src/scripts/netlab.sh"
source "$src/tests/scripts/lib/common.sh"

prefix=bhm$$
work=$(mktemp -d)
cleanup() {
  set +e
  netlab_down "$prefix"
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

netlab_up "$prefix" xa=198.18.20.2,2001:2::2 xb=198.18.20.3,2001:2::3 \
  ya=198.18.20.4,2001:2::4 yb=198.18.20.5,2001:2::5 out=198.18.20.9,2001:2::9
inv=$work/inventory.yaml
cat >"$inv" <<INV
endpoints:
  - name: x-a
    netns: /run/netns/$prefix-xa
    labels: {pod: a, ns: x, io.kubernetes.pod.namespace: x}
    addresses: [198.18.20.2, "2001:2::2"]
    ports: {serve-80-tcp: 80/tcp, serve-81-udp: 81/udp}
  - name: x-b
    netns: /run/netns/$prefix-xb
    labels: {pod: b, ns: x, io.kubernetes.pod.namespace: x}
    addresses: [198.18.20.3, "2001:2::3"]
  - name: y-a
    netns: /run/netns/$prefix-ya
    labels: {pod: a, ns: y, io.kubernetes.pod.namespace: y}
    addresses: [198.18.20.4, "2001:2::4"]
  - name: y-b
    netns: /run/netns/$prefix-yb
    labels: {pod: b, ns: y, io.kubernetes.pod.namespace: y}
    addresses: [198.18.20.5, "2001:2::5"]
  - name: outsider
    netns: /run/netns/$prefix-out
    labels: {role: outsider}
    addresses: [198.18.20.9, "2001:2::9"]
INV

for case in native kubernetes; do
  policy=$src/tests/data/matrix/$case
  step "$case: enforce"
  "$build/bulkheadd" --hook-socket none --policy "$policy" --source "inventory:$inv" --once --log-level warn
  for family in 4 6; do
    step "$case: verify IPv$family"
    out=$work/$case-$family.txt
    if ! "$build/bulkhead" verify "$policy" --inventory "$inv" --family $family \
      --ports 80/tcp,81/tcp,80/udp,81/udp,icmp --timeout-ms 300 >"$out" 2>&1; then
      cat "$out"
      fail "$case IPv$family: the dataplane differs from the policy"
    fi
    grep -q "all 125 probes match the policy" "$out" || fail "$case IPv$family: $(tail -3 "$out")"
    # Rows hold "X" cells only where probes were blocked: the policy must block something.
    grep -qE '^[a-z-]+ +.*X' "$out" || fail "$case IPv$family: nothing was blocked"
  done
done

step "the outsider is in no group and no Kubernetes namespace: it never gets a table"
expect_no_table "$prefix-out"
echo "matrix_policies: all steps passed"
