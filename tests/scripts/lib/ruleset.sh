# Comparing what the kernel holds with what `bulkhead compile` says, per endpoint, as checksums of
# normalized `nft list table inet bulkhead` text (comments and blank lines dropped, counters
# zeroed). Sourced, not run. Needs BUILD (the build tree).

ruleset_normalize() {
  sed -E '/^#/d; /^$/d; s/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/'
}

# ruleset_expected POLICY INVENTORY OUT: "NAME CHECKSUM" per endpoint, sorted; CHECKSUM is "none"
# for an endpoint that gets no table.
ruleset_expected() {
  local dir
  dir=$(mktemp -d "$3.XXXXXX")
  "$BUILD/bulkhead" compile "$1" --inventory "$2" >"$dir/all" || {
    rm -rf "$dir"
    return 1
  }
  awk -v d="$dir" '/^# endpoint /{f = d "/ep-" $3} f {print > f}' "$dir/all"
  rm "$dir/all"
  # A few processes in all, not a few per endpoint: this runs on hundreds of them.
  sed -i -E '/^#/d; /^$/d; s/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/' "$dir"/ep-*
  (cd "$dir" && md5sum ep-*) | awk -v d="$dir" '{
    sub("^ep-", "", $2); f = d "/ep-" $2; l = ""; getline l < f; close(f)
    print $2, (l ~ /^table inet bulkhead/) ? $1 : "none"}' | sort >"$3"
  rm -rf "$dir"
}

# ruleset_seen LIST OUT: LIST holds "NAME NETNS_PATH" lines; OUT gets "NAME CHECKSUM" of what each
# namespace holds now ("none": no table; "gone": no namespace), sorted. One nft process per
# namespace and nothing else per namespace: this runs on hundreds of them.
ruleset_seen() {
  local dir
  dir=$(mktemp -d "$2.XXXXXX")
  D=$dir xargs -P 4 -n 2 sh -c '
    if [ ! -e "$1" ]; then echo gone >"$D/ep-$0"
    elif ! nsenter --net="$1" nft list table inet bulkhead >"$D/ep-$0" 2>/dev/null; then echo none >"$D/ep-$0"
    fi' <"$1"
  if [ -n "$(ls "$dir")" ]; then
    sed -i -E '/^#/d; /^$/d; s/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/' "$dir"/ep-*
    (cd "$dir" && md5sum ep-*) | awk '{sub("^ep-", "", $2); print $2, $1}' >"$dir/sums"
    # Absent tables and namespaces by name, not by checksum.
    awk -v d="$dir" '{f = d "/ep-" $1; getline l < f; close(f); print $1, (l == "none" || l == "gone") ? l : $2}' \
      "$dir/sums" | sort >"$2"
  else
    : >"$2"
  fi
  rm -rf "$dir"
}

# ruleset_list INVENTORY: "NAME NETNS_PATH" for every endpoint of a flow-style inventory (one
# `- {name: N, netns: P, ...}` per line, as the tests write them).
ruleset_list() {
  sed -nE 's/^ *- \{name: ([^,]+), netns: ([^,]+),.*/\1 \2/p' "$1"
}

# ruleset_diff EXPECTED SEEN: prints the endpoints whose checksums differ; fails if any does.
ruleset_diff() {
  join -a1 -a2 -e missing -o 0,1.2,2.2 "$1" "$2" |
    awk '$2 != $3 {print "  " $1 ": expected " $2 ", kernel " $3; bad = 1} END {exit bad}'
}

# chain_policy NAME [PORT]: on stdout, a policy over groups probe and r0..r9 (label role=GROUP):
# probe may reach r1 on 8080/tcp and each rN reaches rN+1 on 8080/tcp (and PORT/tcp when given);
# anything else toward an r group, e.g. probe -> r1 on 7070/tcp, is denied. Two PORTs give every
# isolated endpoint a different table.
chain_policy() {
  local extra=${2:+, $2/tcp}
  cat <<EOF
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: $1
spec:
  groups:
    probe: {selector: role=probe, isolate: []}
EOF
  for g in $(seq 0 9); do echo "    r$g: {selector: role=r$g}"; done
  echo "  allow:"
  echo "    - {from: [probe], to: [r1], ports: [8080/tcp]}"
  for g in $(seq 0 8); do echo "    - {from: [r$g], to: [r$((g + 1))], ports: [8080/tcp$extra]}"; done
}
