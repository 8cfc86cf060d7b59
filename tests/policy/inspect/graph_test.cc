// render_graph_dot(): exact DOT for small policies (node kinds, isolation marks, audit, bandwidth,
// member counts, escaping), order independence, and the shipped shop example's golden file.
#include "policy/inspect/graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "policy/load/load.h"
#include "tests/support/policy_builders.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT: the builders

constexpr const char* kHeader =
    "digraph bulkhead {\n"
    "  rankdir=LR;\n"
    "  node [fontname=\"Helvetica\", fontsize=11];\n"
    "  edge [fontname=\"Helvetica\", fontsize=10];\n";

Origin audit_origin(std::string policy, SourcePos pos) {
  Origin o = origin(std::move(policy), std::move(pos));
  o.audit = true;
  return o;
}

// web (isolated both ways) -> api (ingress only, rate-limited) on 8080/tcp; anyone -> web on 80;
// web -> a CIDR; an audit-only policy isolates db and would let api in.
PolicySet native_world() {
  PolicySet ps;
  const auto web = group_subject("web", "app=web");
  const auto api = group_subject("api", "app=api");
  const auto db = group_subject("db", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, web, origin("shop", at(1, 1))));
  ps.isolations.push_back(isolate(Direction::egress, web, origin("shop", at(1, 1))));
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("shop", at(2, 1))));
  ps.isolations.push_back(isolate(Direction::ingress, db, audit_origin("lock", at(1, 1, "a"))));
  ps.rules.push_back(rule(Direction::egress, web, {group_peer("api", "app=api")},
                          {port(Protocol::tcp, 8080)}, origin("shop", at(5, 7))));
  ps.rules.push_back(rule(Direction::ingress, api, {group_peer("web", "app=web")},
                          {port(Protocol::tcp, 8080)}, origin("shop", at(5, 7))));
  ps.rules.push_back(
      any_peer_rule(Direction::ingress, web, {port(Protocol::tcp, 80)}, origin("shop", at(8, 7))));
  ps.rules.push_back(rule(Direction::egress, web, {cidr_peer("198.19.0.0/16", {"198.19.66.0/24"})},
                          {port(Protocol::udp, 53), port(Protocol::tcp, 443)},
                          origin("shop", at(9, 7))));
  ps.rules.push_back(rule(Direction::ingress, db, {group_peer("api", "app=api")},
                          {port(Protocol::tcp, 5432)}, audit_origin("lock", at(4, 7, "a"))));
  BandwidthLimit limit;
  limit.subject = api;
  limit.egress = Rate{10000000, 16384, {}};
  limit.origin = origin("shop", at(3, 5));
  ps.limits.push_back(limit);
  return ps;
}

TEST(Graph, NativeGroupsCidrAnyAuditAndBandwidth) {
  const Endpoints eps = {endpoint("api-1", "app=api", {"198.18.0.3"}),
                         endpoint("web-1", "app=web", {"198.18.0.2"}),
                         endpoint("web-2", "app=web", {"198.18.0.4"})};
  EXPECT_EQ(render_graph_dot(native_world(), &eps),
            std::string(kHeader) +
                "  \"group/api\" [label=\"api\\n1 endpoint\\nisolated: ingress\\negress 10mbit, "
                "burst 16kib\", shape=box, style=\"rounded,filled,bold\", fillcolor=\"#ffe4c4\"];\n"
                "  \"group/db\" [label=\"db\\nno endpoints\\naudit isolation: ingress\", "
                "shape=box, style=\"rounded,filled,dashed\", fillcolor=\"#fff8e7\"];\n"
                "  \"group/web\" [label=\"web\\n2 endpoints\\nisolated: ingress, egress\", "
                "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#ffe4c4\"];\n"
                "  \"cidr/198.19.0.0/16 except 198.19.66.0/24\" [label=\"198.19.0.0/16\\nexcept "
                "198.19.66.0/24\", shape=hexagon, style=\"filled\", fillcolor=\"#f2f2f2\"];\n"
                "  \"any\" [label=\"any peer\", shape=ellipse, style=\"dashed\"];\n"
                "  \"any\" -> \"group/web\" [label=\"80/tcp\"];\n"
                "  \"group/api\" -> \"group/db\" [label=\"5432/tcp (audit)\", style=dashed];\n"
                "  \"group/web\" -> \"cidr/198.19.0.0/16 except 198.19.66.0/24\" "
                "[label=\"443/tcp, 53/udp\"];\n"
                "  \"group/web\" -> \"group/api\" [label=\"8080/tcp\"];\n"
                "}\n");
}

TEST(Graph, WithoutInventoryThereAreNoCounts) {
  const std::string dot = render_graph_dot(native_world(), nullptr);
  EXPECT_NE(dot.find("  \"group/web\" [label=\"web\\nisolated: ingress, egress\", "),
            std::string::npos)
      << dot;
  EXPECT_EQ(dot.find("endpoint"), std::string::npos) << dot;
}

