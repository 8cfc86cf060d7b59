#include "policy/load/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "policy/model/limits.h"

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

// A first parser pass that builds nothing, so that limits hold before yaml-cpp's tree (about 90
// bytes per byte of text) is built. It also stops yaml-cpp 0.7 where it loops forever, emitting
// events, on some malformed input (a document that starts with ','): real YAML makes far fewer
// events than it has bytes times four, so a pass that exceeds that is reported as stuck.
class FirstPass : public YAML::EventHandler {
 public:
  struct Stop {
    std::string rule;
    std::string message;
  };
  explicit FirstPass(size_t stuck_after) : stuck_after_(stuck_after) {}
  const YAML::Mark& last() const { return last_; }

  void OnDocumentStart(const YAML::Mark& m) override {
    tick(m);
    if (++documents_ > limits::kMaxDocuments) {
      throw Stop{"too-large", "more than " + std::to_string(limits::kMaxDocuments) +
                                  " documents in one file (the limit)"};
    }
  }
  void OnDocumentEnd() override { tick(); }
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    node(m);
    if (value.size() > limits::kMaxScalarBytes) {
      throw Stop{"too-large", "a value of " + std::to_string(value.size()) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(limits::kMaxScalarBytes) + " bytes"};
    }
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(m);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(m);
  }
  void OnMapEnd() override { close(); }

 private:
  void node(const YAML::Mark& m) {
    tick(m);
    if (++nodes_ > limits::kMaxNodes) {
      throw Stop{"too-large", "more than " + std::to_string(limits::kMaxNodes) +
                                  " YAML nodes in one file (the limit); split the policies "
                                  "into several files or write fewer, broader rules"};
    }
  }
  void open(const YAML::Mark& m) {
    node(m);
    if (++depth_ > limits::kMaxDepth) {
      throw Stop{"too-large", "maps and lists nested more than " +
                                  std::to_string(limits::kMaxDepth) + " levels deep (the limit)"};
    }
  }
  void close() {
    tick();
    if (depth_ > 0) --depth_;
  }
  void tick(const YAML::Mark& m) {
    last_ = m;
    tick();
  }
  void tick() {
    if (++events_ > stuck_after_) {
      throw Stop{"yaml-syntax",
                 "YAML syntax error: the parser cannot make sense of the text from here (a stray "
                 "',' or a similar flow indicator outside [] or {}?)"};
    }
  }
  size_t stuck_after_;
  size_t events_ = 0, nodes_ = 0, depth_ = 0, documents_ = 0;
  YAML::Mark last_ = YAML::Mark::null_mark();
};

Diagnostic too_large(const std::string& path, size_t bytes) {
  return Diagnostic{SourcePos{path, 1, 1}, Severity::error,
                    std::to_string(bytes) + " bytes exceeds the limit of " +
                        std::to_string(limits::kMaxFileBytes) +
                        " bytes for a policy or inventory file",
                    "file-too-large"};
}

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
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno);
  if (S_ISDIR(st.st_mode)) return fail(EISDIR);
  if (st.st_size > 0 && static_cast<uint64_t>(st.st_size) > limits::kMaxFileBytes) {
    out.push_back(too_large(path, static_cast<size_t>(st.st_size)));
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno);
    if (n == 0) break;
    // Pipes and /proc files report no size; a file may also grow while it is read.
    if (text.size() + static_cast<size_t>(n) > limits::kMaxFileBytes) {
      out.push_back(too_large(path, text.size() + static_cast<size_t>(n)));
      return std::nullopt;
    }
    text.append(buf, static_cast<size_t>(n));
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
    FirstPass first(copy.size() * 4 + 16);
    try {
      while (parser.HandleNextDocument(first)) {
      }
    } catch (const FirstPass::Stop& stop) {
      src.error(src.pos(first.last()), stop.rule, stop.message);
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
