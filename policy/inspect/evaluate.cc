// Two deliberately independent evaluators. reference_allows re-derives every rule of model.h from
// the policy objects without sharing code with compile(); plan_allows knows only the Plan and the
// kernel's rule semantics. The differential test relies on their independence.
#include "policy/inspect/evaluate.h"

#include <algorithm>

namespace bulkhead::policy {
namespace {

// ---- reference: straight from the model ----

bool subject_has(const Subject& s, const Endpoint& e) {
  return (!s.ns || *s.ns == e.k8s_namespace()) && s.pods.matches(e.labels);
}

Labels labels_of_namespace(const PolicySet& ps, const std::string& ns) {
  Labels labels;
  for (const auto& info : ps.namespaces) {
    if (info.name == ns) labels.insert(info.labels.begin(), info.labels.end());
  }
  labels[kNamespaceNameLabel] = ns;
  return labels;
}

bool peer_has(const PolicySet& ps, const Peer& peer, const Endpoint* other, const IpAddr& addr) {
  if (const auto* c = std::get_if<CidrPeer>(&peer.what)) {
    if (!c->cidr.contains(addr)) return false;
    for (const auto& e : c->except)
      if (e.contains(addr)) return false;
    return true;
  }
  if (!other) return false;
  const auto& p = std::get<EndpointPeer>(peer.what);
  if (!p.pods.matches(other->labels)) return false;
  const std::string ns = other->k8s_namespace();
  switch (p.namespaces.kind) {
    case NamespaceScope::Kind::any:
      return true;
    case NamespaceScope::Kind::named:
      return p.namespaces.name == ns;
    case NamespaceScope::Kind::selector:
      return p.namespaces.selector.matches(labels_of_namespace(ps, ns));
  }
  return false;
}

bool has_ports(Protocol p) {
  return p == Protocol::tcp || p == Protocol::udp || p == Protocol::sctp;
}

// `dst` is the flow's receiving endpoint (nullptr outside): named ports are its ports.
bool port_has(const PortSpec& spec, const Flow& flow, const Endpoint* dst) {
  if (!spec.named.empty()) {
    if (!dst) return false;
    for (const auto& np : dst->ports) {
      if (np.name != spec.named) continue;
      if (spec.proto != Protocol::any && spec.proto != np.proto) continue;
      return np.proto == flow.proto && np.port == flow.port;
    }
    return false;
  }
  if (spec.proto == Protocol::icmp) return flow.proto == Protocol::icmp;
  if (spec.proto == Protocol::any) {
    if (spec.first == 0) return true;
    if (!has_ports(flow.proto)) return false;
  } else if (spec.proto != flow.proto) {
    return false;
  }
  if (spec.first == 0) return true;
  return flow.port >= spec.first && flow.port <= std::max(spec.first, spec.last);
}

struct Side {
  bool allowed = true;
  bool would_deny = false;
};

// Whether the model's `dir` side of `self` admits the flow, counting only enforcing entries or
// (with_audit) audit ones too; `other` / `other_addr` is the far end.
bool side_admits(const PolicySet& ps, Direction dir, const Endpoint& self, const Endpoint* other,
                 const IpAddr& other_addr, const Flow& flow, bool with_audit) {
  bool isolated = false;
  for (const auto& iso : ps.isolations)
    if (iso.dir == dir && (with_audit || !iso.origin.audit) && subject_has(iso.subject, self))
      isolated = true;
  if (!isolated) return true;
  const Endpoint* dst = dir == Direction::ingress ? &self : other;
  for (const auto& rule : ps.rules) {
    if (rule.dir != dir || (!with_audit && rule.origin.audit)) continue;
    if (!subject_has(rule.subject, self)) continue;
    bool peer_ok = rule.any_peer;
    for (const auto& p : rule.peers) peer_ok = peer_ok || peer_has(ps, p, other, other_addr);
    if (!peer_ok) continue;
    bool port_ok = rule.any_port;
    for (const auto& p : rule.ports) port_ok = port_ok || port_has(p, flow, dst);
    if (port_ok) return true;
  }
  return false;
}

// Enforcement is what it would be without the audit entries; "would deny" is what changes when
// they are enforced too.
Side side_allows(const PolicySet& ps, Direction dir, const Endpoint& self, const Endpoint* other,
                 const IpAddr& other_addr, const Flow& flow) {
  Side s;
  s.allowed = side_admits(ps, dir, self, other, other_addr, flow, false);
  s.would_deny = s.allowed && !side_admits(ps, dir, self, other, other_addr, flow, true);
  return s;
}

// ---- plan: the kernel's view ----

const EndpointPlan* plan_of(const Plan& plan, const Endpoint* e) {
  if (!e) return nullptr;
  auto it = std::lower_bound(
      plan.endpoints.begin(), plan.endpoints.end(), e->name,
      [](const EndpointPlan& p, const std::string& name) { return p.endpoint < name; });
  return it != plan.endpoints.end() && it->endpoint == e->name ? &*it : nullptr;
}

bool set_has(const NftTable& table, const std::string& name, const IpAddr& addr) {
  for (const auto& s : table.sets) {
    if (s.name != name) continue;
    if (s.family != addr.family) return false;
    for (const auto& r : s.elements)
      if (!(addr < r.first) && !(r.last < addr)) return true;
    return false;
  }
  return false;  // the kernel refuses a rule naming a missing set; it can never match
}

bool allow_matches(const NftTable& table, const NftRule& r, Hook hook, const Flow& flow) {
  const int family = flow.from_addr.family;
  if (r.family != 0 && r.family != family) return false;
  if (!r.peer_set.empty()) {
    const IpAddr& addr = hook == Hook::input ? flow.from_addr : flow.to_addr;
    if (!set_has(table, r.peer_set, addr)) return false;
  }
  switch (r.proto) {
    case L4::any:
      return true;
    case L4::icmp:
      return flow.proto == Protocol::icmp && family == 4;
    case L4::icmpv6:
      return flow.proto == Protocol::icmp && family == 6;
    case L4::tcp:
      if (flow.proto != Protocol::tcp) return false;
      break;
    case L4::udp:
      if (flow.proto != Protocol::udp) return false;
      break;
    case L4::sctp:
      if (flow.proto != Protocol::sctp) return false;
      break;
  }
  if (r.port_first == 0) return true;
  return flow.port >= r.port_first && flow.port <= std::max(r.port_first, r.port_last);
}

// A NEW connection's first packet through one base chain: the first verdict wins, and a chain
// that ends without one applies its policy, accept. Reaching an audit chain's final accept is
// what "would deny" means in the kernel.
Side chain_allows(const EndpointPlan* ep, Hook hook, const Flow& flow, bool local) {
  if (!ep || !ep->table) return {};
  const NftTable& table = *ep->table;
  for (const auto& chain : table.chains) {
    if (chain.hook != hook) continue;
    for (const auto& r : chain.rules) {
      switch (r.kind) {
        case RuleKind::ct_established_accept:
        case RuleKind::ct_invalid_drop:
        case RuleKind::icmpv6_nd_accept:  // flows here are connections, never neighbour discovery
          break;
        case RuleKind::loopback_accept:
          if (local) return {};
          break;
        case RuleKind::allow:
          if (allow_matches(table, r, hook, flow)) return {};
          break;
        case RuleKind::log:  // no verdict: the packet goes on
          break;
        case RuleKind::final_drop:
          return {false, false};
        case RuleKind::final_accept:
          return {true, true};
        case RuleKind::vmap_saddr:  // the host layer's kinds; an endpoint's table has none
        case RuleKind::vmap_daddr:
        case RuleKind::vmap_iifname:
        case RuleKind::arp_sender_allow:
          break;
      }
    }
  }
  return {};
}

Verdict combine(const Side& egress, const Side& ingress) {
  Verdict v;
  v.egress_allowed = egress.allowed;
  v.ingress_allowed = ingress.allowed;
  v.egress_would_deny = egress.would_deny;
  v.ingress_would_deny = ingress.would_deny;
  v.allowed = v.egress_allowed && v.ingress_allowed;
  v.would_deny = v.allowed && (v.egress_would_deny || v.ingress_would_deny);
  return v;
}

bool is_local(const Flow& flow) {
  return flow.from && flow.to && (flow.from == flow.to || flow.from->name == flow.to->name);
}

}  // namespace

Verdict reference_allows(const PolicySet& policies, const Endpoints& endpoints, const Flow& flow) {
  Verdict v;
  if (is_local(flow)) {
    v.allowed = v.egress_allowed = v.ingress_allowed = true;
    return v;
  }
  const Side eg =
      flow.from ? side_allows(policies, Direction::egress, *flow.from, flow.to, flow.to_addr, flow)
                : Side{};
  const Side in =
      flow.to ? side_allows(policies, Direction::ingress, *flow.to, flow.from, flow.from_addr, flow)
              : Side{};
  return combine(eg, in);
}

Verdict plan_allows(const Plan& plan, const Flow& flow) {
  const bool local = is_local(flow);
  return combine(chain_allows(plan_of(plan, flow.from), Hook::output, flow, local),
                 chain_allows(plan_of(plan, flow.to), Hook::input, flow, local));
}

}  // namespace bulkhead::policy
