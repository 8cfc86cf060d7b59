// lint(): semantic warnings over the whole model. Each warning has a stable rule id and is
// positioned where a person fixes it: the rule, the peer, the port, the group or the inventory
// entry. The output formats live in lint_format.cc.
#include "policy/inspect/lint.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "policy/model/describe.h"
#include "policy/model/quantity.h"
#include "policy/model/resolve.h"

namespace bulkhead::policy {
namespace {

Diagnostic warning(SourcePos pos, std::string message, std::string rule) {
  return Diagnostic{std::move(pos), Severity::warning, std::move(message), std::move(rule)};
}

std::string subject_key(const Subject& s) {
  return (s.ns ? "ns=" + *s.ns : std::string("ns:*")) + " {" + s.pods.canonical() + "}";
}

// ---- containment of peers and ports, for shadowed and duplicate rules ----

bool cidr_within(const CidrPeer& inner, const CidrPeer& outer) {
  if (!outer.cidr.contains(inner.cidr)) return false;
  // Every hole of `outer` that touches `inner` must be a hole of `inner` as well.
  for (const auto& hole : outer.except) {
    if (!inner.cidr.contains(hole) && !hole.contains(inner.cidr)) continue;
    if (hole.contains(inner.cidr)) return false;
    const bool covered = std::any_of(inner.except.begin(), inner.except.end(),
                                     [&](const Cidr& e) { return e.contains(hole); });
    if (!covered) return false;
  }
  return true;
}

bool peer_within(const Peer& inner, const AllowRule& outer) {
  if (outer.any_peer) return true;
  for (const auto& o : outer.peers) {
    const auto* ie = std::get_if<EndpointPeer>(&inner.what);
    const auto* oe = std::get_if<EndpointPeer>(&o.what);
    if (ie && oe && endpoint_peer_key(*ie) == endpoint_peer_key(*oe)) return true;
    const auto* ic = std::get_if<CidrPeer>(&inner.what);
    const auto* oc = std::get_if<CidrPeer>(&o.what);
    if (ic && oc && cidr_within(*ic, *oc)) return true;
  }
  return false;
}

bool peers_within(const AllowRule& inner, const AllowRule& outer) {
  if (inner.any_peer) return outer.any_peer;
  return std::all_of(inner.peers.begin(), inner.peers.end(),
                     [&](const Peer& p) { return peer_within(p, outer); });
}

bool port_within(const PortSpec& in, const PortSpec& out) {
  if (!in.named.empty() || !out.named.empty()) {
    return in.named == out.named && (out.proto == Protocol::any || out.proto == in.proto);
  }
  if (out.proto == Protocol::any && out.first == 0) return true;
  if (in.proto == Protocol::icmp || out.proto == Protocol::icmp) return in.proto == out.proto;
  if (out.proto != Protocol::any && out.proto != in.proto) return false;
  if (out.first == 0) return true;
  if (in.first == 0) return false;
  return in.first >= out.first && std::max(in.first, in.last) <= std::max(out.first, out.last);
}

bool ports_within(const AllowRule& inner, const AllowRule& outer) {
  if (outer.any_port) return true;
  if (inner.any_port) return false;
  return std::all_of(inner.ports.begin(), inner.ports.end(), [&](const PortSpec& p) {
    return std::any_of(outer.ports.begin(), outer.ports.end(),
                       [&](const PortSpec& o) { return port_within(p, o); });
  });
}

bool rule_within(const AllowRule& inner, const AllowRule& outer) {
  return peers_within(inner, outer) && ports_within(inner, outer);
}

// A source rule (native rules expand into one model rule per side) is redundant when every
// model rule it produced lies within another rule of the same direction and subject.
void check_redundant_rules(const PolicySet& ps, Diagnostics& out) {
  struct Cover {
    const AllowRule* by = nullptr;
    bool same = false;
  };
  auto source = [](const AllowRule& r) { return std::tie(r.origin.pos, r.origin.policy); };
  std::map<std::pair<Direction, std::string>, std::vector<const AllowRule*>> by_subject;
  for (const auto& r : ps.rules) by_subject[{r.dir, subject_key(r.subject)}].push_back(&r);
  std::map<const AllowRule*, Cover> covers;
  for (auto& [key, rules] : by_subject) {
    std::sort(rules.begin(), rules.end(),
              [&](const AllowRule* a, const AllowRule* b) { return source(*a) < source(*b); });
    for (size_t i = 0; i < rules.size(); ++i) {
      const AllowRule& r = *rules[i];
      for (size_t j = 0; j < rules.size(); ++j) {
        const AllowRule& o = *rules[j];
        if (source(r) == source(o) || !rule_within(r, o)) continue;
        const bool same = rule_within(o, r);
        if (same && source(o) > source(r)) continue;  // the later copy is the duplicate
        covers[&r] = Cover{&o, same};
        break;
      }
    }
  }
  std::map<std::tuple<SourcePos, std::string>, std::vector<const AllowRule*>> by_source;
  for (const auto& r : ps.rules) by_source[source(r)].push_back(&r);
  for (const auto& [src, derived] : by_source) {
    bool all_covered = true, all_same = true;
    const AllowRule* first_cover = nullptr;
    for (const AllowRule* r : derived) {
      auto it = covers.find(r);
      if (it == covers.end()) {
        all_covered = false;
        break;
      }
      all_same = all_same && it->second.same;
      if (!first_cover || source(*it->second.by) < source(*first_cover))
        first_cover = it->second.by;
    }
    if (!all_covered) continue;
    const SourcePos& at = derived.front()->origin.pos;
    const std::string other = first_cover->origin.pos.to_string();
    if (all_same) {
      out.push_back(
          warning(at, "rule duplicates the rule at " + other + " (same subject, peers and ports)",
                  "duplicate-rule"));
    } else {
      out.push_back(warning(at,
                            "rule is shadowed by the rule at " + other +
                                ": its peers and ports are a subset of that rule's",
                            "shadowed-rule"));
    }
  }
}

void check_rule_shapes(const PolicySet& ps, Diagnostics& out) {
  std::set<SourcePos> seen_anything;
  for (const auto& r : ps.rules) {
    // Native rules become one model rule per side; report each source rule once.
    if (r.any_peer && r.any_port && seen_anything.insert(r.origin.pos).second) {
      out.push_back(warning(r.origin.pos,
                            std::string("rule allows every peer on every port: it undoes the ") +
                                (r.dir == Direction::ingress ? "ingress" : "egress") +
                                " isolation of what it selects",
                            "allow-anything"));
    }
  }
  std::set<SourcePos> seen_cidr;
  for (const auto& r : ps.rules) {
    for (const auto& p : r.peers) {
      const auto* c = std::get_if<CidrPeer>(&p.what);
      if (!c || !seen_cidr.insert(p.pos).second) continue;
      const int limit = c->cidr.addr.family == 4 ? 8 : 32;
      if (c->cidr.prefix < limit) {
        out.push_back(warning(p.pos,
                              "CIDR " + c->cidr.to_string() + " is wider than /" +
                                  std::to_string(limit) + "; is that intended?",
                              "wide-cidr"));
      }
    }
  }
}

void check_cidrs_against_inventory(const PolicySet& ps, const Endpoints& inv, Diagnostics& out) {
  std::set<SourcePos> seen;
  for (const auto& r : ps.rules) {
    for (const auto& p : r.peers) {
      const auto* c = std::get_if<CidrPeer>(&p.what);
      if (!c || !seen.insert(p.pos).second) continue;
      std::vector<std::string> hits;
      for (const auto& e : inv) {
        for (const auto& a : e.addresses) {
          if (cidr_peer_contains(*c, a)) {
            hits.push_back(e.name + " (" + a.to_string() + ")");
            break;
          }
        }
      }
      if (hits.empty()) continue;
      std::string list;
      for (size_t i = 0; i < hits.size() && i < 3; ++i) list += (i ? ", " : "") + hits[i];
      if (hits.size() > 3) list += " and " + std::to_string(hits.size() - 3) + " more";
      out.push_back(warning(p.pos,
                            "CIDR " + c->cidr.to_string() + " contains endpoint addresses: " +
                                list + "; select endpoints by labels, addresses change",
                            "cidr-contains-endpoints"));
    }
  }
}

void check_selects_nothing(const PolicySet& ps, const Endpoints& inv, Diagnostics& out) {
  auto selects_any = [&](const Subject& s) {
    return std::any_of(inv.begin(), inv.end(),
                       [&](const Endpoint& e) { return subject_selects(s, e); });
  };
  // Policies: nothing that the policy applies to exists.
  std::map<std::string, bool> policy_hits;
  for (const auto& i : ps.isolations) policy_hits[i.origin.policy] |= selects_any(i.subject);
  for (const auto& r : ps.rules) policy_hits[r.origin.policy] |= selects_any(r.subject);
  for (const auto& l : ps.limits) policy_hits[l.origin.policy] |= selects_any(l.subject);
  for (const auto& p : ps.policies) {
    auto it = policy_hits.find(p.name);
    if (it != policy_hits.end() && !it->second) {
      out.push_back(warning(p.pos, "policy \"" + p.name + "\" selects no endpoint of the inventory",
                            "selects-nothing"));
    }
  }
  // Native groups: at their definition (where isolations and limits point), else their first use.
  struct GroupUse {
    LabelSelector selector;
    std::optional<SourcePos> defined;
    std::optional<SourcePos> used;
  };
  std::map<std::string, GroupUse> groups;
  auto define = [&](const Subject& s, const SourcePos& pos) {
    if (s.group.empty()) return;
    auto& g = groups[s.group];
    g.selector = s.pods;
    if (!g.defined || pos < *g.defined) g.defined = pos;
  };
  auto use = [&](const std::string& name, const LabelSelector& sel, const SourcePos& pos) {
    if (name.empty()) return;
    auto& g = groups[name];
    g.selector = sel;
    if (!g.used || pos < *g.used) g.used = pos;
  };
  for (const auto& i : ps.isolations) define(i.subject, i.origin.pos);
  for (const auto& l : ps.limits) define(l.subject, l.origin.pos);
  for (const auto& r : ps.rules) {
    use(r.subject.group, r.subject.pods, r.origin.pos);
    for (const auto& p : r.peers)
      if (const auto* e = std::get_if<EndpointPeer>(&p.what)) use(e->group, e->pods, p.pos);
  }
  for (const auto& [name, g] : groups) {
    const bool hit = std::any_of(inv.begin(), inv.end(), [&g = g](const Endpoint& e) {
      return g.selector.matches(e.labels);
    });
    if (hit) continue;
    out.push_back(warning(g.defined ? *g.defined : *g.used,
                          "group \"" + name + "\" (" + g.selector.canonical() +
                              ") selects no endpoint of the inventory",
                          "selects-nothing"));
  }
}

void check_named_ports(const PolicySet& ps, const Endpoints& inv, Diagnostics& out) {
  const NamespaceIndex ns(ps);
  std::set<std::pair<SourcePos, Direction>> seen;
  for (const auto& r : ps.rules) {
    // The endpoints a named port is resolved on: the subject's (ingress) or the peers' (egress).
    std::vector<const Endpoint*> where;
    for (const auto& e : inv) {
      bool in = false;
      if (r.dir == Direction::ingress) {
        in = subject_selects(r.subject, e);
      } else if (r.any_peer) {
        in = true;
      } else {
        for (const auto& p : r.peers) {
          if (const auto* ep = std::get_if<EndpointPeer>(&p.what)) {
            in = in || peer_selects(*ep, e, ns);
          } else {
            const auto& c = std::get<CidrPeer>(p.what);
            for (const auto& a : e.addresses) in = in || cidr_peer_contains(c, a);
          }
        }
      }
      if (in) where.push_back(&e);
    }
    if (where.empty()) continue;  // selects-nothing says more
    for (const auto& port : r.ports) {
      if (port.named.empty() || !seen.insert({port.pos, r.dir}).second) continue;
      const bool resolved = std::any_of(where.begin(), where.end(), [&](const Endpoint* e) {
        return resolve_named_port(port, *e).has_value();
      });
      if (resolved) continue;
      out.push_back(warning(port.pos,
                            "named port \"" + port_spec_text(port) + "\" is defined by no " +
                                (r.dir == Direction::ingress ? "endpoint the rule applies to"
                                                             : "peer endpoint of the rule") +
                                "; the rule allows nothing on it",
                            "unresolved-named-port"));
    }
  }
}

void check_bandwidth(const PolicySet& ps, const Endpoints& inv, Diagnostics& out) {
  for (const auto& e : inv) {
    for (bool egress : {true, false}) {
      std::vector<std::pair<const Rate*, const Origin*>> rates;
      for (const auto& l : ps.limits) {
        const auto& rate = egress ? l.egress : l.ingress;
        if (rate && subject_selects(l.subject, e)) rates.push_back({&*rate, &l.origin});
      }
      std::sort(rates.begin(), rates.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first->bits_per_second, a.first->burst_bytes, a.second->policy,
                        a.second->pos) < std::tie(b.first->bits_per_second, b.first->burst_bytes,
                                                  b.second->policy, b.second->pos);
      });
      const bool differ =
          rates.size() > 1 && std::any_of(rates.begin(), rates.end(), [&](const auto& r) {
            return r.first->bits_per_second != rates[0].first->bits_per_second ||
                   r.first->burst_bytes != rates[0].first->burst_bytes;
          });
      if (!differ) continue;
      std::string list;
      for (const auto& [rate, origin] : rates) {
        list += (list.empty() ? "" : ", ") + format_rate(rate->bits_per_second) + " from " +
                origin->policy + " (" + origin->pos.to_string() + ")";
      }
      const SourcePos at = e.pos.file.empty() ? rates.back().second->pos : e.pos;
      out.push_back(warning(at,
                            "endpoint \"" + e.name + "\" gets different " +
                                (egress ? "egress" : "ingress") + " limits: " + list +
                                "; the smallest applies",
                            "conflicting-bandwidth"));
    }
  }
}

