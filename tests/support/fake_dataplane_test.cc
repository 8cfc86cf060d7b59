// FakeDataplane's recorded lines and injected drift: what the reconciler's tests read.
#include "tests/support/fake_dataplane.h"

#include <gtest/gtest.h>

#include "tests/support/plan_builders.h"

namespace bulkhead::netlink {
namespace {

using namespace ::bulkhead::testing;  // NOLINT: the plan builders

TEST(FakeDataplane, RecordsChangesAsLines) {
  FakeDataplane fake;
  policy::EndpointPlan plan = sample_endpoint_plan("web", "/run/netns/web");
  ASSERT_TRUE(fake.apply(plan).ok());
  ASSERT_TRUE(fake.apply(plan).ok());  // nothing to do: no line
  plan.table->sets[0].elements = {range("198.18.0.0", "198.18.0.7"), host("198.18.0.99")};
  ASSERT_TRUE(fake.apply(plan).ok());
  fake.fail_next(plan.netns, make_error("nft transaction", "injected", EPERM));
  EXPECT_FALSE(fake.apply(plan).ok());
  plan.table.reset();
  plan.tc = {};
  ASSERT_TRUE(fake.apply(plan).ok());
  ASSERT_TRUE(fake.remove(plan.netns).ok());
  EXPECT_EQ(fake.text(),
            "apply web (/run/netns/web): nft replaced, tc egress=50000000bit/62500B "
            "ingress=20000000bit/25000B\n"
            "apply web (/run/netns/web): nft elements peers4 +2 -1\n"
            "error apply web (/run/netns/web): nft transaction: injected: Operation not "
            "permitted\n"
            "apply web (/run/netns/web): nft deleted, tc removed\n"
            "remove /run/netns/web\n");
}

TEST(FakeDataplane, ObserveShowsInjectedDrift) {
  FakeDataplane fake;
  policy::EndpointPlan plan = sample_endpoint_plan("web", "/run/netns/web");
  ASSERT_TRUE(fake.apply(plan).ok());
  auto seen = fake.observe(plan.netns);
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(in_sync(*seen, plan));
  Observed drifted = *seen;
  drifted.table->chains[0].rules.pop_back();
  fake.set_observed(plan.netns, drifted);
  seen = fake.observe(plan.netns);
  ASSERT_TRUE(seen.ok());
  EXPECT_FALSE(in_sync(*seen, plan));
  fake.clear_lines();
  ASSERT_TRUE(fake.apply(plan).ok());
  EXPECT_EQ(fake.text(), "apply web (/run/netns/web): nft replaced\n");
}

}  // namespace
}  // namespace bulkhead::netlink
