#include "policy/load_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>

#include <cerrno>
#include <cstring>
#include <sstream>

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

// yaml-cpp 0.7 loops forever, emitting events, on some malformed input (a document that starts
// with ','). A first pass counts events: real YAML makes far fewer events than it has bytes
// times four, so a pass that exceeds that is stopped and reported instead of hanging.
class ProgressGuard : public YAML::EventHandler {
 public:
  struct Stuck {};
  explicit ProgressGuard(size_t limit) : limit_(limit) {}
  const YAML::Mark& last() const { return last_; }

  void OnDocumentStart(const YAML::Mark& m) override { tick(m); }
  void OnDocumentEnd() override { tick(); }
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { tick(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { tick(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    tick(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    tick(m);
  }
  void OnSequenceEnd() override { tick(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    tick(m);
  }
  void OnMapEnd() override { tick(); }

 private:
  void tick(const YAML::Mark& m) {
    last_ = m;
    tick();
  }
  void tick() {
    if (++count_ > limit_) throw Stuck{};
  }
  size_t limit_;
  size_t count_ = 0;
  YAML::Mark last_ = YAML::Mark::null_mark();
};

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
  // YAML forbids C0 control characters other than tab and line breaks, and yaml-cpp 0.7 can loop
  // forever on some of them (",\0" is enough): refuse them before parsing.
  int line = 1, col = 1;
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      src.error(SourcePos{src.file(), line, col}, "yaml-syntax",
                std::string("YAML text cannot contain the control character 0x") + hex[c >> 4] +
                    hex[c & 15]);
      return std::nullopt;
    }
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  try {
    const std::string copy(text);
    std::istringstream in(copy);
    YAML::Parser parser(in);
    ProgressGuard guard(copy.size() * 4 + 16);
    try {
      while (parser.HandleNextDocument(guard)) {
      }
    } catch (const ProgressGuard::Stuck&) {
      src.error(src.pos(guard.last()), "yaml-syntax",
                "YAML syntax error: the parser cannot make sense of the text from here (a stray "
                "',' or a similar flow indicator outside [] or {}?)");
      return std::nullopt;
    }
    return YAML::LoadAll(copy);
  } catch (const YAML::Exception& e) {
    src.error(src.pos(e.mark), "yaml-syntax", "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    src.error(SourcePos{src.file(), 1, 1}, "yaml-syntax", std::string("YAML error: ") + e.what());
  }
  return std::nullopt;
}

}  // namespace bulkhead::policy
