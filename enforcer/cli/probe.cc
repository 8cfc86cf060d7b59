#include "enforcer/cli/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "common/unique_fd.h"
#include "netlink/ns/netns.h"

namespace bulkhead::probe {
namespace {

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

Result socket_error(const Error& e) { return {Outcome::error, e.to_string()}; }

Result probe_tcp(const netlink::NetnsHandle& ns, const Probe& p, int timeout_ms) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(p.to, p.port, &ss);
  auto made = netlink::socket_in(ns, ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!made.ok()) return socket_error(made.error());
  const UniqueFd& s = *made;
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

Result probe_udp(const netlink::NetnsHandle& ns, const Probe& p, int timeout_ms) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(p.to, p.port, &ss);
  auto made = netlink::socket_in(ns, ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!made.ok()) return socket_error(made.error());
  const UniqueFd& s = *made;
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

uint16_t checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (len % 2) sum += data[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// An echo request on a raw socket; reached when the matching echo reply comes back. The kernel
// fills the ICMPv6 checksum itself; ICMPv4's is ours to compute.
Result probe_icmp(const netlink::NetnsHandle& ns, const Probe& p, int timeout_ms) {
  const bool v6 = p.to.family == 6;
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(p.to, 0, &ss);
  auto made = netlink::socket_in(ns, ss.ss_family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                 v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP});
  if (!made.ok()) return socket_error(made.error());
  const UniqueFd& s = *made;
  static std::atomic<uint16_t> next_id{static_cast<uint16_t>(::getpid())};
  const uint16_t id = next_id++;
  uint8_t pkt[16] = {static_cast<uint8_t>(v6 ? 128 : 8), 0, 0, 0, static_cast<uint8_t>(id >> 8),
                     static_cast<uint8_t>(id & 0xff),    0, 1};
  std::memcpy(pkt + 8, "bulkhead", 8);
  if (!v6) {
    uint16_t c = checksum(pkt, sizeof(pkt));
    pkt[2] = static_cast<uint8_t>(c >> 8);
    pkt[3] = static_cast<uint8_t>(c & 0xff);
  }
  if (::sendto(s.get(), pkt, sizeof(pkt), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0)
    return from_errno(errno);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return {Outcome::blocked, "timeout"};
    pollfd pfd{s.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    uint8_t buf[1500];
    sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n = ::recvfrom(s.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n <= 0) continue;
    // IPv4 raw sockets deliver the IP header too; IPv6 ones do not.
    size_t off = v6 ? 0 : static_cast<size_t>(buf[0] & 0x0f) * 4;
    if (static_cast<size_t>(n) < off + 8) continue;
    const uint8_t* icmp = buf + off;
    const uint8_t reply = v6 ? 129 : 0;
    if (icmp[0] == reply && ((icmp[4] << 8) | icmp[5]) == id)
      return {Outcome::reached, "echo reply"};
  }
}

Result run_one(const netlink::NetnsHandle& ns, const Probe& p, int timeout_ms) {
  switch (p.proto) {
    case policy::Protocol::udp:
      return probe_udp(ns, p, timeout_ms);
    case policy::Protocol::icmp:
      return probe_icmp(ns, p, timeout_ms);
    default:
      return probe_tcp(ns, p, timeout_ms);
  }
}

}  // namespace

std::vector<Result> run(const std::vector<Probe>& probes, std::chrono::milliseconds timeout,
                        int parallel) {
  std::vector<Result> results(probes.size());
  std::atomic<size_t> next{0};
  const int timeout_ms = static_cast<int>(timeout.count());
  // Each probe's socket is made inside its namespace (netlink/ns) and used from the worker's own:
  // a socket keeps the routes and rules of the namespace it was made in, so no thread here ever
  // changes namespace. A worker keeps the last namespace it opened, as probes come grouped by it.
  auto worker = [&] {
    std::optional<netlink::NetnsHandle> ns;
    for (size_t i = next++; i < probes.size(); i = next++) {
      const Probe& p = probes[i];
      if (!ns || ns->path() != p.from_netns) {
        ns.reset();
        auto opened = netlink::NetnsHandle::open(p.from_netns);
        if (!opened.ok()) {
          results[i] = {Outcome::error, opened.error().to_string()};
          continue;
        }
        ns.emplace(std::move(opened).value());
      }
      results[i] = run_one(*ns, p, timeout_ms);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(parallel, static_cast<int>(probes.size())));
  for (int t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace bulkhead::probe
