#!/usr/bin/env bash
# A private Podman Docker-compatible service for tests (docs/architecture.md, Tests), the Podman
# twin of docker-test-engine.sh: storage, state, events and network configs all live under DIR.
#
#   scripts/podman-test-engine.sh start DIR   serve unix://DIR/podman.sock, import
#                                             bulkhead-test/busybox:1
#   scripts/podman-test-engine.sh stop DIR    remove containers and networks, stop, clean up DIR
#
# Then drive it with the Docker CLI: docker -H unix://DIR/podman.sock run ... A test's containers
# get `nofile` and `nproc` limits of 4096 from DIR/containers.conf (Podman's defaults exceed what
# this machine allows); networks must be created with a subnet inside 198.19.0.0/16. Needs
# podman and busybox-static; installs nothing, pulls nothing. Extra global podman options for the
# service (e.g. `--hooks-dir DIR`) come from $BULKHEAD_PODMAN_ARGS, split on spaces.
set -euo pipefail

readonly IMAGE=bulkhead-test/busybox:1

[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
cmd=$1
dir=$2

export CONTAINERS_CONF="$dir/containers.conf"
pm() {
  podman --root "$dir/storage" --runroot "$dir/run" --tmpdir "$dir/tmp" \
    --network-config-dir "$dir/net" --events-backend file --cgroup-manager cgroupfs "$@"
}

service_pid() {
  local pid
  pid=$(cat "$dir/podman.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

start() {
  mkdir -p "$dir"/{storage,run,tmp,net}
  cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[network]
default_subnet = "198.19.254.0/24"
EOF
  if [ -z "$(service_pid)" ]; then
    # shellcheck disable=SC2086 # BULKHEAD_PODMAN_ARGS (e.g. --hooks-dir DIR) is words
    setsid podman --root "$dir/storage" --runroot "$dir/run" --tmpdir "$dir/tmp" \
      --network-config-dir "$dir/net" --events-backend file --cgroup-manager cgroupfs \
      ${BULKHEAD_PODMAN_ARGS:-} system service --time=0 "unix://$dir/podman.sock" >>"$dir/podman.log" 2>&1 &
    echo $! >"$dir/podman.pid"
  fi
  local t0=$SECONDS
  until podman --url "unix://$dir/podman.sock" version >/dev/null 2>&1; do
    if ((SECONDS - t0 > 60)); then
      echo "podman did not answer on $dir/podman.sock; its log:" >&2
      tail -n 30 "$dir/podman.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  if ! pm image exists "$IMAGE"; then
    local root applet
    root=$(mktemp -d "$dir/rootfs.XXXXXX")
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev}
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list-full); do
      [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
    tar -C "$root" -c . | pm import --change 'CMD ["/bin/sh"]' - "$IMAGE" >"$dir/import.log" 2>&1
    rm -rf "$root"
  fi
}

stop() {
  [ -d "$dir" ] || return 0
  pm rm -af -t 0 >/dev/null 2>&1 || true
  pm rm -af -t 0 >/dev/null 2>&1 || true  # containers that others joined go in a second round
  local nets
  nets=$(pm network ls -q 2>/dev/null | grep -vx podman || true)
  # shellcheck disable=SC2086
  [ -z "$nets" ] || pm network rm -f $nets >/dev/null 2>&1 || true
  local pid
  pid=$(service_pid)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local p
  for p in $(pgrep -f -- "$dir/" || true); do kill -KILL "$p" 2>/dev/null || true; done
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
