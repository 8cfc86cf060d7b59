// compile(): the model's semantics (model.h) turned into one nft table per endpoint.
// docs/dataplane.md describes the layout, the set names and the rule order chosen here.
#include "policy/compile.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "policy/nft_comment.h"
#include "policy/nft_names.h"
#include "policy/resolve.h"

namespace bulkhead::policy {
namespace {

struct PortMatch {
  Protocol proto = Protocol::any;
  uint16_t first = 0;
  uint16_t last = 0;
};

// One way a rule names the other end of a flow.
struct Target {
  enum class Kind { any, endpoints, cidr } kind = Kind::any;
  std::string key;   // canonical text, for ordering and caching
  std::string base;  // set-name base
  const std::vector<size_t>* members = nullptr;  // endpoints: selected endpoint indices
  const CidrPeer* cidr = nullptr;
  std::string text;  // for comments
  SourcePos pos;
};

struct Candidate {
  std::string policy;
  SourcePos pos;
  SourcePos peer_pos;
  std::string peer_key;
  SourcePos port_pos;
  std::string port_key;
  NftRule rule;
};

auto rule_match_key(const NftRule& r) {
  return std::tie(r.family, r.peer_set, r.proto, r.port_first, r.port_last);
}

bool candidate_less(const Candidate& a, const Candidate& b) {
  const auto ka = std::tie(a.policy, a.pos, a.peer_pos, a.peer_key, a.port_pos, a.port_key);
  const auto kb = std::tie(b.policy, b.pos, b.peer_pos, b.peer_key, b.port_pos, b.port_key);
  if (ka != kb) return ka < kb;
  if (rule_match_key(a.rule) != rule_match_key(b.rule))
    return rule_match_key(a.rule) < rule_match_key(b.rule);
  return a.rule.comment < b.rule.comment;
}

std::string port_text(const PortSpec& p) {
  if (!p.named.empty()) {
    return p.proto == Protocol::any ? "port " + p.named
                                    : std::string(protocol_name(p.proto)) + "/" + p.named;
  }
  std::string s = protocol_name(p.proto);
  if (p.first == 0 || p.proto == Protocol::icmp) return p.proto == Protocol::any ? "any port" : s;
  s += "/" + std::to_string(p.first);
  if (p.last > p.first) s += "-" + std::to_string(p.last);
  return s;
}

std::string selector_text(const LabelSelector& s) { return "{" + s.canonical() + "}"; }

std::string subject_text(const Subject& s) {
  if (!s.group.empty()) return s.group;
  return selector_text(s.pods);
}

std::string endpoint_peer_text(const EndpointPeer& p) {
  if (!p.group.empty()) return p.group;
  switch (p.namespaces.kind) {
    case NamespaceScope::Kind::any:
      return "*/" + selector_text(p.pods);
    case NamespaceScope::Kind::named:
      return p.namespaces.name + "/" + selector_text(p.pods);
    case NamespaceScope::Kind::selector:
      return "ns" + selector_text(p.namespaces.selector) + "/" + selector_text(p.pods);
  }
  return "";
}

std::string cidr_text(const CidrPeer& c) {
  std::string s = c.cidr.to_string();
  for (const auto& e : c.except) s += " except " + e.to_string();
  return s;
}

// The part of a port name that can go into a set name.
std::string port_name_part(const std::string& name) {
  const bool plain = !name.empty() && name.size() <= 15 &&
                     std::all_of(name.begin(), name.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '-';
                     });
  return plain ? name : "n" + stable_hash(name);
}

std::vector<PortMatch> numeric_matches(const PortSpec& p) {
  if (p.proto == Protocol::icmp) return {{Protocol::icmp, 0, 0}};
  if (p.first == 0) return {{p.proto, 0, 0}};
  const uint16_t last = std::max(p.first, p.last);
  // A range without a protocol means the range on every protocol that has ports.
  if (p.proto == Protocol::any) {
    return {{Protocol::tcp, p.first, last}, {Protocol::udp, p.first, last},
            {Protocol::sctp, p.first, last}};
  }
  return {{p.proto, p.first, last}};
}

std::vector<L4> l4_for(Protocol proto, int family) {
  switch (proto) {
    case Protocol::any:
      return {L4::any};
    case Protocol::tcp:
      return {L4::tcp};
    case Protocol::udp:
      return {L4::udp};
    case Protocol::sctp:
      return {L4::sctp};
    case Protocol::icmp:
      if (family == 4) return {L4::icmp};
      if (family == 6) return {L4::icmpv6};
      return {L4::icmp, L4::icmpv6};
  }
  return {};
}

NftSet address_set(std::string name, int family, const std::vector<IpAddr>& addrs) {
  NftSet s;
  s.name = std::move(name);
  s.family = family;
  for (const auto& a : addrs) {
    if (a.family == family) s.elements.push_back({a, a});
  }
  std::sort(s.elements.begin(), s.elements.end());
  s.elements.erase(std::unique(s.elements.begin(), s.elements.end()), s.elements.end());
  return s;
}

class Compiler {
 public:
  Compiler(const PolicySet& ps, const Endpoints& endpoints) : ps_(ps), ns_(ps) {
    for (const auto& e : endpoints) eps_.push_back(&e);
    std::sort(eps_.begin(), eps_.end(),
              [](const Endpoint* a, const Endpoint* b) { return a->name < b->name; });
    name_peers();
  }

