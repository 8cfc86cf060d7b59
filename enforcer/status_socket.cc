#include "enforcer/status_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bulkhead::daemon {
namespace {

bool fill_addr(const std::string& path, sockaddr_un* sa) {
  std::memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa->sun_path)) return false;
  std::memcpy(sa->sun_path, path.c_str(), path.size());
  return true;
}

}  // namespace

Result<StatusSocket> StatusSocket::listen(const std::string& path) {
  sockaddr_un sa;
  if (!fill_addr(path, &sa)) return make_error("status socket " + path, "path too long");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error("status socket " + path, "socket", errno);
  ::unlink(path.c_str());  // a stale socket of a previous run
  // Created with no permissions for anyone but the owner from the first moment.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  ::umask(old);
  if (rc != 0 || ::listen(fd, 16) != 0) {
    int err = errno;
    ::close(fd);
    return make_error("status socket " + path, "bind/listen", err);
  }
  return StatusSocket(fd, path);
}

StatusSocket::StatusSocket(StatusSocket&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) {
  o.fd_ = -1;
}

StatusSocket::~StatusSocket() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(path_.c_str());
}

void StatusSocket::serve_one(const std::function<std::string()>& document) {
  int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return;
  ucred cred{};
  socklen_t len = sizeof(cred);
  std::string reply;
  if (::getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
    reply = "{\"error\":\"permission denied: only root may read bulkheadd's status\"}\n";
  } else {
    reply = document();
  }
  timeval tv{1, 0};
  ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  size_t off = 0;
  while (off < reply.size()) {
    ssize_t n = ::send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(c);
}

Result<std::string> fetch_status(const std::string& path) {
  sockaddr_un sa;
  if (!fill_addr(path, &sa)) return make_error("connect " + path, "path too long");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("connect " + path, "socket", errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
    ::close(fd);
    return make_error("connect " + path, "is bulkheadd running?", err);
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace bulkhead::daemon
