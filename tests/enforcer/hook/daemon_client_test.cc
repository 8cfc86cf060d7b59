// The hook's side of HOOK-PROTOCOL.md: the request it sends and the answers it accepts, and that
// an absent socket is an error (the failure mode's trigger), not a hang.
#include "enforcer/hook/daemon_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

namespace bulkhead::hook {
namespace {

TEST(DaemonClient, RequestLine) {
  const std::string line = request_line({"abc", 42, "/b"}, "docker");
  std::string why;
  const auto req = parse_request(line, &why);
  ASSERT_TRUE(req) << why;
  EXPECT_EQ(*req, (HookRequest{"abc", 42, "docker"}));
  EXPECT_EQ(line.back(), '\n');
}

TEST(DaemonClient, Answers) {
  auto a = read_answer(R"({"version":1,"verdict":"enforced","reason":""})");
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->verdict, Verdict::kEnforced);
  a = read_answer(R"({"version":1,"verdict":"refused","reason":"compile failed"})");
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->verdict, Verdict::kRefused);
  EXPECT_EQ(a->reason, "compile failed");
  EXPECT_FALSE(read_answer(R"({"version":1,"verdict":"ok","reason":""})").ok());
  EXPECT_FALSE(read_answer("garbage").ok());
}

TEST(DaemonClient, AbsentSocketIsAnErrorAtOnce) {
  auto a = ask_daemon("/nonexistent/bulkhead-test/hook.sock", {"abc", 1, ""}, "oci",
                      std::chrono::milliseconds(500));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ENOENT);
}

}  // namespace
}  // namespace bulkhead::hook

// A one-connection fake daemon on a temporary socket: reads the request line, then sends `reply`
// after `delay` (or nothing when reply is empty), then closes.
namespace bulkhead::hook {
namespace {

class FakeDaemon {
 public:
  FakeDaemon(std::string reply, std::chrono::milliseconds delay) {
    char tmpl[] = "/tmp/bhhookXXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/hook.sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    thread_ = std::thread([this, reply = std::move(reply), delay] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[8192];
      std::string got;
      while (got.find('\n') == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      request_ = got;
      std::this_thread::sleep_for(delay);
      if (!reply.empty()) (void)!::write(c, reply.data(), reply.size());
      ::close(c);
    });
  }
  ~FakeDaemon() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  const std::string& request() const { return request_; }

 private:
  std::string dir_, path_, request_;
  int fd_ = -1;
  std::thread thread_;
};

using std::chrono::milliseconds;

TEST(DaemonClient, EnforcedAnswer) {
  Result<HookAnswer> a = make_error("", "");
  std::string request;
  {
    FakeDaemon d("{\"version\":1,\"verdict\":\"enforced\",\"reason\":\"\"}\n", milliseconds(0));
    a = ask_daemon(d.path(), {"c1", 7, ""}, "podman", milliseconds(2000));
  }
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->verdict, Verdict::kEnforced);
}

TEST(DaemonClient, SilentDaemonTimesOutWithinTheBound) {
  FakeDaemon d("", milliseconds(700));
  const auto t0 = std::chrono::steady_clock::now();
  auto a = ask_daemon(d.path(), {"c1", 7, ""}, "docker", milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ETIMEDOUT);
  EXPECT_LT(took, milliseconds(800));
  EXPECT_GE(took, milliseconds(290));
}

TEST(DaemonClient, ClosedWithoutAnswerAndOversizedAnswerAreErrors) {
  {
    FakeDaemon d("", milliseconds(0));
    auto a = ask_daemon(d.path(), {"c1", 7, ""}, "docker", milliseconds(1000));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().message, "the daemon closed without an answer");
  }
  {
    FakeDaemon d(std::string(5000, 'x'), milliseconds(0));
    auto a = ask_daemon(d.path(), {"c1", 7, ""}, "docker", milliseconds(1000));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().message, "answer longer than 4096 bytes");
  }
}

}  // namespace
}  // namespace bulkhead::hook
