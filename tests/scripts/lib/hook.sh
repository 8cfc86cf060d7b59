# What the born-enforced engine tests share (hook_docker.sh, hook_podman.sh): the policy, the
# container's probing first act, its verdicts, and the table in its namespace. Source it after
# defining `engine NAME...` (the test engine's docker CLI) and `pid_of NAME`.
# The policy: app=sandbox may send only to app=allowed on 80/tcp; app=client may send only to
# app=sandbox on 8080/tcp; everything else is unselected.
write_born_policy() {  # FILE
  cat >"$1" <<'YAML'
apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: born
spec:
  groups:
    sandbox:
      selector: app=sandbox
      isolate: [egress]
    allowed:
      selector: app=allowed
    client:
      selector: app=client
      isolate: [egress]
  allow:
    - {from: [sandbox], to: [allowed], ports: [80/tcp]}
    - {from: [client], to: [sandbox], ports: [8080/tcp]}
YAML
}
# The container's first act: a server on 8080 and a loopback probe of it, then the allowed peer
# when given, then the peer; the verdicts go to its log, then it stays up for the daemon to take
# over.
first_act_for() {  # PEER_ADDRESS [ALLOWED_PEER_ADDRESS]
  echo "httpd -p 8080 -h /tmp;
if nc -w 1 127.0.0.1 8080 </dev/null; then echo LOOPBACK_OK; else echo LOOPBACK_BLOCKED; fi;
${2:+if nc -w 1 $2 80 </dev/null; then echo ALLOWED_CONNECTED; else echo ALLOWED_BLOCKED; fi;}
if nc -w 1 $1 80 </dev/null; then echo PEER_CONNECTED; else echo PEER_BLOCKED; fi;
exec sleep 600"
}
verdicts() { engine logs "$1" 2>&1 | grep -E '^(LOOPBACK|ALLOWED|PEER)_' | tr '\n' ' '; }
has_verdicts() { [ "$(engine logs "$1" 2>&1 | grep -cE '^PEER_')" = 1 ]; }
expect_verdicts() {  # NAME "LOOPBACK_x PEER_y "
  wait_for 10 has_verdicts "$1" || fail "$1 printed no verdict: $(engine logs "$1" 2>&1 | tail -3)"
  [ "$(verdicts "$1")" = "$2" ] || fail "$1: got '$(verdicts "$1")', expected '$2'"
}
table_text() { nsenter -t "$(pid_of "$1")" -n nft list table inet bulkhead 2>/dev/null; }
# (Text in a variable first: grep -q closing a pipe early would fail nft, and pipefail with it.)
table_has() {  # NAME TEXT
  local t
  t=$(table_text "$1") || return 1
  grep -qF -- "$2" <<<"$t"
}
is_quarantined() { table_has "$1" 'comment "bulkhead quarantine"'; }
has_real_table() { table_has "$1" 'isolated by born' && ! is_quarantined "$1"; }
has_no_table() { ! table_text "$1" >/dev/null; }
