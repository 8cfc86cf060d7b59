# Helpers for the script tests. Sourced, not run.
step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# wait_for SECONDS COMMAND...: retries COMMAND every 0.1 s until it succeeds or time runs out.
wait_for() {
  local deadline=$(($(date +%s%N) + $1 * 1000000000))
  shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
has_table() { ip netns exec "$1" nft list table inet bulkhead >/dev/null 2>&1; }
expect_table() { has_table "$1" || fail "no inet bulkhead table in $1"; }
expect_no_table() { ! has_table "$1" || fail "unexpected inet bulkhead table in $1"; }
# lab_begin PREFIX: for a test that runs bulkheadd on a lab of namespaces PREFIX-* (scripts/netlab.sh
# must be sourced). Sets $prefix, a scratch directory $work and $daemon_pid (empty until the test
# starts the daemon); on exit, whatever happened, stops the daemon and removes the lab and $work.
lab_begin() {
  prefix=$1
  work=$(mktemp -d)
  daemon_pid=
  trap lab_end EXIT
}
lab_end() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  netlab_down "$prefix"
  rm -rf "$work"
}
