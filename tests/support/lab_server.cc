// A test pod's servers: on every given port, TCP that accepts and closes, and UDP that echoes each
// datagram back, over IPv4 and IPv6 (one dual-stack socket each). Run it inside a lab namespace
// (`ip netns exec NS lab_server --lifetime 300 80 81`). It prints "ready" once every socket is
// bound and exits by itself after --lifetime seconds, so a test that dies leaves nothing running.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace {

using bulkhead::UniqueFd;

UniqueFd bind_any(int type, uint16_t port) {
  UniqueFd s(::socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return s;
  int off = 0, on = 1;
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_any;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      (type == SOCK_STREAM && ::listen(s.get(), 128) != 0))
    return UniqueFd();
  return s;
}

int usage() {
  std::fprintf(stderr, "usage: lab_server [--lifetime SECONDS] PORT...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long lifetime = 300;
  std::vector<uint16_t> ports;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--lifetime" && i + 1 < argc) {
      lifetime = std::strtol(argv[++i], nullptr, 10);
      if (lifetime <= 0) return usage();
      continue;
    }
    long p = std::strtol(a.c_str(), nullptr, 10);
    if (p < 1 || p > 65535) return usage();
    ports.push_back(static_cast<uint16_t>(p));
  }
  if (ports.empty()) return usage();

  std::vector<UniqueFd> socks;
  std::vector<pollfd> pfds;
  for (uint16_t p : ports) {
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
      UniqueFd s = bind_any(type, p);
      if (s.get() < 0) {
        std::fprintf(stderr, "lab_server: port %u: %s\n", p, std::strerror(errno));
        return 1;
      }
      pfds.push_back({s.get(), POLLIN, 0});
      socks.push_back(std::move(s));
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);

  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    end - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return 0;
    int n = ::poll(pfds.data(), pfds.size(), static_cast<int>(std::min<long>(left, 1000)));
    if (n < 0 && errno != EINTR) return 1;
    for (auto& pfd : pfds) {
      if (!(pfd.revents & POLLIN)) continue;
      int type = 0;
      socklen_t len = sizeof(type);
      ::getsockopt(pfd.fd, SOL_SOCKET, SO_TYPE, &type, &len);
      if (type == SOCK_STREAM) {
        UniqueFd c(::accept4(pfd.fd, nullptr, nullptr, SOCK_CLOEXEC));
        continue;  // accepted and closed: the connection is the answer
      }
      char buf[2048];
      sockaddr_storage from;
      socklen_t flen = sizeof(from);
      ssize_t got =
          ::recvfrom(pfd.fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (got >= 0)
        ::sendto(pfd.fd, buf, static_cast<size_t>(got), 0, reinterpret_cast<sockaddr*>(&from),
                 flen);
    }
  }
}
