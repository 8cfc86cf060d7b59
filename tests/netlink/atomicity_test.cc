// Re-applying a changing policy never opens a window: while a probe loop runs, a policy whose
// chains change at every step is applied 100 times; flows the policy denies at every step never
// pass, and the flow it allows at every step never fails.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "enforcer/cli/probe.h"
#include "netlink/dataplane.h"
#include "policy/load/load.h"
#include "policy/plan/compile.h"
#include "tests/support/netns_fixture.h"

namespace bulkhead {
namespace {

using netlink::testing::TestNamespaces;

std::string policy_text(int step) {
  // Every step names a different extra port, so every step rewrites the chains (a whole-table
  // replace), the hardest case for atomicity.
  return "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: atom}\nspec:\n"
         "  groups:\n    a: {selector: role=a}\n    b: {selector: role=b}\n    c: {selector: "
         "role=c}\n"
         "  allow:\n    - {from: [a], to: [b], ports: [8080/tcp, " +
         std::to_string(9000 + step) + "/tcp]}\n";
}

policy::Endpoints endpoints(const std::string& a, const std::string& b, const std::string& c) {
  policy::Endpoints eps(3);
  const std::string names[3] = {a, b, c};
  const char* roles[3] = {"a", "b", "c"};
  const char* addrs[3] = {"198.18.1.1", "198.18.1.2", "198.18.2.1"};
  for (int i = 0; i < 3; ++i) {
    eps[i].name = roles[i];
    eps[i].netns = TestNamespaces::path(names[i]);
    eps[i].labels = {{"role", roles[i]}};
    eps[i].addresses = {*policy::IpAddr::parse(addrs[i])};
  }
  return eps;
}

TEST(Atomicity, HundredReappliesNeverOpenADeniedFlowNorCloseAnAllowedOne) {
  TestNamespaces nets;
  std::string a = nets.add("ata"), b = nets.add("atb"), c = nets.add("atc");
  nets.link(a, "198.18.1.1/24", b, "198.18.1.2/24", "eth0", "eth0");
  nets.link(c, "198.18.2.1/24", b, "198.18.2.2/24", "eth0", "eth1");
  auto eps = endpoints(a, b, c);
  auto dp = netlink::make_kernel_dataplane();

  auto apply_step = [&](int step) {
    auto load = policy::load_policy_text(policy_text(step), "atom.yaml");
    ASSERT_FALSE(policy::has_errors(load.diagnostics));
    for (const auto& ep : policy::compile(load.set, eps).endpoints) {
      auto st = dp->apply(ep);
      ASSERT_TRUE(st.ok()) << st.error().to_string();
    }
  };
  apply_step(0);

  const auto b_addr = *policy::IpAddr::parse("198.18.1.2");
  const auto b_addr_c = *policy::IpAddr::parse("198.18.2.2");
  // Several copies in flight at once, so SYNs leave at many moments during the applies.
  std::vector<probe::Probe> probes;
  for (int copy = 0; copy < 4; ++copy) {
    probes.push_back({TestNamespaces::path(a), b_addr, policy::Protocol::tcp, 7070});    // denied
    probes.push_back({TestNamespaces::path(c), b_addr_c, policy::Protocol::tcp, 8080});  // denied
    probes.push_back({TestNamespaces::path(a), b_addr, policy::Protocol::tcp, 8080});    // allowed
  }
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0}, leaks{0}, gaps{0}, errors{0};
  // Bounded: the apply loop below ends in seconds; the deadline guards against a hang.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::thread prober([&] {
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      auto r = probe::run(probes, std::chrono::milliseconds(50), static_cast<int>(probes.size()));
      for (size_t i = 0; i < r.size(); ++i) {
        const bool allowed = i % 3 == 2;
        if (r[i].outcome == probe::Outcome::error)
          ++errors;
        else if (!allowed && r[i].outcome == probe::Outcome::reached)
          ++leaks;
        else if (allowed && r[i].outcome != probe::Outcome::reached)
          ++gaps;
      }
      ++rounds;
    }
  });
  while (rounds < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int before = rounds;
  // At least 100 re-applies, and more until the probe loop has overlapped several rounds
  // (bounded: a fast machine finishes 100 applies within a couple of probe rounds).
  int step = 1;
  for (; step <= 100 || (rounds - before < 5 && step <= 5000); ++step) apply_step(step);
  const int during = rounds - before;
  while (rounds < before + during + 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  prober.join();

  EXPECT_EQ(leaks, 0) << "a denied flow passed during re-applies";
  EXPECT_EQ(gaps, 0) << "the always-allowed flow failed during re-applies";
  EXPECT_EQ(errors, 0);
  EXPECT_GE(during, 5) << "the probe loop barely overlapped " << step - 1 << " applies";
}

}  // namespace
}  // namespace bulkhead
