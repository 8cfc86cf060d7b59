// DockerClient against a fake engine on a unix socket that sends canned bytes: how responses are
// framed, how the events stream is split into lines however its chunks fall, and that every call
// is bounded in time and can be interrupted. The real engine is in docker_source_e2e_test.cc.
#include "enforcer/sources/docker/client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace bulkhead::daemon::docker {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Accepts one connection, reads the request head, then sends `parts` with a pause between them
// and holds the connection open for `hold`.
class FakeEngine {
 public:
  FakeEngine(std::vector<std::string> parts, std::chrono::milliseconds pause = 20ms,
             std::chrono::milliseconds hold = 0ms) {
    char tmpl[] = "/tmp/bhfe.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/engine.sock";
    acceptor_ = std::make_unique<local::acceptor>(ioc_, local::endpoint(path_));
    thread_ = std::thread([this, parts = std::move(parts), pause, hold] {
      boost::system::error_code ec;
      local::socket peer(ioc_);
      acceptor_->accept(peer, ec);
      if (ec) return;
      asio::streambuf head;
      asio::read_until(peer, head, "\r\n\r\n", ec);
      std::istream in(&head);
      std::getline(in, request_line_);
      for (const auto& p : parts) {
        std::this_thread::sleep_for(pause);
        asio::write(peer, asio::buffer(p), ec);
        if (ec) return;
      }
      std::this_thread::sleep_for(hold);
    });
  }
  ~FakeEngine() {
    thread_.join();
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  const std::string& request_line() const { return request_line_; }

 private:
  asio::io_context ioc_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<local::acceptor> acceptor_;
  std::thread thread_;
  std::string request_line_;
};

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + "\r\n" + data + "\r\n";
}

const std::string kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST(DockerClient, GetReturnsTheStatusAndBody) {
  const std::string body = R"({"message":"No such container: x"})";
  FakeEngine engine({"HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body});
  DockerClient client(engine.path());
  auto res = client.get("/v1.40/containers/x/json");
  ASSERT_TRUE(res.ok()) << res.error().to_string();
  EXPECT_EQ(res->status, 404u);
  EXPECT_EQ(res->body, body);
  EXPECT_EQ(engine.request_line(), "GET /v1.40/containers/x/json HTTP/1.1\r");
}

TEST(DockerClient, StreamLinesSurviveAnyChunking) {
  FakeEngine engine({kChunkedHead, chunk("{\"a\":1}\n{\"b\""), chunk(":2}\n"),
                     chunk("\n{\"c\":3}\r\n{\"d\":4}\n"), chunk("{\"e\":"), chunk("5}\n"),
                     "0\r\n\r\n"});
  DockerClient client(engine.path());
  auto stream = client.open_stream("/v1.40/events", 2s);
  ASSERT_TRUE(stream.ok()) << stream.error().to_string();
  std::vector<std::string> lines;
  for (;;) {
    auto line = (*stream)->next_line(Clock::now() + 5s);
    if (!line) {
      EXPECT_NE(line.error().to_string().find("stream ended"), std::string::npos)
          << line.error().to_string();
      break;
    }
    lines.push_back(*line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{R"({"a":1})", R"({"b":2})", R"({"c":3})", R"({"d":4})",
                                             R"({"e":5})"}));
}

TEST(DockerClient, AStreamThatIsNotOkIsAnError) {
  FakeEngine engine({"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}"});
  DockerClient client(engine.path());
  auto stream = client.open_stream("/v1.40/events", 2s);
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(stream.error().to_string().find("HTTP 500"), std::string::npos)
      << stream.error().to_string();
}

TEST(DockerClient, AnOversizedBodyIsRefused) {
  FakeEngine engine({"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n[]"});
  DockerClient client(engine.path());
  auto res = client.get("/v1.40/containers/json");
  EXPECT_FALSE(res.ok());
}

TEST(DockerClient, ASilentEngineTimesOut) {
  FakeEngine engine({}, 0ms, 1500ms);
  DockerClient client(engine.path(), 200ms);
  auto t0 = Clock::now();
  auto res = client.get("/v1.40/containers/json");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ETIMEDOUT);
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(DockerClient, AQuietStreamReturnsAtItsDeadline) {
  FakeEngine engine({kChunkedHead}, 0ms, 1500ms);
  DockerClient client(engine.path());
  auto stream = client.open_stream("/v1.40/events", 2s);
  ASSERT_TRUE(stream.ok()) << stream.error().to_string();
  auto t0 = Clock::now();
  auto line = (*stream)->next_line(Clock::now() + 200ms);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.error().code, ETIMEDOUT);
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(DockerClient, InterruptEndsABlockedCallAtOnce) {
  FakeEngine engine({}, 0ms, 1500ms);
  DockerClient client(engine.path());  // 10 s timeout: only the interrupt can end it early
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    client.interrupt();
  });
  auto t0 = Clock::now();
  auto res = client.get("/v1.40/containers/json");
  auto took = Clock::now() - t0;
  stopper.join();
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ECANCELED);
  EXPECT_LT(took, 600ms);
  EXPECT_FALSE(client.get("/v1.40/version").ok()) << "an interrupted client stays interrupted";
}

TEST(DockerClient, ASocketPathTooLongIsAnErrorValue) {
  DockerClient client("/tmp/" + std::string(200, 'x') + "/docker.sock");
  auto res = client.get("/v1.40/version");
  EXPECT_FALSE(res.ok());
}

}  // namespace
}  // namespace bulkhead::daemon::docker
