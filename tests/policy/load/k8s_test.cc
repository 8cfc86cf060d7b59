#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/load/load.h"
#include "tests/support/load_test_util.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

constexpr const char* kHeader =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n"
    "  namespace: shop\n";

PolicyLoad load(const std::string& spec) { return load_policy_text(kHeader + spec, "np.yaml"); }
std::vector<std::string> errors(const std::string& spec) { return lines(load(spec).diagnostics); }

const EndpointPeer& endpoint_peer(const AllowRule& r, size_t i) {
  return std::get<EndpointPeer>(r.peers.at(i).what);
}

TEST(LoadK8s, PeersMapOntoTheModel) {
  auto l = load(R"(spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {matchLabels: {team: ops}}
    - namespaceSelector: {matchLabels: {team: ops}}
      podSelector: {matchExpressions: [{key: role, operator: In, values: [b, a]}]}
    - namespaceSelector: {}
    - ipBlock: {cidr: 198.18.0.0/16, except: [198.18.1.0/24]}
    ports:
    - port: 8080
    - {protocol: UDP, port: 30000, endPort: 30010}
    - port: http
    - protocol: SCTP
)");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  const auto& s = l.set;
  ASSERT_EQ(s.policies.size(), 1u);
  EXPECT_EQ(s.policies[0].name, "shop/np");
  EXPECT_EQ(s.policies[0].kind, "NetworkPolicy");
  // No policyTypes and no egress: ingress only.
  ASSERT_EQ(s.isolations.size(), 1u);
  EXPECT_EQ(s.isolations[0].dir, Direction::ingress);
  EXPECT_EQ(s.isolations[0].subject.pods.canonical(), "app=api");
  EXPECT_EQ(s.isolations[0].subject.ns, "shop");
  EXPECT_EQ(s.isolations[0].origin.policy, "shop/np");
  EXPECT_EQ(s.isolations[0].origin.kind, "NetworkPolicy");
  EXPECT_EQ(s.isolations[0].origin.pos.line, 1);
  ASSERT_EQ(s.rules.size(), 1u);
  const AllowRule& r = s.rules[0];
  EXPECT_EQ(r.dir, Direction::ingress);
  EXPECT_EQ(r.origin.pos.line, 9);
  EXPECT_FALSE(r.any_peer);
  ASSERT_EQ(r.peers.size(), 5u);
  EXPECT_EQ(endpoint_peer(r, 0).pods.canonical(), "app=web");
  EXPECT_EQ(endpoint_peer(r, 0).namespaces.kind, NamespaceScope::Kind::named);
  EXPECT_EQ(endpoint_peer(r, 0).namespaces.name, "shop");
  EXPECT_TRUE(endpoint_peer(r, 1).pods.empty());
  EXPECT_EQ(endpoint_peer(r, 1).namespaces.kind, NamespaceScope::Kind::selector);
  EXPECT_EQ(endpoint_peer(r, 1).namespaces.selector.canonical(), "team=ops");
  EXPECT_EQ(endpoint_peer(r, 2).pods.canonical(), "role in (a,b)");
  EXPECT_EQ(endpoint_peer(r, 2).namespaces.selector.canonical(), "team=ops");
  EXPECT_EQ(endpoint_peer(r, 3).namespaces.kind, NamespaceScope::Kind::any);
  EXPECT_TRUE(endpoint_peer(r, 3).pods.empty());
  const auto& block = std::get<CidrPeer>(r.peers[4].what);
  EXPECT_EQ(block.cidr.to_string(), "198.18.0.0/16");
  EXPECT_EQ(block.except.at(0).to_string(), "198.18.1.0/24");
  EXPECT_EQ(r.peers[4].pos.line, 15);
  EXPECT_EQ(r.peers[4].pos.col, 7);
  ASSERT_EQ(r.ports.size(), 4u);
  EXPECT_EQ(r.ports[0].proto, Protocol::tcp);  // the default
  EXPECT_EQ(r.ports[0].first, 8080);
  EXPECT_EQ(r.ports[0].last, 8080);
  EXPECT_EQ(r.ports[1].proto, Protocol::udp);
  EXPECT_EQ(r.ports[1].first, 30000);
  EXPECT_EQ(r.ports[1].last, 30010);
  EXPECT_EQ(r.ports[2].named, "http");
  EXPECT_EQ(r.ports[2].first, 0);
  EXPECT_EQ(r.ports[3].proto, Protocol::sctp);
  EXPECT_EQ(r.ports[3].first, 0);  // the whole protocol
}

