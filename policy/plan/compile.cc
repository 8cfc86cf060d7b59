// compile(): the model's semantics (model.h) turned into one nft table per endpoint.
// docs/dataplane.md describes the layout, the set names and the rule order chosen here.
#include "policy/plan/compile.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "policy/model/describe.h"
#include "policy/model/resolve.h"
#include "policy/plan/nft_comment.h"
#include "policy/plan/nft_names.h"

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
  std::string key;                               // canonical text, for ordering and caching
  std::string base;                              // set-name base
  const std::vector<size_t>* members = nullptr;  // endpoints: selected endpoint indices
  const CidrPeer* cidr = nullptr;
  std::string text;  // for comments
  SourcePos pos;
  std::vector<std::pair<int, const std::string*>> matchers;  // (family, set name or nullptr)
};

// One entry of a rule's ports, or the single "any port" entry.
struct PortEntry {
  const PortSpec* spec = nullptr;  // nullptr: any port
  std::string key;
  SourcePos pos;
};

struct Emission {
  int family = 0;
  const std::string* set = nullptr;
  PortMatch pm;
};

// Everything about an allow rule that does not depend on the endpoint it is compiled for.
struct PreparedRule {
  const AllowRule* rule = nullptr;
  std::vector<Target> targets;
  std::vector<PortEntry> ports;
  std::vector<std::vector<std::string>> comments;            // [target][port]
  std::vector<std::vector<std::vector<Emission>>> resolved;  // [target][port]; not ingress-named
};

struct Candidate {
  const PreparedRule* prepared;
  uint32_t target;
  uint32_t port;
  int family;
  const std::string* set;
  L4 proto;
  uint16_t first;
  uint16_t last;
};

const std::string kNoSet;

const std::string& set_name(const std::string* s) { return s ? *s : kNoSet; }

// Order: policy, rule position, peer, port, then the match itself; pointers to the same prepared
// data short-cut the string comparisons.
bool candidate_less(const Candidate& a, const Candidate& b) {
  const AllowRule& ra = *a.prepared->rule;
  const AllowRule& rb = *b.prepared->rule;
  if (a.prepared != b.prepared) {
    if (ra.origin.policy != rb.origin.policy) return ra.origin.policy < rb.origin.policy;
    if (ra.origin.pos != rb.origin.pos) return ra.origin.pos < rb.origin.pos;
  }
  const Target& ta = a.prepared->targets[a.target];
  const Target& tb = b.prepared->targets[b.target];
  if (&ta != &tb) {
    if (ta.pos != tb.pos) return ta.pos < tb.pos;
    if (ta.key != tb.key) return ta.key < tb.key;
  }
  const PortEntry& pa = a.prepared->ports[a.port];
  const PortEntry& pb = b.prepared->ports[b.port];
  if (&pa != &pb) {
    if (pa.pos != pb.pos) return pa.pos < pb.pos;
    if (pa.key != pb.key) return pa.key < pb.key;
  }
  if (a.family != b.family) return a.family < b.family;
  if (a.set != b.set && set_name(a.set) != set_name(b.set))
    return set_name(a.set) < set_name(b.set);
  if (a.proto != b.proto) return a.proto < b.proto;
  if (a.first != b.first) return a.first < b.first;
  if (a.last != b.last) return a.last < b.last;
  // Rules from different sources that match alike: keep a stable order by their comment.
  return a.prepared->comments[a.target][a.port] < b.prepared->comments[b.target][b.port];
}

// The part of a port name that can go into a set name.
std::string port_name_part(const std::string& name) {
  const bool plain = !name.empty() && name.size() <= 15 &&
                     std::all_of(name.begin(), name.end(),
                                 [](unsigned char c) { return std::isalnum(c) || c == '-'; });
  return plain ? name : "n" + stable_hash(name);
}