  Plan run() {
    std::vector<std::vector<size_t>> iso_by_ep(eps_.size()), rules_by_ep(eps_.size()),
        limits_by_ep(eps_.size());
    for (size_t i = 0; i < ps_.isolations.size(); ++i)
      for (size_t e : selected(ps_.isolations[i].subject)) iso_by_ep[e].push_back(i);
    for (size_t i = 0; i < ps_.rules.size(); ++i)
      for (size_t e : selected(ps_.rules[i].subject)) rules_by_ep[e].push_back(i);
    for (size_t i = 0; i < ps_.limits.size(); ++i)
      for (size_t e : selected(ps_.limits[i].subject)) limits_by_ep[e].push_back(i);

    Plan plan;
    plan.endpoints.reserve(eps_.size());
    for (size_t e = 0; e < eps_.size(); ++e) {
      EndpointPlan ep;
      ep.endpoint = eps_[e]->name;
      ep.netns = eps_[e]->netns;
      ep.table = table_for(e, iso_by_ep[e], rules_by_ep[e]);
      ep.tc = tc_for(limits_by_ep[e]);
      plan.endpoints.push_back(std::move(ep));
    }
    return plan;
  }

 private:
  // Sorted indices of the endpoints a subject selects; cached by the subject's canonical text.
  const std::vector<size_t>& selected(const Subject& s) {
    std::string key = (s.ns ? "ns=" + *s.ns : std::string("ns:*")) + " " + s.pods.canonical();
    auto it = subject_cache_.find(key);
    if (it != subject_cache_.end()) return it->second;
    std::vector<size_t> out;
    for (size_t e = 0; e < eps_.size(); ++e)
      if (subject_selects(s, *eps_[e])) out.push_back(e);
    return subject_cache_.emplace(std::move(key), std::move(out)).first->second;
  }

  const std::vector<size_t>& members(const EndpointPeer& p, const std::string& key) {
    auto it = members_cache_.find(key);
    if (it != members_cache_.end()) return it->second;
    std::vector<size_t> out;
    for (size_t e = 0; e < eps_.size(); ++e)
      if (peer_selects(p, *eps_[e], ns_)) out.push_back(e);
    return members_cache_.emplace(key, std::move(out)).first->second;
  }

