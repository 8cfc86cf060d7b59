#include "policy/plan/host.h"

#include <algorithm>
#include <map>

#include "policy/plan/nft_names.h"

namespace bulkhead::policy {
namespace {

NftRule bare(RuleKind kind, bool counter = false) {
  NftRule r;
  r.kind = kind;
  r.counter = counter;
  return r;
}

// [ip|ip6] saddr|daddr vmap @map, iifname vmap @map
NftRule dispatch(RuleKind kind, int family, std::string map) {
  NftRule r = bare(kind);
  r.family = family;
  r.peer_set = std::move(map);
  return r;
}

NftMap map(std::string name, MapKey key) {
  NftMap m;
  m.name = std::move(name);
  m.key = key;
  return m;
}

// Sorted by key; a key twice (two endpoints claiming one address) keeps the first endpoint's.
void finish(NftMap& m) {
  std::stable_sort(m.elements.begin(), m.elements.end(),
                   [](const MapElement& a, const MapElement& b) { return a.key < b.key; });
  m.elements.erase(
      std::unique(m.elements.begin(), m.elements.end(),
                  [](const MapElement& a, const MapElement& b) { return a.key == b.key; }),
      m.elements.end());
}

// The source addresses an endpoint's port may send from: its own of `family`, and `extra`.
NftSet own_set(std::string name, int family, const std::vector<IpAddr>& addrs,
               std::vector<AddrRange> extra) {
  NftSet s;
  s.name = std::move(name);
  s.family = family;
  s.interval = true;
  for (const auto& a : addrs)
    if (a.family == family) extra.push_back({a, a});
  s.elements = normalize_ranges(std::move(extra));
  return s;
}

AddrRange cidr_range(const char* text) {
  const Cidr c = *Cidr::parse(text);
  return {c.first(), c.last()};
}

NftChain base_chain(std::string name, Hook hook, int priority) {
  NftChain c;
  c.name = std::move(name);
  c.hook = hook;
  c.priority = priority;
  return c;
}

// The endpoint's in-namespace chain as a chain jumped to: loopback is the namespace's own.
NftChain host_chain(const std::string& endpoint, const NftChain& in_namespace) {
  NftChain c;
  const ChainSide side = side_of(in_namespace);
  c.name = host_chain_name(endpoint, side);
  c.hook = Hook::none;
  c.side = side;
  c.accept_returns = true;
  for (const auto& r : in_namespace.rules)
    if (r.kind != RuleKind::loopback_accept) c.rules.push_back(r);
  return c;
}

// Maps by direction and family: the base chains look the packet's source up in the egress maps
// (the endpoint sending) and its destination in the ingress maps (the endpoint receiving).
class PolicyTable {
 public:
  PolicyTable() { table_.name = kHostTableName; }

  void add(const Endpoint& ep, const NftTable& table) {
    for (const auto& s : table.sets) sets_.emplace(s.name, s);
    for (const auto& chain : table.chains) {
      NftChain c = host_chain(ep.name, chain);
      const bool egress = c.side == ChainSide::egress;
      for (const auto& a : ep.addresses) {
        NftMap& m =
            a.family == 4 ? (egress ? egress4_ : ingress4_) : (egress ? egress6_ : ingress6_);
        m.elements.push_back({a.to_string(), c.name});
      }
      chains_.push_back(std::move(c));
    }
  }

  std::optional<NftTable> take() {
    if (chains_.empty()) return std::nullopt;
    for (auto& [name, set] : sets_) table_.sets.push_back(std::move(set));
    NftChain forward = base_chain("forward", Hook::forward, 0);
    NftChain input = base_chain("input", Hook::input, 0);
    NftChain output = base_chain("output", Hook::output, 0);
    for (NftChain* c : {&forward, &input, &output})
      c->rules.push_back(bare(RuleKind::ct_established_accept));
    for (NftChain* c : {&forward, &input}) {
      c->rules.push_back(dispatch(RuleKind::vmap_saddr, 4, egress4_.name));
      c->rules.push_back(dispatch(RuleKind::vmap_saddr, 6, egress6_.name));
    }
    for (NftChain* c : {&forward, &output}) {
      c->rules.push_back(dispatch(RuleKind::vmap_daddr, 4, ingress4_.name));
      c->rules.push_back(dispatch(RuleKind::vmap_daddr, 6, ingress6_.name));
    }
    table_.chains = {std::move(forward), std::move(input), std::move(output)};
    for (auto& c : chains_) table_.chains.push_back(std::move(c));
    for (auto* m : {&egress4_, &egress6_, &ingress4_, &ingress6_}) {
      finish(*m);
      table_.maps.push_back(std::move(*m));
    }
    return std::move(table_);
  }

