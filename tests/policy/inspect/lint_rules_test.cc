// lint()'s semantic rules: exact text, rule id and position for each.
#include <gtest/gtest.h>

#include "policy/inspect/lint.h"
#include "policy/load/load.h"
#include "tests/support/policy_builders.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT: the builders

std::vector<std::string> render(const Diagnostics& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) {
    out.push_back(d.pos.to_string() + ": " +
                  (d.severity == Severity::warning ? "warning" : "error") + ": " + d.message +
                  " [" + d.rule + "]");
  }
  return out;
}

std::vector<std::string> only(const Diagnostics& ds, const std::string& rule) {
  Diagnostics kept;
  for (const auto& d : ds)
    if (d.rule == rule) kept.push_back(d);
  return render(kept);
}

using Lines = std::vector<std::string>;

TEST(LintRules, CleanPolicyHasNoWarnings) {
  PolicySet ps;
  const auto api = group_subject("api", "app=api");
  ps.policies.push_back(PolicyInfo{"shop", "Policy", at(1, 1), false});
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("shop", at(4, 5))));
  ps.rules.push_back(rule(Direction::ingress, api, {group_peer("web", "app=web", at(9, 13))},
                          {port(Protocol::tcp, 8080, 0, at(10, 13))}, origin("shop", at(9, 7))));
  const Endpoints inv{endpoint("api-1", "app=api", {"198.18.0.2"}),
                      endpoint("web-1", "app=web", {"198.18.0.3"})};
  EXPECT_EQ(render(lint(ps, &inv)), Lines{});
  EXPECT_EQ(render(lint(ps, nullptr)), Lines{});
}

TEST(LintRules, SelectsNothingNeedsAnInventory) {
  PolicySet ps;
  const auto api = group_subject("api", "app=api");
  ps.policies.push_back(PolicyInfo{"shop", "Policy", at(1, 1), false});
  ps.policies.push_back(PolicyInfo{"prod/db", "NetworkPolicy", at(1, 1, "k8s.yaml"), false});
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("shop", at(4, 5))));
  ps.isolations.push_back(isolate(Direction::ingress, k8s_subject("prod", "app=db"),
                                  origin("prod/db", at(1, 1, "k8s.yaml"))));
  // "ghost" is used only as a peer: positioned at its first use.
  ps.rules.push_back(rule(
      Direction::ingress, api,
      {group_peer("ghost", "app=ghost", at(12, 13)), group_peer("ghost", "app=ghost", at(9, 13))},
      {port(Protocol::tcp, 80)}, origin("shop", at(9, 7))));
  const Endpoints inv{endpoint("db-1", "app=db", {"198.18.0.2"})};  // namespace default
  EXPECT_EQ(only(lint(ps, &inv), "selects-nothing"),
            (Lines{"k8s.yaml:1:1: warning: policy \"prod/db\" selects no endpoint of the "
                   "inventory [selects-nothing]",
                   "p.yaml:1:1: warning: policy \"shop\" selects no endpoint of the inventory "
                   "[selects-nothing]",
                   "p.yaml:4:5: warning: group \"api\" (app=api) selects no endpoint of the "
                   "inventory [selects-nothing]",
                   "p.yaml:9:13: warning: group \"ghost\" (app=ghost) selects no endpoint of the "
                   "inventory [selects-nothing]"}));
  EXPECT_EQ(only(lint(ps, nullptr), "selects-nothing"), Lines{});
}

TEST(LintRules, DuplicateAndShadowedRules) {
  PolicySet ps;
  const auto api = k8s_subject("prod", "app=api");
  // Two identical rules, a narrower one, and one that only looks narrower (another subject).
  ps.rules.push_back(rule(Direction::ingress, api,
                          {k8s_peer("app=web", ns_named("prod")), cidr_peer("198.18.0.0/16")},
                          {port(Protocol::tcp, 8000, 8100)}, origin("prod/a", at(10, 7))));
  ps.rules.push_back(rule(Direction::ingress, api,
                          {cidr_peer("198.18.0.0/16"), k8s_peer("app=web", ns_named("prod"))},
                          {port(Protocol::tcp, 8000, 8100)}, origin("prod/a", at(20, 7))));
  ps.rules.push_back(rule(Direction::ingress, api, {cidr_peer("198.18.4.0/24")},
                          {port(Protocol::tcp, 8080)}, origin("prod/b", at(3, 7, "b.yaml"))));
  ps.rules.push_back(rule(Direction::ingress, k8s_subject("dev", "app=api"),
                          {cidr_peer("198.18.4.0/24")}, {port(Protocol::tcp, 8080)},
                          origin("dev/c", at(5, 7, "c.yaml"))));
  // Egress rules are compared among themselves only.
  ps.rules.push_back(rule(Direction::egress, api, {cidr_peer("198.18.4.0/24")},
                          {port(Protocol::tcp, 8080)}, origin("prod/b", at(9, 7, "b.yaml"))));
  EXPECT_EQ(render(lint(ps, nullptr)),
            (Lines{"b.yaml:3:7: warning: rule is shadowed by the rule at p.yaml:10:7: its peers "
                   "and ports are a subset of that rule's [shadowed-rule]",
                   "p.yaml:20:7: warning: rule duplicates the rule at p.yaml:10:7 (same subject, "
                   "peers and ports) [duplicate-rule]"}));
}

