#include "enforcer/status/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bulkhead::daemon {

Result<UniqueFd> listen_unix(const std::string& path, int backlog, mode_t dir_mode,
                             const std::string& what) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) return make_error(what, "path too long");
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec)) ::chmod(dir.c_str(), dir_mode);
    if (ec) return make_error(what, "create directory " + dir.string(), ec.value());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return make_error(what, "socket", errno);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(what, "exists and is not a socket");
    ::unlink(path.c_str());
  }
  const mode_t old = ::umask(0177);
  const int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  ::umask(old);
  if (rc != 0) {
    const int err = errno;
    return make_error(what, "bind", err);
  }
  if (::listen(fd.get(), backlog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return make_error(what, "listen", err);
  }
  return fd;
}

}  // namespace bulkhead::daemon
