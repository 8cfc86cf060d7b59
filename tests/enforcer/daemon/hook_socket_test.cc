// The hook socket's bounds without root: a real unix socket in a temporary directory, the daemon's
// fake clock for the read deadline, and the test's own uid as the served one (root in production).
#include "enforcer/daemon/hook_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/support/fake_clock.h"

namespace bulkhead::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FakeClock;

class HookSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("bulkhead-hook-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    path = (dir / "sub" / "hook.sock").string();
    limits.served_uid = ::getuid();
  }
  void TearDown() override { fs::remove_all(dir); }

  void listen() {
    auto made = HookSocket::listen(path, clock, limits);
    ASSERT_TRUE(made.ok()) << made.error().to_string();
    sock = std::move(*made);
    sock->attach(
        polls,
        [this](const std::vector<hook::HookRequest>& batch) {
          batches.push_back(batch.size());
          asked.insert(asked.end(), batch.begin(), batch.end());
          return std::vector<hook::HookAnswer>(batch.size(),
                                               hook::HookAnswer{hook::Verdict::kEnforced, ""});
        },
        [this](const std::string& result, const std::string& why) {
          results.push_back(result + (why.empty() ? "" : ": " + why));
        });
  }
  UniqueFd connect() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  void send(const UniqueFd& fd, const std::string& text) {
    ASSERT_EQ(::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  }
  // What the daemon sent before closing ("" when it closed without a word).
  static std::string answer(const UniqueFd& fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd.get(), buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  // The loop's work for everything pending on the socket's descriptors.
  void pump() {
    sock->accept_pending();
    for (int i = 0; i < 8; ++i) {
      std::vector<pollfd> fds;
      polls.fill(fds);
      ::poll(fds.data(), fds.size(), 20);
      polls.dispatch(fds, 0);
      sock->answer_queued();
    }
  }

  fs::path dir;
  std::string path;
  FakeClock clock;
  HookSocket::Limits limits;
  PollSet polls;
  std::unique_ptr<HookSocket> sock;
  std::vector<hook::HookRequest> asked;
  std::vector<size_t> batches;  // how many requests each call of the answerer got
  std::vector<std::string> results;
};

TEST_F(HookSocketTest, CreatesOwnerOnlySocketAndRemovesIt) {
  listen();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  sock.reset();
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(HookSocketTest, ReplacesAStaleSocketButNotOtherFiles) {
  listen();
  sock.reset();
  fs::create_directories(dir / "sub");
  {
    // A stale socket file of a crashed run.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  }
  listen();
  sock.reset();
  std::ofstream(path) << "not a socket";
  auto made = HookSocket::listen(path, clock, limits);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().to_string(), "hook socket " + path + ": exists and is not a socket");
}

TEST_F(HookSocketTest, AnswersAWellFormedRequest) {
  listen();
  auto c = connect();
  send(c, R"({"version":1,"id":"c1","pid":42,"engine":"docker"})"
          "\n");
  pump();
  EXPECT_EQ(answer(c), R"({"reason":"","verdict":"enforced","version":1})"
                       "\n");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].id, "c1");
  EXPECT_EQ(asked[0].pid, 42);
  EXPECT_EQ(results, std::vector<std::string>{"enforced"});
  EXPECT_EQ(sock->open_connections(), 0u);
}

TEST_F(HookSocketTest, RequestsReadInOneRoundAreAnsweredInOneBatchInOrder) {
  listen();
  std::vector<UniqueFd> cs;
  for (int i = 1; i <= 3; ++i) {
    cs.push_back(connect());
    send(cs.back(), R"({"version":1,"id":"c)" + std::to_string(i) + R"(","pid":4)" +
                        std::to_string(i) + R"(,"engine":"docker"})" + "\n");
  }
  sock->accept_pending();  // reads each request as it accepts it
  EXPECT_TRUE(results.empty());
  sock->answer_queued();
  EXPECT_EQ(batches, std::vector<size_t>{3});
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(asked[0].id, "c1");
  EXPECT_EQ(asked[2].pid, 43);
  for (auto& c : cs)
    EXPECT_EQ(answer(c), R"({"reason":"","verdict":"enforced","version":1})"
                         "\n");
  EXPECT_EQ(sock->open_connections(), 0u);
}

