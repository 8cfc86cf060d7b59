// NetnsHandle::open on what `ip netns add` and `ip netns del` leave at the path while they mount
// or unmount a namespace: an empty mode-0 file. Without CAP_DAC_OVERRIDE (bulkheadd drops it)
// that must read as absent (ENOENT), so that releasing a namespace being deleted counts it gone
// instead of failing with "Permission denied" (seen in the 1,000-endpoint soak).
#include <cap-ng.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "netlink/ns/netns.h"

namespace bulkhead::netlink {
namespace {

// In a child without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: 0 when the placeholder is absent
// (ENOENT) and a real namespace still opens, another code saying what went wrong otherwise.
[[noreturn]] void open_without_dac_override(const std::string& placeholder) {
  capng_get_caps_process();
  const auto sets = static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED);
  capng_update(CAPNG_DROP, sets, CAP_DAC_OVERRIDE);
  capng_update(CAPNG_DROP, sets, CAP_DAC_READ_SEARCH);
  if (capng_apply(CAPNG_SELECT_CAPS) != 0) std::_Exit(10);
  auto h = NetnsHandle::open(placeholder);
  if (h.ok()) std::_Exit(11);
  if (h.error().code != ENOENT) std::_Exit(12);
  if (!NetnsHandle::open("/proc/self/ns/net").ok()) std::_Exit(13);
  std::_Exit(0);
}

TEST(NetnsOpen, APlaceholderBeingMountedOrUnmountedIsAbsent) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  char dir[] = "/tmp/bh-netns-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/ns";
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL, 0);  // as iproute2 makes it
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_EXIT(open_without_dac_override(path), ::testing::ExitedWithCode(0), "");
  ::unlink(path.c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace bulkhead::netlink
