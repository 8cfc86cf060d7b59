// Tables the compiler really produces go into the kernel through netlink/ and come back equal:
// read back equals the plan, and `nft list` prints exactly what render_nft writes for it.
#include <gtest/gtest.h>
#include <linux/netlink.h>

#include <regex>

#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "policy/plan/compile.h"
#include "policy/plan/render.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/random_policy.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;  // NOLINT

TEST(CompiledPlans, ApplyReadBackAndListingMatchThePlan) {
  TestNamespaces nets;
  std::string name = nets.add("cp");
  auto ns = NetnsHandle::open(TestNamespaces::path(name));
  ASSERT_TRUE(ns.ok());
  auto sock = MnlSocket::open_in(*ns, NETLINK_NETFILTER);
  ASSERT_TRUE(sock.ok());
  int tables = 0;
  for (uint32_t seed = 1; seed <= 12 && tables < 40; ++seed) {
    const auto c = policy::testing::RandomPolicyGen(seed).make();
    const policy::Plan plan = policy::compile(c.policies, c.endpoints);
    for (const auto& ep : plan.endpoints) {
      if (!ep.table) continue;
      ++tables;
      SCOPED_TRACE("seed " + std::to_string(seed) + " endpoint " + ep.endpoint);
      // Alternate fresh replaces and minimal deltas from the previous endpoint's table.
      if (tables % 2) {
        auto st = replace_table(*sock, *ep.table);
        ASSERT_TRUE(st.ok()) << st.error().to_string();
      } else {
        auto ch = apply_table(*sock, *ep.table);
        ASSERT_TRUE(ch.ok()) << ch.error().to_string();
      }
      auto back = read_table(*sock);
      ASSERT_TRUE(back.ok()) << back.error().to_string();
      ASSERT_TRUE(back->has_value());
      // The compiler's output already is in kernel form, so no normalization hides a difference.
      EXPECT_EQ(**back, *ep.table);
      EXPECT_EQ(kernel_form(*ep.table), *ep.table);
      std::string listed;
      ASSERT_EQ(sh("ip netns exec " + name + " nft list table inet bulkhead", &listed), 0);
      listed = std::regex_replace(listed, std::regex("counter packets [0-9]+ bytes [0-9]+"),
                                  "counter packets 0 bytes 0");
      EXPECT_EQ(listed, policy::render_nft(*ep.table));
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(tables, 10);
}

}  // namespace
}  // namespace bulkhead::netlink
