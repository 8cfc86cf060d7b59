// ChangeMonitor in real namespaces: changes by another process (nft, tc, ip) to bulkhead's
// objects are reported; the same process's own applies (KernelDataplane) and changes to objects
// that are not bulkhead's are not.
#include "netlink/watch/change_monitor.h"

#include <gtest/gtest.h>

#include "netlink/dataplane.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/plan_builders.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;              // NOLINT: the namespace fixtures
using namespace ::bulkhead::testing;  // NOLINT: the plan builders

struct Lab {
  TestNamespaces nets;
  std::string a = nets.add("cma"), b = nets.add("cmb");
  std::unique_ptr<Dataplane> dp = make_kernel_dataplane();
  policy::EndpointPlan plan = sample_endpoint_plan("b", TestNamespaces::path(b));
  std::optional<ChangeMonitor> mon;

  void up() {
    nets.link(a, "198.18.4.1/24", b, "198.18.4.2/24");
    auto st = dp->apply(plan);
    ASSERT_TRUE(st.ok()) << st.error().to_string();
    auto ns = NetnsHandle::open(plan.netns);
    ASSERT_TRUE(ns.ok());
    auto m = ChangeMonitor::open(std::make_shared<const NetnsHandle>(std::move(*ns)),
                                 {true, true, true});
    ASSERT_TRUE(m.ok()) << m.error().to_string();
    mon.emplace(std::move(*m));
  }
  ChangeReport both() {
    ChangeReport r = mon->read_nft();
    ChangeReport t = mon->read_route();
    r.changes.insert(r.changes.end(), t.changes.begin(), t.changes.end());
    r.lost = r.lost || t.lost;
    return r;
  }
};

std::string joined(const ChangeReport& r) {
  std::string s;
  for (const auto& c : r.changes) s += c + "\n";
  return s;
}

TEST(ChangeMonitor, ReportsForeignTableAndQdiscChanges) {
  Lab lab;
  ASSERT_NO_FATAL_FAILURE(lab.up());
  EXPECT_FALSE(lab.both().any());

  ASSERT_EQ(sh("ip netns exec " + lab.b + " nft flush ruleset"), 0);
  ChangeReport r = lab.mon->read_nft();
  EXPECT_FALSE(r.lost);
  ASSERT_FALSE(r.changes.empty());
  EXPECT_NE(joined(r).find("DELTABLE inet bulkhead"), std::string::npos) << joined(r);

  ASSERT_EQ(sh("ip netns exec " + lab.b + " tc qdisc del dev eth0 root"), 0);
  r = lab.mon->read_route();
  EXPECT_NE(joined(r).find("DELQDISC htb 1:0"), std::string::npos) << joined(r);

  ASSERT_EQ(sh("ip -n " + lab.b + " link del bh-ifb0"), 0);
  r = lab.mon->read_route();
  EXPECT_NE(joined(r).find("DELLINK bh-ifb0"), std::string::npos) << joined(r);
}

TEST(ChangeMonitor, IgnoresOwnAppliesAndOtherObjects) {
  Lab lab;
  ASSERT_NO_FATAL_FAILURE(lab.up());
  // The daemon's own repair after a foreign deletion: the deletion is reported, the repair not.
  ASSERT_EQ(sh("ip netns exec " + lab.b + " nft delete table inet bulkhead"), 0);
  ASSERT_EQ(sh("ip netns exec " + lab.b + " tc qdisc del dev eth0 root"), 0);
  ASSERT_TRUE(lab.dp->apply(lab.plan).ok());
  ChangeReport nft = lab.mon->read_nft();
  ChangeReport route = lab.mon->read_route();
  for (const auto& c : nft.changes) EXPECT_EQ(c.rfind("DEL", 0), 0u) << joined(nft);
  for (const auto& c : route.changes) EXPECT_EQ(c.rfind("DEL", 0), 0u) << joined(route);
  EXPECT_FALSE(nft.changes.empty());
  EXPECT_FALSE(route.changes.empty());

  // Set-element changes and a full replace by this process: nothing to report.
  lab.plan.table->sets[0].elements.push_back(host("198.18.0.99"));
  ASSERT_TRUE(lab.dp->apply(lab.plan).ok());
  lab.plan.tc.egress = policy::TcLimit{40'000'000, 50'000};
  ASSERT_TRUE(lab.dp->apply(lab.plan).ok());
  EXPECT_FALSE(lab.both().any()) << joined(lab.both());

  // Another table, and a qdisc on loopback, are not bulkhead's.
  ASSERT_EQ(sh("ip netns exec " + lab.b + " nft add table inet mine"), 0);
  ASSERT_EQ(sh("ip netns exec " + lab.b + " tc qdisc add dev lo root handle 1: htb"), 0);
  ChangeReport other = lab.both();
  EXPECT_FALSE(other.any()) << joined(other);
}

TEST(ChangeMonitor, WatchesOnlyWhatThePlanHas) {
  Lab lab;
  ASSERT_NO_FATAL_FAILURE(lab.up());
  lab.mon->set_watched({true, false, false});  // a plan without limits
  ASSERT_EQ(sh("ip netns exec " + lab.b + " tc qdisc del dev eth0 root"), 0);
  EXPECT_FALSE(lab.mon->read_route().any());
  ASSERT_EQ(sh("ip netns exec " + lab.b + " nft add rule inet bulkhead ingress accept"), 0);
  ChangeReport r = lab.mon->read_nft();
  EXPECT_NE(joined(r).find("NEWRULE inet bulkhead"), std::string::npos) << joined(r);
}

}  // namespace
}  // namespace bulkhead::netlink