TEST(LoadK8s, PolicyTypesDefaulting) {
  // egress present and non-empty: both directions.
  auto both = load("spec:\n  podSelector: {}\n  egress:\n  - to: [{podSelector: {}}]\n");
  ASSERT_THAT(lines(both.diagnostics), ElementsAre());
  ASSERT_EQ(both.set.isolations.size(), 2u);
  EXPECT_EQ(both.set.isolations[1].dir, Direction::egress);
  EXPECT_TRUE(both.set.isolations[0].subject.pods.empty());
  // egress: [] does not make it an egress policy.
  auto in_only = load("spec:\n  podSelector: {}\n  egress: []\n");
  ASSERT_EQ(in_only.set.isolations.size(), 1u);
  EXPECT_EQ(in_only.set.isolations[0].dir, Direction::ingress);
  EXPECT_TRUE(in_only.set.rules.empty());  // isolated with no rules: nothing allowed
  // Explicit Egress only.
  auto out_only = load("spec:\n  podSelector: {}\n  policyTypes: [Egress]\n");
  ASSERT_EQ(out_only.set.isolations.size(), 1u);
  EXPECT_EQ(out_only.set.isolations[0].dir, Direction::egress);
}

TEST(LoadK8s, EmptyPeersAndPortsAllowEverything) {
  auto l = load(
      "spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - {}\n"
      "  egress:\n  - to: []\n    ports: []\n");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.set.rules.size(), 2u);
  for (const auto& r : l.set.rules) {
    EXPECT_TRUE(r.any_peer);
    EXPECT_TRUE(r.any_port);
    EXPECT_TRUE(r.peers.empty());
  }
  EXPECT_EQ(l.set.rules[1].dir, Direction::egress);
}

TEST(LoadK8s, NamespaceDefaultsAndAuditAnnotation) {
  auto l = load_policy_text(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: a\n"
      "  annotations: {bulkhead/mode: audit}\n  uid: x\n  resourceVersion: \"1\"\n"
      "spec:\n  podSelector: {}\n  ingress:\n  - from: [{podSelector: {}}]\nstatus: {}\n",
      "a.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.policies[0].name, "default/a");
  EXPECT_TRUE(l.set.policies[0].audit);
  EXPECT_TRUE(l.set.isolations[0].origin.audit);
  EXPECT_TRUE(l.set.rules[0].origin.audit);
  EXPECT_EQ(l.set.rules[0].subject.ns, "default");
  EXPECT_EQ(endpoint_peer(l.set.rules[0], 0).namespaces.name, "default");
}

TEST(LoadK8s, NamespacesCarryTheirNameLabel) {
  auto l = load_policy_text(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: ops}\n"
      "spec: {finalizers: [kubernetes]}\nstatus: {phase: Active}\n",
      "ns.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.set.namespaces.size(), 1u);
  EXPECT_EQ(l.set.namespaces[0].name, "shop");
  EXPECT_EQ(l.set.namespaces[0].labels,
            (Labels{{"kubernetes.io/metadata.name", "shop"}, {"team", "ops"}}));
}

TEST(LoadK8s, ListWrappersAndDuplicates) {
  auto l = load_policy_text(R"(apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a, namespace: shop}
  spec: {podSelector: {}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a, namespace: shop}
  spec: {podSelector: {}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a, namespace: other}
  spec: {podSelector: {}}
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
- apiVersion: v1
  kind: List
)",
                            "list.yaml");
  EXPECT_THAT(
      lines(l.diagnostics),
      ElementsAre("14:20: error: duplicate NetworkPolicy \"shop/a\" (first defined at "
                  "list.yaml:10:20) [duplicate-policy]",
                  "22:20: error: duplicate namespace \"shop\" (first defined at "
                  "list.yaml:7:20) [duplicate-namespace]",
                  "24:9: error: a List inside a list is not read; put its items in the outer "
                  "list [unknown-kind]"));
  EXPECT_EQ(l.set.policies.size(), 2u);
  EXPECT_EQ(l.set.namespaces.size(), 1u);
}

TEST(LoadK8s, UnknownFieldsAndKinds) {
  EXPECT_THAT(errors("spec:\n  podSelector: {}\n  ingres: []\n"),
              ElementsAre("8:3: error: unknown field \"ingres\"; did you mean \"ingress\"? "
                          "[unknown-field]"));
  EXPECT_THAT(errors("spec:\n  podSelector: {matchLabel: {a: b}}\n"),
              ElementsAre("7:17: error: unknown field \"matchLabel\"; did you mean "
                          "\"matchLabels\"? [unknown-field]"));
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicies\n", "x.yaml")
                .diagnostics),
      ElementsAre("2:7: error: unknown kind \"NetworkPolicies\" for apiVersion "
                  "networking.k8s.io/v1; did you mean \"NetworkPolicy\"? [unknown-kind]"));
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: extensions/v1beta1\nkind: NetworkPolicy\n", "x.yaml")
                .diagnostics),
      ElementsAre("1:13: error: unknown apiVersion \"extensions/v1beta1\"; NetworkPolicy "
                  "is networking.k8s.io/v1 [unknown-kind]"));
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: aps/v1\nkind: Deployment\n", "x.yaml").diagnostics),
      ElementsAre("1:13: error: unknown apiVersion \"aps/v1\"; expected bulkhead/v1 "
                  "(Policy), networking.k8s.io/v1 (NetworkPolicy), v1 (Namespace, List), "
                  "or another Kubernetes API (skipped) [unknown-kind]"));
}

