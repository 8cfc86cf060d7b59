// Plain sockets made inside a test namespace, for checking which packets pass.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/unique_fd.h"
#include "netlink/ns/netns.h"

namespace bulkhead::netlink::testing {

// The owned fd of the product, under the name these tests have always used.
using Fd = UniqueFd;

inline sockaddr_in v4(const std::string& addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  return sa;
}

// A socket of `type` created in `ns` (netlink::socket_in), bound to 0.0.0.0:port when port != 0
// (TCP: listening).
inline Fd socket_in(const NetnsHandle& ns, int type, uint16_t port) {
  auto made = netlink::socket_in(ns, AF_INET, type | SOCK_CLOEXEC, 0);
  if (!made.ok()) {
    ADD_FAILURE() << made.error().to_string();
    return Fd();
  }
  Fd fd = std::move(made).value();
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (port == 0) return fd;
  sockaddr_in sa = v4("0.0.0.0", port);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      (type == SOCK_STREAM && listen(fd.get(), 16) != 0)) {
    ADD_FAILURE() << "bind or listen on port " << port << ": " << std::strerror(errno);
    return Fd();
  }
  return fd;
}

// Whether a TCP handshake from `from` to addr:port completes within timeout_ms.
inline bool tcp_connects(const NetnsHandle& from, const std::string& addr, uint16_t port,
                         int timeout_ms = 700) {
  Fd s = socket_in(from, SOCK_STREAM, 0);
  if (s.get() < 0) return false;
  fcntl(s.get(), F_SETFL, O_NONBLOCK);
  sockaddr_in sa = v4(addr, port);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{s.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

// Whether a datagram sent from `from` to addr:port arrives at `receiver` within timeout_ms.
inline bool udp_delivered(const NetnsHandle& from, const std::string& addr, uint16_t port,
                          const Fd& receiver, int timeout_ms = 500) {
  Fd s = socket_in(from, SOCK_DGRAM, 0);
  if (s.get() < 0) return false;
  sockaddr_in sa = v4(addr, port);
  const char msg[] = "bulkhead-probe";
  if (sendto(s.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    return false;
  }
  pollfd p{receiver.get(), POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  char buf[64];
  return recv(receiver.get(), buf, sizeof buf, MSG_DONTWAIT) == static_cast<ssize_t>(sizeof msg);
}

}  // namespace bulkhead::netlink::testing
