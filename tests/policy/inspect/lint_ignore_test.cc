// Silencing lint rules: per policy (annotation or native field) and per run, never for errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/inspect/lint.h"
#include "policy/load/load.h"
#include "tests/support/load_test_util.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

// "line:col rule suppressed-kind by" for every warning.
std::vector<std::string> findings(const Diagnostics& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) {
    if (d.severity == Severity::error) continue;
    const char* how = d.suppressed == Suppression::in_source  ? "in-source"
                      : d.suppressed == Suppression::external ? "external"
                                                              : "live";
    out.push_back(std::to_string(d.pos.line) + ":" + std::to_string(d.pos.col) + " " + d.rule +
                  " " + how + (d.suppressed_by.empty() ? "" : " " + d.suppressed_by));
  }
  return out;
}

Diagnostics lint_text(const PolicyLoad& l, const std::vector<std::string>& run_ignores) {
  Diagnostics d = l.diagnostics;
  auto more = lint(l.set, nullptr);
  d.insert(d.end(), more.begin(), more.end());
  apply_suppressions(d, l.set, run_ignores);
  return d;
}

// Two deliberate "allow all egress" policies, one of them annotated and with a wide CIDR.
constexpr const char* kTwoPolicies = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egress-open
  annotations:
    bulkhead/lint-ignore: "allow-anything, wide-cidr"
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
  egress:
  - {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: also-open}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Egress]
  egress:
  - {}
)";

TEST(LintIgnore, TheAnnotationSilencesOnlyItsOwnPolicy) {
  const auto l = load_policy_text(kTwoPolicies, "np.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_THAT(findings(lint_text(l, {})), ElementsAre("11:12 wide-cidr in-source np.yaml:6:27",
                                                      "13:5 allow-anything in-source np.yaml:6:27",
                                                      "22:5 allow-anything live"));
  EXPECT_TRUE(has_live_warnings(lint_text(l, {})));
  // --ignore silences the rest of the run.
  const auto all = lint_text(l, {"allow-anything"});
  EXPECT_THAT(findings(all), ElementsAre("11:12 wide-cidr in-source np.yaml:6:27",
                                         "13:5 allow-anything in-source np.yaml:6:27",
                                         "22:5 allow-anything external --ignore"));
  EXPECT_FALSE(has_live_warnings(all));
}

TEST(LintIgnore, TheNativeFieldSilencesItsPolicy) {
  const auto l = load_policy_text(R"(apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: shop
  lintIgnore: [wide-cidr]
spec:
  groups:
    web: {selector: app=web}
  allow:
  - from: [web]
    to: [{cidr: 8.0.0.0/6}]
    ports: [443/tcp]
)",
                                  "p.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_THAT(findings(lint_text(l, {})), ElementsAre("11:10 wide-cidr in-source p.yaml:5:15"));
}

TEST(LintIgnore, LoaderWarningsOfThePolicyAreSilencedToo) {
  const auto l = load_policy_text(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: hosts
  annotations: {bulkhead/lint-ignore: cidr-host-bits}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 198.18.1.1/16}}]
)",
                                  "np.yaml");
  EXPECT_THAT(findings(lint_text(l, {})),
              ElementsAre("9:29 cidr-host-bits in-source np.yaml:5:39"));
}

TEST(LintIgnore, UnknownAndErrorRulesInALintIgnoreAreWarnings) {
  const auto l = load_policy_text(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
  annotations: {bulkhead/lint-ignore: "allow-anythin,unknown-field, wide-cidr"}
spec:
  podSelector: {}
  ingress: [{}]
)",
                                  "np.yaml");
  EXPECT_THAT(lines(l.diagnostics),
              ElementsAre("5:40: warning: unknown rule \"allow-anythin\"; did you mean "
                          "\"allow-anything\"? [unknown-rule]",
                          "5:54: warning: rule \"unknown-field\" reports errors, which cannot be "
                          "silenced [unknown-rule]"));
  ASSERT_EQ(l.set.policies.size(), 1u);
  EXPECT_THAT(l.set.policies[0].lint_ignore, ElementsAre("wide-cidr"));
}

TEST(LintIgnore, ErrorsAreNeverSilenced) {
  Diagnostics d = {Diagnostic{SourcePos{"a.yaml", 1, 1}, Severity::error, "bad", "unknown-field"}};
  apply_suppressions(d, PolicySet{}, {"unknown-field"});
  EXPECT_EQ(d[0].suppressed, Suppression::none);
  EXPECT_TRUE(has_errors(d));
}

}  // namespace
}  // namespace bulkhead::policy
