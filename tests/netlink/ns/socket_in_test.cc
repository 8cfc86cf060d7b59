// socket_in: a socket made inside a namespace belongs to it (its loopback, its ports) while the
// thread that asked never leaves its own. Verify's probes rely on exactly that.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "netlink/ns/netns.h"
#include "tests/support/netns_fixture.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;  // NOLINT

sockaddr_in loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

ino_t thread_netns_inode() {
  struct stat st {};
  return ::stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// 0 when a non-blocking TCP connect from `fd` to 127.0.0.1:port completes within a second, else
// the errno it ended with (ETIMEDOUT when nothing came back).
int tcp_connect(int fd, uint16_t port) {
  const sockaddr_in sa = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, 1000) != 1) return ETIMEDOUT;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

TEST(SocketIn, ASocketMadeInANamespaceConnectsThereAndTheSameConnectFromTheHostIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TestNamespaces nets;
  auto ns = NetnsHandle::open(TestNamespaces::path(nets.add("sin")));
  ASSERT_TRUE(ns.ok()) << ns.error().to_string();

  // Hold a loopback port in the host's namespace without listening on it: nothing else can
  // listen there meanwhile, so the host's connect below is refused for certain.
  UniqueFd held(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any_port = loopback(0);
  ASSERT_EQ(::bind(held.get(), reinterpret_cast<sockaddr*>(&any_port), sizeof any_port), 0);
  socklen_t len = sizeof any_port;
  ASSERT_EQ(::getsockname(held.get(), reinterpret_cast<sockaddr*>(&any_port), &len), 0);
  const uint16_t port = ntohs(any_port.sin_port);

  const ino_t home = thread_netns_inode();
  // The same port binds inside the namespace: the listener is the namespace's, not the host's.
  auto listener = socket_in(*ns, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(listener.ok()) << listener.error().to_string();
  const sockaddr_in there = loopback(port);
  ASSERT_EQ(::bind(listener->get(), reinterpret_cast<const sockaddr*>(&there), sizeof there), 0)
      << std::strerror(errno);
  ASSERT_EQ(::listen(listener->get(), 4), 0);
  auto client = socket_in(*ns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(client.ok()) << client.error().to_string();
  EXPECT_EQ(thread_netns_inode(), home) << "socket_in left the thread in the namespace";

  // Connected from this thread, in the host's namespace: a byte crosses the namespace's loopback.
  ASSERT_EQ(tcp_connect(client->get(), port), 0);
  pollfd p{listener->get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1);
  UniqueFd accepted(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(accepted.get(), 0);
  ASSERT_EQ(::send(client->get(), "x", 1, 0), 1);
  char got = 0;
  pollfd q{accepted.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&q, 1, 1000), 1);
  EXPECT_EQ(::recv(accepted.get(), &got, 1, 0), 1);
  EXPECT_EQ(got, 'x');

  // Control: the same connect from a socket of the host's namespace finds no listener.
  UniqueFd host(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  EXPECT_EQ(tcp_connect(host.get(), port), ECONNREFUSED);
}

TEST(SocketIn, AFailedSocketNamesTheNamespaceAndTheErrnoAndTheThreadComesHome) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TestNamespaces nets;
  const std::string path = TestNamespaces::path(nets.add("sie"));
  auto ns = NetnsHandle::open(path);
  ASSERT_TRUE(ns.ok()) << ns.error().to_string();
  const ino_t home = thread_netns_inode();
  auto made = socket_in(*ns, AF_MAX + 1, SOCK_STREAM, 0);  // no such address family
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().code, EAFNOSUPPORT);
  EXPECT_EQ(made.error().op, "socket in " + path);
  EXPECT_EQ(thread_netns_inode(), home);
}

}  // namespace
}  // namespace bulkhead::netlink
