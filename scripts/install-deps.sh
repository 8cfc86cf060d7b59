#!/usr/bin/env bash
# Installs everything bulkhead needs to build, test and run its demo on Debian 12. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential cmake ninja-build pkg-config git
  libnftnl-dev libmnl-dev libnl-3-dev libnl-route-3-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libboost-program-options-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgraphviz-dev libxml2-utils
  clang-14 libclang-rt-14-dev
  nftables iproute2 iperf3 procps kmod
  docker.io busybox-static podman jq prometheus-cpp-dev libcap-ng-dev libsystemd-dev
  libssl-dev etcd-server etcd-client curl
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's etcd-server enables and starts a system etcd on localhost:2379/2380 when systemd runs.
# bulkhead needs none: the cluster tests start their own etcd on free high ports with a data
# directory of their own, and a deployment points bulkheadd at its real etcd. So when this script
# is what installed etcd-server, the packaged service is disabled and stopped (an etcd an admin
# enabled later is left alone; without systemd, as in a container, nothing was started).
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