TEST(LintRules, ExceptionsAndPortsDecideShadowing) {
  PolicySet ps;
  const auto s = group_subject("s", "app=s");
  ps.rules.push_back(rule(Direction::egress, s, {cidr_peer("198.18.0.0/16", {"198.18.4.0/24"})},
                          {port(Protocol::tcp)}, origin("p", at(1, 7))));
  // Inside the hole: not a subset.
  ps.rules.push_back(rule(Direction::egress, s, {cidr_peer("198.18.4.0/25")},
                          {port(Protocol::tcp, 80)}, origin("p", at(2, 7))));
  // Same hole excepted: a subset.
  ps.rules.push_back(rule(Direction::egress, s, {cidr_peer("198.18.0.0/20", {"198.18.4.0/24"})},
                          {port(Protocol::tcp, 80)}, origin("p", at(3, 7))));
  // UDP is not within TCP.
  ps.rules.push_back(rule(Direction::egress, s, {cidr_peer("198.18.9.0/24")},
                          {port(Protocol::udp, 80)}, origin("p", at(4, 7))));
  EXPECT_EQ(render(lint(ps, nullptr)),
            (Lines{"p.yaml:3:7: warning: rule is shadowed by the rule at p.yaml:1:7: its peers "
                   "and ports are a subset of that rule's [shadowed-rule]"}));
}

TEST(LintRules, NativeRuleIsRedundantOnlyWhenBothSidesAre) {
  // A native rule web -> api becomes an ingress rule of api and an egress rule of web, with the
  // same origin; report the source rule once, and only if both halves are covered.
  PolicySet ps;
  const auto web = group_subject("web", "app=web");
  const auto api = group_subject("api", "app=api");
  const auto batch = group_subject("batch", "app=batch");
  auto native = [&](const std::vector<std::pair<Subject, std::string>>& from, const Subject& to,
                    uint16_t p, SourcePos pos) {
    std::vector<Peer> from_peers;
    for (const auto& [s, sel_text] : from) from_peers.push_back(group_peer(s.group, sel_text));
    ps.rules.push_back(
        rule(Direction::ingress, to, from_peers, {port(Protocol::tcp, p)}, origin("p", pos)));
    for (const auto& [s, sel_text] : from) {
      ps.rules.push_back(rule(Direction::egress, s, {group_peer(to.group, "app=" + to.group)},
                              {port(Protocol::tcp, p)}, origin("p", pos)));
    }
  };
  native({{web, "app=web"}, {batch, "app=batch"}}, api, 80, at(10, 7));
  native({{web, "app=web"}}, api, 80, at(20, 7));    // both halves covered by line 10
  native({{web, "app=web"}}, batch, 80, at(30, 7));  // nothing covers it
  EXPECT_EQ(render(lint(ps, nullptr)),
            (Lines{"p.yaml:20:7: warning: rule is shadowed by the rule at p.yaml:10:7: its peers "
                   "and ports are a subset of that rule's [shadowed-rule]"}));
}

TEST(LintRules, AllowAnythingAndWideCidrs) {
  PolicySet ps;
  const auto s = k8s_subject("prod", "app=s");
  ps.rules.push_back(
      with_any_port(any_peer_rule(Direction::ingress, s, {}, origin("prod/open", at(5, 7)))));
  ps.rules.push_back(
      rule(Direction::egress, s,
           {cidr_peer("0.0.0.0/0", {}, at(8, 11)), cidr_peer("10.0.0.0/8", {}, at(9, 11)),
            cidr_peer("2001:db8::/31", {}, at(10, 11)), cidr_peer("2001:db8::/32", {}, at(11, 11))},
           {port(Protocol::tcp, 443)}, origin("prod/out", at(7, 7))));
  EXPECT_EQ(render(lint(ps, nullptr)),
            (Lines{"p.yaml:5:7: warning: rule allows every peer on every port: it undoes the "
                   "ingress isolation of what it selects [allow-anything]",
                   "p.yaml:8:11: warning: CIDR 0.0.0.0/0 is wider than /8; is that intended? "
                   "[wide-cidr]",
                   "p.yaml:10:11: warning: CIDR 2001:db8::/31 is wider than /32; is that "
                   "intended? [wide-cidr]"}));
}

