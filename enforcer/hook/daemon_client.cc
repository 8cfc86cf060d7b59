#include "enforcer/hook/daemon_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace bulkhead::hook {
namespace {

// The protocol's bound on a line; an answer longer than this is malformed.
constexpr size_t kMaxLine = kMaxAnswerBytes;

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; ETIMEDOUT when it passes.
Status wait_for(int fd, short events, Clock::time_point deadline, const std::string& op) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return {};
    if (n == 0) return make_error(op, "no answer in time", ETIMEDOUT);
    if (errno != EINTR) return make_error(op, "poll", errno);
  }
}

Status connect_by(int fd, const std::string& path, Clock::time_point deadline) {
  const std::string op = "connect " + path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return make_error(op, "socket path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return {};
  if (errno != EINPROGRESS && errno != EAGAIN) return make_error(op, "connect", errno);
  if (auto s = wait_for(fd, POLLOUT, deadline, op); !s) return s;
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return make_error(op, "SO_ERROR", errno);
  if (err != 0) return make_error(op, "connect", err);
  return {};
}

Status peer_is_root(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return make_error("hook socket peer", "SO_PEERCRED", errno);
  // The hook runs as root (runtimes run hooks as themselves, root); our own uid is allowed too,
  // which is the same thing there and lets the unit tests run a fake daemon as any user.
  if (cred.uid != 0 && cred.uid != ::geteuid())
    return make_error("hook socket peer", "uid " + std::to_string(cred.uid) + " is not root");
  return {};
}

Status send_all(int fd, const std::string& data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return make_error("send request", "send", errno);
    if (auto s = wait_for(fd, POLLOUT, deadline, "send request"); !s) return s;
  }
  return {};
}

Result<std::string> read_line(int fd, Clock::time_point deadline) {
  std::string line;
  char buf[1024];
  for (;;) {
    if (auto s = wait_for(fd, POLLIN, deadline, "read answer"); !s) return s.error();
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return make_error("read answer", "recv", errno);
    if (n == 0) return make_error("read answer", "the daemon closed without an answer");
    line.append(buf, static_cast<size_t>(n));
    if (const size_t nl = line.find('\n'); nl != std::string::npos) return line.substr(0, nl);
    if (line.size() > kMaxLine) return make_error("read answer", "answer longer than 4096 bytes");
  }
}

}  // namespace

std::string request_line(const OciState& st, const std::string& engine) {
  return render_request(HookRequest{st.id, st.pid, engine});
}

Result<HookAnswer> read_answer(const std::string& line) {
  std::string why;
  auto a = parse_answer(line, &why);
  if (!a) return make_error("read answer", why);
  return *a;
}

Result<HookAnswer> ask_daemon(const std::string& socket_path, const OciState& st,
                              const std::string& engine, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return make_error("hook socket", "socket", errno);
  if (auto s = connect_by(fd.get(), socket_path, deadline); !s) return s.error();
  if (auto s = peer_is_root(fd.get()); !s) return s.error();
  if (auto s = send_all(fd.get(), request_line(st, engine), deadline); !s) return s.error();
  auto line = read_line(fd.get(), deadline);
  if (!line) return line.error();
  return read_answer(*line);
}

}  // namespace bulkhead::hook
