#include "policy/inspect/evaluate.h"

#include <gtest/gtest.h>

#include "policy/plan/compile.h"
#include "tests/support/policy_builders.h"
#include "tests/support/random_policy.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT: the builders

// web -> api on 8080/tcp (native); api -> db's named port "pg" (Kubernetes-style egress);
// db ingress from anything inside 198.18.0.0/24 except 198.18.0.3/32 on icmp; api egress to
// 2001:db8::/32 on udp 53.
struct World {
  PolicySet ps;
  Endpoints eps;
  const Endpoint& ep(const std::string& name) const {
    for (const auto& e : eps)
      if (e.name == name) return e;
    throw std::logic_error("no endpoint " + name);  // test bug, not a product path
  }
};

World make_world() {
  World w;
  const auto api = group_subject("api", "app=api");
  const auto db = group_subject("db", "app=db");
  w.ps.isolations.push_back(isolate(Direction::ingress, api, origin("shop", at(1, 1))));
  w.ps.isolations.push_back(isolate(Direction::egress, api, origin("shop", at(1, 1))));
  w.ps.isolations.push_back(isolate(Direction::ingress, db, origin("shop", at(2, 1))));
  w.ps.rules.push_back(rule(Direction::ingress, api, {group_peer("web", "app=web")},
                            {port(Protocol::tcp, 8080)}, origin("shop", at(5, 7))));
  w.ps.rules.push_back(rule(Direction::egress, api, {group_peer("db", "app=db")},
                            {named_port("pg")}, origin("shop", at(6, 7))));
  w.ps.rules.push_back(rule(Direction::egress, api, {cidr_peer("2001:db8::/32")},
                            {port(Protocol::udp, 53)}, origin("shop", at(7, 7))));
  w.ps.rules.push_back(rule(Direction::ingress, db, {group_peer("api", "app=api")},
                            {named_port("pg")}, origin("shop", at(8, 7))));
  w.ps.rules.push_back(rule(Direction::ingress, db, {cidr_peer("198.18.0.0/24", {"198.18.0.3/32"})},
                            {port(Protocol::icmp)}, origin("shop", at(9, 7))));
  w.eps = {endpoint("api", "app=api", {"198.18.0.2", "2001:db8::2"}),
           endpoint("db", "app=db", {"198.18.0.5", "2001:db8::5"}, {{"pg", 5432, Protocol::tcp}}),
           endpoint("web", "app=web", {"198.18.0.3"})};
  return w;
}

struct Case {
  const char* from;  // endpoint name, or an address for an outside sender
  const char* from_addr;
  const char* to;
  const char* to_addr;
  Protocol proto;
  uint16_t port;
  bool egress, ingress;
};

class EvaluateTest : public ::testing::TestWithParam<Case> {};

Flow flow_of(const World& w, const Case& c) {
  Flow f;
  const bool from_ep = std::string(c.from) != "outside";
  const bool to_ep = std::string(c.to) != "outside";
  f.from = from_ep ? &w.ep(c.from) : nullptr;
  f.to = to_ep ? &w.ep(c.to) : nullptr;
  f.from_addr = ip(c.from_addr);
  f.to_addr = ip(c.to_addr);
  f.proto = c.proto;
  f.port = c.port;
  return f;
}

