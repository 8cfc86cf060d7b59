#!/usr/bin/env bash
# A private Docker engine for tests (docs/architecture.md, Tests): everything it owns lives under
# DIR, so it never touches a system engine, and `stop` leaves nothing behind.
#
#   scripts/docker-test-engine.sh start DIR   start dockerd on unix://DIR/docker.sock, import the
#                                             test image bulkhead-test/busybox:1
#   scripts/docker-test-engine.sh stop DIR    remove containers and networks, stop, clean up DIR
#   scripts/docker-test-engine.sh kill DIR    SIGKILL dockerd only, keeping its state (to test a
#                                             source's reconnect); `start DIR` brings it back
#   scripts/docker-test-engine.sh restart DIR stop dockerd as a shutdown does (it stops its
#                                             containers) and start it again: it starts those
#                                             with a restart policy, as at boot
#
# Then: DOCKER_HOST=unix://DIR/docker.sock docker run ... bulkhead-test/busybox:1 sleep 3600
#
# Extra dockerd options (e.g. `--add-runtime bulkhead=PATH --default-runtime bulkhead`, as the
# born-enforced tests use) come from $BULKHEAD_DOCKERD_ARGS, split on spaces.
#
# Networking: --bridge=none, so the engine makes no docker0 in the host's namespace; a test that
# needs addresses creates a user-defined network (`docker network create NAME`), which takes its
# subnet from the default pool 198.19.0.0/16 (override: BULKHEAD_DOCKER_POOL). No iptables rules,
# no masquerading, no ip_forward change. Needs docker.io and busybox-static (install-deps.sh);
# installs nothing itself and pulls nothing from a registry.
#
# BULKHEAD_ENGINE_NETNS=NAME runs dockerd inside the network namespace NAME (which the test made),
# so its bridges and the host ends of its containers' veths live there and not in the machine's
# own namespace; BULKHEAD_DOCKER_IPTABLES=true then lets the engine write its iptables rules (and
# masquerading) there too, as a stock engine does.
set -euo pipefail

readonly IMAGE=bulkhead-test/busybox:1

usage() {
  echo "usage: $0 start|stop|kill|restart DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

engine_pid() {
  local pid
  pid=$(cat "$dir/docker.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

dk() { docker -H "unix://$dir/docker.sock" "$@"; }

wait_gone() {  # PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

make_image() {
  if dk image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
  local busybox root
  busybox=$(command -v busybox || true)
  if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    busybox=/bin/busybox  # busybox-static's binary; file(1) may be missing
  fi
  [ -x "$busybox" ] || { echo "busybox-static is not installed" >&2; return 1; }
  root=$(mktemp -d "$dir/rootfs.XXXXXX")
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,var/www}
  cp "$busybox" "$root/bin/busybox"
  local applet
  for applet in $("$busybox" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -c . | dk import --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
  rm -rf "$root"
}

start() {
  mkdir -p "$dir"
  if [ -z "$(engine_pid)" ]; then
    # Unix socket paths are limited to 108 bytes; containerd's lives under the exec root.
    if [ ${#dir} -gt 60 ]; then
      echo "DIR is too long for the engine's sockets: $dir" >&2
      return 2
    fi
    local in_netns=() iptables=${BULKHEAD_DOCKER_IPTABLES:-false}
    # nsenter, not `ip netns exec`: that remounts /sys, which hides the cgroup mounts dockerd needs.
    [ -z "${BULKHEAD_ENGINE_NETNS:-}" ] || in_netns=(nsenter "--net=/run/netns/$BULKHEAD_ENGINE_NETNS")
    # shellcheck disable=SC2086 # BULKHEAD_DOCKERD_ARGS is words
    "${in_netns[@]}" dockerd \
      --data-root "$dir/data" \
      --exec-root "$dir/exec" \
      --pidfile "$dir/docker.pid" \
      -H "unix://$dir/docker.sock" \
      --bridge=none \
      --default-address-pool "base=${BULKHEAD_DOCKER_POOL:-198.19.0.0/16},size=24" \
      --iptables="$iptables" --ip-masq="$iptables" --ip-forward=false \
      --userland-proxy=false \
      ${BULKHEAD_DOCKERD_ARGS:-} \
      >>"$dir/dockerd.log" 2>&1 &
  fi
  local i
  for ((i = 0; i < 300; i++)); do
    if dk version >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  if ! dk version >/dev/null 2>&1; then
    echo "dockerd did not answer on $dir/docker.sock; its log:" >&2
    tail -n 30 "$dir/dockerd.log" >&2 || true
    return 1
  fi
  make_image
}

kill_engine() {
  local pid
  pid=$(engine_pid)
  [ -n "$pid" ] || return 0
  kill -KILL "$pid"
  wait_gone "$pid" 10
}

restart_engine() {
  local pid
  pid=$(engine_pid)
  if [ -n "$pid" ]; then
    kill -TERM "$pid"
    wait_gone "$pid" 30 || { echo "dockerd did not stop within 30 s" >&2; return 1; }
  fi
  start
}

stop() {
  [ -d "$dir" ] || return 0
  local pid nets=""
  pid=$(engine_pid)
  if [ -n "$pid" ]; then
    local ids
    ids=$(dk ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || dk rm -f $ids >/dev/null 2>&1 || true
    nets=$(dk network ls -q --no-trunc --filter type=custom 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$nets" ] || dk network rm $nets >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 20 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
  fi
  # A network the engine could not remove (an endpoint it still counted) leaves its bridge, and
  # with it a route that Podman then refuses to overlap: remove it by its name, br-<id>.
  local net
  local in_netns=()
  [ -z "${BULKHEAD_ENGINE_NETNS:-}" ] || in_netns=(ip -n "$BULKHEAD_ENGINE_NETNS")
  for net in $nets; do
    if "${in_netns[@]:-ip}" link show "br-${net:0:12}" >/dev/null 2>&1; then
      "${in_netns[@]:-ip}" link del "br-${net:0:12}" || true
    fi
  done
  # The engine's containerd and shims outlive a killed dockerd: end those that belong to DIR.
  local p
  for p in $(pgrep -f -- "$dir/" || true); do
    if [ "$p" != $$ ]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  # Mounts under DIR (overlay layers, netns bind mounts, shm), deepest first.
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  kill) kill_engine ;;
  restart) restart_engine ;;
  *) usage ;;
esac
