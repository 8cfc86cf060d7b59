// bulkhead-hook's quarantine in a real namespace (kernel): the table read back is the quarantine
// table (so the daemon recognises it after a restart), and a table the daemon already compiled is
// left alone.
#include "enforcer/hook/quarantine_apply.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "policy/plan/quarantine.h"

namespace bulkhead::hook {
namespace {

// A child process in a network namespace of its own, as a container's init; killed at the end.
class ChildInNetns {
 public:
  ChildInNetns() {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      const char ok = ::unshare(CLONE_NEWNET) == 0 ? '1' : '0';
      (void)!::write(ready[1], &ok, 1);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    char ok = '0';
    EXPECT_EQ(::read(ready[0], &ok, 1), 1);
    ::close(ready[0]);
    EXPECT_EQ(ok, '1');
  }
  ~ChildInNetns() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

std::optional<policy::NftTable> read_in(int pid) {
  auto ns = netlink::NetnsHandle::open("/proc/" + std::to_string(pid) + "/ns/net");
  EXPECT_TRUE(ns.ok());
  auto sock = netlink::MnlSocket::open_in(*ns, NETLINK_NETFILTER);
  EXPECT_TRUE(sock.ok());
  auto t = netlink::read_table(*sock);
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  return t.ok() ? *t : std::nullopt;
}

TEST(QuarantineApply, ReadsBackAsTheQuarantineTable) {
  ChildInNetns child;
  auto s = install_quarantine(child.pid());
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  const auto t = read_in(child.pid());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, netlink::kernel_form(policy::quarantine_table()));
  EXPECT_TRUE(policy::is_quarantine_table(*t));
  // Again (a retried start): still one quarantine table.
  ASSERT_TRUE(install_quarantine(child.pid()).ok());
  EXPECT_EQ(*read_in(child.pid()), netlink::kernel_form(policy::quarantine_table()));
}

TEST(QuarantineApply, LeavesTheDaemonsTableAlone) {
  ChildInNetns child;
  policy::NftTable compiled = policy::quarantine_table();
  compiled.chains[1].rules.back().comment = "drop other egress (isolated by born)";
  {
    auto ns = netlink::NetnsHandle::open("/proc/" + std::to_string(child.pid()) + "/ns/net");
    ASSERT_TRUE(ns.ok());
    auto sock = netlink::MnlSocket::open_in(*ns, NETLINK_NETFILTER);
    ASSERT_TRUE(sock.ok());
    ASSERT_TRUE(netlink::replace_table(*sock, compiled).ok());
  }
  ASSERT_TRUE(install_quarantine(child.pid()).ok());
  EXPECT_EQ(*read_in(child.pid()), netlink::kernel_form(compiled));
}

TEST(QuarantineApply, RefusesTheHostsNamespace) {
  auto s = install_quarantine(::getpid());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "the container shares the host's network namespace");
}

}  // namespace
}  // namespace bulkhead::hook
