// The compiled Plan, walked as the kernel would, must decide every flow exactly as the reference
// evaluator does from the policy model. Seeded random policies; a mismatch prints the seed, the
// flow and the tables involved.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "policy/compile.h"
#include "policy/evaluate.h"
#include "policy/render.h"
#include "policy/resolve.h"
#include "tests/policy/random_policy.h"

namespace bulkhead::policy {
namespace {

using testing::RandomCase;
using testing::RandomPolicyGen;

struct Probe {
  Protocol proto;
  uint16_t port;
};

const Probe kProbes[] = {{Protocol::tcp, 80},   {Protocol::tcp, 443},   {Protocol::tcp, 8080},
                         {Protocol::tcp, 9090}, {Protocol::udp, 53},    {Protocol::udp, 8080},
                         {Protocol::tcp, 53},   {Protocol::sctp, 7777}, {Protocol::icmp, 0}};

std::string describe(const Flow& f) {
  std::ostringstream s;
  s << (f.from ? f.from->name : "outside") << " " << f.from_addr.to_string() << " -> "
    << (f.to ? f.to->name : "outside") << " " << f.to_addr.to_string() << " "
    << protocol_name(f.proto) << "/" << f.port;
  return s.str();
}

uint32_t base_seed() {
  // BULKHEAD_DIFF_SEED replays a reported case; otherwise the seeds are fixed so CI is stable.
  const char* env = std::getenv("BULKHEAD_DIFF_SEED");
  return env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : 20261125u;
}

int case_count() {
  const char* env = std::getenv("BULKHEAD_DIFF_CASES");
  return env ? std::atoi(env) : 600;
}

struct Stats {
  long flows = 0;
  long allowed = 0;
};

// Returns false (after reporting) on the first disagreement.
bool check_case(uint32_t seed, Stats& stats) {
  RandomCase c = RandomPolicyGen(seed).make();
  const Plan plan = compile(c.policies, c.endpoints);

  std::vector<std::pair<const Endpoint*, IpAddr>> ends;
  for (const auto& e : c.endpoints)
    for (const auto& a : e.addresses) ends.push_back({&e, a});
  for (const auto& a : c.outside) ends.push_back({nullptr, a});

  for (const auto& [from, from_addr] : ends) {
    for (const auto& [to, to_addr] : ends) {
      if (!from && !to) continue;
      if (from_addr.family != to_addr.family) continue;
      for (const Probe& p : kProbes) {
        Flow f{from, to, from_addr, to_addr, p.proto, p.port};
        const Verdict ref = reference_allows(c.policies, c.endpoints, f);
        const Verdict got = plan_allows(plan, f);
        ++stats.flows;
        stats.allowed += ref.allowed;
        if (ref.allowed == got.allowed && ref.egress_allowed == got.egress_allowed &&
            ref.ingress_allowed == got.ingress_allowed) {
          continue;
        }
        std::string tables;
        for (const auto& ep : plan.endpoints) {
          if ((from && ep.endpoint == from->name) || (to && ep.endpoint == to->name))
            tables += render_endpoint(ep);
        }
        ADD_FAILURE() << "seed " << seed << ": " << describe(f) << ": reference says "
                      << ref.allowed << " (egress " << ref.egress_allowed << ", ingress "
                      << ref.ingress_allowed << "), plan says " << got.allowed << " (egress "
                      << got.egress_allowed << ", ingress " << got.ingress_allowed << ")\n"
                      << tables;
        return false;
      }
    }
  }
  return true;
}

TEST(Differential, PlanAgreesWithReferenceOnRandomPolicies) {
  const uint32_t seed0 = base_seed();
  const int cases = case_count();
  ASSERT_GE(cases, 1);
  Stats stats;
  int failures = 0;
  for (int i = 0; i < cases && failures < 3; ++i) {
    if (!check_case(seed0 + static_cast<uint32_t>(i), stats)) ++failures;
  }
  EXPECT_EQ(failures, 0);
  // Both verdicts must occur often, or the comparison says little.
  EXPECT_GT(stats.allowed, stats.flows / 20) << stats.allowed << " of " << stats.flows;
  EXPECT_LT(stats.allowed, stats.flows - stats.flows / 20)
      << stats.allowed << " of " << stats.flows;
  std::cout << "[ differential ] " << cases << " cases, " << stats.flows << " flows, "
            << stats.allowed << " allowed\n";
}

}  // namespace
}  // namespace bulkhead::policy
