# The setup both hook benchmarks share: a private Docker engine directory ($ENGINE), the test
# library that drives it, and a cleanup that stops the daemon they start ($daemon_pid) and the
# engine, even when the benchmark fails. Source it with $src and $build set; $1 is the name
# prefix of the engine's temporary directory.
ENGINE=$(mktemp -d "/tmp/$1.XXXXXX")
BUILD=$build
source "$src/tests/scripts/lib/docker.sh"
daemon_pid=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  bash "$src/scripts/docker-test-engine.sh" stop "$ENGINE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
hook_sock=$ENGINE/hook.sock
