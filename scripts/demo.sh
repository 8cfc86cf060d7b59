#!/usr/bin/env bash
# The shop demo: builds bulkhead, creates five namespaces on a private bridge, shows the
# connectivity matrix before enforcement, enforces examples/shop/policy.yaml with
# `bulkheadd --once`, shows the matrix again and measures the limited group's bandwidth.
#
#   ./scripts/demo.sh          run it and remove the lab afterwards
#   ./scripts/demo.sh --keep   leave the lab (namespaces shop-*) and its inventory in place
#   ./scripts/demo.sh --clean  remove a lab left by --keep
# Needs root (namespaces, nftables, tc).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/netlab.sh

prefix=shop
keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  --clean)
    netlab_down "$prefix"
    echo "demo lab removed"
    exit 0
    ;;
  "") ;;
  *)
    echo "usage: $0 [--keep|--clean]" >&2
    exit 2
    ;;
esac
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 2; }

./scripts/install-deps.sh
echo "building (log: build/demo-build.log) ..."
mkdir -p build
./scripts/build.sh bulkhead bulkheadd >build/demo-build.log 2>&1 || { tail -30 build/demo-build.log; exit 1; }

cleanup() {
  [ -n "${iperf_pid:-}" ] && kill "$iperf_pid" 2>/dev/null
  [ $keep = 1 ] || netlab_down "$prefix"
}
trap cleanup EXIT

netlab_down "$prefix"
# The lab matches the bundled inventory: namespace shop-NAME for endpoint shop-NAME. Its bridge
# has a fixed MAC address (see scripts/netlab.sh), as every test lab's.
netlab_up "$prefix" web=198.18.10.2 api=198.18.10.3 db=198.18.10.4 batch=198.18.10.5 outsider=198.18.10.9
inventory=examples/shop/inventory.yaml
policy=examples/shop/policy.yaml

echo "== The policy =="
build/bulkhead lint "$policy" --inventory "$inventory"
echo
echo "== Before enforcement: every flow passes (X = blocked) =="
build/bulkhead verify "$policy" --inventory "$inventory" --brief || true
echo
echo "== Enforcing: bulkheadd --once =="
build/bulkheadd --policy "$policy" --source "inventory:$inventory" --once
echo
echo "== After enforcement =="
build/bulkhead verify "$policy" --inventory "$inventory"
echo
echo "== Bandwidth: batch -> outsider through batch's egress limit =="
ip netns exec "$prefix-outsider" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
iperf_pid=$!
netlab_wait_listening "$prefix-outsider" 5201 || { echo "iperf3 -s did not start in $prefix-outsider" >&2; exit 1; }
limit=$(build/bulkhead compile "$policy" --inventory "$inventory" --endpoint shop-batch |
  sed -n 's/^# tc egress: rate \([^ ]*\).*/\1/p')
ip netns exec "$prefix-batch" timeout 20 iperf3 -c 198.18.10.9 -p 5201 -t 3 -f m |
  awk -v limit="$limit" '/receiver/ {print "measured: " $7 " " $8 " through an egress limit of " limit}' 
wait "$iperf_pid" 2>/dev/null || true
iperf_pid=
echo
echo "== The rules in web's namespace (bulkhead compile --endpoint shop-web) =="
build/bulkhead compile "$policy" --inventory "$inventory" --endpoint shop-web
if [ $keep = 1 ]; then
  echo "lab kept: namespaces $prefix-*, inventory $inventory; remove it with $0 --clean"
fi
