#!/usr/bin/env bash
# The full test suite: installs dependencies, builds, runs every test with ctest.
# Kernel tests need root (namespaces, nftables, tc); run this as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
ctest --test-dir build --output-on-failure "$@"
