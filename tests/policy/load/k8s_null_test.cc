// NetworkPolicy fields written with no value (null), empty, or in a form the API server refuses:
// each with its exact diagnostic or the meaning Kubernetes gives it (docs/kubernetes.md, the
// table of decisions).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/inspect/evaluate.h"
#include "policy/load/load.h"
#include "policy/plan/compile.h"
#include "tests/support/load_test_util.h"
#include "tests/support/policy_builders.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::endpoint;
using testing::lines;

constexpr const char* kHeader =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n"
    "  namespace: shop\n";

PolicyLoad load(const std::string& rest) { return load_policy_text(kHeader + rest, "np.yaml"); }
std::vector<std::string> diags(const std::string& rest) { return lines(load(rest).diagnostics); }

// pod=a and pod=b in namespace shop, pod=b in namespace other.
Endpoints lab() {
  return {endpoint("other-b", "pod=b,io.kubernetes.pod.namespace=other", {"198.18.5.3"}),
          endpoint("shop-a", "pod=a,io.kubernetes.pod.namespace=shop", {"198.18.5.1"}),
          endpoint("shop-b", "pod=b,io.kubernetes.pod.namespace=shop", {"198.18.5.2"})};
}

// Both the reference evaluator and the compiled plan, which must agree.
bool allowed(const PolicyLoad& l, const Endpoints& eps, const std::string& from,
             const std::string& to, uint16_t port = 80, Protocol proto = Protocol::tcp) {
  auto find = [&](const std::string& n) {
    return &*std::find_if(eps.begin(), eps.end(), [&](const Endpoint& e) { return e.name == n; });
  };
  const Endpoint* f = find(from);
  const Endpoint* t = find(to);
  const Flow flow{f, t, f->addresses[0], t->addresses[0], proto, port};
  const bool ref = reference_allows(l.set, eps, flow).allowed;
  EXPECT_EQ(ref, plan_allows(compile(l.set, eps), flow).allowed) << from << " -> " << to;
  return ref;
}

const EndpointPeer& peer(const PolicyLoad& l, size_t rule = 0, size_t i = 0) {
  return std::get<EndpointPeer>(l.set.rules.at(rule).peers.at(i).what);
}

// The security bug: `namespaceSelector:` with no value is not set, so the peer means pods pod=b
// of the policy's own namespace, not of every namespace.
TEST(LoadK8sNull, NullNamespaceSelectorMeansThePolicysOwnNamespace) {
  auto l = load(R"(spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
      namespaceSelector:
)");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(peer(l).namespaces.kind, NamespaceScope::Kind::named);
  EXPECT_EQ(peer(l).namespaces.name, "shop");
  EXPECT_EQ(peer(l).pods.canonical(), "pod=b");
  const Endpoints eps = lab();
  EXPECT_TRUE(allowed(l, eps, "shop-b", "shop-a"));
  EXPECT_FALSE(allowed(l, eps, "other-b", "shop-a"));
  // The control: `namespaceSelector: {}` does mean every namespace.
  auto any = load(R"(spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
      namespaceSelector: {}
)");
  ASSERT_THAT(lines(any.diagnostics), ElementsAre());
  EXPECT_TRUE(allowed(any, eps, "other-b", "shop-a"));
}

TEST(LoadK8sNull, NullPodSelectorBesideANamespaceSelectorIsEveryPodOfThoseNamespaces) {
  auto l = load(R"(spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector:
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}
)");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_TRUE(peer(l).pods.empty());
  EXPECT_EQ(peer(l).namespaces.kind, NamespaceScope::Kind::selector);
  const Endpoints eps = lab();
  EXPECT_TRUE(allowed(l, eps, "other-b", "shop-a"));
  EXPECT_FALSE(allowed(l, eps, "shop-b", "shop-a"));
}

TEST(LoadK8sNull, NullMatchLabelsIsTheEmptySelector) {
  auto l = load(R"(spec:
  podSelector:
    matchLabels:
  ingress:
  - from:
    - podSelector:
        matchLabels:
        matchExpressions:
)");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_TRUE(l.set.isolations.at(0).subject.pods.empty());
  EXPECT_TRUE(peer(l).pods.empty());
  EXPECT_EQ(peer(l).namespaces.kind, NamespaceScope::Kind::named);
  const Endpoints eps = lab();
  EXPECT_TRUE(allowed(l, eps, "shop-b", "shop-a"));
  EXPECT_FALSE(allowed(l, eps, "other-b", "shop-a"));
}

