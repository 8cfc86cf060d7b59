#include "enforcer/status/socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "enforcer/status/unix_listener.h"

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

Result<StatusSocket> StatusSocket::listen(const std::string& path, long gid) {
  // The directory stays searchable (0755): with a status group its members reach the socket.
  auto fd = listen_unix(path, 16, 0755, "status socket " + path);
  if (!fd) return fd.error();
  // The group gets its access only once the socket carries that group.
  if (gid >= 0 && (::chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0 ||
                   ::chmod(path.c_str(), 0660) != 0)) {
    const int err = errno;
    ::unlink(path.c_str());
    return make_error("status socket " + path, "chown/chmod to the status group", err);
  }
  return StatusSocket(std::move(*fd), path, gid);
}

StatusSocket::~StatusSocket() {
  if (fd_.get() >= 0) ::unlink(path_.c_str());  // a moved-from socket owns no path
}

bool StatusSocket::authorised(int conn) const {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  if (cred.uid == 0) return true;
  if (gid_ < 0) return false;
  if (cred.gid == static_cast<gid_t>(gid_)) return true;
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return std::find(groups.begin(), groups.end(), static_cast<gid_t>(gid_)) != groups.end();
    }
    if (errno != ERANGE) return false;
    groups.resize(len / sizeof(gid_t) + 1);  // the kernel said how much it needs
  }
  return false;
}

void StatusSocket::serve_one(const std::function<std::string()>& document) {
  UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  int c = conn.get();
  if (c < 0) return;
  std::string reply;
  if (!authorised(c)) {
    reply = gid_ < 0 ? "{\"error\":\"permission denied: only root may read bulkheadd's status\"}\n"
                     : "{\"error\":\"permission denied: only root and the status group may read "
                       "bulkheadd's status\"}\n";
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
}

Result<std::string> fetch_status(const std::string& path) {
  sockaddr_un sa;
  if (!fill_addr(path, &sa)) return make_error("connect " + path, "path too long");
  UniqueFd conn(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int fd = conn.get();
  if (fd < 0) return make_error("connect " + path, "socket", errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
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
  return out;
}

}  // namespace bulkhead::daemon
