#include "enforcer/hook/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

#include "common/unique_fd.h"

namespace bulkhead::hook {

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  const std::string op = "read " + path;
  const UniqueFd owned(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = owned.get();
  if (fd < 0) return make_error(op, "open", errno);
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      return make_error(op, "read", e);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes)
      return make_error(op, "larger than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

Status write_file_atomic(const std::string& path, const std::string& text, unsigned mode) {
  const std::string op = "write " + path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  const std::string tmp = path + ".bulkhead-tmp." + std::to_string(::getpid());
  UniqueFd owned(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  const int fd = owned.get();
  if (fd < 0) return make_error(op, "open " + tmp, errno);
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return make_error(op, "write", e);
    }
    off += static_cast<size_t>(n);
  }
  // fsync reports the write errors that close could; the descriptor closes before the rename.
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return make_error(op, "fsync", e);
  }
  owned.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return make_error(op, "rename", e);
  }
  return {};
}

std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash == 0 ? 1 : slash);
}

}  // namespace bulkhead::hook
