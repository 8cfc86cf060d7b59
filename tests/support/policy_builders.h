// Small constructors for model objects, so tests state policies in a line each instead of YAML.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "policy/model/endpoint.h"
#include "policy/model/model.h"
#include "policy/model/selector.h"

namespace bulkhead::policy::testing {

inline LabelSelector sel(std::string_view text) {
  SelectorParseError err;
  auto s = parse_selector(text, &err);
  EXPECT_TRUE(s.has_value()) << "bad selector in test: " << text << ": " << err.message;
  return s.value_or(LabelSelector{});
}

inline SourcePos at(int line, int col, std::string file = "p.yaml") {
  return SourcePos{std::move(file), line, col};
}

inline IpAddr ip(std::string_view text) {
  auto a = IpAddr::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddr{});
}

inline Cidr cidr(std::string_view text) {
  auto c = Cidr::parse(text);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(Cidr{});
}

inline Endpoint endpoint(std::string name, std::string_view labels,
                         std::initializer_list<const char*> addrs,
                         std::vector<NamedPort> ports = {}) {
  Endpoint e;
  e.netns = "/run/netns/" + name;
  e.name = std::move(name);
  // "k=v,k2=v2" as labels (a selector's equality syntax, read back as a map).
  for (const auto& r : sel(labels).requirements)
    e.labels[r.key] = r.values.empty() ? "" : r.values[0];
  for (const char* a : addrs) e.addresses.push_back(ip(a));
  std::sort(ports.begin(), ports.end(),
            [](const NamedPort& a, const NamedPort& b) { return a.name < b.name; });
  e.ports = std::move(ports);
  return e;
}

inline Subject group_subject(std::string group, std::string_view selector) {
  return Subject{sel(selector), std::nullopt, std::move(group)};
}

inline Subject k8s_subject(std::string ns, std::string_view selector) {
  return Subject{sel(selector), std::move(ns), ""};
}

inline Peer group_peer(std::string group, std::string_view selector, SourcePos pos = {}) {
  return Peer{EndpointPeer{sel(selector), NamespaceScope{}, std::move(group)}, std::move(pos)};
}

inline NamespaceScope ns_named(std::string name) {
  return NamespaceScope{NamespaceScope::Kind::named, std::move(name), {}};
}

inline NamespaceScope ns_selected(std::string_view selector) {
  return NamespaceScope{NamespaceScope::Kind::selector, "", sel(selector)};
}

inline Peer k8s_peer(std::string_view pods, NamespaceScope ns, SourcePos pos = {}) {
  return Peer{EndpointPeer{sel(pods), std::move(ns), ""}, std::move(pos)};
}

inline Peer cidr_peer(std::string_view c, std::initializer_list<const char*> except = {},
                      SourcePos pos = {}) {
  CidrPeer p;
  p.cidr = cidr(c);
  for (const char* e : except) p.except.push_back(cidr(e));
  return Peer{p, std::move(pos)};
}

inline PortSpec port(Protocol proto, uint16_t first = 0, uint16_t last = 0, SourcePos pos = {}) {
  PortSpec p;
  p.proto = proto;
  p.first = first;
  p.last = last ? last : first;
  p.pos = std::move(pos);
  return p;
}

inline PortSpec named_port(std::string name, Protocol proto = Protocol::tcp, SourcePos pos = {}) {
  PortSpec p;
  p.proto = proto;
  p.named = std::move(name);
  p.pos = std::move(pos);
  return p;
}

inline Origin origin(std::string policy, SourcePos pos, std::string kind = "Policy") {
  return Origin{std::move(policy), std::move(kind), std::move(pos), false};
}

inline AllowRule rule(Direction dir, Subject subject, std::vector<Peer> peers,
                      std::vector<PortSpec> ports, Origin o) {
  AllowRule r;
  r.dir = dir;
  r.subject = std::move(subject);
  r.peers = std::move(peers);
  r.ports = std::move(ports);
  r.origin = std::move(o);
  return r;
}

inline AllowRule any_peer_rule(Direction dir, Subject subject, std::vector<PortSpec> ports,
                               Origin o) {
  AllowRule r = rule(dir, std::move(subject), {}, std::move(ports), std::move(o));
  r.any_peer = true;
  return r;
}

inline AllowRule with_any_port(AllowRule r) {
  r.any_port = true;
  r.ports.clear();
  return r;
}

inline Isolation isolate(Direction dir, Subject subject, Origin o) {
  return Isolation{dir, std::move(subject), std::move(o)};
}

}  // namespace bulkhead::policy::testing
