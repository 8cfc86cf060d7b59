// The reconciler against FakeDataplane and a fake clock: the operations a desired state turns
// into, a failed apply that keeps the old state and is retried with backoff, drift found and
// repaired, departed endpoints removed, and the counters the resync keeps for status.
#include "enforcer/daemon/reconciler.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_dataplane.h"
#include "tests/support/plan_builders.h"

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;
using namespace ::bulkhead::testing;  // NOLINT: the plan builders
using netlink::FakeDataplane;

policy::Plan plan_of(std::vector<policy::EndpointPlan> eps) { return policy::Plan{std::move(eps)}; }

// web as sample_endpoint_plan, db isolated without limits.
policy::Plan two_endpoints() {
  policy::EndpointPlan db = sample_endpoint_plan("db", "/run/netns/db");
  db.tc = {};
  return plan_of({db, sample_endpoint_plan("web", "/run/netns/web")});
}

class ReconcilerTest : public ::testing::Test {
 protected:
  FakeClock clock;
  FakeDataplane fake;
  Reconciler rec{fake, clock};

  std::vector<ApplyOutcome> apply() {
    fake.clear_lines();
    return rec.apply_dirty();
  }
  const EndpointState& state(const std::string& name) { return rec.endpoints().at(name); }
};

TEST_F(ReconcilerTest, DesiredStateBecomesOperationsOnlyWhereItChanged) {
  rec.set_desired(two_endpoints());
  auto out = apply();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].status.ok() && out[1].status.ok());
  EXPECT_EQ(fake.text(),
            "apply db (/run/netns/db): nft replaced\n"
            "apply web (/run/netns/web): nft replaced, tc egress=50000000bit/62500B "
            "ingress=20000000bit/25000B\n");
  EXPECT_FALSE(state("web").dirty);
  EXPECT_EQ(state("web").last_apply, clock.wall_now());

  // The same plan again: nothing is dirty, nothing is written.
  rec.set_desired(two_endpoints());
  EXPECT_FALSE(rec.has_due_work());
  EXPECT_TRUE(apply().empty());
  EXPECT_EQ(fake.text(), "");

  // A peer joins web's set: only web, and only its set elements.
  policy::Plan more = two_endpoints();
  more.endpoints[1].table->sets[0].elements.push_back(host("198.18.0.99"));
  rec.set_desired(more);
  EXPECT_TRUE(state("web").dirty);
  EXPECT_FALSE(state("db").dirty);
  apply();
  EXPECT_EQ(fake.text(), "apply web (/run/netns/web): nft elements peers4 +1 -0\n");
}

TEST_F(ReconcilerTest, FailedApplyKeepsTheOldStateAndIsRetriedWithBackoff) {
  rec.set_desired(two_endpoints());
  apply();
  policy::Plan changed = two_endpoints();
  changed.endpoints[1].table->chains[0].rules.pop_back();  // a new shape: a replace
  rec.set_desired(changed);
  fake.fail_next("/run/netns/web", make_error("nft transaction", "injected", EPERM));
  auto out = apply();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].status.ok());
  EXPECT_EQ(fake.text(),
            "error apply web (/run/netns/web): nft transaction: injected: Operation not "
            "permitted\n");
  // The namespace still holds the previous plan whole.
  auto seen = fake.observe("/run/netns/web");
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(netlink::in_sync(*seen, two_endpoints().endpoints[1]));
  EXPECT_EQ(state("web").failures, 1);
  EXPECT_EQ(state("web").last_error, "nft transaction: injected: Operation not permitted");

  // Retried 250 ms later, not before; a second failure doubles the wait.
  const auto t0 = clock.now();
  ASSERT_TRUE(rec.next_retry().has_value());
  EXPECT_EQ(*rec.next_retry(), t0 + 250ms);
  clock.advance(249ms);
  EXPECT_FALSE(rec.has_due_work());
  EXPECT_TRUE(apply().empty());
  clock.advance(1ms);
  EXPECT_TRUE(rec.has_due_work());
  fake.fail_next("/run/netns/web", make_error("nft transaction", "injected again"));
  apply();
  EXPECT_EQ(state("web").failures, 2);
  EXPECT_EQ(*rec.next_retry(), clock.now() + 500ms);
  clock.advance(500ms);
  out = apply();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(fake.text(), "apply web (/run/netns/web): nft replaced\n");
  EXPECT_FALSE(state("web").dirty);
  EXPECT_EQ(state("web").failures, 0);
  EXPECT_FALSE(rec.next_retry().has_value());
}

TEST_F(ReconcilerTest, BackoffStopsGrowingAtThirtySeconds) {
  rec.set_desired(plan_of({sample_endpoint_plan("web", "/run/netns/web")}));
  for (int i = 0; i < 12; ++i) {
    fake.fail_next("/run/netns/web", make_error("apply", "injected"));
    clock.advance(1h);
    apply();
  }
  EXPECT_EQ(state("web").failures, 12);
  EXPECT_EQ(*rec.next_retry(), clock.now() + 30s);
}

