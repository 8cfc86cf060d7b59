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
  docker.io busybox-static podman jq prometheus-cpp-dev libcap-ng-dev
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
