// Remote endpoints (another host's, known through the cluster source; docs/cluster.md): compile
// puts them in the peer sets of the rules that select them, by labels, namespace and named
// ports, but never gives them an EndpointPlan, even where a subject selects them.
#include <gtest/gtest.h>

#include <algorithm>

#include "policy/plan/compile.h"
#include "tests/support/policy_builders.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT: the builders

Endpoint remote(Endpoint e, const std::string& node) {
  e.name += "@" + node;
  e.node = node;
  e.netns.clear();
  return e;
}

const NftSet* find_set(const Plan& plan, const std::string& endpoint, const std::string& name) {
  for (const auto& ep : plan.endpoints) {
    if (ep.endpoint != endpoint || !ep.table) continue;
    for (const auto& s : ep.table->sets)
      if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> elements(const NftSet* s) {
  std::vector<std::string> out;
  if (!s) return out;
  for (const auto& e : s->elements) out.push_back(range_to_string(e));
  return out;
}

PolicySet api_policy() {
  PolicySet ps;
  const auto api = group_subject("api", "app=api");
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("p", at(1, 1))));
  ps.isolations.push_back(isolate(Direction::egress, api, origin("p", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, api, {group_peer("web", "app=web", at(2, 9))},
                          {port(Protocol::tcp, 8080)}, origin("p", at(2, 7))));
  ps.rules.push_back(rule(Direction::ingress, api,
                          {k8s_peer("app=job", ns_named("prod"), at(3, 9))},
                          {port(Protocol::tcp, 9090)}, origin("p", at(3, 7))));
  ps.rules.push_back(any_peer_rule(Direction::egress, api, {named_port("http", Protocol::tcp)},
                                   origin("p", at(4, 7))));
  return ps;
}

Endpoints mixed_endpoints() {
  return {
      endpoint("api-1", "app=api", {"198.18.0.2"}),
      endpoint("web-1", "app=web", {"198.18.0.3"}),
      remote(endpoint("web-1", "app=web", {"198.18.1.3"}, {{"http", 80, Protocol::tcp}}), "n2"),
      remote(endpoint("job-1", "app=job,io.kubernetes.pod.namespace=prod", {"198.18.1.4"}), "n2"),
      remote(endpoint("job-2", "app=job,io.kubernetes.pod.namespace=dev", {"198.18.1.5"}), "n2"),
      // Selected by the isolations' subject, yet programmed by n3's daemon, not here.
      remote(endpoint("api-9", "app=api", {"198.18.2.2"}, {{"http", 8081, Protocol::tcp}}), "n3"),
  };
}

TEST(CompileRemote, RemoteEndpointsGetNoPlanEvenWhenASubjectSelectsThem) {
  const Plan plan = compile(api_policy(), mixed_endpoints());
  std::vector<std::string> names;
  for (const auto& ep : plan.endpoints) names.push_back(ep.endpoint);
  EXPECT_EQ(names, (std::vector<std::string>{"api-1", "web-1"}));
}

TEST(CompileRemote, RemoteEndpointsJoinThePeerSetsThatSelectThem) {
  const Plan plan = compile(api_policy(), mixed_endpoints());
  // Labels: the local and the remote web, side by side.
  EXPECT_EQ(elements(find_set(plan, "api-1", "web_v4")),
            (std::vector<std::string>{"198.18.0.3", "198.18.1.3"}));
  // Namespace: only the remote job in prod.
  const auto* ns_set = [&]() -> const NftSet* {
    for (const auto& ep : plan.endpoints)
      if (ep.endpoint == "api-1" && ep.table)
        for (const auto& s : ep.table->sets)
          if (s.name.rfind("ep_", 0) == 0 && s.family == 4) return &s;
    return nullptr;
  }();
  ASSERT_NE(ns_set, nullptr);
  EXPECT_EQ(elements(ns_set), (std::vector<std::string>{"198.18.1.4"}));
  // Named ports: each remote endpoint's own definition of "http" decides its port.
  EXPECT_EQ(elements(find_set(plan, "api-1", "_any.http.tcp80_v4")),
            (std::vector<std::string>{"198.18.1.3"}));
  EXPECT_EQ(elements(find_set(plan, "api-1", "_any.http.tcp8081_v4")),
            (std::vector<std::string>{"198.18.2.2"}));
}

TEST(CompileRemote, LocalPlansAreThoseOfALocalPeerWithTheSameAddress) {
  // A remote peer must compile exactly like a local one with the same labels and addresses:
  // only the plan list differs.
  Endpoints as_local = mixed_endpoints();
  for (auto& e : as_local) {
    if (e.node.empty()) continue;
    e.node.clear();
    e.netns = "/run/netns/x";
  }
  const Plan remote_plan = compile(api_policy(), mixed_endpoints());
  const Plan local_plan = compile(api_policy(), as_local);
  const auto pick = [](const Plan& p) {
    for (const auto& ep : p.endpoints)
      if (ep.endpoint == "api-1") return ep;
    return EndpointPlan{};
  };
  EXPECT_EQ(pick(remote_plan).table, pick(local_plan).table);
  EXPECT_EQ(local_plan.endpoints.size(), 6u);
}

}  // namespace
}  // namespace bulkhead::policy