 private:
  NftTable table_;
  NftMap egress4_ = map("egress4", MapKey::ipv4), egress6_ = map("egress6", MapKey::ipv6);
  NftMap ingress4_ = map("ingress4", MapKey::ipv4), ingress6_ = map("ingress6", MapKey::ipv6);
  std::map<std::string, NftSet> sets_;  // by name: a name means the same elements everywhere
  std::vector<NftChain> chains_;
};

class AntispoofTable {
 public:
  AntispoofTable() {
    table_.family = TableFamily::bridge;
    table_.name = kHostTableName;
    prerouting_ = base_chain("prerouting", Hook::prerouting, kBridgeFilterPriority);
    prerouting_.rules.push_back(dispatch(RuleKind::vmap_iifname, 0, ports_.name));
  }

  void add(const Endpoint& ep, const std::vector<std::string>& ifnames) {
    const std::string id = host_id(ep.name);
    const std::string chain = host_spoof_chain_name(ep.name);
    for (const auto& ifname : ifnames) ports_.elements.push_back({ifname, chain});
    // The unspecified address (DHCP, ARP probes, duplicate address detection) and IPv6
    // link-local addresses are every interface's own.
    NftSet v4 = own_set(id + "-s4", 4, ep.addresses, {cidr_range("0.0.0.0/32")});
    NftSet v6 =
        own_set(id + "-s6", 6, ep.addresses, {cidr_range("::/128"), cidr_range("fe80::/10")});
    NftChain c;
    c.name = chain;
    c.hook = Hook::none;
    c.side = ChainSide::ingress;
    c.accept_returns = true;
    for (const NftSet* s : {&v4, &v6}) {
      NftRule allow = bare(RuleKind::allow);
      allow.family = s->family;
      allow.peer_set = s->name;
      c.rules.push_back(allow);
    }
    NftRule arp = bare(RuleKind::arp_sender_allow);
    arp.peer_set = v4.name;
    c.rules.push_back(arp);
    NftRule drop = bare(RuleKind::final_drop, true);
    drop.comment = "anti-spoofing: " + ep.name;
    c.rules.push_back(std::move(drop));
    sets_.push_back(std::move(v4));
    sets_.push_back(std::move(v6));
    chains_.push_back(std::move(c));
  }

  std::optional<NftTable> take() {
    if (chains_.empty()) return std::nullopt;
    std::sort(sets_.begin(), sets_.end(),
              [](const NftSet& a, const NftSet& b) { return a.name < b.name; });
    table_.sets = std::move(sets_);
    table_.chains.push_back(std::move(prerouting_));
    for (auto& c : chains_) table_.chains.push_back(std::move(c));
    finish(ports_);
    table_.maps.push_back(std::move(ports_));
    return std::move(table_);
  }

 private:
  NftTable table_;
  NftChain prerouting_;
  NftMap ports_ = map("ports", MapKey::ifname);
  std::vector<NftSet> sets_;
  std::vector<NftChain> chains_;
};

}  // namespace

std::string host_id(const std::string& endpoint) { return "e" + stable_hash(endpoint); }

std::string host_chain_name(const std::string& endpoint, ChainSide side) {
  return host_id(endpoint) + (side == ChainSide::ingress ? "-ingress" : "-egress");
}

std::string host_spoof_chain_name(const std::string& endpoint) {
  return host_id(endpoint) + "-spoof";
}

HostPlan compile_host(const Plan& plan, const Endpoints& endpoints,
                      const std::vector<HostPort>& ports) {
  std::map<std::string, std::vector<std::string>> ifnames;
  for (const auto& p : ports) ifnames[p.endpoint].push_back(p.ifname);
  PolicyTable policy;
  AntispoofTable antispoof;
  HostPlan out;
  for (const auto& ep : plan.endpoints) {
    auto port = ifnames.find(ep.endpoint);
    auto model =
        std::lower_bound(endpoints.begin(), endpoints.end(), ep.endpoint,
                         [](const Endpoint& e, const std::string& name) { return e.name < name; });
    if (port == ifnames.end() || model == endpoints.end() || model->name != ep.endpoint) continue;
    std::sort(port->second.begin(), port->second.end());
    antispoof.add(*model, port->second);
    if (ep.table) policy.add(*model, *ep.table);
    out.endpoints.push_back(ep.endpoint);
  }
  out.policy = policy.take();
  out.antispoof = antispoof.take();
  return out;
}

}  // namespace bulkhead::policy