  // Set-name bases depend on the policy alone. A native group keeps its own name unless two
  // different selectors share it or it is no usable identifier; everything else is named by a
  // hash of its canonical key; two keys that would share a base both get the long hash.
  void name_peers() {
    std::map<std::string, std::set<std::string>> claims;  // base -> keys
    std::map<std::string, std::string> wanted;            // key -> base
    for (const auto& r : ps_.rules) {
      for (const auto& p : r.peers) {
        if (const auto* ep = std::get_if<EndpointPeer>(&p.what)) {
          const std::string key = endpoint_peer_key(*ep);
          std::string base =
              usable_set_base(ep->group) ? ep->group : "ep_" + stable_hash(key);
          if (wanted.count(key) && wanted[key] != base) base = "ep_" + stable_hash(key);
          wanted[key] = base;
        } else {
          const std::string key = cidr_peer_key(std::get<CidrPeer>(p.what));
          wanted[key] = "cidr_" + stable_hash(key);
        }
      }
    }
    for (const auto& [key, base] : wanted) claims[base].insert(key);
    for (const auto& [key, base] : wanted) {
      if (claims[base].size() == 1) {
        base_[key] = base;
      } else {
        base_[key] = (base.rfind("cidr_", 0) == 0 ? "cidr_" : "ep_") + stable_hash(key, 16);
      }
    }
  }

  std::optional<NftTable> table_for(size_t e, const std::vector<size_t>& isos,
                                    const std::vector<size_t>& rules) {
    std::map<std::string, NftSet> sets;
    NftTable table;
    for (Direction dir : {Direction::ingress, Direction::egress}) {
      std::set<std::string> isolating;
      for (size_t i : isos)
        if (ps_.isolations[i].dir == dir) isolating.insert(ps_.isolations[i].origin.policy);
      if (isolating.empty()) continue;
      table.chains.push_back(chain_for(e, dir, isolating, rules, sets));
    }
    if (table.chains.empty()) return std::nullopt;
    for (auto& [name, s] : sets) table.sets.push_back(std::move(s));
    return table;
  }

  NftChain chain_for(size_t e, Direction dir, const std::set<std::string>& isolating,
                     const std::vector<size_t>& rules, std::map<std::string, NftSet>& sets) {
    NftChain chain;
    chain.name = dir == Direction::ingress ? "ingress" : "egress";
    chain.hook = dir == Direction::ingress ? Hook::input : Hook::output;
    chain.priority = 0;
    for (RuleKind k : {RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                       RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept}) {
      NftRule r;
      r.kind = k;
      r.counter = false;
      chain.rules.push_back(r);
    }

    std::vector<Candidate> cands;
    for (size_t ri : rules) {
      const AllowRule& rule = ps_.rules[ri];
      if (rule.dir != dir) continue;
      for (const Target& t : targets(rule)) {
        if (rule.any_port) {
          add(cands, sets, e, dir, rule, t, nullptr);
        } else {
          for (const auto& port : rule.ports) add(cands, sets, e, dir, rule, t, &port);
        }
      }
    }
    std::sort(cands.begin(), cands.end(), candidate_less);
    std::set<std::tuple<int, std::string, L4, uint16_t, uint16_t>> seen;
    for (auto& c : cands) {
      const auto& r = c.rule;
      if (!seen.emplace(r.family, r.peer_set, r.proto, r.port_first, r.port_last).second) continue;
      chain.rules.push_back(std::move(c.rule));
    }

    NftRule drop;
    drop.kind = RuleKind::final_drop;
    std::string names;
    for (const auto& p : isolating) names += (names.empty() ? "" : ", ") + p;
    drop.comment = fit_comment("", "drop other " + chain.name + " (isolated by " + names, ")");
    chain.rules.push_back(std::move(drop));
    return chain;
  }