TEST(LintRules, CidrContainingEndpointAddresses) {
  PolicySet ps;
  const auto s = group_subject("s", "app=s");
  ps.rules.push_back(
      rule(Direction::egress, s,
           {cidr_peer("198.18.0.0/24", {"198.18.0.4/32"}, at(8, 11)),
            cidr_peer("198.18.9.0/24", {}, at(9, 11)), cidr_peer("198.18.1.0/24", {}, at(10, 11))},
           {port(Protocol::tcp, 443)}, origin("p", at(7, 7))));
  const Endpoints inv{
      endpoint("a", "app=s", {"198.18.0.2"}), endpoint("b", "app=x", {"2001:db8::1", "198.18.0.3"}),
      endpoint("c", "app=x", {"198.18.0.4"}),  // excepted
      endpoint("d", "app=x", {"198.18.0.5"}), endpoint("e", "app=x", {"198.18.0.6"}),
      endpoint("f", "app=x", {"198.18.1.9"})};
  EXPECT_EQ(only(lint(ps, &inv), "cidr-contains-endpoints"),
            (Lines{"p.yaml:8:11: warning: CIDR 198.18.0.0/24 contains endpoint addresses: a "
                   "(198.18.0.2), b (198.18.0.3), d (198.18.0.5) and 1 more; select endpoints by "
                   "labels, addresses change [cidr-contains-endpoints]",
                   "p.yaml:10:11: warning: CIDR 198.18.1.0/24 contains endpoint addresses: f "
                   "(198.18.1.9); select endpoints by labels, addresses change "
                   "[cidr-contains-endpoints]"}));
}

