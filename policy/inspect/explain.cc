// explain() re-walks the model for one flow and keeps every reason it finds. It uses the selection
// helpers compile() uses (resolve.h), not the reference evaluator, so tests can hold the two
// against each other.
#include "policy/inspect/explain.h"

#include <algorithm>

#include "policy/model/describe.h"
#include "policy/model/resolve.h"

namespace bulkhead::policy {
namespace {

bool has_ports(Protocol p) {
  return p == Protocol::tcp || p == Protocol::udp || p == Protocol::sctp;
}

// Whether `spec` admits the flow's port; `dst` (the receiving endpoint, nullptr outside) resolves
// named ports. On a match, `text` says what matched ("http/tcp (8080/tcp)" for a named port).
bool port_admits(const PortSpec& spec, const FlowQuery& q, const Endpoint* dst, std::string* text) {
  *text = port_spec_text(spec);
  if (!spec.named.empty()) {
    if (!dst) return false;
    const auto np = resolve_named_port(spec, *dst);
    if (!np || np->proto != q.proto || np->port != q.port) return false;
    *text += " (" + flow_port_text(np->proto, np->port) + ")";
    return true;
  }
  if (spec.proto == Protocol::icmp) return q.proto == Protocol::icmp;
  if (spec.proto == Protocol::any && spec.first == 0) return true;
  if (!has_ports(q.proto)) return false;
  if (spec.proto != Protocol::any && spec.proto != q.proto) return false;
  if (spec.first == 0) return true;
  return q.port >= spec.first && q.port <= std::max(spec.first, spec.last);
}

bool peer_admits(const Peer& peer, const FlowEnd& other, const NamespaceIndex& namespaces) {
  if (const auto* c = std::get_if<CidrPeer>(&peer.what))
    return other.addr && cidr_peer_contains(*c, *other.addr);
  return other.endpoint &&
         peer_selects(std::get<EndpointPeer>(peer.what), *other.endpoint, namespaces);
}

std::string rule_summary(const AllowRule& r) {
  std::string s = r.dir == Direction::ingress ? "from " : "to ";
  if (r.any_peer) {
    s += "any peer";
  } else if (r.peers.empty()) {
    s += "no peer";
  } else {
    for (size_t i = 0; i < r.peers.size(); ++i) s += (i ? ", " : "") + peer_text(r.peers[i]);
  }
  s += " on ";
  if (r.any_port) {
    s += "any port";
  } else if (r.ports.empty()) {
    s += "no port";
  } else {
    for (size_t i = 0; i < r.ports.size(); ++i) s += (i ? ", " : "") + port_spec_text(r.ports[i]);
  }
  return s;
}

RuleRef check_rule(const AllowRule& r, const FlowEnd& other, const Endpoint* dst,
                   const FlowQuery& q, const NamespaceIndex& namespaces) {
  RuleRef ref;
  ref.origin = r.origin;
  ref.summary = rule_summary(r);
  if (r.any_peer) {
    ref.peer_matches = true;
    ref.peer = "any peer";
  }
  for (const auto& p : r.peers) {
    if (ref.peer_matches) break;
    if (peer_admits(p, other, namespaces)) {
      ref.peer_matches = true;
      ref.peer = peer_text(p);
      ref.peer_pos = p.pos;
    }
  }
  if (!ref.peer_matches) return ref;
  if (r.any_port) {
    ref.admits = true;
    ref.port = "any port";
    return ref;
  }
  for (const auto& p : r.ports) {
    std::string text;
    if (port_admits(p, q, dst, &text)) {
      ref.admits = true;
      ref.port = std::move(text);
      ref.port_pos = p.pos;
      break;
    }
  }
  return ref;
}

bool any_admits(const std::vector<RuleRef>& rules) {
  for (const auto& r : rules)
    if (r.admits) return true;
  return false;
}

SideExplanation explain_side(const PolicySet& ps, const NamespaceIndex& namespaces, Direction dir,
                             const FlowEnd& self, const FlowEnd& other, const FlowQuery& q) {
  SideExplanation side;
  side.dir = dir;
  if (!self.endpoint) return side;  // outside: nothing of bulkhead's on this end
  side.enforced = true;
  const Endpoint& ep = *self.endpoint;
  SideIsolation isolation = isolations_of(ps, ep, dir);
  side.isolated_by = std::move(isolation.enforcing);
  side.audit_isolated_by = std::move(isolation.audit);
  const Endpoint* dst = dir == Direction::ingress ? self.endpoint : other.endpoint;
  for (const auto& r : ps.rules) {
    if (r.dir != dir || !subject_selects(r.subject, ep)) continue;
    (r.origin.audit ? side.audit_rules : side.rules)
        .push_back(check_rule(r, other, dst, q, namespaces));
  }
  const bool admitted = any_admits(side.rules);
  side.allowed = !side.isolated() || admitted;
  // With the audit entries enforced too, the side is isolated by either kind and admitted by a
  // rule of either kind: by the union semantics that can only take away what enforcement allows.
  const bool audit_isolated = side.isolated() || !side.audit_isolated_by.empty();
  const bool audit_allowed = !audit_isolated || admitted || any_admits(side.audit_rules);
  side.would_deny = side.allowed && !audit_allowed;
  return side;
}

}  // namespace

Explanation explain(const PolicySet& policies, const FlowQuery& query) {
  Explanation e;
  e.query = query;
  e.egress.dir = Direction::egress;
  e.ingress.dir = Direction::ingress;
  const Endpoint* from = query.from.endpoint;
  const Endpoint* to = query.to.endpoint;
  if (from && to && from->name == to->name) {
    // Loopback is accepted before any policy rule in every enforced namespace.
    e.loopback = e.allowed = true;
    e.egress.enforced = e.ingress.enforced = true;
    return e;
  }
  const NamespaceIndex namespaces(policies);
  e.egress = explain_side(policies, namespaces, Direction::egress, query.from, query.to, query);
  e.ingress = explain_side(policies, namespaces, Direction::ingress, query.to, query.from, query);
  e.allowed = e.egress.allowed && e.ingress.allowed;
  e.would_deny = e.allowed && (e.egress.would_deny || e.ingress.would_deny);
  return e;
}

}  // namespace bulkhead::policy