TEST(LoadK8sNull, AbsentOrNullSpecAndPodSelectorSelectEveryPodForIngress) {
  for (const std::string rest : {"", "spec:\n", "spec:\n  podSelector:\n", "spec: {}\n"}) {
    auto l = load(rest);
    ASSERT_THAT(lines(l.diagnostics), ElementsAre()) << rest;
    ASSERT_EQ(l.set.isolations.size(), 1u) << rest;
    EXPECT_EQ(l.set.isolations[0].dir, Direction::ingress);
    EXPECT_TRUE(l.set.isolations[0].subject.pods.empty());
    EXPECT_TRUE(l.set.rules.empty());
    const Endpoints eps = lab();
    EXPECT_FALSE(allowed(l, eps, "shop-b", "shop-a")) << rest;
    EXPECT_TRUE(allowed(l, eps, "shop-a", "other-b")) << rest;  // other namespaces untouched
  }
}

TEST(LoadK8sNull, NullListsAreUnsetAndNullItemsAreZeroValues) {
  // from: null and ports: null are "every peer, every port"; ingress: [null] is the zero rule.
  auto open = load("spec:\n  podSelector: {}\n  ingress:\n  - from:\n    ports:\n  -\n");
  ASSERT_THAT(lines(open.diagnostics), ElementsAre());
  ASSERT_EQ(open.set.rules.size(), 2u);
  for (const auto& r : open.set.rules) {
    EXPECT_TRUE(r.any_peer);
    EXPECT_TRUE(r.any_port);
  }
  // ports: [null] is the zero port: TCP (the default protocol), every port.
  auto tcp = load("spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    -\n");
  ASSERT_THAT(lines(tcp.diagnostics), ElementsAre());
  ASSERT_EQ(tcp.set.rules.at(0).ports.size(), 1u);
  EXPECT_EQ(tcp.set.rules[0].ports[0].proto, Protocol::tcp);
  EXPECT_EQ(tcp.set.rules[0].ports[0].first, 0);
  const Endpoints eps = lab();
  EXPECT_TRUE(allowed(tcp, eps, "shop-b", "shop-a", 4242, Protocol::tcp));
  EXPECT_FALSE(allowed(tcp, eps, "shop-b", "shop-a", 53, Protocol::udp));
  // egress: null is no egress rules, so (with policyTypes unset) no egress isolation.
  auto in_only = load("spec:\n  podSelector: {}\n  egress:\n  policyTypes:\n");
  ASSERT_THAT(lines(in_only.diagnostics), ElementsAre());
  ASSERT_EQ(in_only.set.isolations.size(), 1u);
  EXPECT_EQ(in_only.set.isolations[0].dir, Direction::ingress);
  // egress: [null] is one rule, the zero one: Egress is defaulted in, and it allows everything.
  auto out = load("spec:\n  podSelector: {}\n  egress:\n  -\n");
  ASSERT_THAT(lines(out.diagnostics), ElementsAre());
  ASSERT_EQ(out.set.isolations.size(), 2u);
  EXPECT_TRUE(out.set.rules.at(0).any_peer);
}

TEST(LoadK8sNull, NullPortFieldsAreUnset) {
  auto l = load(
      "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - {protocol: , port: , endPort: }\n"
      "    - {protocol: UDP, port: 53, endPort: }\n");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  const auto& ports = l.set.rules.at(0).ports;
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].proto, Protocol::tcp);  // protocol: null defaults to TCP
  EXPECT_EQ(ports[0].first, 0);              // port: null is every port
  EXPECT_EQ(ports[1].proto, Protocol::udp);
  EXPECT_EQ(ports[1].first, 53);
  EXPECT_EQ(ports[1].last, 53);  // endPort: null is no range
}

TEST(LoadK8sNull, NullIpBlockFieldsAndNullExcept) {
  auto l = load(
      "spec:\n  podSelector: {}\n  ingress:\n  - from:\n"
      "    - {ipBlock: {cidr: 198.18.0.0/16, except: }}\n"
      "    - {ipBlock: , podSelector: {}}\n");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  const auto& block = std::get<CidrPeer>(l.set.rules.at(0).peers.at(0).what);
  EXPECT_EQ(block.cidr.to_string(), "198.18.0.0/16");
  EXPECT_TRUE(block.except.empty());
  // ipBlock: null beside a podSelector is not "ipBlock combined with a selector".
  EXPECT_TRUE(std::holds_alternative<EndpointPeer>(l.set.rules[0].peers.at(1).what));
  EXPECT_THAT(diags("spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: }\n"),
              ElementsAre("10:17: error: missing required field \"cidr\" [missing-field]"));
}