TEST(LintRules, ConflictingBandwidthIsReportedAtTheEndpoint) {
  PolicySet ps;
  BandwidthLimit a;
  a.subject = group_subject("batch", "app=batch");
  a.egress = Rate{50'000'000, 62'500, {}};
  a.origin = origin("jobs", at(4, 5));
  BandwidthLimit b;
  b.subject = group_subject("slow", "tier=slow");
  b.egress = Rate{10'000'000, 16'384, {}};
  b.ingress = Rate{10'000'000, 16'384, {}};
  b.origin = origin("caps", at(7, 5, "caps.yaml"));
  ps.limits = {a, b};
  Endpoint both = endpoint("job-1", "app=batch,tier=slow", {});
  both.pos = at(3, 5, "inventory.yaml");
  const Endpoints inv{both, endpoint("job-2", "app=batch", {})};
  EXPECT_EQ(render(lint(ps, &inv)),
            (Lines{"inventory.yaml:3:5: warning: endpoint \"job-1\" gets different egress "
                   "limits: 10mbit from caps (caps.yaml:7:5), 50mbit from jobs (p.yaml:4:5); the "
                   "smallest applies [conflicting-bandwidth]"}));
}

TEST(LintRules, UnresolvedNamedPorts) {
  PolicySet ps;
  const auto db = group_subject("db", "app=db");
  const auto api = group_subject("api", "app=api");
  ps.rules.push_back(
      rule(Direction::ingress, db, {group_peer("api", "app=api")},
           {named_port("pg", Protocol::tcp, at(5, 15)), named_port("pg", Protocol::udp, at(6, 15)),
            named_port("nope", Protocol::tcp, at(7, 15))},
           origin("p", at(4, 7))));
  ps.rules.push_back(rule(Direction::egress, api, {group_peer("db", "app=db")},
                          {named_port("pg", Protocol::tcp, at(9, 15)),
                           named_port("metrics", Protocol::any, at(10, 15))},
                          origin("p", at(8, 7))));
  // Nothing is selected: selects-nothing covers it, no named-port noise.
  ps.rules.push_back(rule(Direction::ingress, group_subject("none", "app=none"), {},
                          {named_port("x", Protocol::tcp, at(12, 15))}, origin("p", at(11, 7))));
  const Endpoints inv{
      endpoint("db-1", "app=db", {"198.18.0.2"}, {{"pg", 5432, Protocol::tcp}}),
      endpoint("api-1", "app=api", {"198.18.0.3"}, {{"metrics", 9090, Protocol::tcp}})};
  EXPECT_EQ(only(lint(ps, &inv), "unresolved-named-port"),
            (Lines{"p.yaml:6:15: warning: named port \"pg/udp\" is defined by no endpoint the "
                   "rule applies to; the rule allows nothing on it [unresolved-named-port]",
                   "p.yaml:7:15: warning: named port \"nope/tcp\" is defined by no endpoint the "
                   "rule applies to; the rule allows nothing on it [unresolved-named-port]",
                   "p.yaml:10:15: warning: named port \"metrics\" is defined by no peer endpoint "
                   "of the rule; the rule allows nothing on it [unresolved-named-port]"}));
}

TEST(LintRules, UnsafeEndpointsAtTheirInventoryEntry) {
  Endpoint host = endpoint("host-net", "app=a", {});
  host.host_network = true;
  host.pos = at(2, 5, "inv.yaml");
  Endpoint priv = endpoint("priv", "app=b", {});
  priv.privileged = true;
  priv.net_admin = true;
  priv.pos = at(8, 5, "inv.yaml");
  const Endpoints inv{host, priv, endpoint("fine", "app=c", {})};
  EXPECT_EQ(
      render(lint(PolicySet{}, &inv)),
      (Lines{"inv.yaml:2:5: warning: endpoint \"host-net\" uses the host's network "
             "namespace: it cannot be segmented, and bulkhead never programs the host's "
             "namespace for it [unsafe-endpoint]",
             "inv.yaml:8:5: warning: endpoint \"priv\" has CAP_NET_ADMIN: it can change or "
             "remove its own nftables rules; its isolation depends on bulkheadd's repair loop "
             "[unsafe-endpoint]",
             "inv.yaml:8:5: warning: endpoint \"priv\" is privileged: it can change or "
             "remove its own nftables rules; its isolation depends on bulkheadd's repair loop "
             "[unsafe-endpoint]"}));
}

}  // namespace
}  // namespace bulkhead::policy

namespace bulkhead::policy {
namespace {

// Through the real loaders: the warnings point at the YAML a person edits.
TEST(LintRules, PositionsFromLoadedYaml) {
  const PolicyLoad pl = load_policy_text(R"(apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: shop
spec:
  groups:
    web:
      selector: app=web
    api:
      selector: app=api
    ghost:
      selector: app=ghost
  allow:
    - from: [web]
      to: [api]
      ports: [8080/tcp]
    - from: [web, ghost]
      to: [api]
      ports: [8000-8100/tcp]
    - from: [{cidr: 0.0.0.0/0}]
      to: [web]
      ports: [443/tcp]
)",
                                         "shop.yaml");
  ASSERT_FALSE(has_errors(pl.diagnostics));
  const InventoryLoad inv = load_inventory_text(R"(endpoints:
  - name: api-1
    netns: /run/netns/api-1
    labels: {app: api}
    addresses: [198.18.0.2]
  - name: web-1
    netns: /run/netns/web-1
    labels: {app: web}
    addresses: [198.18.0.3]
    privileged: true
)",
                                                "inventory.yaml");
  ASSERT_FALSE(has_errors(inv.diagnostics));
  EXPECT_EQ(
      render(lint(pl.set, &inv.endpoints)),
      (Lines{"inventory.yaml:6:5: warning: endpoint \"web-1\" is privileged: it can change or "
             "remove its own nftables rules; its isolation depends on bulkheadd's repair loop "
             "[unsafe-endpoint]",
             "shop.yaml:11:5: warning: group \"ghost\" (app=ghost) selects no endpoint of the "
             "inventory [selects-nothing]",
             "shop.yaml:14:7: warning: rule is shadowed by the rule at shop.yaml:17:7: its peers "
             "and ports are a subset of that rule's [shadowed-rule]",
             "shop.yaml:20:14: warning: CIDR 0.0.0.0/0 contains endpoint addresses: api-1 "
             "(198.18.0.2), web-1 (198.18.0.3); select endpoints by labels, addresses change "
             "[cidr-contains-endpoints]",
             "shop.yaml:20:14: warning: CIDR 0.0.0.0/0 is wider than /8; is that intended? "
             "[wide-cidr]"}));
}

}  // namespace
}  // namespace bulkhead::policy