TEST(LoadK8s, MissingAndWrongFields) {
  EXPECT_THAT(errors("spec:\n  podSelector: {}\n  ingress: {from: []}\n"),
              ElementsAre("8:12: error: expected a list of ingress rules, got a map [wrong-type]"));
  EXPECT_THAT(errors("spec:\n  podSelector: {}\n  ingress:\n  - ports: {port: 80}\n"),
              ElementsAre("9:12: error: expected a list of ports, got a map [wrong-type]"));
  EXPECT_THAT(errors("spec:\n  podSelector: \"app=web\"\n"),
              ElementsAre("7:16: error: expected a label selector (a map with matchLabels and "
                          "matchExpressions), got a string [wrong-type]"));
}

TEST(LoadK8s, InvalidPorts) {
  const std::string pre = "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - ";
  EXPECT_THAT(errors(pre + "{protocol: tcp, port: 80}\n"),
              ElementsAre("10:18: error: unknown protocol \"tcp\"; did you mean \"TCP\"? "
                          "[invalid-port]"));
  EXPECT_THAT(errors(pre + "{protocol: ICMP}\n"),
              ElementsAre("10:18: error: unknown protocol \"ICMP\"; expected TCP, UDP or SCTP "
                          "[invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: 0}\n"),
              ElementsAre("10:14: error: invalid port 0: expected a number from 1 to 65535 "
                          "[invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: 70000}\n"),
              ElementsAre("10:14: error: invalid port 70000: expected a number from 1 to 65535 "
                          "[invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: 90, endPort: 80}\n"),
              ElementsAre("10:27: error: endPort 80 is less than port 90 [invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: http, endPort: 90}\n"),
              ElementsAre("10:20: error: endPort needs a numeric port, not the port name "
                          "\"http\" [invalid-port]"));
  EXPECT_THAT(errors(pre + "{endPort: 90}\n"),
              ElementsAre("10:8: error: endPort needs a port [invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: Web_Port}\n"),
              ElementsAre("10:14: error: invalid port name \"Web_Port\": character 'W' is not "
                          "allowed (lower-case letters, digits and '-') [invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: serve-http-traffic}\n"),
              ElementsAre("10:14: error: invalid port name \"serve-http-traffic\": a port name "
                          "has at most 15 characters [invalid-port]"));
  EXPECT_THAT(errors(pre + "{port: web--a}\n"),
              ElementsAre("10:14: error: invalid port name \"web--a\": a port name cannot "
                          "contain \"--\" [invalid-port]"));
}

TEST(LoadK8s, InvalidPeers) {
  const std::string pre = "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ";
  EXPECT_THAT(errors(pre + "{}\n"),
              ElementsAre("10:7: error: a peer needs podSelector, namespaceSelector or ipBlock "
                          "[invalid-peer]"));
  EXPECT_THAT(errors(pre + "{ipBlock: {cidr: 198.18.0.0/16}, podSelector: {}}\n"),
              ElementsAre("10:7: error: ipBlock cannot be combined with podSelector or "
                          "namespaceSelector in one peer [invalid-peer]"));
  EXPECT_THAT(errors(pre + "{ipBlock: {cidr: 198.18.0/16}}\n"),
              ElementsAre("10:24: error: invalid CIDR \"198.18.0/16\": expected an address and a "
                          "prefix length, e.g. 198.18.0.0/16 or fd00::/64 [invalid-cidr]"));
  EXPECT_THAT(errors(pre + "{podSelector: {matchLabels: {app: \"a b\"}}}\n"),
              ElementsAre("10:41: error: invalid label value \"a b\": character ' ' is not "
                          "allowed (letters, digits, '-', '_', '.') [invalid-selector]"));
}

TEST(LoadK8s, InvalidMetadataAndTypes) {
  EXPECT_THAT(lines(load_policy_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                                     "metadata: {namespace: Shop}\nspec:\n  podSelector: {}\n"
                                     "  policyTypes: [ingress]\n",
                                     "x.yaml")
                        .diagnostics),
              ElementsAre("3:1: error: missing required field \"metadata.name\" [missing-field]",
                          "3:23: error: invalid namespace \"Shop\": use lower-case letters, "
                          "digits and '-' (at most 63), starting and ending with a letter or digit "
                          "[invalid-name]",
                          "6:17: error: unknown policy type \"ingress\"; did you mean "
                          "\"Ingress\"? [invalid-value]"));
  auto ignored = load("spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  ingress: [{}]\n");
  EXPECT_THAT(lines(ignored.diagnostics),
              ElementsAre("9:3: warning: ingress rules are ignored: policyTypes does not include "
                          "Ingress [ignored-rules]"));
  EXPECT_TRUE(ignored.set.rules.empty());
}

}  // namespace
}  // namespace bulkhead::policy