TEST(LoadK8sNull, NullMetadataFields) {
  auto l = load_policy_text(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n"
      "  namespace:\n  labels:\n  annotations:\nspec: {podSelector: {}}\n",
      "np.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.policies.at(0).name, "default/np");  // namespace: null is the default one
  auto labelled = load_policy_text(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: , tier: web}\n",
      "ns.yaml");
  ASSERT_THAT(lines(labelled.diagnostics), ElementsAre());
  EXPECT_EQ(labelled.set.namespaces.at(0).labels.at("team"), "");
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name:\n", "ns.yaml")
                .diagnostics),
      ElementsAre("4:3: error: missing required field \"metadata.name\" [missing-field]"));
}

TEST(LoadK8sNull, NullLabelValuesInSelectorsAreTheEmptyString) {
  auto l = load(
      "spec:\n  podSelector:\n    matchLabels: {tier: }\n"
      "    matchExpressions: [{key: role, operator: In, values: [~, web]}]\n");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.isolations.at(0).subject.pods.canonical(), "role in (,web),tier=");
}

// ---- forms the API server refuses ----

TEST(LoadK8sInvalid, APeerWhoseOnlyFieldIsNullIsEmpty) {
  const std::string pre = "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ";
  EXPECT_THAT(diags(pre + "podSelector:\n"),
              ElementsAre("10:7: error: a peer whose fields have no value is empty (null means "
                          "\"not set\"), and Kubernetes refuses it; write {} for every pod or "
                          "namespace [invalid-peer]"));
  EXPECT_THAT(diags(pre + "{podSelector: , namespaceSelector: , ipBlock: }\n"),
              ElementsAre("10:7: error: a peer whose fields have no value is empty (null means "
                          "\"not set\"), and Kubernetes refuses it; write {} for every pod or "
                          "namespace [invalid-peer]"));
  EXPECT_THAT(diags("spec:\n  podSelector: {}\n  ingress:\n  - from:\n    -\n"),
              ElementsAre("10:5: error: an empty peer (nothing) selects nothing and Kubernetes "
                          "refuses it; write podSelector, namespaceSelector or ipBlock "
                          "[invalid-peer]"));
}

TEST(LoadK8sInvalid, AQuotedPortIsANameAndNamesNeedALetter) {
  const std::string pre = "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - ";
  EXPECT_THAT(diags(pre + "port: \"80\"\n"),
              ElementsAre("10:13: error: invalid port name \"80\": a port name must contain at "
                          "least one letter (a quoted number is a name; write 80 without quotes "
                          "for the port number) [invalid-port]"));
  EXPECT_THAT(diags(pre + "{port: '', protocol: TCP}\n"),
              ElementsAre("10:14: error: invalid port name \"\": a port name cannot be empty "
                          "[invalid-port]"));
  // endPort is an int32: a string is a type error, as the API server's decoder says.
  EXPECT_THAT(diags(pre + "{port: 80, endPort: \"90\"}\n"),
              ElementsAre("10:27: error: expected endPort (a number), got a string "
                          "[wrong-type]"));
  EXPECT_THAT(diags(pre + "{port: true}\n"),
              ElementsAre("10:14: error: expected a port number or name, got the boolean true "
                          "[wrong-type]"));
  EXPECT_THAT(diags(pre + "{port: 80.5}\n"),
              ElementsAre("10:14: error: invalid port 80.5: expected a whole number from 1 to "
                          "65535 [invalid-port]"));
}

TEST(LoadK8sInvalid, ACidrNeedsItsPrefixLength) {
  const std::string pre = "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ";
  EXPECT_THAT(diags(pre + "ipBlock: {cidr: 10.9.9.9}\n"),
              ElementsAre("10:23: error: invalid CIDR \"10.9.9.9\": expected an address and a "
                          "prefix length, e.g. 198.18.0.0/16 or fd00::/64 [invalid-cidr]"));
  EXPECT_THAT(diags(pre + "ipBlock: {cidr: 10.0.0.0/8, except: [10.1.1.1]}\n"),
              ElementsAre("10:44: error: invalid CIDR \"10.1.1.1\": expected an address and a "
                          "prefix length, e.g. 198.18.0.0/16 or fd00::/64 [invalid-cidr]"));
  // Leading zeros: the API server reads them as decimal and warns.
  auto sloppy = load(pre + "ipBlock: {cidr: 010.001.0.0/016}\n");
  EXPECT_THAT(lines(sloppy.diagnostics),
              ElementsAre("10:23: warning: CIDR \"010.001.0.0/016\" has leading zeros; Kubernetes "
                          "reads it as 10.1.0.0/16 (decimal), other software may read octal: write "
                          "10.1.0.0/16 [nonstandard-cidr]"));
  EXPECT_EQ(std::get<CidrPeer>(sloppy.set.rules.at(0).peers.at(0).what).cidr.to_string(),
            "10.1.0.0/16");
}

