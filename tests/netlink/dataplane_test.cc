// KernelDataplane against real namespaces.
#include "netlink/dataplane.h"

#include <gtest/gtest.h>

#include "tests/support/netns_fixture.h"
#include "tests/support/plan_builders.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;              // NOLINT: the namespace fixtures
using namespace ::bulkhead::testing;  // NOLINT: the plan builders

TEST(KernelDataplane, AppliesObservesUpdatesAndRemoves) {
  TestNamespaces nets;
  std::string a = nets.add("dpa"), b = nets.add("dpb");
  nets.link(a, "198.18.3.1/24", b, "198.18.3.2/24");
  auto dp = make_kernel_dataplane();
  policy::EndpointPlan plan = sample_endpoint_plan("b", TestNamespaces::path(b));

  ApplyOutcome out;
  auto st = dp->apply(plan, &out);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(out.nft, NftChange::replaced);
  EXPECT_TRUE(out.tc_changed);
  auto seen = dp->observe(plan.netns);
  ASSERT_TRUE(seen.ok()) << seen.error().to_string();
  EXPECT_TRUE(in_sync(*seen, plan));

  ASSERT_TRUE(dp->apply(plan, &out).ok());
  EXPECT_EQ(out.nft, NftChange::none);
  EXPECT_FALSE(out.tc_changed);

  plan.table->sets[0].elements.push_back(host("198.18.0.99"));
  ASSERT_TRUE(dp->apply(plan, &out).ok());
  EXPECT_EQ(out.nft, NftChange::elements);
  EXPECT_FALSE(out.tc_changed);

  plan.table.reset();
  plan.tc = {};
  ASSERT_TRUE(dp->apply(plan, &out).ok());
  EXPECT_EQ(out.nft, NftChange::deleted);
  EXPECT_TRUE(out.tc_changed);
  seen = dp->observe(plan.netns);
  ASSERT_TRUE(seen.ok());
  EXPECT_FALSE(seen->table.has_value());
  EXPECT_TRUE(seen->tc.empty());
  EXPECT_NE(sh("ip -n " + b + " link show bh-ifb0"), 0);
}

TEST(KernelDataplane, RemoveCleansUpAndToleratesAGoneNamespace) {
  TestNamespaces nets;
  std::string a = nets.add("dra"), b = nets.add("drb");
  nets.link(a, "198.18.4.1/24", b, "198.18.4.2/24");
  auto dp = make_kernel_dataplane();
  policy::EndpointPlan plan = sample_endpoint_plan("b", TestNamespaces::path(b));
  ASSERT_TRUE(dp->apply(plan).ok());
  ASSERT_TRUE(dp->remove(plan.netns).ok());
  std::string out;
  EXPECT_NE(sh("ip netns exec " + b + " nft list table inet bulkhead", &out), 0);
  EXPECT_NE(sh("ip -n " + b + " link show bh-ifb0"), 0);
  sh("tc -n " + b + " qdisc show dev eth0", &out);
  EXPECT_EQ(out.find("htb"), std::string::npos) << out;
  EXPECT_TRUE(dp->remove("/run/netns/" + run_prefix() + "never-existed").ok());
}

TEST(KernelDataplane, ReopensANamespaceThatWasRecreatedUnderTheSamePath) {
  TestNamespaces nets;
  std::string b = nets.add("dre");
  auto dp = make_kernel_dataplane();
  policy::EndpointPlan plan = sample_endpoint_plan("b", TestNamespaces::path(b));
  plan.tc = {};  // no interface besides lo here
  ASSERT_TRUE(dp->apply(plan).ok());
  auto first = dp->observe(plan.netns);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(sh("ip netns del " + b), 0);
  ASSERT_EQ(sh("ip netns add " + b), 0);
  auto fresh = dp->observe(plan.netns);
  ASSERT_TRUE(fresh.ok()) << fresh.error().to_string();
  EXPECT_NE(fresh->netns_inode, first->netns_inode);
  EXPECT_FALSE(fresh->table.has_value()) << "observed the old namespace";
  ApplyOutcome out;
  ASSERT_TRUE(dp->apply(plan, &out).ok());
  EXPECT_EQ(out.nft, NftChange::replaced);
}

TEST(KernelDataplane, ErrorNamesTheEndpointAndTheObject) {
  TestNamespaces nets;
  std::string b = nets.add("der");
  auto dp = make_kernel_dataplane();
  policy::EndpointPlan plan = sample_endpoint_plan("b", TestNamespaces::path(b));
  plan.tc = {};
  plan.table->sets.push_back(policy::NftSet{std::string(300, 'y'), 4, false, {}});
  auto st = dp->apply(plan);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().to_string().find("endpoint b"), std::string::npos);
  EXPECT_NE(st.error().to_string().find("add set inet bulkhead yyy"), std::string::npos);
}

TEST(KernelDataplane, RefusesTheNamespaceItRunsIn) {
  std::string before;
  ASSERT_EQ(sh("nft list tables", &before), 0) << before;
  auto dp = make_kernel_dataplane();
  policy::EndpointPlan plan = sample_endpoint_plan("host", "/proc/self/ns/net");
  auto st = dp->apply(plan);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().to_string().find("refusing the namespace bulkhead runs in"),
            std::string::npos)
      << st.error().to_string();
  EXPECT_FALSE(dp->remove(plan.netns).ok());
  std::string after;
  ASSERT_EQ(sh("nft list tables", &after), 0) << after;
  EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace bulkhead::netlink
