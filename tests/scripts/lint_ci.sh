#!/usr/bin/env bash
# `bulkhead lint` as a CI job runs it on an application's install manifest
# (tests/data/install: a Namespace, service accounts, configuration, RBAC, a CRD and a custom
# resource, workloads, services, an Ingress, NetworkPolicies): it lints clean with --strict and
# counts the skipped objects, `compile` and `bulkheadd --once` take the same files, `explain`
# denies the null-namespaceSelector peer from another namespace, silenced findings stay in JSON
# and SARIF marked suppressed, and one broken file does not hide the other files' warnings.
# usage: lint_ci.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$2"
source tests/scripts/lib/common.sh
bh=$build/bulkhead
install=tests/data/install
inv=(--inventory "$install/inventory.yaml")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# lacks FILE TEXT: FILE does not contain TEXT.
lacks() { ! grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "unexpected '$2' in $1"; }; }
# json EXPR: evaluates a Python expression over the JSON in $tmp/out (bound to `j`).
json() { python3 -c "import json,sys; j=json.load(open('$tmp/out')); print($1)"; }

# The documents of the install that are not read: every top-level kind but Namespace,
# NetworkPolicy and NetworkPolicyList (whose items, without a kind of their own, are policies).
sum() { awk '{ s += $1 } END { print s }'; }
total=$(grep -chE '^kind: ' "$install"/*.yaml | sum)
read_docs=$(grep -chE '^kind: (Namespace|NetworkPolicy|NetworkPolicyList)$' "$install"/*.yaml | sum)
others=$((total - read_docs))
[ "$others" -ge 15 ] || fail "the install manifest should hold many other kinds, not $others"

step "lint --strict of the install manifest exits 0 and counts the $others skipped objects"
expect_exit 0 "$bh" lint "$install" "${inv[@]}" --strict
has_line "$tmp/out" "no problems found, 1 silenced, $others notes"
has_line "$tmp/out" "$install/ledger.yaml:111:7: note: skipped apps/v1 Deployment \"ledger/ledger-api\" (not a policy) [skipped-kind]"
lacks "$tmp/out" "warning:"

step "JSON and SARIF list the notes and the silenced finding, marked"
expect_exit 0 "$bh" lint "$install" "${inv[@]}" --strict --format json
[ "$(json "sum(d['severity'] == 'note' for d in j)")" = "$others" ] || fail "JSON notes"
annotation=$(grep -n 'bulkhead/lint-ignore: allow-anything' "$install/ledger.yaml" | cut -d: -f1)
[ "$(json "[(d['rule'], d['suppressedBy']) for d in j if d['suppressed']]")" = \
  "[('allow-anything', '$install/ledger.yaml:$annotation:27')]" ] || fail "JSON suppressed: $(cat "$tmp/out")"
expect_exit 0 "$bh" lint "$install" "${inv[@]}" --strict --format sarif
[ "$(json "j['version']")" = 2.1.0 ] || fail "SARIF version"
[ "$(json "[r['suppressions'][0]['kind'] for r in j['runs'][0]['results'] if 'suppressions' in r]")" = \
  "['inSource']" ] || fail "SARIF suppressions: $(cat "$tmp/out")"
[ "$(json "sorted(set(r['level'] for r in j['runs'][0]['results']))")" = "['note', 'warning']" ] ||
  fail "SARIF levels"

# scrape.yaml's policy has a long name: its comments must shorten the name, not the position.
step "compile takes the install manifest; every rule comment keeps its whole file:line:col"
expect_exit 0 "$bh" compile "$install" "${inv[@]}"
grep -q 'tcp dport 5432 counter packets 0 bytes 0 accept comment "ledger/db-from-api: ' "$tmp/out" ||
  fail "no rule for ledger/db-from-api"
rules=$(grep -c 'accept comment "ledger/' "$tmp/out")
whole=$(grep -cE 'accept comment "ledger/[^"]*\(tests/data/install/(ledger|scrape)\.yaml:[0-9]+:[0-9]+\)"' "$tmp/out")
[ "$rules" -gt 10 ] && [ "$rules" = "$whole" ] || fail "$whole of $rules rule comments end in a whole position"

step "bulkheadd --once takes the install manifest too (and refuses a misspelled kind)"
echo "endpoints: []" >"$tmp/empty-inventory.yaml"
expect_exit 0 "$build/bulkheadd" --hook-socket none --policy "$install" --source "inventory:$tmp/empty-inventory.yaml" --once \
  --status-socket "$tmp/status.sock"
printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyy\nmetadata: {name: x}\n' >"$tmp/typo.yaml"
expect_exit 2 "$build/bulkheadd" --hook-socket none --policy "$install" --policy "$tmp/typo.yaml" \
  --source "inventory:$tmp/empty-inventory.yaml" --once --status-socket "$tmp/status.sock"
grep -qF 'unknown kind "NetworkPolicyy" for apiVersion networking.k8s.io/v1; did you mean "NetworkPolicy"?' \
  "$tmp/out" "$tmp/err" || fail "bulkheadd does not name the misspelled kind"

step "explain: the peer with namespaceSelector: null admits its own namespace only"
expect_exit 1 "$bh" explain "$install" "${inv[@]}" --from shop-api-1 --to ledger-db-0 --port 5432/tcp
has_line "$tmp/out" "shop-api-1 -> ledger-db-0 5432/tcp: denied"
expect_exit 0 "$bh" explain "$install" "${inv[@]}" --from ledger-api-1 --to ledger-db-0 --port 5432/tcp
has_line "$tmp/out" "ledger-api-1 -> ledger-db-0 5432/tcp: allowed"
case=(tests/data/conformance/namespaces.yaml tests/data/conformance/cases/28-null-fields
  --inventory tests/data/conformance/inventory.yaml.in)
expect_exit 1 "$bh" explain "${case[@]}" --from y-b --to x-a --port 80/tcp
has_line "$tmp/out" "y-b -> x-a 80/tcp: denied"
expect_exit 0 "$bh" explain "${case[@]}" --from x-b --to x-a --port 80/tcp
has_line "$tmp/out" "x-b -> x-a 80/tcp: allowed"

step "without the policy's lint-ignore, --strict fails; --ignore silences the rule for the run"
mkdir "$tmp/open"
grep -v 'bulkhead/lint-ignore' "$install/ledger.yaml" >"$tmp/open/ledger.yaml"
expect_exit 1 "$bh" lint "$tmp/open" --strict
grep -qE '^.*ledger\.yaml:[0-9]+:7: warning: rule allows every peer on every port: it undoes the egress isolation of what it selects \[allow-anything\]$' \
  "$tmp/out" || fail "no allow-anything warning: $(cat "$tmp/out")"
expect_exit 0 "$bh" lint "$tmp/open" --strict --ignore allow-anything
expect_exit 0 "$bh" lint "$tmp/open" --strict --ignore wide-cidr --ignore allow-anything,skipped-kind --format json
[ "$(json "[(d['rule'], d['suppressedBy']) for d in j if d['rule'] == 'allow-anything']")" = \
  "[('allow-anything', '--ignore')]" ] || fail "--ignore not marked in JSON"
expect_exit 2 "$bh" lint "$tmp/open" --ignore allow-anythin
has_line "$tmp/err" "bulkhead lint: --ignore: unknown rule 'allow-anythin'; did you mean 'allow-anything'?"
expect_exit 2 "$bh" lint "$tmp/open" --ignore unknown-field
has_line "$tmp/err" "bulkhead lint: --ignore: rule 'unknown-field' reports errors, which cannot be silenced"

step "a broken file does not hide the warnings of the files that loaded"
cat >"$tmp/open/broken.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: ledger}
spec:
  podSelector: {}
  egres:
  - {}
  ingress:
  - {}
EOF
expect_exit 1 "$bh" lint "$tmp/open"
has_line "$tmp/out" "$tmp/open/broken.yaml:6:3: error: unknown field \"egres\"; did you mean \"egress\"? [unknown-field]"
grep -q "ledger.yaml:[0-9]*:7: warning: .*\[allow-anything\]" "$tmp/out" ||
  fail "the good file's warning is gone: $(cat "$tmp/out")"
# The broken file's own policy did not load: its rule is not linted as if it had.
lacks "$tmp/out" "broken.yaml:9:"
echo "lint_ci: ok"