TEST_P(EvaluateTest, ReferenceAndPlanGiveTheExpectedVerdict) {
  const World w = make_world();
  const Case& c = GetParam();
  const Flow f = flow_of(w, c);
  const Plan plan = compile(w.ps, w.eps);
  for (const Verdict v : {reference_allows(w.ps, w.eps, f), plan_allows(plan, f)}) {
    EXPECT_EQ(v.egress_allowed, c.egress);
    EXPECT_EQ(v.ingress_allowed, c.ingress);
    EXPECT_EQ(v.allowed, c.egress && c.ingress);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Flows, EvaluateTest,
    ::testing::Values(
        // web is not isolated; api admits web on 8080/tcp only.
        Case{"web", "198.18.0.3", "api", "198.18.0.2", Protocol::tcp, 8080, true, true},
        Case{"web", "198.18.0.3", "api", "198.18.0.2", Protocol::tcp, 8081, true, false},
        Case{"web", "198.18.0.3", "api", "198.18.0.2", Protocol::udp, 8080, true, false},
        Case{"outside", "198.19.0.1", "api", "198.18.0.2", Protocol::tcp, 8080, true, false},
        // api -> db: api's egress resolves "pg" on db; db's ingress resolves it on itself.
        Case{"api", "198.18.0.2", "db", "198.18.0.5", Protocol::tcp, 5432, true, true},
        Case{"api", "2001:db8::2", "db", "2001:db8::5", Protocol::tcp, 5432, true, true},
        Case{"api", "198.18.0.2", "db", "198.18.0.5", Protocol::udp, 5432, false, false},
        Case{"api", "198.18.0.2", "db", "198.18.0.5", Protocol::tcp, 5433, false, false},
        // api's egress is isolated: web is not among its destinations.
        Case{"api", "198.18.0.2", "web", "198.18.0.3", Protocol::tcp, 80, false, true},
        Case{"api", "2001:db8::2", "outside", "2001:db8:5::53", Protocol::udp, 53, true, true},
        Case{"api", "198.18.0.2", "outside", "198.19.0.53", Protocol::udp, 53, false, true},
        // db admits ICMP from the /24 except web's address; the ICMP rule is IPv4-only here.
        Case{"outside", "198.18.0.77", "db", "198.18.0.5", Protocol::icmp, 0, true, true},
        Case{"web", "198.18.0.3", "db", "198.18.0.5", Protocol::icmp, 0, true, false},
        Case{"outside", "2001:db8::77", "db", "2001:db8::5", Protocol::icmp, 0, true, false},
        // Loopback: an endpoint reaching itself always passes.
        Case{"api", "198.18.0.2", "api", "198.18.0.2", Protocol::tcp, 1, true, true},
        // Leaving a non-isolated endpoint for the outside.
        Case{"web", "198.18.0.3", "outside", "198.19.0.1", Protocol::sctp, 9, true, true}));

TEST(PlanAllows, AMissingAllowRuleIsNoticed) {
  // The differential test is only worth something if the walk reacts to the rules: drop each
  // allow rule in turn and the flow it carried must become denied.
  const World w = make_world();
  const Plan plan = compile(w.ps, w.eps);
  Flow f =
      flow_of(w, Case{"web", "198.18.0.3", "api", "198.18.0.2", Protocol::tcp, 8080, true, true});
  ASSERT_TRUE(plan_allows(plan, f).allowed);
  Plan broken = plan;
  for (auto& ep : broken.endpoints) {
    if (!ep.table) continue;
    for (auto& c : ep.table->chains)
      std::erase_if(c.rules, [](const NftRule& r) { return r.kind == RuleKind::allow; });
  }
  EXPECT_FALSE(plan_allows(broken, f).allowed);
  EXPECT_TRUE(reference_allows(w.ps, w.eps, f).allowed);
}

TEST(PlanAllows, RandomMutationsAreCaughtByComparingWithTheReference) {
  // Remove the first allow rule of the first isolated chain in random plans: in a good share of
  // cases some flow must then disagree with the reference (otherwise the comparison is blind).
  int mutated = 0, caught = 0;
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    const auto c = RandomPolicyGen(seed).make();
    Plan plan = compile(c.policies, c.endpoints);
    bool done = false;
    for (auto& ep : plan.endpoints) {
      if (!ep.table || done) continue;
      for (auto& ch : ep.table->chains) {
        auto it = std::find_if(ch.rules.begin(), ch.rules.end(),
                               [](const NftRule& r) { return r.kind == RuleKind::allow; });
        if (it == ch.rules.end() || done) continue;
        ch.rules.erase(it);
        done = true;
      }
    }
    if (!done) continue;
    ++mutated;
    bool differs = false;
    for (const auto& a : c.endpoints) {
      for (const auto& b : c.endpoints) {
        for (const auto& fa : a.addresses) {
          for (const auto& tb : b.addresses) {
            if (fa.family != tb.family || differs) continue;
            for (auto [proto, port] : {std::pair{Protocol::tcp, uint16_t{80}},
                                       {Protocol::tcp, uint16_t{8080}},
                                       {Protocol::udp, uint16_t{53}},
                                       {Protocol::icmp, uint16_t{0}},
                                       {Protocol::sctp, uint16_t{7777}}}) {
              const Flow f{&a, &b, fa, tb, proto, port};
              // In an audit chain a missing allow rule changes only the would-deny flags.
              const Verdict ref = reference_allows(c.policies, c.endpoints, f);
              const Verdict got = plan_allows(plan, f);
              if (ref.allowed != got.allowed || ref.egress_would_deny != got.egress_would_deny ||
                  ref.ingress_would_deny != got.ingress_would_deny)
                differs = true;
            }
          }
        }
      }
    }
    caught += differs;
  }
  ASSERT_GT(mutated, 50);
  EXPECT_GT(caught, mutated / 4) << caught << " of " << mutated;
}

}  // namespace
}  // namespace bulkhead::policy