std::vector<PortMatch> numeric_matches(const PortSpec& p) {
  if (p.proto == Protocol::icmp) return {{Protocol::icmp, 0, 0}};
  if (p.first == 0) return {{p.proto, 0, 0}};
  const uint16_t last = std::max(p.first, p.last);
  // A range without a protocol means the range on every protocol that has ports.
  if (p.proto == Protocol::any) {
    return {{Protocol::tcp, p.first, last},
            {Protocol::udp, p.first, last},
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
  std::vector<AddrRange> elements;
  for (const auto& a : addrs) {
    if (a.family == family) elements.push_back({a, a});
  }
  std::sort(elements.begin(), elements.end());
  elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
  s.elements = std::move(elements);
  return s;
}

// "bulkhead deny ingress web-1": the endpoint name is cut (on a UTF-8 boundary) to fit the
// kernel's limit; the daemon knows the endpoint from the namespace its socket listens in anyway.
std::string log_prefix(bool audit, const std::string& direction, const std::string& endpoint) {
  const std::string head =
      std::string(kLogTag) + " " + (audit ? kLogWouldDeny : kLogDeny) + " " + direction + " ";
  return head + truncate_utf8(sanitize_comment(endpoint), kLogPrefixMax - head.size());
}

class Compiler {
 public:
  Compiler(const PolicySet& ps, const Endpoints& endpoints) : ps_(ps), ns_(ps) {
    for (const auto& e : endpoints) eps_.push_back(&e);
    std::sort(eps_.begin(), eps_.end(),
              [](const Endpoint* a, const Endpoint* b) { return a->name < b->name; });
    name_peers();
    prepared_.reserve(ps_.rules.size());
    for (const auto& r : ps_.rules) prepared_.push_back(prepare(r));
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
      // Another host's endpoint: its own daemon programs its namespace; here it is a peer only.
      if (!eps_[e]->node.empty()) continue;
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
          std::string base = usable_set_base(ep->group) ? ep->group : "ep_" + stable_hash(key);
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

  // Adds a set to the shared pool (identical names always carry identical content) and returns
  // its name's stable storage.
  const std::string* pool(NftSet s) {
    auto it = sets_.find(s.name);
    if (it == sets_.end()) it = sets_.emplace(s.name, std::move(s)).first;
    return &it->first;
  }

  PreparedRule prepare(const AllowRule& rule) {
    PreparedRule pr;
    pr.rule = &rule;
    pr.targets = targets(rule);
    if (rule.any_port) {
      pr.ports.push_back(PortEntry{nullptr, "any port", {}});
    } else {
      for (const auto& p : rule.ports) pr.ports.push_back(PortEntry{&p, port_spec_text(p), p.pos});
    }
    const std::string subj = subject_text(rule.subject);
    const std::string tail =
        rule.origin.pos.line > 0 ? " (" + rule.origin.pos.to_string() + ")" : "";
    pr.comments.resize(pr.targets.size());
    pr.resolved.resize(pr.targets.size());
    for (size_t t = 0; t < pr.targets.size(); ++t) {
      const Target& tg = pr.targets[t];
      const std::string body =
          rule.dir == Direction::ingress ? tg.text + " -> " + subj : subj + " -> " + tg.text;
      for (const auto& port : pr.ports) {
        pr.comments[t].push_back(
            fit_comment(rule.origin.policy + ": ", body + " " + port.key, tail));
        std::vector<Emission> em;
        if (port.spec && !port.spec->named.empty()) {
          if (rule.dir == Direction::egress) em = named_egress(tg, *port.spec);
        } else {
          const std::vector<PortMatch> pms = port.spec
                                                 ? numeric_matches(*port.spec)
                                                 : std::vector<PortMatch>{{Protocol::any, 0, 0}};
          for (const auto& [family, set] : tg.matchers)
            for (const auto& pm : pms) em.push_back({family, set, pm});
        }
        pr.resolved[t].push_back(std::move(em));
      }
    }
    return pr;
  }

  std::vector<Target> targets(const AllowRule& rule) {
    std::vector<Target> out;
    if (rule.any_peer) {
      Target t;
      t.key = "any";
      t.base = "_any";  // no group name starts with an underscore
      t.text = "any";
      t.matchers = {{0, nullptr}};
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
        t.base = base_.at(t.key);
        std::vector<IpAddr> addrs;
        for (size_t m : *t.members)
          addrs.insert(addrs.end(), eps_[m]->addresses.begin(), eps_[m]->addresses.end());
        t.matchers = {{4, pool(address_set(t.base + "_v4", 4, addrs))},
                      {6, pool(address_set(t.base + "_v6", 6, addrs))}};
      } else {
        t.kind = Target::Kind::cidr;
        t.cidr = &std::get<CidrPeer>(p.what);
        t.key = cidr_peer_key(*t.cidr);
        t.text = cidr_peer_text(*t.cidr);
        t.base = base_.at(t.key);
        const int family = t.cidr->cidr.addr.family;
        NftSet s;
        s.name = t.base + (family == 4 ? "_v4" : "_v6");
        s.family = family;
        s.interval = true;
        std::vector<AddrRange> holes;
        for (const auto& x : t.cidr->except) holes.push_back({x.first(), x.last()});
        s.elements = subtract_ranges({{t.cidr->cidr.first(), t.cidr->cidr.last()}}, holes);
        t.matchers = {{family, pool(std::move(s))}};
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  // An egress named port is resolved on each destination: the peer splits into one set per
  // resolved (protocol, port). Toward a CIDR or `any`, only endpoints that define the name
  // (and lie inside the CIDR) can match; outside addresses have no named ports.
  std::vector<Emission> named_egress(const Target& t, const PortSpec& port) {
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
    std::vector<Emission> out;
    for (const auto& [key, addrs] : groups) {
      const auto [proto, number] = key;
      // '.' cannot occur in group names, so a split set never takes another peer's name.
      const std::string base = t.base + "." + port_name_part(port.named) + "." +
                               protocol_name(proto) + std::to_string(number);
      const PortMatch pm{proto, number, number};
      std::vector<int> families{4, 6};
      if (t.kind == Target::Kind::cidr) {
        if (addrs.empty()) continue;
        families = {t.cidr->cidr.addr.family};
      }
      for (int family : families) {
        out.push_back(
            {family, pool(address_set(base + (family == 4 ? "_v4" : "_v6"), family, addrs)), pm});
      }
    }
    return out;
  }

  std::optional<NftTable> table_for(size_t e, const std::vector<size_t>& isos,
                                    const std::vector<size_t>& rules) {
    std::vector<const std::string*> used;
    NftTable table;
    for (Direction dir : {Direction::ingress, Direction::egress}) {
      std::set<std::string> enforcing, auditing;
      for (size_t i : isos) {
        const Isolation& iso = ps_.isolations[i];
        if (iso.dir == dir) (iso.origin.audit ? auditing : enforcing).insert(iso.origin.policy);
      }
      // Audit entries never change what is enforced: where an enforcing policy isolates the side
      // they are left out; where only audit policies do, the chain accepts what they would deny.
      if (!enforcing.empty()) {
        table.chains.push_back(chain_for(e, dir, enforcing, false, rules, used));
      } else if (!auditing.empty()) {
        table.chains.push_back(chain_for(e, dir, auditing, true, rules, used));
      }
    }
    if (table.chains.empty()) return std::nullopt;
    std::sort(used.begin(), used.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    used.erase(std::unique(used.begin(), used.end()), used.end());
    table.sets.reserve(used.size());
    for (const std::string* name : used) table.sets.push_back(sets_.at(*name));
    return table;
  }

  NftChain chain_for(size_t e, Direction dir, const std::set<std::string>& isolating, bool audit,
                     const std::vector<size_t>& rules, std::vector<const std::string*>& used) {
    NftChain chain;
    chain.name = dir == Direction::ingress ? "ingress" : "egress";
    chain.hook = dir == Direction::ingress ? Hook::input : Hook::output;
    chain.priority = 0;
    for (RuleKind k : {RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                       RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept}) {
      NftRule r;
      r.kind = k;
      // Invalid packets dropped are counted, so that a drop there shows in status and metrics.
      r.counter = k == RuleKind::ct_invalid_drop;
      chain.rules.push_back(r);
    }

    std::vector<Candidate> cands;
    for (size_t ri : rules) {
      const PreparedRule& pr = prepared_[ri];
      if (pr.rule->dir != dir || (pr.rule->origin.audit && !audit)) continue;
      for (uint32_t t = 0; t < pr.targets.size(); ++t) {
        for (uint32_t p = 0; p < pr.ports.size(); ++p) {
          auto emit = [&](const Emission& em) {
            for (L4 l4 : l4_for(em.pm.proto, em.family)) {
              cands.push_back({&pr, t, p, em.family, em.set, l4, em.pm.first, em.pm.last});
            }
          };
          const PortSpec* spec = pr.ports[p].spec;
          if (spec && !spec->named.empty() && dir == Direction::ingress) {
            // Ingress named ports resolve on the endpoint being compiled.
            auto np = resolve_named_port(*spec, *eps_[e]);
            if (!np) continue;
            for (const auto& [family, set] : pr.targets[t].matchers)
              emit({family, set, {np->proto, np->port, np->port}});
            continue;
          }
          for (const auto& em : pr.resolved[t][p]) emit(em);
        }
      }
    }
    std::sort(cands.begin(), cands.end(), candidate_less);
    std::set<std::tuple<int, const std::string*, L4, uint16_t, uint16_t>> seen;
    for (const auto& c : cands) {
      if (!seen.emplace(c.family, c.set, c.proto, c.first, c.last).second) continue;
      NftRule r;
      r.kind = RuleKind::allow;
      r.family = c.family;
      if (c.set) {
        r.peer_set = *c.set;
        used.push_back(c.set);
      }
      r.proto = c.proto;
      r.port_first = c.first;
      r.port_last = c.last;
      r.comment = c.prepared->comments[c.target][c.port];
      chain.rules.push_back(std::move(r));
    }

    NftRule log;
    log.kind = RuleKind::log;
    log.counter = false;
    log.log_rate = kLogRate;
    log.log_burst = kLogBurst;
    log.log_group = kNflogGroup;
    log.log_prefix = log_prefix(audit, chain.name, eps_[e]->name);
    chain.rules.push_back(std::move(log));

    NftRule last;
    std::string names;
    for (const auto& p : isolating) names += (names.empty() ? "" : ", ") + p;
    if (audit) {
      last.kind = RuleKind::final_accept;
      last.comment = fit_comment("", "would deny other " + chain.name + " (audit: " + names, ")");
    } else {
      last.kind = RuleKind::final_drop;
      last.comment = fit_comment("", "drop other " + chain.name + " (isolated by " + names, ")");
    }
    chain.rules.push_back(std::move(last));
    return chain;
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
      // A limit drops what exceeds it, and an audit policy must not change traffic.
      if (l.origin.audit) continue;
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
  std::map<std::string, NftSet> sets_;  // every set any table may use, by name
  std::vector<PreparedRule> prepared_;  // parallel to ps_.rules
};

}  // namespace

Plan compile(const PolicySet& policies, const Endpoints& endpoints) {
  return Compiler(policies, endpoints).run();
}

}  // namespace bulkhead::policy
