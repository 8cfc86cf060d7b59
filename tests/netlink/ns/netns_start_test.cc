// is_start_netns: "the namespace this process started in" must not follow a thread that is
// visiting another namespace. /proc/self/ns/net follows the main thread, so the Docker source
// once reported a container as "its network namespace is the host's" whenever it looked while
// the main thread was applying inside that container (the container then stayed unenforced
// until its next event).
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "netlink/ns/netns.h"
#include "tests/support/netns_fixture.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;  // NOLINT

TEST(NetnsStart, TheProcessNamespaceIsTheStartOneAndAnotherIsNot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TestNamespaces nets;
  std::string other = TestNamespaces::path(nets.add("nss"));
  auto self = is_start_netns("/proc/thread-self/ns/net");
  ASSERT_TRUE(self.ok()) << self.error().to_string();
  EXPECT_TRUE(*self);
  auto created = is_start_netns(other);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  EXPECT_FALSE(*created);
  auto missing = is_start_netns("/run/netns/" + run_prefix() + "never-existed");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
}

TEST(NetnsStart, AnswerHoldsWhileTheMainThreadIsInAnotherNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TestNamespaces nets;
  std::string other = TestNamespaces::path(nets.add("nsm"));
  auto ns = NetnsHandle::open(other);
  ASSERT_TRUE(ns.ok()) << ns.error().to_string();

  // A thread started at home (like the Docker source's) asks while this thread, the main one,
  // is inside `other` (like an apply).
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, answered = false;
  Result<bool> other_is_start = false, self_is_start = false, home_is_start = false;
  std::thread asker([&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return inside; });
    other_is_start = is_start_netns(other);
    self_is_start = is_start_netns("/proc/self/ns/net");  // follows the main thread: `other`
    home_is_start = is_start_netns("/proc/thread-self/ns/net");
    answered = true;
    cv.notify_all();
  });
  Status st = run_in_netns(*ns, [&]() -> Status {
    std::unique_lock lock(mu);
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return answered; });
    return {};
  });
  asker.join();
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  ASSERT_TRUE(other_is_start.ok() && self_is_start.ok() && home_is_start.ok());
  EXPECT_FALSE(*other_is_start) << "a container's namespace taken for the host's";
  EXPECT_FALSE(*self_is_start) << "/proc/self did not follow the main thread; test is moot";
  EXPECT_TRUE(*home_is_start);
}

}  // namespace
}  // namespace bulkhead::netlink
