// Which documents are read, which are skipped as other Kubernetes objects, which are mistakes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/inspect/lint.h"
#include "policy/load/load.h"
#include "tests/support/load_test_util.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

std::vector<std::string> errors(const std::string& text) {
  return lines(load_policy_text(text, "x.yaml").diagnostics);
}

std::vector<std::string> skipped(const PolicyLoad& l) {
  std::vector<std::string> out;
  for (const auto& s : l.skipped) {
    out.push_back(std::to_string(s.pos.line) + ":" + std::to_string(s.pos.col) + " " +
                  s.api_version + " " + s.kind + " " + s.name);
  }
  return out;
}

// The kinds of an application's install manifest, around one NetworkPolicy.
TEST(LoadKinds, OtherKubernetesObjectsAreSkipped) {
  auto l = load_policy_text(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
---
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: w}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {podSelector: {}}
)",
                            "install.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_THAT(skipped(l), ElementsAre("2:7 apps/v1 Deployment shop/web", "7:7 v1 Service shop/web",
                                      "11:7 apiextensions.k8s.io/v1 CustomResourceDefinition "
                                      "widgets.example.com",
                                      "15:7 example.com/v1alpha1 Widget w",
                                      "19:7 rbac.authorization.k8s.io/v1 ClusterRole reader",
                                      "23:7 networking.k8s.io/v1 Ingress web",
                                      "27:7 policy/v1 PodDisruptionBudget web"));
  ASSERT_EQ(l.set.policies.size(), 1u);
  EXPECT_EQ(l.set.policies[0].name, "shop/web");
  const Diagnostics notes = skipped_notes(l.skipped);
  ASSERT_EQ(notes.size(), 7u);
  EXPECT_EQ(notes[0].severity, Severity::note);
  EXPECT_EQ(notes[0].rule, "skipped-kind");
  EXPECT_EQ(notes[0].message, "skipped apps/v1 Deployment \"shop/web\" (not a policy)");
}

// A typed list as the API server prints it: items without apiVersion and kind.
TEST(LoadKinds, TypedListsAreReadLikeAV1List) {
  auto l = load_policy_text(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicyList
metadata: {resourceVersion: "7"}
items:
- metadata: {name: a, namespace: shop}
  spec: {podSelector: {}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: b, namespace: shop}
  spec: {podSelector: {}}
---
apiVersion: v1
kind: NamespaceList
items:
- metadata: {name: shop, labels: {team: ops}}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: p}
)",
                            "lists.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.set.policies.size(), 2u);
  EXPECT_EQ(l.set.policies[0].name, "shop/a");
  EXPECT_EQ(l.set.policies[1].name, "shop/b");
  // Each item's text reaches to the next item, the last one's to the next document.
  EXPECT_EQ(l.set.policies[0].end.line, 7);
  EXPECT_EQ(l.set.policies[1].end.line, 12);
  ASSERT_EQ(l.set.namespaces.size(), 1u);
  EXPECT_EQ(l.set.namespaces[0].labels.at("team"), "ops");
  EXPECT_THAT(skipped(l), ElementsAre("20:3 v1 Pod p"));
  // A v1 List gives its items no kind.
  EXPECT_THAT(errors("apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n"),
              ElementsAre("4:3: error: missing required field \"apiVersion\" [missing-field]"));
}

TEST(LoadKinds, MisspelledPolicyKindsAndApiVersionsAreErrors) {
  EXPECT_THAT(errors("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyy\n"),
              ElementsAre("2:7: error: unknown kind \"NetworkPolicyy\" for apiVersion "
                          "networking.k8s.io/v1; did you mean \"NetworkPolicy\"? [unknown-kind]"));
  EXPECT_THAT(errors("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyLis\n"),
              ElementsAre("2:7: error: unknown kind \"NetworkPolicyLis\" for apiVersion "
                          "networking.k8s.io/v1; did you mean \"NetworkPolicyList\"? "
                          "[unknown-kind]"));
  EXPECT_THAT(errors("apiVersion: v1\nkind: Servce\n"),
              ElementsAre("2:7: error: unknown kind \"Servce\" for apiVersion v1; did you mean "
                          "\"Service\"? [unknown-kind]"));
  EXPECT_THAT(errors("apiVersion: networking.k8s.oi/v1\nkind: Ingress\n"),
              ElementsAre("1:13: error: unknown apiVersion \"networking.k8s.oi/v1\"; did you mean "
                          "\"networking.k8s.io/v1\"? [unknown-kind]"));
  EXPECT_THAT(errors("apiVersion: networking.k8s.io/v2\nkind: NetworkPolicy\n"),
              ElementsAre("1:13: error: unknown apiVersion \"networking.k8s.io/v2\"; "
                          "NetworkPolicy is networking.k8s.io/v1 [unknown-kind]"));
  EXPECT_THAT(errors("apiVersion: apps/v1\nkind: Namespace\n"),
              ElementsAre("1:13: error: unknown apiVersion \"apps/v1\"; Namespace is v1 "
                          "[unknown-kind]"));
  // A custom resource may share a name with a kind bulkhead reads: Kyverno's Policy is skipped.
  auto kyverno =
      load_policy_text("apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {name: p}\n", "x.yaml");
  EXPECT_THAT(lines(kyverno.diagnostics), ElementsAre());
  EXPECT_THAT(skipped(kyverno), ElementsAre("2:7 kyverno.io/v1 Policy p"));
}

// Policies bulkhead does not enforce must not be skipped quietly: their traffic would stay open.
TEST(LoadKinds, OtherNetworkPoliciesAreRefused) {
  EXPECT_THAT(errors("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"),
              ElementsAre("2:7: error: bulkhead does not enforce AdminNetworkPolicy "
                          "(policy.networking.k8s.io/v1alpha1); it reads networking.k8s.io/v1 "
                          "NetworkPolicy and bulkhead/v1 Policy [unsupported-kind]"));
  EXPECT_THAT(errors("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"),
              ElementsAre("2:7: error: bulkhead does not enforce CiliumNetworkPolicy "
                          "(cilium.io/v2); it reads networking.k8s.io/v1 NetworkPolicy and "
                          "bulkhead/v1 Policy [unsupported-kind]"));
  EXPECT_THAT(errors("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"),
              ElementsAre("1:13: error: unknown apiVersion \"projectcalico.org/v3\"; "
                          "NetworkPolicy is networking.k8s.io/v1 [unknown-kind]"));
}

TEST(LoadKinds, DocumentExtentsAttributePositionsToPolicies) {
  auto l = load_policy_text(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a}
spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b}
spec: {}
)",
                            "f.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.set.policies.size(), 2u);
  EXPECT_EQ(l.set.policies[0].end.line, 6);  // the Deployment's start ends policy a
  EXPECT_EQ(l.set.policies[1].end.line, 0);  // the last runs to the end of the file
}

}  // namespace
}  // namespace bulkhead::policy