TEST_F(ReconcilerTest, DriftIsFoundAndRepaired) {
  rec.set_desired(two_endpoints());
  apply();
  EXPECT_TRUE(rec.check_drift().empty());
  auto seen = fake.observe("/run/netns/web");
  ASSERT_TRUE(seen.ok());
  seen->table->chains[0].rules.pop_back();  // someone deleted the final drop
  fake.set_observed("/run/netns/web", *seen);
  EXPECT_EQ(rec.check_drift(), std::vector<std::string>{"web"});
  EXPECT_TRUE(state("web").dirty);
  EXPECT_TRUE(rec.has_due_work());
  apply();
  EXPECT_EQ(fake.text(), "apply web (/run/netns/web): nft replaced\n");
  EXPECT_TRUE(rec.check_drift().empty());

  // A namespace that cannot be read counts as drifted too: the apply reports why.
  fake.set_missing("/run/netns/db", true);
  EXPECT_EQ(rec.check_drift(), std::vector<std::string>{"db"});
  apply();
  EXPECT_EQ(fake.text(), "error apply db (/run/netns/db): namespace missing\n");
}

TEST_F(ReconcilerTest, DepartedEndpointsAreRemoved) {
  rec.set_desired(two_endpoints());
  apply();
  rec.set_desired(plan_of({two_endpoints().endpoints[1]}));
  EXPECT_EQ(rec.endpoints().count("db"), 0u);
  EXPECT_TRUE(rec.has_due_work());
  auto out = apply();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].removed);
  EXPECT_EQ(out[0].endpoint, "db");
  EXPECT_EQ(fake.text(), "remove /run/netns/db\nforget /run/netns/db\n");
  EXPECT_TRUE(apply().empty());

  // One that never reached its namespace has nothing there to remove.
  fake.fail_next("/run/netns/new", make_error("apply", "injected"));
  rec.set_desired(
      plan_of({sample_endpoint_plan("new", "/run/netns/new"), two_endpoints().endpoints[1]}));
  apply();
  rec.set_desired(plan_of({two_endpoints().endpoints[1]}));
  EXPECT_TRUE(apply().empty());
}

TEST_F(ReconcilerTest, KeepsTheCountersOfTheLastReadingWithItsTime) {
  rec.set_desired(two_endpoints());
  apply();
  // Created afresh: the counters are known to be zero at the apply.
  const auto applied_at = clock.wall_now();
  ASSERT_TRUE(state("web").counters.at.has_value());
  EXPECT_EQ(*state("web").counters.at, applied_at);
  ASSERT_EQ(state("web").counters.rules.size(), 9u);  // 5 + 2 allow rules, 2 final drops
  EXPECT_EQ(state("web").counters.rules[5].packets, 0u);

  auto seen = fake.observe("/run/netns/web");
  ASSERT_TRUE(seen.ok());
  seen->table->chains[0].rules.back().packets = 7;  // ingress final drop
  seen->table->chains[0].rules.back().bytes = 420;
  seen->table->chains[1].rules[4].packets = 3;  // egress: the first allow rule
  fake.set_observed("/run/netns/web", *seen);
  clock.advance(30s);
  const size_t before = fake.observations();
  EXPECT_TRUE(rec.check_drift().empty());
  EXPECT_EQ(fake.observations(), before + 2);  // one reading per endpoint
  const auto& c = state("web").counters;
  EXPECT_EQ(*c.at, applied_at + 30s);
  EXPECT_EQ(c.rules[5].packets, 7u);
  EXPECT_EQ(c.rules[5].bytes, 420u);
  EXPECT_EQ(c.rules[6].packets, 3u);

  std::vector<std::string> seen_rules;
  for_each_reading(state("web"), [&](const policy::NftChain& chain, const policy::NftRule& r,
                                     const RuleCounter& n) {
    if (n.packets)
      seen_rules.push_back(chain.name + " " + r.comment + " " + std::to_string(n.packets));
  });
  EXPECT_EQ(seen_rules, (std::vector<std::string>{"ingress default deny 7", "egress to peers 3"}));

  // Element updates keep the rules, so the reading stays; a replace starts from zero again.
  policy::Plan more = two_endpoints();
  more.endpoints[1].table->sets[0].elements.push_back(host("198.18.0.99"));
  rec.set_desired(more);
  clock.advance(1s);
  apply();
  EXPECT_EQ(state("web").counters.rules[5].packets, 7u);
  EXPECT_EQ(*state("web").counters.at, applied_at + 30s);
  more.endpoints[1].table->chains[1].rules.pop_back();
  rec.set_desired(more);
  apply();
  EXPECT_EQ(state("web").counters.rules.size(), 8u);
  EXPECT_EQ(state("web").counters.rules[5].packets, 0u);
  EXPECT_EQ(*state("web").counters.at, clock.wall_now());
}

TEST_F(ReconcilerTest, WithoutAReadingCountersAreUnknown) {
  // A table already in place (a restarted daemon): nothing applied, nothing read yet.
  policy::EndpointPlan web = sample_endpoint_plan("web", "/run/netns/web");
  ASSERT_TRUE(fake.apply(web).ok());
  rec.set_desired(plan_of({web}));
  apply();
  EXPECT_EQ(fake.text(), "");
  EXPECT_FALSE(state("web").dirty);
  EXPECT_FALSE(state("web").counters.at.has_value());
  int visited = 0;
  for_each_reading(state("web"), [&](auto&&...) { ++visited; });
  EXPECT_EQ(visited, 0);
  rec.check_drift();
  EXPECT_TRUE(state("web").counters.at.has_value());
}

}  // namespace
}  // namespace bulkhead::daemon
