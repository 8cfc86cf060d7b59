// The largest table policy/model/limits.h lets through (10,000 rules in a chain, 250,000 set
// elements) goes into a real namespace in one transaction and reads back equal: the limits are what
// one netlink transaction can carry here, not a guess.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "netlink/dataplane.h"
#include "policy/model/limits.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/plan_builders.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;              // NOLINT: the namespace fixtures
using namespace ::bulkhead::testing;  // NOLINT: the plan builders

TEST(PlanLimits, ATableAtEveryLimitAppliesInOneTransaction) {
  TestNamespaces nets;
  const std::string ns = nets.add("lim");
  policy::NftSet peers{"peers6", 6, false, {}};
  // 2001:2::/48 (benchmarking range), every other address so no two elements merge.
  policy::IpAddr a = ip("2001:2::");
  for (size_t i = 0; i < policy::limits::kMaxElementsPerTable; ++i) {
    const uint32_t v = static_cast<uint32_t>(2 * i);
    a.bytes[12] = static_cast<uint8_t>(v >> 24);
    a.bytes[13] = static_cast<uint8_t>(v >> 16);
    a.bytes[14] = static_cast<uint8_t>(v >> 8);
    a.bytes[15] = static_cast<uint8_t>(v);
    peers.elements.push_back({a, a});
  }
  std::vector<policy::NftRule> allows;
  // The chain holds its five base rules too: 10,000 in all.
  for (size_t i = 0; allows.size() + 5 < policy::limits::kMaxRulesPerChain; ++i) {
    const auto port = static_cast<uint16_t>(1 + 2 * i);
    allows.push_back(allow(6, "peers6", policy::L4::tcp, port, port, "r" + std::to_string(i)));
  }
  policy::EndpointPlan plan;
  plan.endpoint = "lim";
  plan.netns = TestNamespaces::path(ns);
  plan.table.emplace();
  plan.table->sets = {peers};
  plan.table->chains = {chain("ingress", std::move(allows))};
  ASSERT_EQ(plan.table->chains[0].rules.size(), policy::limits::kMaxRulesPerChain);

  auto dp = make_kernel_dataplane();
  const auto t0 = std::chrono::steady_clock::now();
  auto st = dp->apply(plan);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  std::cout << "apply of a table at the limits: " << s << " s\n";
  auto seen = dp->observe(plan.netns);
  ASSERT_TRUE(seen.ok()) << seen.error().to_string();
  ASSERT_TRUE(seen->table.has_value());
  EXPECT_EQ(seen->table->sets.at(0).elements.size(), policy::limits::kMaxElementsPerTable);
  EXPECT_EQ(seen->table->chains.at(0).rules.size(), policy::limits::kMaxRulesPerChain);
  EXPECT_TRUE(in_sync(*seen, plan));
}

}  // namespace
}  // namespace bulkhead::netlink