TEST(LoadK8sInvalid, PolicyTypes) {
  EXPECT_THAT(diags("spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress, Ingress]\n"),
              ElementsAre("8:16: error: policyTypes lists 3 types; Kubernetes allows at most two "
                          "(Ingress, Egress) [invalid-value]"));
  EXPECT_THAT(diags("spec:\n  podSelector: {}\n  policyTypes: [~]\n"),
              ElementsAre("8:16: error: unknown policy type \"\"; expected Ingress or Egress "
                          "[invalid-value]"));
  // Two of the same: the API server accepts it, and the policy isolates that direction only.
  auto twice = load("spec:\n  podSelector: {}\n  policyTypes: [Egress, Egress]\n");
  EXPECT_THAT(lines(twice.diagnostics),
              ElementsAre("8:25: warning: policy type \"Egress\" is listed twice (Kubernetes "
                          "accepts it; the policy isolates only Egress) [duplicate-policy-type]"));
  ASSERT_EQ(twice.set.isolations.size(), 1u);
  EXPECT_EQ(twice.set.isolations[0].dir, Direction::egress);
}

// kubectl reads YAML 1.1: unquoted y, yes, on, true are booleans and 1 is a number, which the API
// server refuses where a string belongs; 0x50 is the number 80.
TEST(LoadK8sInvalid, UnquotedNonStringsWhereStringsBelong) {
  EXPECT_THAT(diags("spec:\n  podSelector: {matchLabels: {version: 1}}\n"),
              ElementsAre("7:40: error: expected a label value (a string), got the number 1 "
                          "(Kubernetes reads an unquoted 1 as a number); quote it: \"1\" "
                          "[wrong-type]"));
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n", "ns.yaml")
                .diagnostics),
      ElementsAre("3:18: error: expected a name, got the boolean y (Kubernetes reads an "
                  "unquoted y as a boolean); quote it: \"y\" [wrong-type]"));
  auto quoted = load("spec:\n  podSelector: {matchLabels: {version: \"1\", canary: 'yes'}}\n");
  ASSERT_THAT(lines(quoted.diagnostics), ElementsAre());
  EXPECT_EQ(quoted.set.isolations.at(0).subject.pods.canonical(), "canary=yes,version=1");
  auto hex =
      load("spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 0x50}, {port: 8_080}]\n");
  ASSERT_THAT(lines(hex.diagnostics), ElementsAre());
  EXPECT_EQ(hex.set.rules.at(0).ports.at(0).first, 80);
  EXPECT_EQ(hex.set.rules.at(0).ports.at(1).first, 8080);
}

TEST(LoadK8sInvalid, MetadataLabelsAndAnnotations) {
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
                             "  labels: {\"-bad\": x, ok: \"a b\"}\n",
                             "ns.yaml")
                .diagnostics),
      ElementsAre("5:12: error: invalid label key \"-bad\": must start and end with a letter or "
                  "digit [invalid-label]",
                  "5:27: error: invalid label value \"a b\": character ' ' is not allowed "
                  "(letters, digits, '-', '_', '.') [invalid-label]"));
  EXPECT_THAT(
      diags("  annotations: {\"bad key!\": x, Example.COM/Upper: fine}\nspec: {}\n"),
      ElementsAre("6:17: error: invalid annotation key \"bad key!\": must start and end with "
                  "a letter or digit [invalid-annotation]"));
  EXPECT_THAT(lines(load_policy_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                                     "metadata: {name: a..b}\nspec: {}\n",
                                     "x.yaml")
                        .diagnostics),
              ElementsAre("3:18: error: invalid name \"a..b\": use lower-case letters, digits, "
                          "'-' and '.' (at most 253), each part starting and ending with a letter "
                          "or digit [invalid-name]"));
}

TEST(LoadK8sInvalid, MatchExpressionsWithNullParts) {
  const std::string pre = "spec:\n  podSelector:\n    matchExpressions:\n    - ";
  EXPECT_THAT(diags(pre + "{key: , operator: Exists}\n"),
              ElementsAre("9:8: error: missing required field \"key\" [missing-field]"));
  EXPECT_THAT(diags(pre + "{key: app, operator: In, values: }\n"),
              ElementsAre("9:32: error: operator In needs at least one value [invalid-selector]"));
  EXPECT_THAT(diags("spec:\n  podSelector:\n    matchExpressions:\n    -\n"),
              ElementsAre("9:5: error: a match expression needs key and operator "
                          "[invalid-selector]"));
}

}  // namespace
}  // namespace bulkhead::policy