  std::vector<Target> targets(const AllowRule& rule) {
    std::vector<Target> out;
    if (rule.any_peer) {
      Target t;
      t.key = "any";
      t.base = "any";
      t.text = "any";
      out.push_back(std::move(t));
      return out;
    }
    for (const auto& p : rule.peers) {
      Target t;
      t.pos = p.pos;
      if (const auto* ep = std::get_if<EndpointPeer>(&p.what)) {
        t.kind = Target::Kind::endpoints;
        t.key = endpoint_peer_key(*ep);
        t.members = &members(*ep, t.key);
        t.text = endpoint_peer_text(*ep);
      } else {
        t.kind = Target::Kind::cidr;
        t.cidr = &std::get<CidrPeer>(p.what);
        t.key = cidr_peer_key(*t.cidr);
        t.text = cidr_text(*t.cidr);
      }
      t.base = base_.at(t.key);
      out.push_back(std::move(t));
    }
    return out;
  }

  // The sets (family, set) a target matches addresses with; family 0 and no set for `any`.
  std::vector<std::pair<int, std::string>> matchers(const Target& t,
                                                    std::map<std::string, NftSet>& sets) {
    switch (t.kind) {
      case Target::Kind::any:
        return {{0, ""}};
      case Target::Kind::endpoints: {
        std::vector<IpAddr> addrs;
        for (size_t m : *t.members)
          addrs.insert(addrs.end(), eps_[m]->addresses.begin(), eps_[m]->addresses.end());
        return {put(sets, address_set(t.base + "_v4", 4, addrs)),
                put(sets, address_set(t.base + "_v6", 6, addrs))};
      }
      case Target::Kind::cidr: {
        const int family = t.cidr->cidr.addr.family;
        auto it = sets.find(t.base + (family == 4 ? "_v4" : "_v6"));
        if (it != sets.end()) return {{family, it->first}};
        NftSet s;
        s.name = t.base + (family == 4 ? "_v4" : "_v6");
        s.family = family;
        s.interval = true;
        std::vector<AddrRange> holes;
        for (const auto& x : t.cidr->except) holes.push_back({x.first(), x.last()});
        s.elements = subtract_ranges({{t.cidr->cidr.first(), t.cidr->cidr.last()}}, holes);
        return {put(sets, std::move(s))};
      }
    }
    return {};
  }

  static std::pair<int, std::string> put(std::map<std::string, NftSet>& sets, NftSet s) {
    std::pair<int, std::string> out{s.family, s.name};
    sets.try_emplace(s.name, std::move(s));
    return out;
  }

  void add(std::vector<Candidate>& cands, std::map<std::string, NftSet>& sets, size_t e,
           Direction dir, const AllowRule& rule, const Target& t, const PortSpec* port) {
    Candidate proto;
    proto.policy = rule.origin.policy;
    proto.pos = rule.origin.pos;
    proto.peer_pos = t.pos;
    proto.peer_key = t.key;
    if (port) {
      proto.port_pos = port->pos;
      proto.port_key = port_text(*port);
    }
    const std::string subj = subject_text(rule.subject);
    const std::string body = dir == Direction::ingress ? t.text + " -> " + subj
                                                       : subj + " -> " + t.text;
    const std::string ports = port ? port_text(*port) : "any port";
    const std::string comment =
        fit_comment(rule.origin.policy + ": ", body + " " + ports,
                    rule.origin.pos.line > 0 ? " (" + rule.origin.pos.to_string() + ")" : "");

    auto emit = [&](int family, const std::string& set, const PortMatch& pm) {
      for (L4 l4 : l4_for(pm.proto, family)) {
        Candidate c = proto;
        c.rule.kind = RuleKind::allow;
        c.rule.family = family;
        c.rule.peer_set = set;
        c.rule.proto = l4;
        c.rule.port_first = pm.first;
        c.rule.port_last = pm.last;
        c.rule.comment = comment;
        cands.push_back(std::move(c));
      }
    };

    if (port && !port->named.empty() && dir == Direction::egress) {
      add_named_egress(sets, t, *port, emit);
      return;
    }
    std::vector<PortMatch> pms;
    if (!port) {
      pms.push_back({Protocol::any, 0, 0});
    } else if (!port->named.empty()) {
      auto np = resolve_named_port(*port, *eps_[e]);
      if (!np) return;
      pms.push_back({np->proto, np->port, np->port});
    } else {
      pms = numeric_matches(*port);
    }
    for (const auto& [family, set] : matchers(t, sets))
      for (const auto& pm : pms) emit(family, set, pm);
  }

