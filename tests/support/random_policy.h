// Seeded random policies and inventories for the differential and determinism tests: a mix of
// native-style and Kubernetes-style rules over a few namespaces and 5-15 endpoints.
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy::testing {

struct RandomCase {
  PolicySet policies;
  Endpoints endpoints;          // sorted by name
  std::vector<IpAddr> outside;  // addresses of no endpoint
};

class RandomPolicyGen {
 public:
  explicit RandomPolicyGen(uint32_t seed) : rng_(seed) {}

  RandomCase make() {
    RandomCase c;
    make_namespaces(c);
    make_endpoints(c);
    const int policies = between(1, 4);
    for (int p = 0; p < policies; ++p) make_policy(c, p);
    c.outside = {addr("198.19.0.1"), addr("198.18.0.200"), addr("2001:db8::ff"),
                 addr("2001:db8:1::1")};
    return c;
  }

 protected:  // random_k8s_yaml.h builds on the same draws
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(between(0, static_cast<int>(v.size()) - 1))];
  }

  static IpAddr addr(const std::string& s) { return *IpAddr::parse(s); }

  SourcePos next_pos(int policy) {
    return SourcePos{"p" + std::to_string(policy) + ".yaml", ++line_, between(1, 9)};
  }

  void make_namespaces(RandomCase& c) {
    for (const std::string ns : {"alpha", "beta", "gamma"}) {
      if (!chance(0.7)) continue;
      NamespaceInfo info;
      info.name = ns;
      info.labels["team"] = chance(0.5) ? "a" : "b";
      if (chance(0.5)) info.labels["env"] = chance(0.5) ? "prod" : "dev";
      info.labels["kubernetes.io/metadata.name"] = ns;
      c.policies.namespaces.push_back(info);
    }
  }

  void make_endpoints(RandomCase& c) {
    const int n = between(5, 15);
    for (int i = 0; i < n; ++i) {
      Endpoint e;
      e.name = "e" + std::to_string(10 + i);
      e.netns = "/run/netns/" + e.name;
      e.labels["app"] = pick(apps_);
      if (chance(0.6)) e.labels["tier"] = pick(tiers_);
      if (chance(0.8)) e.labels["io.kubernetes.pod.namespace"] = pick(namespaces_);
      if (chance(0.95)) e.addresses.push_back(addr("198.18.0." + std::to_string(10 + i)));
      if (chance(0.3)) e.addresses.push_back(addr("2001:db8::" + std::to_string(10 + i)));
      if (chance(0.5))
        e.ports.push_back({"http", static_cast<uint16_t>(chance(0.5) ? 80 : 8080), Protocol::tcp});
      if (chance(0.3)) e.ports.push_back({"dns", 53, chance(0.5) ? Protocol::udp : Protocol::tcp});
      if (chance(0.2)) e.ports.push_back({"metrics", 9090, Protocol::tcp});
      if (chance(0.2)) e.ports.push_back({"sig", 7777, Protocol::sctp});
      std::sort(e.ports.begin(), e.ports.end(),
                [](const NamedPort& a, const NamedPort& b) { return a.name < b.name; });
      c.endpoints.push_back(std::move(e));
    }
  }

  LabelSelector random_selector(bool allow_empty = true) {
    LabelSelector s;
    const int n = between(allow_empty ? 0 : 1, 2);
    for (int i = 0; i < n; ++i) {
      Requirement r;
      const bool app = chance(0.6);
      r.key = app ? "app" : "tier";
      const auto& pool = app ? apps_ : tiers_;
      switch (between(0, 3)) {
        case 0:
          r.op = Requirement::Op::in;
          r.values = {pick(pool)};
          if (chance(0.3)) r.values.push_back(pick(pool));
          break;
        case 1:
          r.op = Requirement::Op::not_in;
          r.values = {pick(pool)};
          break;
        case 2:
          r.op = Requirement::Op::exists;
          break;
        default:
          r.op = Requirement::Op::does_not_exist;
          break;
      }
      s.requirements.push_back(r);
    }
    s.normalize();
    return s;
  }

  LabelSelector random_ns_selector() {
    LabelSelector s;
    Requirement r;
    switch (between(0, 3)) {
      case 0:
        r = {"team", Requirement::Op::in, {chance(0.5) ? "a" : "b"}};
        break;
      case 1:
        r = {"env", Requirement::Op::exists, {}};
        break;
      case 2:
        r = {"kubernetes.io/metadata.name", Requirement::Op::in, {pick(namespaces_)}};
        break;
      default:
        return s;  // {}: every namespace
    }
    s.requirements.push_back(r);
    s.normalize();
    return s;
  }

  Peer random_cidr_peer(SourcePos pos) {
    CidrPeer p;
    if (chance(0.75)) {
      const int prefix = pick(std::vector<int>{16, 24, 26, 28, 30, 32});
      p.cidr =
          *Cidr::parse("198.18.0." + std::to_string(between(8, 30)) + "/" + std::to_string(prefix));
      if (chance(0.5)) {
        const int ex = std::min(32, prefix + between(1, 4));
        p.except.push_back(
            *Cidr::parse("198.18.0." + std::to_string(between(8, 30)) + "/" + std::to_string(ex)));
      }
    } else {
      p.cidr = *Cidr::parse(chance(0.5) ? "2001:db8::/120" : "2001:db8::/32");
      if (chance(0.5)) p.except.push_back(*Cidr::parse("2001:db8::10/126"));
    }
    return Peer{p, pos};
  }

  PortSpec random_port(SourcePos pos) {
    PortSpec p;
    p.pos = pos;
    switch (between(0, 9)) {
      case 0:
        p.proto = Protocol::tcp;
        p.first = p.last = pick(std::vector<uint16_t>{80, 443, 8080});
        break;
      case 1:
        p.proto = Protocol::tcp;
        p.first = 80;
        p.last = pick(std::vector<uint16_t>{80, 443, 9000});
        break;
      case 2:
        p.proto = pick(std::vector<Protocol>{Protocol::tcp, Protocol::udp, Protocol::sctp});
        break;
      case 3:
        p.proto = Protocol::udp;
        p.first = p.last = 53;
        break;
      case 4:
        p.proto = Protocol::sctp;
        p.first = p.last = 7777;
        break;
      case 5:
        p.proto = Protocol::icmp;
        break;
      case 6:
        p.proto = Protocol::any;
        p.first = 53;
        p.last = 8080;
        break;
      default:
        p.named = pick(std::vector<std::string>{"http", "dns", "metrics", "sig", "nope"});
        p.proto = pick(std::vector<Protocol>{Protocol::tcp, Protocol::tcp, Protocol::udp,
                                             Protocol::sctp, Protocol::any});
        break;
    }
    return p;
  }

  void make_policy(RandomCase& c, int index) {
    const bool k8s = chance(0.5);
    PolicyInfo info;
    const std::string ns = pick(namespaces_);
    info.name = k8s ? ns + "/np" + std::to_string(index) : "pol" + std::to_string(index);
    info.kind = k8s ? "NetworkPolicy" : "Policy";
    info.pos = next_pos(index);
    info.audit = chance(0.3);
    c.policies.policies.push_back(info);

    auto subject = [&] {
      if (k8s) return Subject{random_selector(), ns, ""};
      const std::string group = "g" + std::to_string(between(0, 5));
      return Subject{group_selector(group), std::nullopt, group};
    };
    const Subject main = subject();
    for (Direction d : {Direction::ingress, Direction::egress}) {
      if (chance(0.7)) {
        c.policies.isolations.push_back(
            Isolation{d, main, {info.name, info.kind, info.pos, info.audit}});
      }
    }
    const int rules = between(0, 4);
    for (int r = 0; r < rules; ++r) {
      AllowRule a;
      a.dir = chance(0.5) ? Direction::ingress : Direction::egress;
      a.subject = chance(0.8) ? main : subject();
      a.origin = {info.name, info.kind, next_pos(index), info.audit};
      if (chance(0.12)) {
        a.any_peer = true;
      } else {
        const int peers = between(chance(0.05) ? 0 : 1, 3);
        for (int p = 0; p < peers; ++p) {
          const SourcePos pos = next_pos(index);
          if (chance(0.3)) {
            a.peers.push_back(random_cidr_peer(pos));
          } else if (k8s) {
            NamespaceScope scope;
            switch (between(0, 2)) {
              case 0:
                scope = {NamespaceScope::Kind::named, ns, {}};
                break;
              case 1:
                scope = {NamespaceScope::Kind::selector, "", random_ns_selector()};
                break;
              default:
                scope = {NamespaceScope::Kind::any, "", {}};
                break;
            }
            a.peers.push_back(Peer{EndpointPeer{random_selector(), scope, ""}, pos});
          } else {
            const std::string group = "g" + std::to_string(between(0, 5));
            a.peers.push_back(Peer{EndpointPeer{group_selector(group), {}, group}, pos});
          }
        }
      }
      if (chance(0.15)) {
        a.any_port = true;
      } else {
        const int ports = between(chance(0.05) ? 0 : 1, 3);
        for (int p = 0; p < ports; ++p) a.ports.push_back(random_port(next_pos(index)));
      }
      c.policies.rules.push_back(std::move(a));
    }
    if (chance(0.3)) {
      BandwidthLimit l;
      l.subject = main;
      l.origin = {info.name, info.kind, next_pos(index), info.audit};
      if (chance(0.7)) l.egress = Rate{uint64_t(between(1, 4)) * 10000000, 62500, {}};
      if (chance(0.5)) l.ingress = Rate{uint64_t(between(1, 4)) * 10000000, 125000, {}};
      c.policies.limits.push_back(l);
    }
  }

  // Native groups are global: the same name always means the same selector within one case.
  LabelSelector group_selector(const std::string& group) {
    for (const auto& [name, s] : groups_)
      if (name == group) return s;
    groups_.push_back({group, random_selector(false)});
    return groups_.back().second;
  }

  std::mt19937 rng_;
  int line_ = 0;
  std::vector<std::pair<std::string, LabelSelector>> groups_;
  const std::vector<std::string> apps_{"web", "api", "db", "cache"};
  const std::vector<std::string> tiers_{"front", "back"};
  const std::vector<std::string> namespaces_{"alpha", "beta", "gamma", "default"};
};

}  // namespace bulkhead::policy::testing