// Kubernetes: a subject and a podSelector peer naming the same pods are one node; a policy
// selecting every pod of a namespace marks every pod set of that namespace isolated.
PolicySet k8s_world() {
  PolicySet ps;
  const Origin deny = origin("shop/default-deny", at(1, 1), "NetworkPolicy");
  const Origin api_np = origin("shop/api", at(10, 1), "NetworkPolicy");
  const Origin web_np = origin("shop/web", at(30, 1), "NetworkPolicy");
  ps.isolations.push_back(isolate(Direction::ingress, k8s_subject("shop", ""), deny));
  ps.rules.push_back(
      rule(Direction::ingress, k8s_subject("shop", "app=api"),
           {k8s_peer("app=web", ns_named("shop")), k8s_peer("app=web", ns_named("other")),
            k8s_peer("app=prom", ns_selected("team=ops"))},
           {named_port("http")}, api_np));
  ps.rules.push_back(rule(Direction::egress, k8s_subject("shop", "app=web"),
                          {k8s_peer("app=api", ns_named("shop"))}, {named_port("http")}, web_np));
  return ps;
}

TEST(Graph, KubernetesPodSetsAndNamespaceWideIsolation) {
  EXPECT_EQ(render_graph_dot(k8s_world(), nullptr),
            std::string(kHeader) +
                "  \"pods/ns{team=ops}/{app=prom}\" [label=\"ns{team=ops}/{app=prom}\", "
                "shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\"];\n"
                "  \"pods/other/{app=web}\" [label=\"other/{app=web}\", shape=box, "
                "style=\"rounded,filled\", fillcolor=\"#eef3fb\"];\n"
                "  \"pods/shop/{app=api}\" [label=\"shop/{app=api}\\nisolated: ingress\", "
                "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#ffe4c4\"];\n"
                "  \"pods/shop/{app=web}\" [label=\"shop/{app=web}\\nisolated: ingress\", "
                "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#ffe4c4\"];\n"
                "  \"pods/shop/{}\" [label=\"shop/{}\\nisolated: ingress\", shape=box, "
                "style=\"rounded,filled,bold\", fillcolor=\"#ffe4c4\"];\n"
                "  \"pods/ns{team=ops}/{app=prom}\" -> \"pods/shop/{app=api}\" "
                "[label=\"http/tcp\"];\n"
                "  \"pods/other/{app=web}\" -> \"pods/shop/{app=api}\" [label=\"http/tcp\"];\n"
                "  \"pods/shop/{app=web}\" -> \"pods/shop/{app=api}\" [label=\"http/tcp\"];\n"
                "}\n");
}

TEST(Graph, InventoryMarksNodesWhoseEndpointsAreAllIsolated) {
  PolicySet ps = k8s_world();
  ps.isolations.push_back(isolate(Direction::egress, group_subject("front", "tier=front"),
                                  origin("edge", at(1, 1, "e"))));
  Endpoints eps = {endpoint("x", "app=web,tier=front,io.kubernetes.pod.namespace=other", {})};
  const std::string with = render_graph_dot(ps, &eps);
  EXPECT_NE(with.find("[label=\"other/{app=web}\\n1 endpoint\\nisolated: egress\""),
            std::string::npos)
      << with;
  // One endpoint of two isolated is not the node isolated.
  eps.push_back(endpoint("y", "app=web,io.kubernetes.pod.namespace=other", {}));
  const std::string partly = render_graph_dot(ps, &eps);
  EXPECT_NE(partly.find("[label=\"other/{app=web}\\n2 endpoints\", "), std::string::npos) << partly;
  const std::string without = render_graph_dot(ps, nullptr);
  EXPECT_NE(without.find("[label=\"other/{app=web}\", "), std::string::npos) << without;
}

TEST(Graph, QuotesAndBackslashesAreEscaped) {
  PolicySet ps;
  Subject s;
  s.ns = "shop";
  s.pods.requirements.push_back(Requirement{"app", Requirement::Op::in, {"a\"b\\c"}});
  ps.isolations.push_back(isolate(Direction::ingress, s, origin("x", at(1, 1))));
  EXPECT_EQ(render_graph_dot(ps, nullptr),
            std::string(kHeader) +
                "  \"pods/shop/{app=a\\\"b\\\\c}\" [label=\"shop/{app=a\\\"b\\\\c}\\nisolated: "
                "ingress\", shape=box, style=\"rounded,filled,bold\", fillcolor=\"#ffe4c4\"];\n"
                "}\n");
}

TEST(Graph, OrderOfEntriesDoesNotMatter) {
  PolicySet a = native_world();
  PolicySet b = a;
  std::reverse(b.isolations.begin(), b.isolations.end());
  std::reverse(b.rules.begin(), b.rules.end());
  EXPECT_EQ(render_graph_dot(a, nullptr), render_graph_dot(b, nullptr));
}

// The golden file is also what `bulkhead graph` prints (tests/scripts/explain_graph.sh checks the
// command; UPDATE_GOLDEN=1 there rewrites it).
TEST(Graph, ShopExampleMatchesGolden) {
  const std::string src = BULKHEAD_SOURCE_DIR;
  const auto policies = load_policies({src + "/examples/shop/policy.yaml"});
  ASSERT_TRUE(policies.diagnostics.empty());
  const auto inventory = load_inventory(src + "/examples/shop/inventory.yaml");
  ASSERT_TRUE(inventory.diagnostics.empty());
  std::ifstream in(src + "/tests/golden/shop.graph.dot", std::ios::binary);
  ASSERT_TRUE(in) << "tests/golden/shop.graph.dot is missing";
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(render_graph_dot(policies.set, &inventory.endpoints), golden.str());
}

}  // namespace
}  // namespace bulkhead::policy