// docs/security.md, Tampering: such endpoints are watched and repaired, not prevented.
constexpr const char* kRepairLoop = "its isolation depends on bulkheadd's repair loop";

void check_unsafe_endpoints(const Endpoints& inv, Diagnostics& out) {
  for (const auto& e : inv) {
    const std::string who = "endpoint \"" + e.name + "\"";
    if (e.host_network) {
      out.push_back(warning(e.pos,
                            who + " uses the host's network namespace: it cannot be segmented, "
                                  "and bulkhead never programs the host's namespace for it",
                            "unsafe-endpoint"));
    }
    if (e.privileged) {
      out.push_back(warning(
          e.pos,
          who + " is privileged: it can change or remove its own nftables rules; " + kRepairLoop,
          "unsafe-endpoint"));
    }
    if (e.net_admin) {
      out.push_back(
          warning(e.pos,
                  who + " has CAP_NET_ADMIN: it can change or remove its own nftables rules; " +
                      kRepairLoop,
                  "unsafe-endpoint"));
    }
  }
}

}  // namespace

Diagnostics skipped_notes(const std::vector<SkippedDocument>& skipped) {
  Diagnostics out;
  for (const auto& d : skipped) {
    out.push_back(Diagnostic{d.pos, Severity::note,
                             "skipped " + d.api_version + " " + d.kind +
                                 (d.name.empty() ? "" : " \"" + d.name + "\"") + " (not a policy)",
                             "skipped-kind"});
  }
  return out;
}

