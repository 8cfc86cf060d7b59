#include "policy/model/resolve.h"

#include <algorithm>

namespace bulkhead::policy {

NamespaceIndex::NamespaceIndex(const PolicySet& policies) {
  for (const auto& ns : policies.namespaces) {
    auto& labels = labels_[ns.name];
    for (const auto& [k, v] : ns.labels) labels[k] = v;
    labels[kNamespaceNameLabel] = ns.name;
  }
}

const Labels& NamespaceIndex::labels(const std::string& ns) const {
  auto it = labels_.find(ns);
  if (it == labels_.end()) it = labels_.emplace(ns, Labels{{kNamespaceNameLabel, ns}}).first;
  return it->second;
}

bool subject_selects(const Subject& subject, const Endpoint& ep) {
  if (subject.ns && *subject.ns != ep.k8s_namespace()) return false;
  return subject.pods.matches(ep.labels);
}

bool scope_contains(const NamespaceScope& scope, const std::string& ns,
                    const NamespaceIndex& namespaces) {
  switch (scope.kind) {
    case NamespaceScope::Kind::any:
      return true;
    case NamespaceScope::Kind::named:
      return ns == scope.name;
    case NamespaceScope::Kind::selector:
      return scope.selector.matches(namespaces.labels(ns));
  }
  return false;
}

bool peer_selects(const EndpointPeer& peer, const Endpoint& ep, const NamespaceIndex& namespaces) {
  return peer.pods.matches(ep.labels) &&
         scope_contains(peer.namespaces, ep.k8s_namespace(), namespaces);
}

bool cidr_peer_contains(const CidrPeer& peer, const IpAddr& addr) {
  if (!peer.cidr.contains(addr)) return false;
  return std::none_of(peer.except.begin(), peer.except.end(),
                      [&](const Cidr& e) { return e.contains(addr); });
}

std::optional<NamedPort> resolve_named_port(const PortSpec& spec, const Endpoint& ep) {
  for (const auto& np : ep.ports) {
    if (np.name != spec.named) continue;
    if (spec.proto != Protocol::any && spec.proto != np.proto) continue;
    return np;
  }
  return std::nullopt;
}

std::string scope_key(const NamespaceScope& scope) {
  switch (scope.kind) {
    case NamespaceScope::Kind::any:
      return "ns:*";
    case NamespaceScope::Kind::named:
      return "ns=" + scope.name;
    case NamespaceScope::Kind::selector:
      return "ns:{" + scope.selector.canonical() + "}";
  }
  return "";
}

std::string endpoint_peer_key(const EndpointPeer& peer) {
  return "pods:{" + peer.pods.canonical() + "} " + scope_key(peer.namespaces);
}

std::string cidr_peer_key(const CidrPeer& peer) {
  std::vector<Cidr> except = peer.except;
  std::sort(except.begin(), except.end());
  except.erase(std::unique(except.begin(), except.end()), except.end());
  std::string key = peer.cidr.to_string();
  for (const auto& e : except) key += " except " + e.to_string();
  return key;
}

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::any:
      return "any";
    case Protocol::tcp:
      return "tcp";
    case Protocol::udp:
      return "udp";
    case Protocol::sctp:
      return "sctp";
    case Protocol::icmp:
      return "icmp";
  }
  return "?";
}

}  // namespace bulkhead::policy