TEST_F(HookSocketTest, AQueuedRequestHasNoReadDeadline) {
  listen();
  auto c = connect();
  send(c, R"({"version":1,"id":"c1","pid":42,"engine":"docker"})"
          "\n");
  sock->accept_pending();
  EXPECT_FALSE(sock->next_deadline().has_value());
  clock.advance(5s);
  sock->expire();
  EXPECT_TRUE(results.empty());
  sock->answer_queued();
  EXPECT_EQ(results, std::vector<std::string>{"enforced"});
}

TEST_F(HookSocketTest, RequestInPiecesIsAssembled) {
  listen();
  auto c = connect();
  send(c, R"({"version":1,"id":"c1",)");
  pump();
  EXPECT_TRUE(results.empty());
  send(c, R"("pid":42,"engine":"docker"})"
          "\n");
  pump();
  EXPECT_EQ(results, std::vector<std::string>{"enforced"});
}

TEST_F(HookSocketTest, MalformedRequestIsRefusedWithItsReason) {
  listen();
  auto c = connect();
  send(c, R"({"version":1,"id":"c1","pid":0,"engine":"docker"})"
          "\n");
  pump();
  EXPECT_EQ(
      answer(c),
      R"({"reason":"malformed request: field \"pid\" must be 1..4194304","verdict":"refused","version":1})"
      "\n");
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(results, std::vector<std::string>{
                         "malformed: malformed request: field \"pid\" must be 1..4194304"});
}

TEST_F(HookSocketTest, OversizeRequestIsRefusedAtTheBound) {
  listen();
  auto c = connect();
  send(c, std::string(5000, 'x'));
  pump();
  EXPECT_EQ(answer(c), R"({"reason":"request too long","verdict":"refused","version":1})"
                       "\n");
  EXPECT_EQ(results, std::vector<std::string>{"malformed: request longer than 4096 bytes"});
  EXPECT_TRUE(asked.empty());
}

TEST_F(HookSocketTest, SlowRequestIsRefusedAtItsDeadline) {
  listen();
  auto c = connect();
  send(c, R"({"version":1,)");
  pump();
  ASSERT_EQ(sock->open_connections(), 1u);
  const auto deadline = sock->next_deadline();
  ASSERT_TRUE(deadline.has_value());
  EXPECT_EQ(*deadline - clock.now(), std::chrono::milliseconds(1000));
  clock.advance(999ms);
  sock->expire();
  EXPECT_TRUE(results.empty());
  clock.advance(1ms);
  sock->expire();
  EXPECT_EQ(answer(c), R"({"reason":"request too slow","verdict":"refused","version":1})"
                       "\n");
  EXPECT_EQ(results, std::vector<std::string>{"malformed: no complete request within 1000 ms"});
  EXPECT_EQ(sock->open_connections(), 0u);
  EXPECT_FALSE(sock->next_deadline().has_value());
}

TEST_F(HookSocketTest, PeerClosingEarlyIsCounted) {
  listen();
  {
    auto c = connect();
    send(c, "{");
  }
  pump();
  EXPECT_EQ(results, std::vector<std::string>{"malformed: closed before the request's end"});
}

TEST_F(HookSocketTest, PeerOfAnotherUidIsClosedWithoutAnAnswer) {
  limits.served_uid = ::getuid() + 1;
  listen();
  auto c = connect();
  send(c, R"({"version":1,"id":"c1","pid":42,"engine":"docker"})"
          "\n");
  pump();
  EXPECT_EQ(answer(c), "");
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(results, std::vector<std::string>{"denied_peer: peer uid " +
                                              std::to_string(::getuid()) + " is not served"});
}

TEST_F(HookSocketTest, IdleConnectionsAreBounded) {
  limits.max_connections = 2;
  listen();
  auto a = connect();
  pump();
  clock.advance(1ms);
  auto b = connect();
  pump();
  auto c = connect();
  pump();
  EXPECT_EQ(sock->open_connections(), 2u);
  EXPECT_EQ(results, std::vector<std::string>{"malformed: too many pending connections"});
  EXPECT_EQ(answer(a), "");
}

}  // namespace
}  // namespace bulkhead::daemon
