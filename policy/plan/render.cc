// Text forms of a Plan. render_nft reproduces what nftables 1.0.6 prints for `nft list table inet
// bulkhead` (checked against the real nft by tests/policy/plan/render_roundtrip_test.cc), so a
// listing of the kernel's table can be compared with the plan byte for byte.
#include "policy/plan/render.h"

#include <cstdio>
#include <string>

#include "policy/plan/nft_comment.h"

namespace bulkhead::policy {
namespace {

// nft names priorities near the standard ones of a filter chain on input/output; others print
// as numbers (nft's chain_prio2str: an offset of at most 10 is written as "name + N").
// nft names the standard priorities per family: the bridge family has its own values.
std::string priority_text(int prio, TableFamily family) {
  static constexpr std::pair<const char*, int> kInet[] = {
      {"raw", -300}, {"mangle", -150}, {"filter", 0}, {"security", 50}};
  static constexpr std::pair<const char*, int> kBridge[] = {
      {"dstnat", -300}, {"filter", -200}, {"out", 100}, {"srcnat", 300}};
  const auto& names = family == TableFamily::bridge ? kBridge : kInet;
  for (const auto& [name, value] : names) {
    const int off = prio - value;
    if (off == 0) return name;
    if (off > 0 && off <= 10) return std::string(name) + " + " + std::to_string(off);
    if (off < 0 && off >= -10) return std::string(name) + " - " + std::to_string(-off);
  }
  return std::to_string(prio);
}

std::string element_text(const NftSet& s, const AddrRange& r) {
  return s.interval ? range_to_string(r) : r.first.to_string();
}

// nft 1.0.6 wraps element lists of named sets: two IPv4 elements per line, one IPv6 element.
std::string elements_text(const NftSet& s) {
  const size_t per_line = s.family == 4 ? 2 : 1;
  std::string out = "{ ";
  for (size_t i = 0; i < s.elements.size(); ++i) {
    if (i > 0) out += i % per_line == 0 ? ",\n\t\t\t     " : ", ";
    out += element_text(s, s.elements[i]);
  }
  return out + " }";
}

const char* l4_name(L4 p) {
  switch (p) {
    case L4::any:
      return "";
    case L4::tcp:
      return "tcp";
    case L4::udp:
      return "udp";
    case L4::sctp:
      return "sctp";
    case L4::icmp:
      return "icmp";
    case L4::icmpv6:
      return "ipv6-icmp";
  }
  return "";
}

std::string counter_text(const NftRule& r) {
  return "counter packets " + std::to_string(r.packets) + " bytes " + std::to_string(r.bytes);
}

std::string allow_match(const NftRule& r, ChainSide side) {
  std::string out;
  auto add = [&](const std::string& part) {
    if (part.empty()) return;
    if (!out.empty()) out += ' ';
    out += part;
  };
  const bool icmp_of_family =
      (r.family == 4 && r.proto == L4::icmp) || (r.family == 6 && r.proto == L4::icmpv6);
  if (!r.peer_set.empty() && (r.family == 4 || r.family == 6)) {
    add(std::string(r.family == 4 ? "ip" : "ip6") +
        (side == ChainSide::ingress ? " saddr @" : " daddr @") + r.peer_set);
  } else if (r.family == 4 || r.family == 6) {
    // nft drops the family match that the ICMP protocol already implies.
    if (!icmp_of_family) add(r.family == 4 ? "meta nfproto ipv4" : "meta nfproto ipv6");
  }
  if (r.proto != L4::any) {
    const bool ported =
        r.port_first != 0 && (r.proto == L4::tcp || r.proto == L4::udp || r.proto == L4::sctp);
    if (ported) {
      std::string ports = std::to_string(r.port_first);
      if (r.port_last > r.port_first) ports += "-" + std::to_string(r.port_last);
      add(std::string(l4_name(r.proto)) + " dport " + ports);
    } else {
      add(std::string("meta l4proto ") + l4_name(r.proto));
    }
  }
  return out;
}

// nft prints a packet limit's burst only when it differs from its default of 5.
std::string log_text(const NftRule& r) {
  std::string out = "limit rate " + std::to_string(r.log_rate) + "/second";
  if (r.log_burst != 0 && r.log_burst != 5)
    out += " burst " + std::to_string(r.log_burst) + " packets";
  out += " log prefix \"" + truncate_utf8(sanitize_comment(r.log_prefix), kLogPrefixMax) + "\"";
  return out + " group " + std::to_string(r.log_group);
}

// ip saddr vmap @m / ip6 daddr vmap @m / iifname vmap @m
std::string dispatch_text(const NftRule& r) {
  if (r.kind == RuleKind::vmap_iifname) return "iifname vmap @" + r.peer_set;
  return std::string(r.family == 6 ? "ip6" : "ip") +
         (r.kind == RuleKind::vmap_saddr ? " saddr vmap @" : " daddr vmap @") + r.peer_set;
}

std::string map_text(const NftMap& m) {
  const char* type = m.key == MapKey::ifname ? "ifname"
                     : m.key == MapKey::ipv6 ? "ipv6_addr"
                                             : "ipv4_addr";
  std::string out = "\tmap " + m.name + " {\n\t\ttype " + type + " : verdict\n";
  if (!m.elements.empty()) {
    out += "\t\telements = { ";
    for (size_t i = 0; i < m.elements.size(); ++i) {
      if (i > 0) out += ",\n\t\t\t     ";
      const auto& e = m.elements[i];
      out += (m.key == MapKey::ifname ? "\"" + e.key + "\"" : e.key) + " : jump " + e.chain;
    }
    out += " }\n";
  }
  return out + "\t}\n";
}

const char* verdict_text(const NftRule& r, bool accept_returns) {
  switch (r.kind) {
    case RuleKind::ct_invalid_drop:
    case RuleKind::final_drop:
      return "drop";
    case RuleKind::log:
      return "";  // a log rule has no verdict: the packet goes on to the chain's final rule
    case RuleKind::vmap_saddr:
    case RuleKind::vmap_daddr:
    case RuleKind::vmap_iifname:
      return "";  // the map's element says where to go
    default:
      return accept_returns ? "return" : "accept";
  }
}

std::string rule_text(const NftRule& r, const NftChain& chain) {
  const ChainSide side = side_of(chain);
  std::string out;
  switch (r.kind) {
    case RuleKind::ct_established_accept:
      out = "ct state established,related";
      break;
    case RuleKind::ct_invalid_drop:
      out = "ct state invalid";
      break;
    case RuleKind::loopback_accept:
      out = side == ChainSide::ingress ? "iif \"lo\"" : "oif \"lo\"";
      break;
    case RuleKind::icmpv6_nd_accept:
      out = "icmpv6 type 133-137";
      break;
    case RuleKind::allow:
      out = allow_match(r, side);
      break;
    case RuleKind::vmap_saddr:
    case RuleKind::vmap_daddr:
    case RuleKind::vmap_iifname:
      out = dispatch_text(r);
      break;
    case RuleKind::arp_sender_allow:
      out = "arp saddr ip @" + r.peer_set;
      break;
    case RuleKind::final_drop:
    case RuleKind::final_accept:
      break;
    case RuleKind::log:
      out = log_text(r);
      break;
  }
  if (r.counter) out += (out.empty() ? "" : " ") + counter_text(r);
  const std::string verdict = verdict_text(r, chain.accept_returns);
  if (!verdict.empty()) out += (out.empty() ? "" : " ") + verdict;
  if (!r.comment.empty()) {
    out += " comment \"" + truncate_utf8(sanitize_comment(r.comment), kNftCommentMax) + "\"";
  }
  return out;
}

std::string rate_text(uint64_t bits) {
  struct Unit {
    uint64_t scale;
    const char* name;
  };
  for (const Unit u : {Unit{1000000000, "gbit"}, Unit{1000000, "mbit"}, Unit{1000, "kbit"}}) {
    if (bits >= u.scale && bits % u.scale == 0) return std::to_string(bits / u.scale) + u.name;
  }
  return std::to_string(bits) + "bit";
}

const char* hook_text(Hook h) {
  switch (h) {
    case Hook::input:
      return "input";
    case Hook::output:
      return "output";
    case Hook::forward:
      return "forward";
    case Hook::prerouting:
      return "prerouting";
    case Hook::none:
      break;
  }
  return "";
}

}  // namespace

std::string render_nft(const NftTable& table) {
  const char* family = table.family == TableFamily::bridge ? "bridge" : "inet";
  std::string out = std::string("table ") + family + " " + table.name + " {\n";
  bool first = true;
  auto separate = [&] {
    if (!first) out += "\n";
    first = false;
  };
  for (const auto& s : table.sets) {
    separate();
    out += "\tset " + s.name + " {\n";
    out += s.family == 4 ? "\t\ttype ipv4_addr\n" : "\t\ttype ipv6_addr\n";
    if (s.interval) out += "\t\tflags interval\n";
    if (!s.elements.empty()) out += "\t\telements = " + elements_text(s) + "\n";
    out += "\t}\n";
  }
  for (const auto& m : table.maps) {
    separate();
    out += map_text(m);
  }
  for (const auto& c : table.chains) {
    separate();
    out += "\tchain " + c.name + " {\n";
    if (c.hook != Hook::none) {
      out += std::string("\t\ttype filter hook ") + hook_text(c.hook) + " priority " +
             priority_text(c.priority, table.family) + "; policy accept;\n";
    }
    for (const auto& r : c.rules) out += "\t\t" + rule_text(r, c) + "\n";
    out += "\t}\n";
  }
  return out + "}\n";
}

std::string render_tc(const TcPlan& tc) {
  std::string out;
  auto line = [](const char* dir, const TcLimit& l, const std::string& where) {
    return std::string(dir) + ": rate " + rate_text(l.rate_bits) + " burst " +
           std::to_string(l.burst_bytes) + "b " + where + "\n";
  };
  if (tc.egress) out += line("egress", *tc.egress, "on the endpoint's interface");
  if (tc.ingress) {
    out +=
        line("ingress", *tc.ingress,
             std::string("on ") + kIfbName + " (ingress redirected from the endpoint's interface)");
  }
  return out;
}

std::string render_endpoint(const EndpointPlan& ep) {
  std::string out = "# endpoint " + ep.endpoint + " (netns " + ep.netns + ")\n";
  if (ep.table) {
    out += render_nft(*ep.table);
  } else {
    out += "# not isolated: no nftables table\n";
  }
  if (ep.tc.empty()) {
    out += "# no bandwidth limit\n";
  } else {
    const std::string tc = render_tc(ep.tc);
    size_t start = 0;
    while (start < tc.size()) {
      const size_t nl = tc.find('\n', start);
      out += "# tc " + tc.substr(start, nl - start) + "\n";
      start = nl + 1;
    }
  }
  return out + "\n";
}

}  // namespace bulkhead::policy
