#!/usr/bin/env bash
# The usage text: `--help` works for every command, each command's usage line is the one in
# `bulkhead --help`, and README.md's CLI block is exactly the synopsis of `bulkhead --help` and
# `bulkheadd --help` (the text lives in the commands' option tables; this keeps the README honest).
# usage: cli_help.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$2"
source tests/scripts/lib/common.sh
bh=$build/bulkhead
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

squeeze() { tr -s ' '; }

step "bulkhead --help lists every command's synopsis"
expect_exit 0 "$bh" --help
grep '^bulkhead ' "$tmp/out" >"$tmp/synopsis"
commands=$(awk '{ print $2 }' "$tmp/synopsis")
[ "$(echo $commands)" = "lint compile explain graph verify status" ] || fail "commands: $commands"

step "README.md's CLI block is bulkhead's and bulkheadd's synopsis, line for line"
# The first code block after "## The CLI".
awk '/^## The CLI$/ { on = 1; next } on && /^```/ { if (inside) exit; inside = 1; next }
     inside { print }' README.md >"$tmp/readme"
expect_exit 0 "$build/bulkheadd" --help
head -1 "$tmp/out" | sed -e 's/^usage: //' -e 's/:$//' >"$tmp/daemon"
cat "$tmp/synopsis" "$tmp/daemon" >"$tmp/expected"
diff -u "$tmp/expected" "$tmp/readme" || fail "README.md's CLI block differs from --help (above: - is --help, + is README)"

for c in $commands; do
  step "bulkhead $c --help: exit 0, its usage line, every option"
  expect_exit 0 "$bh" "$c" --help
  want="usage: $(grep "^bulkhead $c " "$tmp/synopsis" | squeeze)"
  [ "$(head -1 "$tmp/out")" = "$want" ] || fail "$c --help starts with '$(head -1 "$tmp/out")', not '$want'"
  for opt in $(grep -o -- '--[a-z-]*' <<<"$want" | sort -u); do
    grep -qE "^  $opt( |$)" "$tmp/out" || fail "$c --help does not describe $opt"
  done
  cp "$tmp/out" "$tmp/help-$c"
  expect_exit 0 "$bh" help "$c"
  diff -u "$tmp/help-$c" "$tmp/out" || fail "bulkhead help $c differs from bulkhead $c --help"
  # --help wins over missing required options.
  expect_exit 0 "$bh" "$c" -h
  step "bulkhead $c --bogus: exit 2 with the usage on stderr"
  expect_exit 2 "$bh" "$c" --bogus
  grep -qxF "$want" "$tmp/err" || fail "$c: usage error without the usage line: $(cat "$tmp/err")"
done

step "no command, or an unknown one: exit 2 with the overview"
expect_exit 2 "$bh"
grep -q '^bulkhead lint ' "$tmp/err" || fail "no overview on stderr"
expect_exit 2 "$bh" frobnicate
grep -qF "bulkhead: unknown command 'frobnicate'" "$tmp/err" || fail "unknown command not named"
echo "cli_help: ok"
