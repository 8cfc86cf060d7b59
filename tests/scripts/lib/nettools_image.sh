# A second local test image, bulkhead-test/nettools:1: the busybox root filesystem of
# scripts/docker-test-engine.sh plus the host's nft and tc and the shared libraries they load, so a
# container can change its own namespace's rules, and coreutils' date (busybox's has no %N). Built with `docker import`; nothing is pulled.
# Sourced, not run. Needs dk() (lib/docker.sh) and ENGINE.

NETTOOLS_IMAGE=bulkhead-test/nettools:1

make_nettools_image() {
  dk image inspect "$NETTOOLS_IMAGE" >/dev/null 2>&1 && return 0
  local root bin f applet
  root=$(mktemp -d "$ENGINE/nettools.XXXXXX")
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,var/www}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  for bin in "$(command -v nft)" "$(command -v tc)" /usr/bin/date; do
    # The tools replace busybox's applets of the same name.
    for d in bin sbin usr/bin usr/sbin; do rm -f "$root/$d/$(basename "$bin")"; done
    cp "$bin" "$root/usr/sbin/"
    # Every library ldd lists, and the loader, at the same path as on the host.
    for f in $(ldd "$bin" | grep -oE '/[^ ]+'); do
      mkdir -p "$root$(dirname "$f")"
      cp -L "$f" "$root$f"
    done
  done
  echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -c . | dk import --change 'CMD ["/bin/sh"]' - "$NETTOOLS_IMAGE" >/dev/null
  rm -rf "$root"
}