  // An egress named port is resolved on each destination: the peer splits into one set per
  // resolved (protocol, port). Toward a CIDR or `any`, only endpoints that define the name
  // (and lie inside the CIDR) can match; outside addresses have no named ports.
  template <class Emit>
  void add_named_egress(std::map<std::string, NftSet>& sets, const Target& t, const PortSpec& port,
                        Emit& emit) {
    std::map<std::pair<Protocol, uint16_t>, std::vector<IpAddr>> groups;
    auto consider = [&](size_t m) {
      auto np = resolve_named_port(port, *eps_[m]);
      if (!np) return;
      auto& addrs = groups[{np->proto, np->port}];
      for (const auto& a : eps_[m]->addresses)
        if (t.kind != Target::Kind::cidr || cidr_peer_contains(*t.cidr, a)) addrs.push_back(a);
    };
    if (t.kind == Target::Kind::endpoints) {
      for (size_t m : *t.members) consider(m);
    } else {
      for (size_t m = 0; m < eps_.size(); ++m) consider(m);
    }
    for (const auto& [key, addrs] : groups) {
      const auto [proto, number] = key;
      const std::string base = t.base + "_" + port_name_part(port.named) + "_" +
                               protocol_name(proto) + std::to_string(number);
      const PortMatch pm{proto, number, number};
      if (t.kind == Target::Kind::cidr) {
        const int family = t.cidr->cidr.addr.family;
        if (addrs.empty()) continue;
        auto [f, name] = put(sets, address_set(base + (family == 4 ? "_v4" : "_v6"), family, addrs));
        emit(f, name, pm);
        continue;
      }
      for (int family : {4, 6}) {
        auto [f, name] = put(sets, address_set(base + (family == 4 ? "_v4" : "_v6"), family, addrs));
        emit(f, name, pm);
      }
    }
  }

  TcPlan tc_for(const std::vector<size_t>& limits) {
    TcPlan tc;
    auto better = [](const Rate& a, const Origin& ao, const Rate& b, const Origin& bo) {
      return std::tie(a.bits_per_second, a.burst_bytes, ao.policy, ao.pos) <
             std::tie(b.bits_per_second, b.burst_bytes, bo.policy, bo.pos);
    };
    const BandwidthLimit* eg = nullptr;
    const BandwidthLimit* in = nullptr;
    for (size_t i : limits) {
      const auto& l = ps_.limits[i];
      if (l.egress && (!eg || better(*l.egress, l.origin, *eg->egress, eg->origin))) eg = &l;
      if (l.ingress && (!in || better(*l.ingress, l.origin, *in->ingress, in->origin))) in = &l;
    }
    if (eg) tc.egress = TcLimit{eg->egress->bits_per_second, eg->egress->burst_bytes};
    if (in) tc.ingress = TcLimit{in->ingress->bits_per_second, in->ingress->burst_bytes};
    return tc;
  }

  const PolicySet& ps_;
  std::vector<const Endpoint*> eps_;
  NamespaceIndex ns_;
  std::map<std::string, std::vector<size_t>> subject_cache_;
  std::map<std::string, std::vector<size_t>> members_cache_;
  std::map<std::string, std::string> base_;
};

}  // namespace

Plan compile(const PolicySet& policies, const Endpoints& endpoints) {
  return Compiler(policies, endpoints).run();
}

}  // namespace bulkhead::policy
