#include "policy/model/describe.h"

#include "policy/model/resolve.h"

namespace bulkhead::policy {
namespace {

std::string braces(const LabelSelector& s) { return "{" + s.canonical() + "}"; }

}  // namespace

std::string port_spec_text(const PortSpec& p) {
  if (!p.named.empty()) {
    return p.proto == Protocol::any ? p.named : p.named + "/" + protocol_name(p.proto);
  }
  if (p.proto == Protocol::icmp) return "icmp";
  if (p.first == 0) return p.proto == Protocol::any ? "any port" : protocol_name(p.proto);
  std::string range = std::to_string(p.first);
  if (p.last > p.first) range += "-" + std::to_string(p.last);
  return p.proto == Protocol::any ? range : range + "/" + protocol_name(p.proto);
}

std::string flow_port_text(Protocol proto, uint16_t port) {
  if (proto == Protocol::icmp) return "icmp";
  return std::to_string(port) + "/" + protocol_name(proto);
}

std::string endpoint_peer_text(const EndpointPeer& p) {
  if (!p.group.empty()) return p.group;
  switch (p.namespaces.kind) {
    case NamespaceScope::Kind::any:
      return "*/" + braces(p.pods);
    case NamespaceScope::Kind::named:
      return p.namespaces.name + "/" + braces(p.pods);
    case NamespaceScope::Kind::selector:
      return "ns" + braces(p.namespaces.selector) + "/" + braces(p.pods);
  }
  return "";
}

std::string subject_text(const Subject& s) {
  if (!s.group.empty()) return s.group;
  return (s.ns ? *s.ns : std::string("*")) + "/" + braces(s.pods);
}

std::string cidr_peer_text(const CidrPeer& c) {
  std::string s = c.cidr.to_string();
  for (size_t i = 0; i < c.except.size(); ++i)
    s += (i == 0 ? " except " : ", ") + c.except[i].to_string();
  return s;
}

std::string peer_text(const Peer& p) {
  if (const auto* c = std::get_if<CidrPeer>(&p.what)) return cidr_peer_text(*c);
  return endpoint_peer_text(std::get<EndpointPeer>(p.what));
}

}  // namespace bulkhead::policy
