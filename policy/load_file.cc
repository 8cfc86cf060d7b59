#include "policy/load_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bulkhead::policy {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Policies are small; a limit keeps a mistaken path (a disk image, /dev/zero) from eating memory.
constexpr size_t kMaxFileBytes = 64 << 20;

}  // namespace

std::optional<std::string> read_file(const std::string& path, Diagnostics& out) {
  auto fail = [&](int err) {
    out.push_back(Diagnostic{SourcePos{path, 1, 1}, Severity::error,
                             std::string("cannot read file: ") + std::strerror(err),
                             "unreadable-file"});
    return std::nullopt;
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(errno);
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) return fail(EFBIG);
  }
  return text;
}

std::optional<std::vector<YAML::Node>> parse_documents(yaml::Source& src, std::string_view text) {
  try {
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    src.error(src.pos(e.mark), "yaml-syntax", "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    src.error(SourcePos{src.file(), 1, 1}, "yaml-syntax", std::string("YAML error: ") + e.what());
  }
  return std::nullopt;
}

}  // namespace bulkhead::policy
