# Helpers for the script tests. Sourced, not run.
step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_exit CODE CMD...: runs CMD with its stdout in $tmp/out and stderr in $tmp/err (the test
# sets $tmp) and fails, showing both, unless it exits CODE.
expect_exit() {
  local want=$1 rc=0
  shift
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" != "$want" ]; then
    cat "$tmp/out" "$tmp/err" >&2
    fail "exit code $rc, expected $want: $*"
  fi
}
# has_line FILE LINE: FILE has exactly this line.
has_line() { grep -qxF -- "$2" "$1" || { cat "$1" >&2; fail "no line '$2' in $1"; }; }
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
# The time now as status writes it (counters_at): UTC with milliseconds.
utc_ms() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
# counters_read_since SOCKET ENDPOINT TIME: the daemon's status shows ENDPOINT's rule counters as
# read at TIME or later. Status answers from the last resync's reading, so a test that counts
# packets it sent waits for a reading taken after them.
counters_read_since() {
  "$build/bulkhead" status --status-socket "$1" --json |
    jq -e --arg n "$2" --arg t "$3" '.endpoints[] | select(.name == $n) | .counters_at >= $t' >/dev/null
}
# lab_begin PREFIX: for a test that runs bulkheadd on a lab of namespaces PREFIX-* (scripts/netlab.sh
# must be sourced). Sets $prefix, a scratch directory $work, and $daemon_pid and $server_pid (empty
# until the test starts them); on exit or a signal, whatever happened, stops both, runs the test's
# own lab_extra_cleanup if it defines one, and removes the lab and $work.
lab_begin() {
  prefix=$1
  work=$(mktemp -d)
  daemon_pid=
  server_pid=
  trap lab_end EXIT
  trap 'exit 130' INT TERM HUP
}
lab_end() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  declare -F lab_extra_cleanup >/dev/null && lab_extra_cleanup
  netlab_down "$prefix"
  rm -rf "$work"
}
