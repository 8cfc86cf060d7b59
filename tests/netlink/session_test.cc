// Sessions against real namespaces: one per namespace while its inode stands, a new one for a
// namespace re-created behind the same path, never the daemon's own.
#include "netlink/session.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/support/netns_fixture.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;  // NOLINT: the namespace fixtures

TEST(Sessions, OneSessionPerNamespaceUntilItsInodeChanges) {
  TestNamespaces nets;
  const std::string path = TestNamespaces::path(nets.add("sess"));
  Sessions sessions;
  auto first = sessions.open(path);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  auto again = sessions.open(path);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(first->get(), again->get());
  EXPECT_EQ(sessions.current(path).get(), first->get());
  // The request sockets are opened once and kept.
  auto nft = (*first)->nft();
  ASSERT_TRUE(nft.ok()) << nft.error().to_string();
  auto nft_again = (*again)->nft();
  ASSERT_TRUE(nft_again.ok());
  EXPECT_EQ(*nft, *nft_again);

  // A restarted container: the same path, another namespace.
  const std::string name = path.substr(path.rfind('/') + 1);
  ASSERT_EQ(sh("ip netns del " + name + " && ip netns add " + name), 0);
  auto renewed = sessions.open(path);
  ASSERT_TRUE(renewed.ok()) << renewed.error().to_string();
  EXPECT_NE(renewed->get(), first->get());
  EXPECT_NE((*renewed)->inode(), (*first)->inode());
  EXPECT_EQ(sessions.size(), 1u);

  sessions.forget(path);
  EXPECT_EQ(sessions.current(path), nullptr);
  EXPECT_EQ(sessions.size(), 0u);
}

TEST(Sessions, RefusesTheDaemonsOwnNamespaceAndAbsentOnes) {
  Sessions sessions;
  auto own = sessions.open("/proc/self/ns/net");
  ASSERT_FALSE(own.ok());
  EXPECT_EQ(own.error().code, EPERM);
  auto absent = sessions.open("/run/netns/bulkhead-no-such-namespace");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, ENOENT);
  EXPECT_EQ(sessions.size(), 0u);
}

}  // namespace
}  // namespace bulkhead::netlink
