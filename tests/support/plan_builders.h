// Tables used by the kernel tests, built the way the compiler lays them out (plan.h).
#pragma once

#include <string>
#include <vector>

#include "policy/address.h"
#include "policy/plan.h"

namespace bulkhead::netlink::testing {

inline policy::IpAddr ip(const std::string& s) { return *policy::IpAddr::parse(s); }

inline policy::AddrRange range(const std::string& a, const std::string& b) {
  return {ip(a), ip(b)};
}
inline policy::AddrRange host(const std::string& a) { return {ip(a), ip(a)}; }

inline policy::NftRule base_rule(policy::RuleKind k) {
  policy::NftRule r;
  r.kind = k;
  r.counter = false;
  return r;
}

inline policy::NftRule allow(int family, std::string set, policy::L4 proto, uint16_t first,
                             uint16_t last, std::string comment) {
  policy::NftRule r;
  r.kind = policy::RuleKind::allow;
  r.family = family;
  r.peer_set = std::move(set);
  r.proto = proto;
  r.port_first = first;
  r.port_last = last;
  r.comment = std::move(comment);
  return r;
}

inline policy::NftChain chain(const std::string& name, std::vector<policy::NftRule> allows) {
  policy::NftChain c;
  c.name = name;
  c.hook = name == "ingress" ? policy::Hook::input : policy::Hook::output;
  c.rules = {base_rule(policy::RuleKind::ct_established_accept),
             base_rule(policy::RuleKind::ct_invalid_drop),
             base_rule(policy::RuleKind::loopback_accept),
             base_rule(policy::RuleKind::icmpv6_nd_accept)};
  for (auto& a : allows) c.rules.push_back(std::move(a));
  policy::NftRule drop;
  drop.kind = policy::RuleKind::final_drop;
  drop.comment = "default deny";
  c.rules.push_back(drop);
  return c;
}

// Ingress allows `peers` (v4 CIDRs) on tcp `port`; a v6 set and most rule shapes for coverage.
inline policy::NftTable sample_table(std::vector<policy::AddrRange> peers, uint16_t port) {
  policy::NftTable t;
  policy::NftSet p4{"peers4", 4, true, std::move(peers)};
  policy::NftSet p6{"peers6", 6, false, {host("2001:db8::1"), host("2001:db8::5")}};
  t.sets = {p4, p6};
  using policy::L4;
  t.chains.push_back(chain(
      "ingress",
      {allow(4, "peers4", L4::tcp, port, port, "shop: web -> api (shop.yaml:20:7)"),
       allow(6, "peers6", L4::udp, 53, 60, "v6 dns range"), allow(4, "", L4::icmp, 0, 0, "ping"),
       allow(0, "", L4::sctp, 9, 9, ""), allow(6, "", L4::any, 0, 0, "any v6")}));
  t.chains.push_back(chain("egress", {allow(4, "peers4", L4::any, 0, 0, "to peers"),
                                      allow(0, "", L4::udp, 53, 53, "dns")}));
  return t;
}

}  // namespace bulkhead::netlink::testing
