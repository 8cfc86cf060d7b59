// Plan pieces in a line each (policy/plan/plan.h), built the way the compiler lays them out: for
// the renderer's, the kernel's and the dataplanes' tests alike.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/model/address.h"
#include "policy/plan/plan.h"

namespace bulkhead::testing {

inline policy::IpAddr ip(std::string_view s) { return *policy::IpAddr::parse(s); }

inline policy::AddrRange range(std::string_view a, std::string_view b) { return {ip(a), ip(b)}; }
inline policy::AddrRange host(std::string_view a) { return {ip(a), ip(a)}; }

inline policy::NftRule base_rule(policy::RuleKind k) {
  policy::NftRule r;
  r.kind = k;
  r.counter = false;
  return r;
}

// An allow rule; `last` 0 means the single port `first` (both 0: any port).
inline policy::NftRule allow(int family, std::string set, policy::L4 proto, uint16_t first = 0,
                             uint16_t last = 0, std::string comment = "") {
  policy::NftRule r;
  r.kind = policy::RuleKind::allow;
  r.family = family;
  r.peer_set = std::move(set);
  r.proto = proto;
  r.port_first = first;
  r.port_last = last ? last : first;
  r.comment = std::move(comment);
  return r;
}

inline policy::NftRule log_rule(std::string prefix, uint32_t rate, uint32_t burst) {
  policy::NftRule r;
  r.kind = policy::RuleKind::log;
  r.counter = false;
  r.log_rate = rate;
  r.log_burst = burst;
  r.log_group = policy::kNflogGroup;
  r.log_prefix = std::move(prefix);
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

// Endpoint `name` in `path`: sample_table allowing 198.18.0.0-198.18.0.15 on 8080, and limits
// both ways (50 Mbit/s out, 20 Mbit/s in).
inline policy::EndpointPlan sample_endpoint_plan(const std::string& name, const std::string& path) {
  policy::EndpointPlan p;
  p.endpoint = name;
  p.netns = path;
  p.table = sample_table({range("198.18.0.0", "198.18.0.15")}, 8080);
  p.tc.egress = policy::TcLimit{50'000'000, 62'500};
  p.tc.ingress = policy::TcLimit{20'000'000, 25'000};
  return p;
}

}  // namespace bulkhead::testing
