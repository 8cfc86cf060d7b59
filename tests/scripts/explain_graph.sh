#!/usr/bin/env bash
# `bulkhead explain` and `bulkhead graph` as a user runs them: exit codes 0/1/2, --json through
# jq, audit's "would deny", the shop example's DOT against tests/golden/shop.graph.dot, SVG that
# is well-formed XML naming every group, and clear errors.
# UPDATE_GOLDEN=1 rewrites tests/golden/shop.graph.dot and docs/shop-graph.svg (review the diff).
# usage: explain_graph.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$2"
source tests/scripts/lib/common.sh
bh=$build/bulkhead
shop=(examples/shop/ --inventory examples/shop/inventory.yaml)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT


step "explain: an allowed flow exits 0 and names the rule on each side"
expect_exit 0 "$bh" explain "${shop[@]}" --from shop-web --to shop-api --port 8080/tcp
has_line "$tmp/out" "shop-web -> shop-api 8080/tcp: allowed"
has_line "$tmp/out" "  allowed by examples/shop/policy.yaml:28:7: Policy shop: to api on 8080/tcp"
has_line "$tmp/out" "  allowed by examples/shop/policy.yaml:28:7: Policy shop: from web on 8080/tcp"

step "explain: a denied flow exits 1 and says which side denies it"
expect_exit 1 "$bh" explain "${shop[@]}" --from shop-outsider --to shop-db --port 5432/tcp
has_line "$tmp/out" "shop-outsider -> shop-db 5432/tcp: denied"
has_line "$tmp/out" "ingress of shop-db: denied"
has_line "$tmp/out" "  no rule allows it"

step "explain: a client address inside the CIDR peer, and one in its exception"
expect_exit 0 "$bh" explain "${shop[@]}" --from 198.19.1.1 --to shop-web --port 443/tcp
has_line "$tmp/out" "  allowed by examples/shop/policy.yaml:25:7: Policy shop: from 198.19.0.0/16 except 198.19.66.0/24 on 443/tcp"
expect_exit 1 "$bh" explain "${shop[@]}" --from 198.19.66.1 --to shop-web --port 443/tcp

step "explain: an endpoint's own address means the endpoint"
expect_exit 0 "$bh" explain "${shop[@]}" --from 198.18.10.2 --to shop-api --port 8080/tcp
has_line "$tmp/out" "  from shop-web 198.18.10.2"

step "explain --json parses and carries the verdict and the positions"
expect_exit 0 "$bh" explain "${shop[@]}" --from shop-web --to shop-api --port 8080/tcp --json
jq -e '.allowed == true and .egress.isolated_by[0].group == "web"
       and .egress.isolated_by[0].line == 10 and .ingress.allowed_by[0].line == 28
       and .ingress.allowed_by[0].peer.text == "web" and .ingress.audit.would_deny == false' \
  "$tmp/out" >/dev/null || fail "unexpected JSON: $(cat "$tmp/out")"
expect_exit 1 "$bh" explain "${shop[@]}" --from shop-outsider --to shop-db --port 5432/tcp --json
jq -e '.allowed == false and .egress.isolated == false and .ingress.allowed == false
       and (.ingress.not_matching | length) == 2
       and (.ingress.not_matching | map(.mismatch) | unique) == ["peer"]' "$tmp/out" >/dev/null ||
  fail "unexpected JSON: $(cat "$tmp/out")"

step "explain: audit entries never decide the exit code, and say what they would deny"
mkdir "$tmp/audit"
cp examples/shop/policy.yaml "$tmp/audit/"
cat >"$tmp/audit/lock.yaml" <<'YAML'
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: lock
spec:
  mode: audit
  groups:
    outsider: {selector: app=outsider, isolate: [ingress]}
YAML
expect_exit 0 "$bh" explain "$tmp/audit" --inventory examples/shop/inventory.yaml \
  --from shop-batch --to shop-outsider --port 80/tcp
has_line "$tmp/out" "shop-batch -> shop-outsider 80/tcp: allowed (audit: would deny)"
has_line "$tmp/out" "  audit: would deny (Policy lock, $tmp/audit/lock.yaml:8:5)"

step "explain: usage errors exit 2 with a message that says what is wrong"
expect_exit 2 "$bh" explain "${shop[@]}" --from shop-web --to shop-api --port 8080
has_line "$tmp/err" 'bulkhead explain: --port "8080": a port needs its protocol: 8080/tcp, 8080/udp or 8080/sctp'
expect_exit 2 "$bh" explain "${shop[@]}" --from shop-web --to shop-api --port 8080/tpc
has_line "$tmp/err" 'bulkhead explain: --port "8080/tpc": unknown protocol "tpc"; expected tcp, udp or sctp (or icmp alone)'
expect_exit 2 "$bh" explain "${shop[@]}" --from shop-wbe --to shop-api --port 8080/tcp
has_line "$tmp/err" 'bulkhead explain: --from: no endpoint named "shop-wbe" in the inventory, and it is not an IP address; did you mean shop-web?'
expect_exit 2 "$bh" explain "${shop[@]}" --from 198.19.0.1 --to 198.19.0.2 --port 80/tcp
expect_exit 2 "$bh" explain examples/shop/ --from shop-web --to shop-api --port 8080/tcp
grep -q "inventory" "$tmp/err" || fail "no word about the missing --inventory: $(cat "$tmp/err")"
printf 'apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: x}\nspec:\n  grups: {}\n' >"$tmp/bad.yaml"
expect_exit 2 "$bh" explain "$tmp/bad.yaml" --inventory examples/shop/inventory.yaml \
  --from shop-web --to shop-api --port 8080/tcp
grep -qF "$tmp/bad.yaml:5:3: error:" "$tmp/err" || fail "no file:line:col: $(cat "$tmp/err")"

step "graph: the shop example's DOT matches tests/golden/shop.graph.dot"
expect_exit 0 "$bh" graph "${shop[@]}"
if [ -n "${UPDATE_GOLDEN:-}" ]; then
  cp "$tmp/out" tests/golden/shop.graph.dot
else
  diff -u tests/golden/shop.graph.dot "$tmp/out" || fail "graph output differs from the golden file"
fi

step "graph --format svg: well-formed SVG naming every group, rendered without the dot program"
expect_exit 0 env PATH=/nonexistent "$bh" graph "${shop[@]}" --format svg
xmllint --noout "$tmp/out" || fail "the SVG is not well-formed XML"
grep -q '<svg ' "$tmp/out" || fail "no <svg> element"
for g in web api db batch; do
  grep -q ">$g</text>" "$tmp/out" || fail "group $g missing from the SVG"
done
grep -q '198.19.0.0/16' "$tmp/out" || fail "the CIDR peer is missing from the SVG"
[ -z "${UPDATE_GOLDEN:-}" ] || cp "$tmp/out" docs/shop-graph.svg

step "graph: every example draws as SVG"
for dir in examples/*/; do
  expect_exit 0 "$bh" graph "$dir" --format svg
  xmllint --noout "$tmp/out" || fail "$dir: SVG not well-formed"
done

step "graph: bad usage and missing Graphviz plugins exit 2 with a clear message"
expect_exit 2 "$bh" graph "${shop[@]}" --format png
has_line "$tmp/err" "bulkhead graph: --format must be dot or svg, not 'png'"
mkdir "$tmp/no-plugins"
expect_exit 2 env GVBINDIR="$tmp/no-plugins" "$bh" graph "${shop[@]}" --format svg
grep -q "libgvc6-config-update -c" "$tmp/err" || fail "no hint about the plugins: $(cat "$tmp/err")"
echo "explain and graph: all checks passed"