namespace {

// The policy whose text [pos, end) holds `at`.
const PolicyInfo* policy_at(const PolicySet& set, const SourcePos& at) {
  for (const auto& p : set.policies) {
    if (p.pos.file != at.file || at < p.pos) continue;
    if (p.end.line > 0 && !(at < p.end)) continue;
    return &p;
  }
  return nullptr;
}

bool listed(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

void apply_suppressions(Diagnostics& diags, const PolicySet& set,
                        const std::vector<std::string>& run_ignores) {
  for (auto& d : diags) {
    if (d.severity == Severity::error) continue;
    if (const PolicyInfo* p = policy_at(set, d.pos); p && listed(p->lint_ignore, d.rule)) {
      d.suppressed = Suppression::in_source;
      d.suppressed_by = p->lint_ignore_pos.to_string();
    } else if (listed(run_ignores, d.rule)) {
      d.suppressed = Suppression::external;
      d.suppressed_by = "--ignore";
    }
  }
}

Diagnostics lint(const PolicySet& policies, const Endpoints* inventory) {
  Diagnostics out;
  check_redundant_rules(policies, out);
  check_rule_shapes(policies, out);
  if (inventory) {
    check_selects_nothing(policies, *inventory, out);
    check_cidrs_against_inventory(policies, *inventory, out);
    check_named_ports(policies, *inventory, out);
    check_bandwidth(policies, *inventory, out);
    check_unsafe_endpoints(*inventory, out);
  }
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos, a.rule, a.message) < std::tie(b.pos, b.rule, b.message);
  });
  return out;
}

}  // namespace bulkhead::policy
