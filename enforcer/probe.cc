#include "enforcer/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace bulkhead::probe {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

socklen_t to_sockaddr(const policy::IpAddr& a, uint16_t port, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof(*ss));
  if (a.family == 4) {
    auto* s = reinterpret_cast<sockaddr_in*>(ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    std::memcpy(&s->sin_addr, a.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(ss);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  std::memcpy(&s->sin6_addr, a.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

Result from_errno(int err) {
  // An egress drop in our own namespace shows as EPERM at once; a refusal means the packet got
  // through every rule to the destination's stack.
  if (err == ECONNREFUSED) return {Outcome::reached, "refused"};
  if (err == EPERM || err == EACCES) return {Outcome::blocked, "EPERM"};
  if (err == ETIMEDOUT) return {Outcome::blocked, "timeout"};
  if (err == EHOSTUNREACH || err == ENETUNREACH) return {Outcome::blocked, std::strerror(err)};
  return {Outcome::error, std::strerror(err)};
}

Result probe_tcp(const Probe& p, int timeout_ms) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(p.to, p.port, &ss);
  Fd s(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return {Outcome::error, std::string("socket: ") + std::strerror(errno)};
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0)
    return {Outcome::reached, "connected"};
  if (errno != EINPROGRESS) return from_errno(errno);
  pollfd pfd{s.get(), POLLOUT, 0};
  int n = ::poll(&pfd, 1, timeout_ms);
  if (n == 0) return {Outcome::blocked, "timeout"};
  if (n < 0) return {Outcome::error, std::string("poll: ") + std::strerror(errno)};
  int err = 0;
  socklen_t elen = sizeof(err);
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err == 0) return {Outcome::reached, "connected"};
  return from_errno(err);
}

Result probe_udp(const Probe& p, int timeout_ms) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(p.to, p.port, &ss);
  Fd s(::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return {Outcome::error, std::string("socket: ") + std::strerror(errno)};
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return from_errno(errno);
  const char msg[] = "bulkhead-verify";
  if (::send(s.get(), msg, sizeof(msg) - 1, 0) < 0) return from_errno(errno);
  // A datagram that arrives is answered either by a server or by the kernel's ICMP port
  // unreachable (a related packet, which the rules let back); silence means it was dropped.
  pollfd pfd{s.get(), POLLIN, 0};
  int n = ::poll(&pfd, 1, timeout_ms);
  if (n == 0) return {Outcome::blocked, "timeout"};
  if (n < 0) return {Outcome::error, std::string("poll: ") + std::strerror(errno)};
  char buf[512];
  if (::recv(s.get(), buf, sizeof(buf), 0) >= 0) return {Outcome::reached, "answered"};
  return from_errno(errno);
}

}  // namespace

std::vector<Result> run(const std::vector<Probe>& probes, std::chrono::milliseconds timeout,
                        int parallel) {
  std::vector<Result> results(probes.size());
  std::atomic<size_t> next{0};
  const int timeout_ms = static_cast<int>(timeout.count());
  // Each worker is a thread of its own that only ever runs probes, so switching its network
  // namespace with setns() affects nothing else; it ends with the batch.
  auto worker = [&] {
    std::string current;
    for (size_t i = next++; i < probes.size(); i = next++) {
      const Probe& p = probes[i];
      if (p.from_netns != current) {
        Fd ns(::open(p.from_netns.c_str(), O_RDONLY | O_CLOEXEC));
        if (ns.get() < 0 || ::setns(ns.get(), CLONE_NEWNET) != 0) {
          results[i] = {Outcome::error, p.from_netns + ": " + std::strerror(errno)};
          current.clear();
          continue;
        }
        current = p.from_netns;
      }
      results[i] = p.proto == policy::Protocol::udp ? probe_udp(p, timeout_ms)
                                                     : probe_tcp(p, timeout_ms);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(parallel, static_cast<int>(probes.size())));
  for (int t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace bulkhead::probe
