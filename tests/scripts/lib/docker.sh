# Helpers for tests and benches on the private Docker engine (scripts/docker-test-engine.sh).
# Sourced, not run. Set ENGINE (the engine's directory) and BUILD (the build tree) first.
# Needs jq.

DOCKER_IMAGE=bulkhead-test/busybox:1

dk() { docker -H "unix://$ENGINE/docker.sock" "$@"; }

container_pid() { dk inspect -f '{{.State.Pid}}' "$1" 2>/dev/null; }

# docker_inventory OUT: an inventory (docs/policy.md, Inventory) of every running container, from
# `docker inspect`: the name, /proc/<pid>/ns/net, the labels (as JSON, which is YAML flow style,
# so keys with dots and slashes are quoted) and the networks' addresses.
docker_inventory() {
  local out=$1 ids
  ids=$(dk ps -q)
  {
    echo "endpoints:"
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      dk inspect -f '  - {name: {{json (slice .Name 1)}}, netns: /proc/{{.State.Pid}}/ns/net, labels: {{json .Config.Labels}}, addresses: [{{range $n, $v := .NetworkSettings.Networks}}{{if $v.IPAddress}}{{$v.IPAddress}}, {{end}}{{end}}]}' $ids |
        sed 's/, \]}$/]}/; s/labels: null/labels: {}/'
    fi
  } >"$out.tmp"
  mv "$out.tmp" "$out"
}

# status_json SOCKET: the daemon's status as JSON on stdout.
status_json() { "$BUILD/bulkhead" status --status-socket "$1" --json; }

# is_enforced SOCKET NAME: the daemon reports NAME enforced in the container's current namespace.
is_enforced() {
  local pid
  pid=$(container_pid "$2") || return 1
  [ -n "$pid" ] && [ "$pid" -gt 0 ] || return 1
  status_json "$1" | jq -e --arg n "$2" --arg ns "/proc/$pid/ns/net" \
    'any(.endpoints[]; .name == $n and .state == "enforced" and .netns == $ns)' >/dev/null
}

# count_enforced SOCKET PREFIX: how many endpoints whose name starts with PREFIX are enforced.
count_enforced() {
  status_json "$1" | jq --arg p "$2" '[.endpoints[] | select((.name | startswith($p)) and .state == "enforced")] | length'
}

# ns_has_table NAME: the container's namespace holds the inet bulkhead table.
ns_has_table() {
  local pid
  pid=$(container_pid "$1") || return 1
  [ -n "$pid" ] && [ "$pid" -gt 0 ] && nsenter -t "$pid" -n nft list table inet bulkhead >/dev/null 2>&1
}

# ns_set NAME SET: the elements of set SET in the container's table, one per line.
ns_set() {
  local pid
  pid=$(container_pid "$1") || return 1
  nsenter -t "$pid" -n nft -j list set inet bulkhead "$2" |
    jq -r '.nftables[] | select(.set) | .set.elem // [] | .[] | if type == "object" then (.prefix.addr // .range[0] // tostring) else . end'
}

# tcp_probe FROM_PID ADDR PORT: 0 connected, 1 refused, 124 no answer within 0.3 s.
tcp_probe() {
  nsenter -t "$1" -n timeout 0.3 bash -c "echo >/dev/tcp/$2/$3" 2>/dev/null
}
