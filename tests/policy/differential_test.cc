// The compiled Plan, walked as the kernel would, must decide every flow exactly as the reference
// evaluator does from the policy model. Seeded random policies; a mismatch prints the seed, the
// flow and the tables involved.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "policy/compile.h"
#include "policy/evaluate.h"
#include "policy/load.h"
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
  long would_deny = 0;
};

bool same(const Verdict& a, const Verdict& b) {
  return a.allowed == b.allowed && a.egress_allowed == b.egress_allowed &&
         a.ingress_allowed == b.ingress_allowed && a.egress_would_deny == b.egress_would_deny &&
         a.ingress_would_deny == b.ingress_would_deny && a.would_deny == b.would_deny;
}

std::string text(const Verdict& v) {
  std::ostringstream s;
  s << v.allowed << " (egress " << v.egress_allowed << ", ingress " << v.ingress_allowed
    << "; would deny " << v.would_deny << ", egress " << v.egress_would_deny << ", ingress "
    << v.ingress_would_deny << ")";
  return s.str();
}

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
        stats.would_deny += ref.would_deny;
        if (same(ref, got)) continue;
        std::string tables;
        for (const auto& ep : plan.endpoints) {
          if ((from && ep.endpoint == from->name) || (to && ep.endpoint == to->name))
            tables += render_endpoint(ep);
        }
        ADD_FAILURE() << "seed " << seed << ": " << describe(f) << ": reference says " << text(ref)
                      << ", plan says " << text(got) << "\n"
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
  // Audit policies are drawn often enough that "would deny" is exercised, not just possible.
  EXPECT_GT(stats.would_deny, stats.flows / 50) << stats.would_deny << " of " << stats.flows;
  std::cout << "[ differential ] " << cases << " cases, " << stats.flows << " flows, "
            << stats.allowed << " allowed, " << stats.would_deny << " would be denied by audit\n";
}

// The shipped examples, through the real loaders: every pair of endpoint addresses plus outside
// addresses, on every probe.
TEST(Differential, ShippedExamplesAgree) {
  for (const std::string dir : {"shop", "compose", "kubernetes", "swarm"}) {
    const std::string base = std::string(BULKHEAD_SOURCE_DIR) + "/examples/" + dir;
    std::vector<std::string> files;
    for (const char* f : {"/policy.yaml", "/namespaces.yaml", "/policies.yaml"}) {
      if (std::FILE* fp = std::fopen((base + f).c_str(), "r")) {
        std::fclose(fp);
        files.push_back(base + f);
      }
    }
    const PolicyLoad pl = load_policies(files);
    const InventoryLoad inv = load_inventory(base + "/inventory.yaml");
    ASSERT_FALSE(has_errors(pl.diagnostics)) << dir;
    ASSERT_FALSE(has_errors(inv.diagnostics)) << dir;
    ASSERT_FALSE(pl.set.rules.empty()) << dir;
    ASSERT_FALSE(inv.endpoints.empty()) << dir;
    const Plan plan = compile(pl.set, inv.endpoints);
    std::vector<std::pair<const Endpoint*, IpAddr>> ends;
    for (const auto& e : inv.endpoints)
      for (const auto& a : e.addresses) ends.push_back({&e, a});
    for (const char* a : {"198.19.66.7", "198.18.200.1", "203.0.113.9", "2001:db8::99"})
      ends.push_back({nullptr, *IpAddr::parse(a)});
    long flows = 0, allowed = 0, would_deny = 0;
    for (const auto& [from, fa] : ends) {
      for (const auto& [to, ta] : ends) {
        if ((!from && !to) || fa.family != ta.family) continue;
        for (const Probe& p : kProbes) {
          for (uint16_t port : {p.port, uint16_t{5432}, uint16_t{6379}, uint16_t{9090}}) {
            const Flow f{from, to, fa, ta, p.proto, port};
            const Verdict ref = reference_allows(pl.set, inv.endpoints, f);
            const Verdict got = plan_allows(plan, f);
            ++flows;
            allowed += ref.allowed;
            would_deny += ref.would_deny;
            ASSERT_TRUE(same(ref, got)) << dir << ": " << describe(f) << ": reference " << text(ref)
                                        << ", plan " << text(got);
          }
        }
      }
    }
    EXPECT_GT(allowed, 0) << dir;
    // swarm's policy is in audit mode: nothing is denied, but some flows would be.
    if (dir == "swarm") {
      EXPECT_EQ(allowed, flows) << dir;
      EXPECT_GT(would_deny, 0) << dir;
    } else {
      EXPECT_LT(allowed, flows) << dir;
    }
  }
}

}  // namespace
}  // namespace bulkhead::policy
